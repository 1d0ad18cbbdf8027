"""Pipeline steps of the synth package: ``synth`` (a source of synthetic items).

``synth`` makes the items of a run (``items.source``): a control vs patient cohort of
monocytes (:func:`fijibridge.synth.cohort_samples`, the one cohort sampler), nuclei or
Golgi phantoms, imaged with the microscope model.  Images come out as
:class:`~fijibridge._core.image.Image` carrying the phantom's spacing.
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
          n_nuclei: int | None = None, voxel_um: list | None = None):
    """Render one synthetic item and image it with the microscope model.

    ``kind``: ``cohort`` (monocytes of a control vs patient cohort, as
    :func:`fijibridge.synth.monocyte_cohort` — sample ``i`` is bit-identical to the
    cohort's ``i``-th), ``nuclei`` or ``golgi``.  Outputs ``image`` (uint16 camera
    image), ``labels`` (ground truth), and for Golgi phantoms ``nucleus`` and
    ``golgi`` channels.  ``voxel_um`` (z, y, x or y, x) is the voxel size the
    phantoms are rendered at (default: the phantom's own); every image carries it.
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
        ph = cells(fusion=s.fusion, phenotype=None, rng=s.rng, ndim=ndim, n_cells=n_cells,
                   spacing=tuple(voxel_um) if voxel_um else None,
                   **({"shape": tuple(shape)} if shape else {}))
    else:
        g = np.random.default_rng(np.random.SeedSequence(seed).spawn(n)[i])
        fn = nuclei if kind == "nuclei" else golgi
        ph = fn(tuple(shape) if shape else None, ndim=ndim, n_nuclei=n_nuclei, rng=g,
                spacing=tuple(voxel_um) if voxel_um else None)
    spacing = tuple(float(s) for s in ph.spacing)
    psf = make_psf(spacing=spacing, na=na, wavelength_um=wavelength_um)
    axes = "ZYX" if ph.ndim == 3 else "YX"

    def image(density, k):
        return Image(simulate_microscope(density, spacing=spacing, psf=psf, photons=photons,
                                         background=background,
                                         rng=np.random.default_rng([seed, i, k])),
                     axes, spacing)

    labels = ph.labels.astype(np.uint16 if ph.labels.max() < 65536 else np.float32)
    out = {"image": image(ph.image, 0), "labels": Image(labels, axes, spacing)}
    if kind == "golgi":
        out["nucleus"] = image(ph.channels["nucleus"], 1)
        out["golgi"] = image(ph.channels["golgi"], 2)
    return out


def _check_synth(p):
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
