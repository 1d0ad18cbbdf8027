"""Gaussian, median and CLAHE with sizes in µm (anisotropic voxels respected)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from ._common import check_filter_image, sigma_pixels

__all__ = ["gaussian", "median", "clahe", "ellipsoid_footprint"]


def _float(image: np.ndarray) -> np.ndarray:
    return image if image.dtype in (np.float32, np.float64) else image.astype(np.float32)


def gaussian(image, *, sigma_um, spacing=None, mode: str = "nearest",
             truncate: float = 4.0) -> np.ndarray:
    """Gaussian smoothing with a standard deviation in µm.

    Parameters
    ----------
    image : ndarray
        2D ``(M, N)`` or 3D ``(P, M, N)``.
    sigma_um : float or sequence of float
        Standard deviation in µm (one value for every axis, or one per axis).
    spacing : sequence of float, optional
        Voxel size in µm, ``(z, y, x)`` or ``(y, x)``; default 1 µm.  The sigma in
        pixels is ``sigma_um / spacing`` per axis, so the kernel is round in space
        however the voxels are shaped.
    mode, truncate
        As :func:`scipy.ndimage.gaussian_filter` (``nearest`` is ImageJ's edge
        handling).

    Returns
    -------
    ndarray
        float32 (float64 stays float64).

    References
    ----------
    .. [1] Lindeberg, T. (1994). Scale-space theory: a basic tool for analysing
       structures at different scales. J. Appl. Stat. 21(2), 225-270.
       :doi:`10.1080/757582976`

    Examples
    --------
    >>> import numpy as np
    >>> from fijibridge.filters import gaussian
    >>> image = np.zeros((9, 41, 41), np.float32); image[4, 20, 20] = 1
    >>> out = gaussian(image, sigma_um=0.5, spacing=(0.5, 0.2, 0.2))  # 1 x 2.5 x 2.5 px
    >>> bool(np.isclose(out.sum(), 1.0, atol=1e-3)), out.dtype.name
    (True, 'float32')
    """
    image = check_filter_image(image, name="gaussian")
    sigma = sigma_pixels(sigma_um, spacing, image.ndim, name="sigma_um")
    return ndi.gaussian_filter(_float(image), sigma, mode=mode, truncate=truncate)


def ellipsoid_footprint(radius_um, spacing, ndim: int) -> np.ndarray:
    """Boolean ellipsoid (ellipse in 2D) of radius ``radius_um`` on the voxel grid."""
    semi = sigma_pixels(radius_um, spacing, ndim, name="radius_um")
    half = np.floor(semi + 1e-9).astype(int)
    grids = np.ogrid[tuple(slice(-h, h + 1) for h in half)]
    dist = sum((g / max(s, 1e-12)) ** 2 for g, s in zip(grids, semi))
    return dist <= 1.0 + 1e-9


def median(image, *, radius_um, spacing=None, mode: str = "nearest") -> np.ndarray:
    """Median filter over an ellipsoid of radius ``radius_um`` µm (round in space).

    Parameters
    ----------
    image : ndarray
        2D ``(M, N)`` or 3D ``(P, M, N)``, any real dtype (kept).
    radius_um : float
        Radius in µm; the footprint holds the voxels whose centres lie within it, so
        with 0.1 µm pixels and 0.3 µm planes a 0.3 µm radius spans 7 x 7 pixels and
        3 planes.
    spacing : sequence of float, optional
        Voxel size in µm; default 1 µm.

    Examples
    --------
    >>> import numpy as np
    >>> from fijibridge.filters import median
    >>> image = np.zeros((9, 9), np.uint8); image[4, 4] = 255  # a hot pixel
    >>> int(median(image, radius_um=1).max())
    0

    References
    ----------
    .. [1] Huang, T., Yang, G., Tang, G. (1979). A fast two-dimensional median
       filtering algorithm. IEEE Trans. ASSP 27(1), 13-18. :doi:`10.1109/TASSP.1979.1163188`
    """
    image = check_filter_image(image, name="median")
    footprint = ellipsoid_footprint(radius_um, spacing, image.ndim)
    return ndi.median_filter(image, footprint=footprint, mode=mode)


def clahe(image, *, kernel_um=None, spacing=None, clip_limit: float = 0.01,
          nbins: int = 256) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation with a tile size in µm.

    Wraps :func:`skimage.exposure.equalize_adapthist`, whose ``kernel_size`` is in
    pixels per axis: here it is ``kernel_um / spacing`` (at least 2 pixels), so tiles
    cover the same physical extent along every axis.  The image is first scaled to
    [0, 1] by its own minimum and maximum (skimage's ``img_as_float`` would scale by the
    dtype's range instead).

    Parameters
    ----------
    image : ndarray
        2D ``(M, N)`` or 3D ``(P, M, N)``.
    kernel_um : float or sequence of float, optional
        Tile size in µm; default 1/8 of the image extent along each axis (skimage's
        default).
    spacing : sequence of float, optional
        Voxel size in µm; default 1 µm.
    clip_limit, nbins
        As :func:`skimage.exposure.equalize_adapthist`.

    Returns
    -------
    ndarray
        float32 in [0, 1]; zeros for a constant image.

    References
    ----------
    .. [1] Zuiderveld, K. (1994). Contrast limited adaptive histogram equalization.
       Graphics Gems IV, 474-485. :doi:`10.1016/B978-0-12-336156-1.50061-6`

    Examples
    --------
    >>> import numpy as np
    >>> from fijibridge.filters import clahe
    >>> image = np.random.default_rng(0).gamma(2, 10, (64, 64)).astype(np.float32)
    >>> out = clahe(image, kernel_um=1.6, spacing=(0.1, 0.1))
    >>> out.dtype.name, bool(0 <= out.min() and out.max() <= 1)
    ('float32', True)
    """
    from skimage.exposure import equalize_adapthist

    image = check_filter_image(image, name="clahe")
    if kernel_um is None:
        kernel = None
    else:
        kernel = np.maximum(np.round(sigma_pixels(kernel_um, spacing, image.ndim,
                                                  name="kernel_um")), 2).astype(int)
        kernel = tuple(int(k) for k in kernel)
    a = image.astype(np.float64)
    lo, hi = float(a.min()), float(a.max())
    if not hi > lo:  # a constant image has no contrast to equalise
        return np.zeros(image.shape, np.float32)
    a = (a - lo) / (hi - lo)
    out = equalize_adapthist(a, kernel_size=kernel, clip_limit=clip_limit, nbins=nbins)
    return out.astype(np.float32)
