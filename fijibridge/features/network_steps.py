"""Pipeline steps of the skeleton-network pipeline (``pipelines/mito_network_3d.yml``):

``network_stack`` (source)
    Small synthetic two-channel 3D stacks (nuclear stain + mitochondria) rendered
    through the microscope model at the voxel size the pipeline file states, so the
    pipeline runs without ``--input`` (``validate``, CI).
``spatial`` (per image)
    One channel's 2D/3D stack: length-1 ``T``/``C``/``Z`` axes dropped (a DeltaVision
    file reads as TCZYX with T = 1), calibration kept; a time series or several
    channels left is an error saying what to select.
``network`` (per image)
    Skeleton network of a mask or label image: a one-row ``summary`` (the row of
    ``networks.csv``, :func:`~.network_summary.network_summary`, with the image's
    calibration: ``calibrated``, ``spacing_z_um`` …), per-object ``objects`` and the
    ``skeleton`` image.
``network_overlay`` (per image)
    ``projection`` and ``orthogonal`` PNGs of the skeleton on the image
    (:mod:`fijibridge.segment.overlay_views`).
``network_table`` (per data set)
    The per-image tables stacked into one, ``image`` (the item name) first.
"""

from __future__ import annotations

import numpy as np

from .._core.steps import check_param, make_step, positive

__all__ = ["STEPS", "network_stack", "network_stack_items", "spatial", "network",
           "network_overlay", "network_table"]

#: channel names of the synthetic stacks
STACK_CHANNELS = ("DAPI", "MitoTracker")


def network_stack_items(*, n: int = 2, seed: int = 0, **_):
    """Items of :func:`network_stack`: ``stack000`` … (nothing rendered)."""
    return [(f"stack{i:03d}", {"sample": i, "seed": seed}) for i in range(n)]


def network_stack(*, item=None, meta=None, n: int = 2, seed: int = 0, voxel_um: list | None = None,
                  shape: list | None = None, n_cells: int = 1, fusion: float = 0.8,
                  na: float = 1.4, photons: float = 300.0, background: float = 10.0):
    """One synthetic stack: monocyte-like cells (:func:`fijibridge.synth.cells`) with a
    mitochondrial network of degree of fusion ``fusion``, imaged with the microscope
    model (Gaussian PSF of ``na``; DAPI at 0.46 µm, MitoTracker at 0.6 µm) at voxel
    size ``voxel_um`` (z, y, x, µm; default 0.3, 0.1, 0.1).  Output ``image``: CZYX,
    channels ``DAPI`` and ``MitoTracker``, calibrated; ``truth``: the ground-truth
    total skeleton length per cell (a table)."""
    import pandas as pd

    from .._core.image import Image
    from ..synth import cells, make_psf, simulate_microscope
    from ..synth.networks import graph_length

    i = int(meta["sample"]) if meta else 0
    sp = tuple(float(v) for v in (voxel_um or (0.3, 0.1, 0.1)))
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(max(n, i + 1))[i])
    shape = tuple(shape) if shape else (int(round(12.0 / sp[0])), 160, 160 * n_cells)
    ph = cells(shape, n_cells=n_cells, fusion=fusion, spacing=sp, rng=rng)
    out = []
    for k, (density, wl) in enumerate(((ph.channels["nucleus"], 0.46), (ph.image, 0.6))):
        psf = make_psf(spacing=sp, na=na, wavelength_um=wl)
        out.append(simulate_microscope(density, spacing=sp, psf=psf, photons=photons,
                                       background=background,
                                       rng=np.random.default_rng([seed, i, k])))
    data = np.stack(out).astype(np.uint16)
    truth = pd.DataFrame([{"total_length_um": graph_length(ph.graph),
                           "n_cells": int(ph.labels.max())}])
    return {"image": Image(data, "CZYX", sp, channels=STACK_CHANNELS), "truth": truth}


def spatial(*, image):
    """``image`` without its length-1 ``T``, ``C`` and ``Z`` axes (calibration kept)."""
    img = image.squeeze()
    extra = {a: n for a, n in zip(img.axes, img.shape) if a in "TC"}
    if extra:
        what = ", ".join(f"{a}={n}" for a, n in extra.items())
        raise ValueError(f"spatial: {image.source or 'the image'} has {what} ({img.axes}); the "
                         "network is measured on one 2D/3D stack: select a channel (channel "
                         "step) and time point first")
    return {"image": img}


