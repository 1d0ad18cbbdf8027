"""Resampling a PSF to another voxel size (a PSF measured or rendered at one spacing,
used on images at another)."""

from __future__ import annotations

import numpy as np

from .._core.options import check_spacing

__all__ = ["resample_psf", "same_spacing"]

#: relative difference below which two spacings are the same (rounding in file metadata)
SPACING_RTOL = 1e-3


def same_spacing(a, b, *, rtol: float = SPACING_RTOL) -> bool:
    """Whether spacings ``a`` and ``b`` (µm, same length) agree within ``rtol``."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= rtol * np.maximum(a, b)))


def resample_psf(psf, from_spacing, to_spacing, *, order: int = 1) -> np.ndarray:
    """``psf`` sampled at ``from_spacing`` (µm per voxel) resampled to ``to_spacing``.

    The centre voxel (``n // 2`` per axis, DeconvolutionLab2's convention) stays the
    centre; the output has an odd size per axis covering the same physical extent;
    negative values from the interpolation are clipped and the sum is kept at 1.

    Parameters
    ----------
    psf : (P, M, N) or (M, N) array
    from_spacing, to_spacing : sequence of float
        Voxel sizes (µm), one per axis of ``psf``.
    order : int
        Spline order of :func:`scipy.ndimage.map_coordinates` (1 = linear).

    Examples
    --------
    >>> import numpy as np
    >>> k = np.zeros((9, 9), np.float32); k[4, 4] = 1
    >>> resample_psf(k, (0.1, 0.1), (0.05, 0.05)).shape
    (17, 17)
    """
    from scipy.ndimage import map_coordinates

    psf = np.asarray(psf, dtype=np.float64)
    src = check_spacing(from_spacing, psf.ndim)
    dst = check_spacing(to_spacing, psf.ndim)
    centre_in = [n // 2 for n in psf.shape]
    half = [int(np.floor((n - 1 - c) * s / d + 1e-9)) for n, c, s, d in
            zip(psf.shape, centre_in, src, dst)]
    half = [max(h, 0) for h in half]
    axes = [ci + (np.arange(-h, h + 1) * d / s) for ci, h, s, d in zip(centre_in, half, src, dst)]
    grid = np.meshgrid(*axes, indexing="ij")
    out = map_coordinates(psf, grid, order=order, mode="constant", cval=0.0)
    out = np.clip(out, 0, None)
    total = out.sum()
    if total <= 0:
        raise ValueError(f"resample_psf: the PSF resampled from {tuple(src)} to {tuple(dst)} µm "
                         "is empty (the target voxels are larger than the whole PSF); render the "
                         "PSF at the image's spacing instead")
    return (out / total).astype(np.float32)
