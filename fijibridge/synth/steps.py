"""Pipeline steps of the synth package: ``synth`` (a source of synthetic items).

``synth`` makes the items of a run (``items.source``): a control vs patient cohort of
monocytes (:func:`fijibridge.synth.cohort_samples`, the one cohort sampler), nuclei or
Golgi phantoms, imaged with the microscope model.  Images come out as
:class:`~fijibridge._core.image.Image` carrying the phantom's spacing.

With ``channels`` (``{nuclei: DAPI, mito: MitoTracker}``) a cohort item is a
two-channel stack (``CZYX``, the channels named), each channel imaged through its own
PSF at its emission wavelength (``emission_um``), and handed on as
:func:`fijibridge.io.read_image` reads it back from the OME-TIFF it is written as —
the analysis sees what a user's file gives.
"""

from __future__ import annotations

import numpy as np

from .._core.steps import check_param, choice, make_step, positive
from .phantoms import FUSION_CONTROL, FUSION_PATIENT

__all__ = ["STEPS", "synth", "synth_items", "SYNTH_KINDS"]

#: kinds of synthetic items
SYNTH_KINDS = ("cohort", "nuclei", "golgi")


def synth_items(*, kind="cohort", n_control=10, n_patient=10, n=4, seed=0,
                fusion_control=FUSION_CONTROL, fusion_patient=FUSION_PATIENT, **_):
    """Items of a synthetic data set: keys and metadata (cheap; no image rendered)."""
    if kind == "cohort":
        from .phantoms import cohort_samples

        return [(f"ind{s.index:03d}", {"condition": s.group, "individual": f"ind{s.index:03d}",
                                       "fusion": s.fusion, "sample": s.index})
                for s in cohort_samples(n_control=n_control, n_patient=n_patient,
                                        fusion_control=fusion_control,
                                        fusion_patient=fusion_patient, rng=seed)]
    return [(f"{kind}{i:03d}", {"sample": i}) for i in range(n)]


def synth(*, item=None, meta=None, kind: str = "cohort", n_control: int = 10,
          n_patient: int = 10, n: int = 4, seed: int = 0, ndim: int = 2,
          n_cells: int = 6, shape: list | None = None,
          fusion_control=FUSION_CONTROL, fusion_patient=FUSION_PATIENT, na: float = 1.4,
          wavelength_um: float = 0.52, photons: float = 200.0, background: float = 10.0,
          n_nuclei: int | None = None, channels: dict | None = None,
          emission_um: dict | None = None, voxel_um: list | None = None):
    """Render one synthetic item and image it with the microscope model.

    ``kind``: ``cohort`` (monocytes of a control vs patient cohort, as
    :func:`fijibridge.synth.monocyte_cohort` — sample ``i`` is bit-identical to the
    cohort's ``i``-th), ``nuclei`` or ``golgi``.  Outputs ``image`` (uint16 camera
    image), ``labels`` (ground truth), and for Golgi phantoms ``nucleus`` and
    ``golgi`` channels.

    ``channels`` (cohort only): ``{"nuclei": name, "mito": name}``; ``image`` is then a
    ``CZYX`` (``CYX`` in 2D) stack with those channel names, nuclear stain first, each
    channel imaged with its own PSF at ``emission_um[role]`` (µm; default
    :data:`EMISSION_UM`), as :func:`fijibridge.io.read_image` reads it back from an
    OME-TIFF.  ``voxel_um``: the voxel size rendered at (µm, (z, y, x) or (y, x));
    default the phantom's, the field then :data:`CELL_FIELD_UM` per cell.
    (Not ``spacing``: the runner hands per-image steps the item's image spacing
    under that name.)
    """
    from .._core.image import Image
    from .._core.options import check_choice
    from . import cells, golgi, make_psf, nuclei, simulate_microscope
    from .phantoms import cohort_samples

    kind = check_choice("kind", kind, SYNTH_KINDS)
    i = int(meta["sample"])
    if kind == "cohort":
        s = cohort_samples(n_control=n_control, n_patient=n_patient,
                           fusion_control=fusion_control, fusion_patient=fusion_patient,
                           rng=seed)[i]
        if voxel_um and not shape:  # the phantom's default field in µm, at this voxel size
            shape = _cohort_shape(voxel_um, n_cells)
        ph = cells(fusion=s.fusion, phenotype=None, rng=s.rng, ndim=ndim, n_cells=n_cells,
                   **({"shape": tuple(shape)} if shape else {}),
                   **({"spacing": tuple(voxel_um)} if voxel_um else {}))
    else:
        g = np.random.default_rng(np.random.SeedSequence(seed).spawn(n)[i])
        fn = nuclei if kind == "nuclei" else golgi
        ph = fn(tuple(shape) if shape else None, ndim=ndim, n_nuclei=n_nuclei, rng=g,
                spacing=tuple(voxel_um) if voxel_um else None)
    spacing = tuple(float(s) for s in ph.spacing)
    axes = "ZYX" if ph.ndim == 3 else "YX"

    psf = [] if channels else [make_psf(spacing=spacing, na=na, wavelength_um=wavelength_um)]

    def image(density, k):
        return Image(simulate_microscope(density, spacing=spacing, psf=psf[0], photons=photons,
                                         background=background,
                                         rng=np.random.default_rng([seed, i, k])),
                     axes, spacing)

    labels = ph.labels.astype(np.uint16 if ph.labels.max() < 65536 else np.float32)
    if channels:
        return {"image": _two_channels(ph, channels=channels, emission_um=emission_um or {},
                                       spacing=spacing, axes=axes, na=na, photons=photons,
                                       background=background, seed=seed, i=i),
                "labels": Image(labels, axes, spacing)}
    out = {"image": image(ph.image, 0), "labels": Image(labels, axes, spacing)}
    if kind == "golgi":
        out["nucleus"] = image(ph.channels["nucleus"], 1)
        out["golgi"] = image(ph.channels["golgi"], 2)
    return out


