"""Pipeline steps of the deconv package: ``deconvolve`` (native DeconvolutionLab2
algorithms, :func:`fijibridge.deconv.deconvolve`)."""

from __future__ import annotations

import logging

import numpy as np

from .._core.steps import check_param, make_step, positive

__all__ = ["STEPS", "deconvolve"]

log = logging.getLogger(__name__)


def deconvolve(*, image, psf, algorithm: str = "RL", num_iter: int = 15,
               reg: float | None = None, resample_psf: bool = False):
    """Native DeconvolutionLab2 algorithm (:func:`fijibridge.deconv.deconvolve`); the
    output keeps the image's calibration.

    The PSF must be sampled at the image's spacing: when both state theirs and they
    differ (beyond rounding), the step fails naming both — unless ``resample_psf: true``,
    which resamples the PSF to the image's voxel size
    (:func:`fijibridge.psf.resample.resample_psf`; logged)."""
    from .._core.image import Image
    from . import deconvolve as _deconvolve

    kernel = psf.to_ndarray() if isinstance(psf, Image) else np.asarray(psf)
    pixels = image.to_ndarray() if isinstance(image, Image) else np.asarray(image)
    if kernel.ndim != pixels.ndim:
        raise ValueError(f"deconvolve: psf has {kernel.ndim} dimensions, image {pixels.ndim}; "
                         "give the psf step the image (inputs: {image: …}) so it samples the "
                         "PSF in the image's dimensions and spacing")
    if isinstance(psf, Image) and isinstance(image, Image) and psf.calibrated \
            and image.calibrated:
        from ..psf.resample import resample_psf as _resample, same_spacing

        img_sp, psf_sp = tuple(image.spacing), tuple(psf.spacing)
        if not same_spacing(img_sp, psf_sp):
            fmt = " × ".join
            if not resample_psf:
                raise ValueError(
                    f"deconvolve: the PSF is sampled at {fmt(f'{v:g}' for v in psf_sp)} µm "
                    f"but the image{' ' + image.source if image.source else ''} at "
                    f"{fmt(f'{v:g}' for v in img_sp)} µm ({image.axes}); render the PSF at the "
                    "image's spacing (psf step with inputs: {image: …}) or set "
                    "resample_psf: true")
            log.info("deconvolve: resampling the PSF from %s to %s µm", psf_sp, img_sp)
            kernel = _resample(kernel, psf_sp, img_sp)
    out = _deconvolve(np.asarray(pixels, np.float32), kernel, algorithm=algorithm,
                      num_iter=num_iter, reg=reg)
    out = np.asarray(out, np.float32)
    return {"image": image.with_data(out) if isinstance(image, Image) else out}


def _check_deconvolve(p):
    from ._registry import lookup_algorithm

    check_param(p, "algorithm", lookup_algorithm)
    check_param(p, "num_iter", positive("num_iter", integer=True))
    check_param(p, "reg", positive("reg", allow_zero=True))


STEPS = {s.name: s for s in (
    make_step(deconvolve, "image", ("image",), check=_check_deconvolve, images=True),
)}
