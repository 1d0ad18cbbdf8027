"""Pipeline steps of the deconv package: ``deconvolve`` (native DeconvolutionLab2
algorithms, :func:`fijibridge.deconv.deconvolve`)."""

from __future__ import annotations

import numpy as np

from .._core.steps import check_param, make_step, positive

__all__ = ["STEPS", "deconvolve"]


def deconvolve(*, image, psf, algorithm: str = "RL", num_iter: int = 15,
               reg: float | None = None):
    """Native DeconvolutionLab2 algorithm (:func:`fijibridge.deconv.deconvolve`); the
    output keeps the image's calibration."""
    from . import deconvolve as _deconvolve

    if psf.ndim != image.ndim:
        raise ValueError(f"deconvolve: psf has {psf.ndim} dimensions, image {image.ndim}; "
                         "give the psf step the images' spacing")
    out = _deconvolve(np.asarray(image, np.float32), psf, algorithm=algorithm,
                      num_iter=num_iter, reg=reg)
    return {"image": np.asarray(out, np.float32)}


def _check_deconvolve(p):
    from ._registry import lookup_algorithm

    check_param(p, "algorithm", lookup_algorithm)
    check_param(p, "num_iter", positive("num_iter", integer=True))
    check_param(p, "reg", positive("reg", allow_zero=True))


STEPS = {s.name: s for s in (
    make_step(deconvolve, "image", ("image",), check=_check_deconvolve),
)}
