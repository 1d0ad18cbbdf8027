"""Built-in pipeline steps, found by name.

Each built-in is a plain function calling the existing packages (imports inside the
function, so registering them costs nothing).  Conventions:

* inputs arrive as keyword arguments named as in the step's ``inputs:`` (arrays for
  images, :class:`pandas.DataFrame` for tables); for per-dataset steps each input is a
  ``{item: value}`` dict and ``meta`` is ``{item: metadata}``;
* ``spacing`` (µm, from the item's calibration) is passed when the function takes it;
* the function returns ``{output name: value}``: an array (written as a calibrated
  ImageJ TIFF), a :class:`~fijibridge._core.tiff.TiffImage` (carrying its spacing), a
  DataFrame (CSV, and Parquet when pyarrow is installed), a dict (JSON) or
  :class:`Png` bytes.

``BUILTINS`` maps each name to a :class:`Builtin` (function, per image/dataset,
outputs); :func:`check_builtin_params` checks a step's parameters against the
function's signature (names with did-you-mean, simple types) without running it.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import logging
from collections.abc import Callable

import numpy as np

from .._core.errors import PipelineSpecError
from .._core.options import did_you_mean

__all__ = ["Builtin", "BUILTINS", "Png", "check_builtin_params", "source_items"]

log = logging.getLogger(__name__)

#: arguments the runner supplies itself (never written under a step's parameters)
CONTEXT_ARGS = ("spacing", "meta", "item")


class Png(bytes):
    """PNG file content returned by a step (overlays, plots)."""


@dataclasses.dataclass(frozen=True)
class Builtin:
    name: str
    func: Callable
    per: str  # "image" | "dataset"
    outputs: tuple[str, ...]
    inputs: tuple[str, ...]  # accepted input names (required ones have no default)
    items: Callable | None = None  # source steps: params -> [(key, meta)]
    #: checks the parameter values (choices, ranges) with the code the step itself uses,
    #: so ``validate`` rejects them before any work; raises ValueError/TypeError
    check: Callable[[dict], None] | None = None


def _figure_png(fig) -> Png:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return Png(buf.getvalue())


# ----------------------------------------------------------------------------- synth (source)


#: kinds of synthetic items
SYNTH_KINDS = ("cohort", "nuclei", "golgi")


def _cohort_children(seed, n):
    return np.random.SeedSequence(seed).spawn(n)


def synth_items(*, kind="cohort", n_control=10, n_patient=10, n=4, seed=0,
                fusion_control=(8.0, 3.0), fusion_patient=(3.0, 8.0), **_):
    """Items of a synthetic data set: keys and metadata (cheap; no image rendered)."""
    if kind == "cohort":
        total = n_control + n_patient
        out = []
        for i, child in enumerate(_cohort_children(seed, total)):
            group = "control" if i < n_control else "patient"
            a, b = fusion_control if group == "control" else fusion_patient
            f = float(np.random.default_rng(child).beta(a, b))
            out.append((f"ind{i:03d}", {"condition": group, "individual": f"ind{i:03d}",
                                        "fusion": f, "sample": i}))
        return out
    return [(f"{kind}{i:03d}", {"sample": i}) for i in range(n)]


def synth(*, item=None, meta=None, kind: str = "cohort", n_control: int = 10,
          n_patient: int = 10, n: int = 4, seed: int = 0, ndim: int = 2,
          n_cells: int = 6, shape: list | None = None,
          fusion_control=(8.0, 3.0), fusion_patient=(3.0, 8.0), na: float = 1.4,
          wavelength_um: float = 0.52, photons: float = 200.0, background: float = 10.0,
          n_nuclei: int | None = None):
    """Render one synthetic item and image it with the microscope model.

    ``kind``: ``cohort`` (monocytes of a control vs patient cohort, as
    :func:`fijibridge.synth.monocyte_cohort` — sample ``i`` is bit-identical to the
    cohort's ``i``-th), ``nuclei`` or ``golgi``.  Outputs ``image`` (uint16 camera
    image), ``labels`` (ground truth), and for Golgi phantoms ``nucleus`` and
    ``golgi`` channels.
    """
    from .._core.tiff import TiffImage
    from ..synth import cells, golgi, make_psf, nuclei, simulate_microscope

    from .._core.options import check_choice

    kind = check_choice("kind", kind, SYNTH_KINDS)
    i = int(meta["sample"])
    if kind == "cohort":
        child = _cohort_children(seed, n_control + n_patient)[i]
        g = np.random.default_rng(child)
        group = "control" if i < n_control else "patient"
        a, b = fusion_control if group == "control" else fusion_patient
        f = float(g.beta(a, b))
        ph = cells(fusion=f, phenotype=None, rng=g, ndim=ndim, n_cells=n_cells,
                   **({"shape": tuple(shape)} if shape else {}))
    else:
        g = np.random.default_rng(np.random.SeedSequence(seed).spawn(n)[i])
        fn = nuclei if kind == "nuclei" else golgi
        ph = fn(tuple(shape) if shape else None, ndim=ndim, n_nuclei=n_nuclei, rng=g)
    spacing = tuple(float(s) for s in ph.spacing)
    psf = make_psf(spacing=spacing, na=na, wavelength_um=wavelength_um)
    axes = "ZYX" if ph.ndim == 3 else "YX"

    def image(density, k):
        return TiffImage(simulate_microscope(density, spacing=spacing, psf=psf,
                                             photons=photons, background=background,
                                             rng=np.random.default_rng([seed, i, k])),
                         axes, spacing)

    labels = ph.labels.astype(np.uint16 if ph.labels.max() < 65536 else np.float32)
    out = {"image": image(ph.image, 0), "labels": TiffImage(labels, axes, spacing)}
    if kind == "golgi":
        out["nucleus"] = image(ph.channels["nucleus"], 1)
        out["golgi"] = image(ph.channels["golgi"], 2)
    return out


# ----------------------------------------------------------------------------- dataset steps


def psf(*, model: str = "gaussian", spacing: list | None = None, na: float = 1.4,
        wavelength_um: float = 0.52, refractive_index: float = 1.518, shape: list | None = None):
    """A PSF sampled at ``spacing`` (µm): ``gaussian``/``auto`` from the microscope model
    (:func:`fijibridge.synth.make_psf`), or a PSF Generator model by short name
    (``BW``, ``GL``, ``RW``, … through :func:`fijibridge.psf.generate_psf`)."""
    if spacing is None:
        raise ValueError("psf: give spacing (µm, (y, x) or (z, y, x)) of the images, e.g. "
                         "spacing: ${optics.spacing}")
    spacing = tuple(float(s) for s in spacing)
    if model.lower() in ("gaussian", "auto"):
        from ..synth import make_psf

        kernel = make_psf(spacing=spacing, na=na, wavelength_um=wavelength_um,
                          refractive_index=refractive_index,
                          model="gaussian" if model.lower() == "gaussian" else "auto",
                          **({"shape": tuple(shape)} if shape else {}))
    else:
        from ..psf import generate_psf

        if shape is None:
            shape = (33, 33) if len(spacing) == 2 else (33, 65, 65)
        kernel = generate_psf(model, tuple(shape), spacing=spacing, normalize="sum", na=na,
                              wavelength_nm=wavelength_um * 1e3, ni=refractive_index)
    return {"psf": np.asarray(kernel, dtype=np.float32)}


def classify(*, table, meta, label: str = "condition", group: str | None = "individual",
             model: str = "forest", n_splits: int = 5, seed: int = 0,
             exclude: list | None = None, fill: float = 0.0):
    """Grouped cross-validation of a classifier on the per-image tables of all items.

    Each item's table (one row per cell) gets the item's metadata columns; the
    ``label`` column is predicted, folds never split a ``group`` (individual).
    Outputs ``report`` (JSON: metrics, confusion matrix), ``table`` (all rows) and
    ``confusion`` / ``importance`` plots.  ``report["metrics"]["accuracy"]`` is the
    run's summary metric.
    """
    import tempfile
    from pathlib import Path

    import pandas as pd

    from ..classify import cross_validate, plot_confusion, plot_importance

    frames = _tables_with_meta(table, meta)
    if not frames:
        raise ValueError("classify: no item produced a table")
    data = pd.concat(frames, ignore_index=True)
    numeric = data.select_dtypes("number").columns
    data[numeric] = data[numeric].fillna(fill)
    drop = ["item", "sample"] + list(exclude or [])
    rep = cross_validate(data, label=label, group=group, model=model, n_splits=n_splits,
                         rng=seed, exclude=[c for c in drop if c in data.columns and c != group])
    report = {"model": model, "label": label, "group": group, "n_rows": int(len(data)),
              "n_groups": int(data[group].nunique()) if group else None,
              "metrics": rep["metrics"], "group_accuracy": rep.get("group_accuracy"),
              "confusion_matrix": rep["confusion_matrix"], "classes": rep["classes"],
              "features": rep["features"], "excluded_identifiers": rep["excluded_identifiers"],
              "importance": rep["importance"]}
    out = {"report": report, "table": data}
    with tempfile.TemporaryDirectory() as tmp:
        plot_confusion(rep, Path(tmp) / "confusion.png")
        out["confusion"] = Png((Path(tmp) / "confusion.png").read_bytes())
        if rep.get("importance"):
            plot_importance(rep, Path(tmp) / "importance.png")
            out["importance"] = Png((Path(tmp) / "importance.png").read_bytes())
    return out


def summarize(*, table, meta):
    """Concatenate the per-image tables (with item metadata) into one table."""
    import pandas as pd

    frames = _tables_with_meta(table, meta)
    return {"table": pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()}


def _tables_with_meta(table, meta) -> list:
    """Per-item tables with the item id and its metadata as leading columns."""
    frames = []
    for key, t in table.items():
        t = t.copy()
        for col, value in reversed(list(meta[key].items())):
            if col not in t.columns:
                t.insert(0, col, value)
        t.insert(0, "item", key)
        frames.append(t)
    return frames


# ----------------------------------------------------------------------------- image steps


def deconvolve(*, image, psf, algorithm: str = "RL", num_iter: int = 15,
               reg: float | None = None):
    """Native DeconvolutionLab2 algorithm (:func:`fijibridge.deconv.deconvolve`)."""
    from ..deconv import deconvolve as _deconvolve

    if psf.ndim != image.ndim:
        raise ValueError(f"deconvolve: psf has {psf.ndim} dimensions, image {image.ndim}; "
                         "give the psf step the images' spacing")
    out = _deconvolve(np.asarray(image, np.float32), psf, algorithm=algorithm,
                      num_iter=num_iter, reg=reg)
    return {"image": np.asarray(out, np.float32)}


def threshold(*, image, spacing=None, method: str = "Li", dark: bool = True,
              smooth_um: float = 0.0):
    """ImageJ auto-threshold (bit-exact, :func:`fijibridge.segment.threshold_mask`),
    optionally after Gaussian smoothing of ``smooth_um`` µm; in 3D the threshold comes
    from the whole stack's histogram. Output ``mask`` (0/255)."""
    from ..segment import threshold_mask

    data = np.asarray(image, np.float32)
    if smooth_um > 0:
        from scipy import ndimage as ndi

        sp = np.asarray(spacing if spacing is not None else (1.0,) * data.ndim, float)
        data = ndi.gaussian_filter(data, smooth_um / sp[-data.ndim:])
    # 3D: one threshold from the histogram of the whole stack (ImageJ's "stack" option)
    mask = threshold_mask(data, method=method, dark=dark, stack=data.ndim == 3)
    return {"mask": (mask > 0).astype(np.uint8) * 255}


