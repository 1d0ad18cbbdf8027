"""Pipeline steps of the psf package: ``psf`` (one kernel for the whole data set, or one
per image at that image's spacing)."""

from __future__ import annotations

import numpy as np

from .._core.steps import check_param, make_step, positive

__all__ = ["STEPS", "psf"]


def psf(*, image=None, spacing: list | None = None, model: str = "gaussian", na: float = 1.4,
        wavelength_um: float = 0.52, refractive_index: float = 1.518, shape: list | None = None):
    """A PSF sampled at ``spacing`` (µm): ``gaussian``/``auto`` from the microscope model
    (:func:`fijibridge.synth.make_psf`), or a PSF Generator model by short name
    (``BW``, ``GL``, ``RW``, … through :func:`fijibridge.psf.generate_psf`).

    Given an ``image`` input (``inputs: {image: mito.image}``) the step runs once per
    item and samples the PSF at that image's spacing, in its dimensions (2D or 3D): the
    calibration comes from the file, never from the pipeline.  ``spacing`` then
    overrides it (recorded in run.json with the step's parameters).  Without an image,
    ``spacing`` is the spacing the run's input images share (read from their files'
    calibration) unless given.  The output carries its spacing, so ``deconvolve`` can
    check it against the image's."""
    from .._core.image import Image

    if image is not None:
        ndim = len(image.spacing)
        if spacing is None:
            if not image.calibrated:
                raise ValueError(
                    f"psf: the image{' ' + image.source if image.source else ''} states no "
                    "physical pixel size, so "
                    "a PSF cannot be sampled for it; calibrate the file (Image > Properties "
                    "in Fiji, or write it with write_image) or give the psf step "
                    "spacing: [z, y, x] (µm)")
            spacing = tuple(image.spacing)
        elif len(spacing) < ndim:
            raise ValueError(f"psf: spacing {list(spacing)} has {len(spacing)} values; the "
                             f"image is {ndim}-D ({image.axes})")
        else:
            spacing = tuple(spacing)[-ndim:]
    if spacing is None:
        raise ValueError("psf: give spacing (µm, (y, x) or (z, y, x)) of the images, e.g. "
                         "spacing: [0.3, 0.1, 0.1]; or, better, give the step the image "
                         "(inputs: {image: …}) to sample it at each image's own spacing")
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
    kernel = np.asarray(kernel, dtype=np.float32)
    if image is not None and shape is None:  # never larger than the image it is for
        kernel = _crop_to(kernel, tuple(image.sizes()[a] for a in image.axes if a in "ZYX"))
    return {"psf": Image(kernel, "ZYX" if kernel.ndim == 3 else "YX", spacing, calibrated=True)}


def _crop_to(kernel: np.ndarray, limit: tuple) -> np.ndarray:
    """``kernel`` cropped about its centre voxel (``n // 2``) to at most ``limit`` per
    axis (odd sizes), renormalised to its former sum."""
    if all(n <= m for n, m in zip(kernel.shape, limit)):
        return kernel
    total = kernel.sum()
    index = []
    for n, m in zip(kernel.shape, limit):
        keep = min(n, m if m % 2 else m - 1)
        c, h = n // 2, keep // 2
        index.append(slice(c - h, c - h + keep))
    out = np.ascontiguousarray(kernel[tuple(index)])
    return out * (total / out.sum()) if out.sum() > 0 else out


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


STEPS = {s.name: s for s in (make_step(psf, "dataset", ("psf",), check=_check_psf, images=True,
                                        per_image_with="image"),)}
