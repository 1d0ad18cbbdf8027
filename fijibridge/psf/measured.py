"""Measured PSFs: extract a PSF from the image of a sub-resolution bead.

Steps (the usual practice, e.g. PSF Distiller / Huygens' PSF distiller, simplified):
find the bead (brightest voxel after a light Gaussian smoothing, or a given
position), subtract the background, locate the bead's centre to a fraction of a
voxel (intensity centroid of the half-maximum region around the peak), resample
the crop so that this centre falls exactly on ``(n - 1) / 2`` (cubic spline shift),
clip negative values and normalise.

References
----------
.. [1] P. J. Shaw, D. J. Rawlins, "The point-spread function of a confocal
   microscope: its measurement and use in deconvolution of 3-D data", Journal of
   Microscopy 163(2):151-165, 1991. :doi:`10.1111/j.1365-2818.1991.tb03168.x`
.. [2] D. Sage et al., "DeconvolutionLab2: An open-source software for
   deconvolution microscopy", Methods 115:28-41, 2017.
   :doi:`10.1016/j.ymeth.2016.12.015`
"""

from __future__ import annotations

import logging

import numpy as np

from .._core.options import check_choice, check_positive

__all__ = ["extract_bead_psf", "BACKGROUNDS"]

log = logging.getLogger(__name__)

#: ``background=`` choices (or a number in image units).
BACKGROUNDS = ("median", "border", "none")