def instances(*, mask, image=None, spacing=None, method: str = "connected",
              min_size_um: float = 0.0, fill_holes: bool = False, min_distance: float = 1.0):
    """Instance labels of a mask: connected components, or split touching objects
    (``distance``/``intensity`` watershed, :func:`fijibridge.segment.split_instances`);
    objects smaller than ``min_size_um`` (µm² or µm³) removed."""
    from scipy import ndimage as ndi

    from ..segment import remove_small_labels, split_instances

    m = np.asarray(mask) > 0
    if fill_holes:
        m = ndi.binary_fill_holes(m)
    sp = spacing if spacing is not None else (1.0,) * m.ndim
    if method == "connected":
        labels, _ = ndi.label(m)
    else:
        labels = split_instances(m, method=method, image=image, spacing=sp,
                                 min_distance=min_distance)
    if min_size_um > 0:
        labels = remove_small_labels(labels, min_size=int(np.ceil(min_size_um /
                                                                  float(np.prod(sp)))))
        from skimage.segmentation import relabel_sequential
        labels = relabel_sequential(labels)[0]
    return {"labels": labels.astype(np.uint16 if labels.max() < 65536 else np.float32)}


def segment(*, image, model: str = "nuclei2d", device: str = "cpu"):
    """Instance segmentation with a trained network (default the shipped ``nuclei2d``)."""
    from ..segment.inference import segment as _segment

    labels = _segment(np.asarray(image), model=model, device=device)
    return {"labels": labels.astype(np.uint16 if labels.max() < 65536 else np.float32)}


