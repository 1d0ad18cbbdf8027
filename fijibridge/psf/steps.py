"""Pipeline steps of the psf package: ``psf`` (one kernel for the whole data set)."""

from __future__ import annotations

import numpy as np

from .._core.steps import check_param, make_step, positive

__all__ = ["STEPS", "psf"]


def psf(*, model: str = "gaussian", spacing: list | None = None, na: float = 1.4,
        wavelength_um: float = 0.52, refractive_index: float = 1.518, shape: list | None = None):
    """A PSF sampled at ``spacing`` (µm): ``gaussian``/``auto`` from the microscope model
    (:func:`fijibridge.synth.make_psf`), or a PSF Generator model by short name
    (``BW``, ``GL``, ``RW``, … through :func:`fijibridge.psf.generate_psf`).

    Without a ``spacing`` parameter the step takes the spacing the run's input images
    share (read from their files' calibration)."""
    if spacing is None:
        raise ValueError("psf: give spacing (µm, (y, x) or (z, y, x)) of the images, e.g. "
                         "spacing: ${optics.spacing}; it comes from the input files only when they all "
                         "have the same calibration")
    spacing = tuple(float(s) for s in spacing)
    if model.lower() in ("gaussian", "auto"):
        from ..synth import make_psf

        kernel = make_psf(spacing=spacing, na=na, wavelength_um=wavelength_um,
                          refractive_index=refractive_index,
                          model="gaussian" if model.lower() == "gaussian" else "auto",
                          **({"shape": tuple(shape)} if shape else {}))
    else:
        from . import generate_psf

        if shape is None:
            shape = (33, 33) if len(spacing) == 2 else (33, 65, 65)
        kernel = generate_psf(model, tuple(shape), spacing=spacing, normalize="sum", na=na,
                              wavelength_nm=wavelength_um * 1e3, ni=refractive_index)
    return {"psf": np.asarray(kernel, dtype=np.float32)}


def _check_psf(p):
    from .config import check_model

    check_param(p, "model", lambda v: None if str(v).lower() in ("gaussian", "auto")
                else check_model(v))
    for name in ("na", "wavelength_um", "refractive_index"):
        check_param(p, name, positive(name))

    def spacing(v):
        from .._core.options import check_spacing

        if isinstance(v, (int, float)) or len(v) not in (2, 3):
            raise ValueError(f"spacing must be 2 (y, x) or 3 (z, y, x) values in µm; got {v!r}")
        check_spacing(v, len(v))

    check_param(p, "spacing", spacing)


STEPS = {s.name: s for s in (make_step(psf, "dataset", ("psf",), check=_check_psf),)}