#: field of view per cell of the cohort's phantoms, µm (z, y, x): a monocyte of radius
#: 6 µm (±25 %, flattened to 0.7 in z) with a margin, as :func:`fijibridge.synth.cells`
#: lays them out by default (56 × 160 × 160 voxels of 0.2 × 0.1 × 0.1 µm)
CELL_FIELD_UM = (11.2, 16.0, 16.0)


def _cohort_shape(voxel_um, n_cells):
    """Voxels of a cohort stack at ``voxel_um``: :data:`CELL_FIELD_UM` per cell, the
    cells tiled in a square grid (z one cell deep)."""
    import math

    tile = int(math.ceil(math.sqrt(n_cells)))
    field = CELL_FIELD_UM[-len(voxel_um):]
    return tuple(int(math.ceil(f * (tile if k >= len(field) - 2 else 1) / float(v) - 1e-9))
                 for k, (f, v) in enumerate(zip(field, voxel_um)))


#: emission wavelengths (µm) of the cohort's stains when ``emission_um`` leaves one out:
#: a DAPI/Hoechst-like nuclear stain and a MitoTracker-like mitochondrial one
EMISSION_UM = {"nuclei": 0.46, "mito": 0.6}


def _two_channels(ph, *, channels, emission_um, spacing, axes, na, photons, background,
                  seed, i):
    """The nuclear and mitochondrial stains of a cohort phantom as one named stack,
    each through its own PSF (widefield model at its emission wavelength)."""
    from .._core.image import Image
    from . import make_psf, simulate_microscope

    planes = []
    for k, (role, density) in enumerate((("nuclei", ph.channels["nucleus"]),
                                         ("mito", ph.image))):
        wl = float(emission_um.get(role, EMISSION_UM[role]))
        psf = make_psf(spacing=spacing, na=na, wavelength_um=wl, model="gaussian")
        planes.append(simulate_microscope(density, spacing=spacing, psf=psf, photons=photons,
                                          background=background,
                                          rng=np.random.default_rng([seed, i, 10 + k])))
    img = Image(np.stack(planes), "C" + axes, spacing,
                channels=(str(channels["nuclei"]), str(channels["mito"])))
    return _through_file(img)


def _through_file(image):
    """``image`` written as OME-TIFF and read back with :func:`fijibridge.io.read_image`:
    what the analysis then gets is what any later reader of the file gets (pixels,
    spacing as stored, channel names), so ``--input`` on the written files gives the
    same results."""
    import tempfile
    from pathlib import Path

    from ..io import read_image, write_image

    with tempfile.TemporaryDirectory(prefix="fijibridge-cohort-") as tmp:
        path = write_image(Path(tmp) / "stack.ome.tif", image)
        back = read_image(path, lazy=False)
        data = np.asarray(back.data)
    return back.with_data(data, source=None)


def _check_channels(p):
    for name in ("channels", "emission_um"):
        v = p.get(name)
        if v is None:
            continue
        if not isinstance(v, dict) or set(v) != {"nuclei", "mito"}:
            raise ValueError(f"{name} must map exactly the roles 'nuclei' and 'mito' (e.g. "
                             f"{{nuclei: DAPI, mito: MitoTracker}}); got {v!r}")
    names = p.get("channels")
    if names and len({str(v) for v in names.values()}) != 2:
        raise ValueError(f"channels: the two stains need different names; got {names!r}")
    for role, wl in (p.get("emission_um") or {}).items():
        positive(f"emission_um.{role}")(wl)
    if p.get("channels") and p.get("kind", "cohort") != "cohort":
        raise ValueError(f"channels: only kind 'cohort' renders two named channels; got kind "
                         f"{p.get('kind')!r}")
    v = p.get("voxel_um")
    if v is not None:
        if not isinstance(v, (list, tuple)) or len(v) not in (2, 3):
            raise ValueError(f"voxel_um must be [z, y, x] or [y, x] in µm; got {v!r}")
        for x in v:
            positive("voxel_um")(x)


def _check_synth(p):
    _check_channels(p)
    check_param(p, "kind", choice("kind", SYNTH_KINDS))
    for name in ("n_control", "n_patient", "n"):
        check_param(p, name, positive(name, integer=True, allow_zero=True))
    check_param(p, "n_cells", positive("n_cells", integer=True))
    check_param(p, "ndim", lambda v: choice("ndim", ["2", "3"])(str(v)))
    for name in ("na", "wavelength_um", "photons"):
        check_param(p, name, positive(name))
    check_param(p, "background", positive("background", allow_zero=True))


STEPS = {s.name: s for s in (
    make_step(synth, "image", ("image", "labels", "nucleus", "golgi"), items=synth_items,
              check=_check_synth, default_outputs=("image", "labels")),
)}