def features(*, labels, image=None, cells=None, spacing=None, network: bool = False,
             prune_um: float = 0.2, seed: int = 0):
    """Object features. Without ``cells``: one row per object (morphology in µm).
    With ``cells``: one row per cell — skeleton network metrics of the objects inside
    it (``network: true``) and the mean morphology of its objects (the recipe of
    ``benchmarks/classify_cohort.py``)."""
    from ..features import (aggregate_by_cell, assign_cells, cell_table, label_morphology,
                            skeleton_graph)

    labels = np.asarray(labels).astype(np.int32)
    if labels.max() == 0:
        raise ValueError("features: the segmentation holds no object")
    morph = label_morphology(labels, spacing=spacing, image=image)
    if cells is None:
        return {"table": morph}
    cells = np.asarray(cells).astype(np.int32)
    keep = ["cell", "area_um2" if labels.ndim == 2 else "volume_um3", "perimeter_um",
            "circularity", "elongation", "feret_diameter_um"]
    morph["cell"] = assign_cells(labels, cells).reindex(morph["label"]).to_numpy()
    agg = aggregate_by_cell(morph[[k for k in keep if k in morph.columns]])
    cell_ids = np.unique(cells)
    if network:
        graph = skeleton_graph(labels > 0, spacing=spacing, image=image, cells=cells,
                               prune_um=prune_um)
        table = cell_table(graph, cell_ids, rng=seed).merge(agg, on="cell", how="left")
        size = np.bincount(cells.ravel())[table["cell"]] * float(np.prod(spacing or 1.0))
        if "total_area_um2" in table.columns:
            table["mito_area_fraction"] = table["total_area_um2"] / size
    else:
        table = agg
    table = table[table["cell"] > 0].reset_index(drop=True)
    return {"table": table}


