"""Image preprocessing for networks: contrast stretching, normalisation, histogram
matching, median filtering (numpy/scipy, 2D and 3D).

Every function takes the image first and keyword-only parameters, returns a new
float32 array, and refuses NaN/inf pixels with a ValueError (a network would turn
them into a silently wrong segmentation).
"""

from __future__ import annotations

import numpy as np

from .._core.options import check_choice

__all__ = ["check_finite", "contrast_stretch", "normalize", "match_histogram", "median_filter",
           "NORMALIZE_MODES"]

NORMALIZE_MODES = ("percentile", "zscore", "minmax", "none")


def check_finite(image, *, name: str = "image") -> np.ndarray:
    """Return ``image`` as an ndarray, raising ValueError on NaN/inf or a non-real dtype."""
    image = np.asarray(image)
    if image.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {image.dtype}")
    if image.size == 0:
        raise ValueError(f"{name} is empty (shape {image.shape})")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        n = int((~np.isfinite(image)).sum())
        raise ValueError(f"{name} contains {n} NaN/inf pixel(s); replace them first "
                         "(e.g. numpy.nan_to_num) or mask them")
    return image


def contrast_stretch(image, *, low: float = 1.0, high: float = 99.8, clip: bool = False) -> np.ndarray:
    """Map the ``low`` and ``high`` percentiles of ``image`` to 0 and 1.

    A constant image maps to zeros (there is no contrast to stretch).

    Examples
    --------
    >>> contrast_stretch(np.arange(101.0), low=0, high=100)[[0, 50, 100]]
    array([0. , 0.5, 1. ], dtype=float32)
    """
    image = check_finite(image).astype(np.float32, copy=False)
    if not 0 <= low < high <= 100:
        raise ValueError(f"need 0 <= low < high <= 100 (percentiles); got low={low}, high={high}")
    lo, hi = np.percentile(image, [low, high])
    if hi <= lo:
        lo, hi = float(image.min()), float(image.max())
    if hi <= lo:
        return np.zeros_like(image, dtype=np.float32)
    out = (image - lo) / (hi - lo)
    if clip:
        out = np.clip(out, 0, 1)
    return out.astype(np.float32, copy=False)


def normalize(image, *, mode: str = "percentile", low: float = 1.0, high: float = 99.8) -> np.ndarray:
    """Normalise intensities: ``percentile`` (see :func:`contrast_stretch`), ``zscore``,
    ``minmax`` or ``none`` (cast to float32 only)."""
    mode = check_choice("mode", mode, NORMALIZE_MODES)
    image = check_finite(image)
    if mode == "percentile":
        return contrast_stretch(image, low=low, high=high)
    image = image.astype(np.float32)
    if mode == "zscore":
        sd = float(image.std())
        return (image - image.mean()) / sd if sd > 0 else np.zeros_like(image)
    if mode == "minmax":
        lo, hi = float(image.min()), float(image.max())
        return (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)
    return image


def match_histogram(image, *, reference) -> np.ndarray:
    """Transform ``image`` so its intensity histogram matches ``reference``'s.

    Uses :func:`skimage.exposure.match_histograms` (the same cumulative-histogram
    mapping), so the result keeps the order of ``image``'s intensities.
    """
    from skimage.exposure import match_histograms

    image = check_finite(image)
    reference = check_finite(reference, name="reference")
    return match_histograms(image.astype(np.float32), reference.astype(np.float32)).astype(np.float32)


def median_filter(image, *, size: int = 3) -> np.ndarray:
    """Median filter with a cubic window of ``size`` pixels per axis (reflect borders)."""
    from scipy import ndimage as ndi

    image = check_finite(image)
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"size must be an integer >= 1; got {size!r}")
    return ndi.median_filter(image.astype(np.float32), size=int(size), mode="reflect")