def extract_bead_psf(image, *, shape=None, center=None, background="median",
                     normalize: str = "sum", subpixel: bool = True, smooth: float = 1.0,
                     dtype=np.float32) -> np.ndarray:
    """Extract, centre, background-subtract and normalise a PSF from a bead image.

    Parameters
    ----------
    image : ndarray
        2D ``(y, x)`` or 3D ``(z, y, x)`` image with one isolated bead (or several,
        with ``center`` choosing one).
    shape : sequence of int, optional
        Output size in voxels.  Default: the largest odd size per axis that fits
        around the bead inside the image.  Odd sizes put the centre on a voxel;
        even sizes between two voxels, like PSF Generator.
    center : sequence of float, optional
        Approximate bead position in voxels, ``(z, y, x)``.  Default: the brightest
        voxel of the image smoothed with a Gaussian of ``smooth`` voxels.
    background : {"median", "border", "none"} or float
        ``"median"``: median of the whole image (beads are sparse); ``"border"``:
        median of the outer one-voxel shell of the crop; a number: that value.
    normalize : {"sum", "max"}
        Scale to a sum of 1 (for deconvolution) or a maximum of 1 (for display and
        comparison with PSF Generator).
    subpixel : bool
        Resample so that the bead's centroid falls exactly on the output centre;
        False moves by whole voxels only (no interpolation).
    smooth : float
        Sigma (voxels) of the smoothing used to find the bead; 0 for none.
    dtype : float dtype
        Output dtype.

    Returns
    -------
    ndarray
        Non-negative PSF of size ``shape``, centred at ``(n - 1) / 2``.

    Raises
    ------
    ValueError
        Bad arguments, an image without signal above the background, or a ``shape``
        larger than the image.

    References
    ----------
    .. [1] P. J. Shaw, D. J. Rawlins, J. Microsc. 163(2):151-165, 1991.
       :doi:`10.1111/j.1365-2818.1991.tb03168.x`

    Examples
    --------
    >>> z, y, x = np.mgrid[:21, :31, :31]
    >>> bead = 100 * np.exp(-((z - 10.3) ** 2 / 8 + (y - 14.6) ** 2 / 4 + (x - 15.2) ** 2 / 4)) + 5
    >>> psf = extract_bead_psf(bead, shape=(15, 21, 21))
    >>> [int(i) for i in np.unravel_index(psf.argmax(), psf.shape)], round(float(psf.sum()), 6)
    ([7, 10, 10], 1.0)
    """
    from scipy import ndimage

    data = np.asarray(image)
    if data.dtype.kind not in "uif":
        raise TypeError(f"image must be a real numeric array; got dtype {data.dtype}")
    if data.ndim not in (2, 3):
        raise ValueError(f"image must be 2D (y, x) or 3D (z, y, x); got ndim={data.ndim}")
    data = data.astype(np.float64)
    if not np.all(np.isfinite(data)):
        raise ValueError("image contains NaN or infinite values")
    normalize = check_choice("normalize", normalize, ("sum", "max"))
    smooth = check_positive("smooth", smooth, allow_zero=True)

    # 1. where is the bead?
    if center is None:
        found = ndimage.gaussian_filter(data, smooth) if smooth > 0 else data
        peak = np.array(np.unravel_index(int(np.argmax(found)), data.shape))
    else:
        try:
            peak = np.array([float(c) for c in center])
        except (TypeError, ValueError):
            raise TypeError(f"center must be {data.ndim} numbers (voxels); got {center!r}") from None
        if peak.size != data.ndim:
            raise ValueError(f"center must have {data.ndim} values for a {data.ndim}D image; "
                             f"got {center!r}")
        if np.any(peak < 0) or np.any(peak > np.array(data.shape) - 1):
            raise ValueError(f"center {center!r} is outside the image of shape {data.shape}")
        peak = np.round(peak).astype(int)
        # snap to the local maximum nearby
        lo = np.maximum(peak - 2, 0)
        hi = np.minimum(peak + 3, data.shape)
        local = data[tuple(slice(a, b) for a, b in zip(lo, hi))]
        peak = lo + np.array(np.unravel_index(int(np.argmax(local)), local.shape))

    # 2. output size
    if shape is None:
        room = np.minimum(peak, np.array(data.shape) - 1 - peak)
        out_shape = tuple(int(2 * r + 1) for r in room)
    else:
        try:
            out_shape = tuple(check_positive(f"shape[{i}]", s, integer=True) for i, s in enumerate(shape))
        except TypeError:
            raise TypeError(f"shape must be {data.ndim} positive integers; got {shape!r}") from None
        if len(out_shape) != data.ndim:
            raise ValueError(f"shape must have {data.ndim} values for a {data.ndim}D image; "
                             f"got {shape!r}")
        if any(s > n for s, n in zip(out_shape, data.shape)):
            raise ValueError(f"shape {out_shape} is larger than the image {data.shape}")

    # 3. background
    if isinstance(background, str):
        background = check_choice("background", background, BACKGROUNDS)
        if background == "median":
            level = float(np.median(data))
        elif background == "none":
            level = 0.0
        else:
            level = None  # from the crop, below
    elif isinstance(background, (int, float, np.integer, np.floating)) and not isinstance(background, bool):
        level = float(background)
    else:
        raise TypeError(f"background must be one of {BACKGROUNDS} or a number; got {background!r}")

    # 4. sub-voxel centre: centroid of the half-maximum region connected to the peak
    ref_level = float(np.median(data)) if level is None else level
    signal = data - ref_level
    peak_value = signal[tuple(peak)]
    if not peak_value > 0:
        raise ValueError("no bead found: the brightest voxel is not above the background "
                         f"({ref_level:g})")
    labels, _ = ndimage.label(signal >= 0.5 * peak_value)
    region = labels == labels[tuple(peak)]
    centroid = np.array(ndimage.center_of_mass(np.where(region, signal, 0.0)))
    if not subpixel:
        centroid = np.round(centroid)
    log.info("bead centre (voxels, z y x): %s", np.array2string(centroid, precision=2))

    # 5. crop with a margin, shift the centroid onto the output centre, trim
    margin = 4
    target = (np.array(out_shape) - 1) / 2.0
    start = np.floor(centroid - target).astype(int) - margin
    frac = (centroid - target) - (start + margin)  # in [0, 1)
    big_shape = np.array(out_shape) + 2 * margin
    fill = ref_level
    crop = np.full(tuple(big_shape), fill, dtype=np.float64)
    src = tuple(slice(max(s, 0), min(s + b, n)) for s, b, n in zip(start, big_shape, data.shape))
    dst = tuple(slice(sl.start - s, sl.stop - s) for sl, s in zip(src, start))
    crop[dst] = data[src]
    if level is None:  # "border": median of the outer shell of the output region
        inner = crop[tuple(slice(margin, margin + n) for n in out_shape)]
        shell = np.ones(inner.shape, dtype=bool)
        shell[tuple(slice(1, -1) if n > 2 else slice(0, 0) for n in inner.shape)] = False
        level = float(np.median(inner[shell]))
    crop -= level
    if np.any(frac != 0):
        crop = ndimage.shift(crop, -frac, order=3, mode="nearest")
    psf = crop[tuple(slice(margin, margin + n) for n in out_shape)]
    psf = np.clip(psf, 0.0, None)
    total = psf.sum()
    if not total > 0:
        raise ValueError("the extracted PSF is empty after background subtraction "
                         f"(background {level:g}); pass a lower background")
    psf = psf / (total if normalize == "sum" else psf.max())
    return psf.astype(dtype, copy=False)