def skeleton(*, mask, image=None, spacing=None, prune_um: float = 0.0, seed: int = 0):
    """Skeleton network of a mask: one row of network metrics (branches, junctions,
    lengths, efficiency …; :func:`fijibridge.features.network_metrics`)."""
    import pandas as pd

    from ..features import network_metrics, skeleton_graph

    graph = skeleton_graph(np.asarray(mask) > 0, spacing=spacing, image=image,
                           prune_um=prune_um)
    return {"table": pd.DataFrame([network_metrics(graph, rng=seed)])}


def count(*, labels, image=None, spacing=None):
    """Objects of a label image: per-object ``table`` (label, size in µm, mean
    intensity) and a one-row ``summary`` (count, mean and median size)."""
    import pandas as pd

    labels = np.asarray(labels).astype(np.int64)
    ids = np.arange(1, int(labels.max()) + 1)
    voxel = float(np.prod(spacing)) if spacing is not None else 1.0
    sizes = np.bincount(labels.ravel(), minlength=len(ids) + 1)[1:]
    present = sizes > 0
    unit = "area_um2" if labels.ndim == 2 else "volume_um3"
    table = pd.DataFrame({"label": ids[present], unit: sizes[present] * voxel})
    if image is not None:
        sums = np.bincount(labels.ravel(), weights=np.asarray(image, float).ravel(),
                           minlength=len(ids) + 1)[1:]
        table["mean_intensity"] = sums[present] / sizes[present]
    summary = pd.DataFrame([{"count": int(present.sum()),
                             f"mean_{unit}": float(table[unit].mean()) if len(table) else 0.0,
                             f"median_{unit}": float(table[unit].median()) if len(table) else 0.0}])
    return {"table": table, "summary": summary}


def pairs(*, nuclei, golgi, spacing=None, max_distance_um: float = 10.0):
    """Nucleus–Golgi pairs: each Golgi object is paired with the nucleus nearest to it
    (surface distance, µm); a Golgi farther than ``max_distance_um`` stays unpaired."""
    import pandas as pd
    from scipy import ndimage as ndi

    nuc = np.asarray(nuclei).astype(np.int64)
    gol = np.asarray(golgi).astype(np.int64)
    sp = spacing if spacing is not None else (1.0,) * nuc.ndim
    dist, idx = ndi.distance_transform_edt(nuc == 0, sampling=sp, return_indices=True)
    nearest = nuc[tuple(idx)]
    rows = []
    voxel = float(np.prod(sp))
    for g in np.unique(gol[gol > 0]):
        sel = gol == g
        d = dist[sel]
        k = int(np.argmin(d))
        n = int(nearest[sel][k])
        close = float(d[k]) <= max_distance_um
        rows.append({"golgi": int(g), "nucleus": n if close else 0, "distance_um": float(d[k]),
                     "golgi_size_um": float(sel.sum() * voxel)})
    table = pd.DataFrame(rows, columns=["golgi", "nucleus", "distance_um", "golgi_size_um"])
    summary = pd.DataFrame([{"nuclei": int(len(np.unique(nuc[nuc > 0]))),
                             "golgi": int(len(table)),
                             "paired_nuclei": int(table.loc[table.nucleus > 0, "nucleus"].nunique())}])
    return {"table": table, "summary": summary}