def network(*, labels, image=None, spacing=None, prune_um: float = 0.0):
    """Skeleton network of ``labels`` (a mask or label image: non-zero is foreground).

    Outputs ``summary`` (one row: :data:`~.network_summary.IMAGE_COLUMNS`, then
    ``calibrated`` and ``spacing_z_um``/``spacing_y_um``/``spacing_x_um`` of the image),
    ``objects`` (one row per skeleton component) and ``skeleton`` (0/255).
    """
    import pandas as pd

    from .network_summary import network_summary

    data = labels.to_ndarray() if hasattr(labels, "to_ndarray") else np.asarray(labels)
    if data.ndim not in (2, 3):
        raise ValueError(f"network: labels must be 2D or 3D (one channel); got axes "
                         f"{getattr(labels, 'axes', data.ndim)}")
    calibrated = bool(getattr(labels, "calibrated", spacing is not None))
    sp = tuple(spacing)[-data.ndim:] if spacing is not None else None
    img = None
    if image is not None:
        img = image.to_ndarray() if hasattr(image, "to_ndarray") else np.asarray(image)
        if img.shape != data.shape:
            raise ValueError(f"network: image shape {img.shape} differs from labels shape "
                             f"{data.shape}")
    s = network_summary(data, spacing=sp, image=img, prune_um=prune_um)
    row = dict(s.row)
    row["calibrated"] = calibrated
    axes = "zyx"[-data.ndim:]
    for a, v in zip(axes, sp or (1.0,) * data.ndim):
        row[f"spacing_{a}_um"] = float(v)
    objects = s.objects.copy()
    objects.insert(1, "calibrated", calibrated)
    return {"summary": pd.DataFrame([row]), "objects": objects,
            "skeleton": s.skeleton.astype(np.uint8) * 255}


def network_overlay(*, image, labels, spacing=None):
    """``projection`` (max projection) and ``orthogonal`` (XY/XZ/ZY) PNGs of the
    skeleton ``labels`` on ``image``, at the image's voxel aspect."""
    from ..segment.overlay_views import skeleton_orthogonal_png, skeleton_projection_png

    img = np.asarray(image, np.float32)
    sk = np.asarray(labels)
    sp = tuple(spacing)[-img.ndim:] if spacing is not None else None
    return {"projection": skeleton_projection_png(img, sk, spacing=sp),
            "orthogonal": skeleton_orthogonal_png(img, sk, spacing=sp)}


def network_table(*, table, meta):
    """Per-image tables (``{item: DataFrame}``) stacked: ``image`` (item name), the
    input ``file`` where there is one, then the table's columns."""
    import pandas as pd

    frames = []
    for key in sorted(table):
        t = table[key].copy()
        if "file" in (meta.get(key) or {}) and "file" not in t.columns:
            t.insert(0, "file", meta[key]["file"])
        t.insert(0, "image", key)
        frames.append(t)
    return {"table": pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()}


def _check_stack(p):
    check_param(p, "n", positive("n", integer=True))
    check_param(p, "n_cells", positive("n_cells", integer=True))
    for name in ("na", "photons"):
        check_param(p, name, positive(name))
    check_param(p, "background", positive("background", allow_zero=True))

    def fraction(v):
        if not 0.0 <= float(v) <= 1.0:
            raise ValueError(f"fusion must lie in [0, 1]; got {v!r}")

    check_param(p, "fusion", fraction)

    def spacing3(v):
        from .._core.options import check_spacing

        check_spacing(v, 3, name="voxel_um")

    check_param(p, "voxel_um", spacing3)


def _check_network(p):
    check_param(p, "prune_um", positive("prune_um", allow_zero=True))


STEPS = {s.name: s for s in (
    make_step(network_stack, "image", ("image", "truth"), items=network_stack_items,
              check=_check_stack, default_outputs=("image",)),
    make_step(spatial, "image", ("image",), images=True),
    make_step(network, "image", ("summary", "objects", "skeleton"), check=_check_network,
              images=True),
    make_step(network_overlay, "image", ("projection", "orthogonal")),
    make_step(network_table, "dataset", ("table",)),
)}