def overlay(*, image, labels):
    """PNG of the image (max projection in 3D) with the outlines of the labels."""
    from skimage.segmentation import find_boundaries

    img = np.asarray(image, np.float32)
    lab = np.asarray(labels).astype(np.int64)
    if img.ndim == 3:
        img, lab = img.max(0), lab.max(0)
    lo, hi = np.percentile(img, (1, 99.8))
    from .._core.figures import new_figure

    fig, ax = new_figure(figsize=(5, 5))
    ax.imshow(np.clip((img - lo) / max(hi - lo, 1e-12), 0, 1), cmap="gray")
    edge = np.ma.masked_where(~find_boundaries(lab, mode="inner"), lab)
    ax.imshow(edge, cmap="autumn", interpolation="nearest")
    ax.set_title(f"{int(len(np.unique(lab)) - 1)} objects")
    ax.axis("off")
    return {"png": _figure_png(fig)}


# ----------------------------------------------------------------------------- registry


# Parameter checks (validate time).  Each uses the checking function of the code the
# step calls (check_choice over the same names, lookup_algorithm, check_model,
# resolve_model_path), so `validate` gives the error `run` would give, before any work.


def _param(params: dict, name: str, fn) -> None:
    """Check ``params[name]`` (when given) with ``fn``; the error remembers the name."""
    value = params.get(name)
    if value is None:
        return
    try:
        fn(value)
    except (ValueError, TypeError) as e:
        e.param = name
        raise


def _positive(name, *, integer=False, allow_zero=False):
    from .._core.options import check_positive

    return lambda v: check_positive(name, v, integer=integer, allow_zero=allow_zero)


def _choice(name, allowed):
    from .._core.options import check_choice

    return lambda v: check_choice(name, v, allowed)


def _check_synth(p):
    _param(p, "kind", _choice("kind", SYNTH_KINDS))
    for name in ("n_control", "n_patient", "n"):
        _param(p, name, _positive(name, integer=True, allow_zero=True))
    _param(p, "n_cells", _positive("n_cells", integer=True))
    _param(p, "ndim", lambda v: _choice("ndim", ["2", "3"])(str(v)))
    for name in ("na", "wavelength_um", "photons"):
        _param(p, name, _positive(name))
    _param(p, "background", _positive("background", allow_zero=True))


def _check_psf(p):
    from ..psf.config import check_model

    _param(p, "model", lambda v: None if str(v).lower() in ("gaussian", "auto")
           else check_model(v))
    for name in ("na", "wavelength_um", "refractive_index"):
        _param(p, name, _positive(name))

    def spacing(v):
        from .._core.options import check_spacing

        if isinstance(v, (int, float)) or len(v) not in (2, 3):
            raise ValueError(f"spacing must be 2 (y, x) or 3 (z, y, x) values in µm; got {v!r}")
        check_spacing(v, len(v))

    _param(p, "spacing", spacing)


def _check_deconvolve(p):
    from ..deconv._registry import lookup_algorithm

    _param(p, "algorithm", lookup_algorithm)
    _param(p, "num_iter", _positive("num_iter", integer=True))
    _param(p, "reg", _positive("reg", allow_zero=True))


def _check_threshold(p):
    from ..segment.thresholds import _ALL_NAMES  # the names threshold_mask accepts

    _param(p, "method", _choice("method", _ALL_NAMES))
    _param(p, "smooth_um", _positive("smooth_um", allow_zero=True))


def _check_instances(p):
    _param(p, "method", _choice("method", ["connected", "distance", "marker"]))
    _param(p, "min_size_um", _positive("min_size_um", allow_zero=True))
    _param(p, "min_distance", _positive("min_distance"))


def _check_segment(p):
    # the model name is checked when the step loads it: its resolver lives beside torch
    # (fijibridge.segment.models), which validation must not import
    _param(p, "device", lambda v: _choice("device", ["cpu", "cuda"])(str(v).split(":")[0]))


def _check_prune(p):
    _param(p, "prune_um", _positive("prune_um", allow_zero=True))


def _check_pairs(p):
    _param(p, "max_distance_um", _positive("max_distance_um"))


def _check_classify(p):
    from ..classify.models import MODELS

    _param(p, "model", _choice("model", MODELS))
    def n_splits(v):
        if _positive("n_splits", integer=True)(v) < 2:
            raise ValueError(f"n_splits must be an integer >= 2 (folds); got {v!r}")

    _param(p, "n_splits", n_splits)


def _info(func, per, outputs, items=None, check=None) -> Builtin:
    sig = inspect.signature(func)
    data_args = {"image", "psf", "mask", "labels", "cells", "table", "nuclei", "golgi"}
    inputs = tuple(n for n in sig.parameters if n in data_args)
    return Builtin(func.__name__, func, per, tuple(outputs), inputs, items, check)


BUILTINS: dict[str, Builtin] = {
    "synth": _info(synth, "image", ("image", "labels", "nucleus", "golgi"), items=synth_items,
                   check=_check_synth),
    "psf": _info(psf, "dataset", ("psf",), check=_check_psf),
    "deconvolve": _info(deconvolve, "image", ("image",), check=_check_deconvolve),
    "threshold": _info(threshold, "image", ("mask",), check=_check_threshold),
    "instances": _info(instances, "image", ("labels",), check=_check_instances),
    "segment": _info(segment, "image", ("labels",), check=_check_segment),
    "features": _info(features, "image", ("table",), check=_check_prune),
    "skeleton": _info(skeleton, "image", ("table",), check=_check_prune),
    "count": _info(count, "image", ("table", "summary")),
    "pairs": _info(pairs, "image", ("table", "summary"), check=_check_pairs),
    "overlay": _info(overlay, "image", ("png",)),
    "classify": _info(classify, "dataset", ("report", "table", "confusion", "importance"),
                      check=_check_classify),
    "summarize": _info(summarize, "dataset", ("table",)),
}
#: default outputs written when a step does not list its own
DEFAULT_OUTPUTS = {"synth": ("image", "labels"), "classify": ("report", "table", "confusion")}


def source_items(name: str, params: dict):
    info = BUILTINS[name]
    if info.items is None:
        return None
    return info.items(**params)


_SIMPLE = {"int": int, "float": float, "str": str, "bool": bool}


def check_builtin_params(step, where) -> None:
    """Check a built-in step's parameters and inputs against its function's signature."""
    info = BUILTINS[step.builtin]
    sig = inspect.signature(info.func)
    context = CONTEXT_ARGS if info.per == "image" else ("meta", "item")
    allowed = [n for n in sig.parameters if n not in context and n not in info.inputs]
    for name, value in step.params.items():
        if name not in allowed:
            raise PipelineSpecError(
                f"{where((name,))}: built-in step {step.builtin!r} has no parameter {name!r}; "
                f"its parameters: {', '.join(allowed)}.{did_you_mean(name, allowed)}")
        ann = sig.parameters[name].annotation
        base = str(ann).split("|")[0].strip()
        optional = "None" in str(ann)
        typ = _SIMPLE.get(base)
        if typ is None or (value is None and optional):
            continue
        ok = (isinstance(value, typ) and not (typ is not bool and isinstance(value, bool))) \
            or (typ is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok:
            raise PipelineSpecError(
                f"{where((name,))}: parameter {name!r} of built-in step {step.builtin!r} must be "
                f"{base}; got {value!r} ({type(value).__name__})")
    for name in step.inputs:
        if name not in info.inputs:
            raise PipelineSpecError(
                f"{where(())}: built-in step {step.builtin!r} takes no input {name!r}; its "
                f"inputs: {', '.join(info.inputs) or 'none'}.{did_you_mean(name, info.inputs)}")
    required = [n for n in info.inputs if sig.parameters[n].default is inspect.Parameter.empty]
    for name in required:
        if name not in step.inputs:
            raise PipelineSpecError(f"{where(())}: built-in step {step.builtin!r} needs input "
                                    f"{name!r} (inputs: {{{name}: step.output}})")
    if info.check is not None:
        try:
            info.check(dict(step.params))
        except (ValueError, TypeError) as e:
            name = getattr(e, "param", None)
            raise PipelineSpecError(
                f"{where((name,) if name else ())}: parameter {name!r} of built-in step "
                f"{step.builtin!r}: {e}") from None
