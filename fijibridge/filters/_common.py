"""Argument checks shared by the filters (image, spacing, sizes in µm)."""

from __future__ import annotations

import numpy as np

from .._core.options import check_spacing

__all__ = ["check_filter_image", "sigma_pixels", "pixels_from_um"]


def check_filter_image(image, *, dtypes=None, name: str = "filter") -> np.ndarray:
    """A 2D ``(M, N)`` or 3D ``(P, M, N)`` real, finite-shaped numpy array."""
    if hasattr(image, "data") and hasattr(image, "spacing") and not isinstance(image, np.ndarray):
        image = image.data  # a TiffImage
    image = np.asarray(image)
    if image.dtype == bool or not (np.issubdtype(image.dtype, np.integer)
                                   or np.issubdtype(image.dtype, np.floating)):
        raise TypeError(f"{name}: image must be a real numeric array; got dtype {image.dtype}")
    if dtypes is not None and image.dtype not in [np.dtype(d) for d in dtypes]:
        allowed = ", ".join(np.dtype(d).name for d in dtypes)
        raise TypeError(f"{name}: image dtype must be one of {allowed} (ImageJ's 8-, 16- and "
                        f"32-bit types); got {image.dtype}. Convert first, e.g. "
                        "image.astype(np.float32)")
    if image.ndim not in (2, 3):
        raise ValueError(f"{name}: image must be 2D (M, N) or 3D (P, M, N); got shape "
                         f"{image.shape}. Select one channel / time point first")
    if image.size == 0:
        raise ValueError(f"{name}: image is empty (shape {image.shape})")
    return image


def sigma_pixels(size_um, spacing, ndim: int, *, name: str) -> np.ndarray:
    """A size in µm (scalar, or one per axis) as a per-axis size in pixels."""
    sp = np.asarray(check_spacing(spacing, ndim), dtype=np.float64)
    size = np.asarray(size_um, dtype=np.float64)
    if size.ndim > 1 or (size.ndim == 1 and size.size != ndim):
        raise ValueError(f"{name} must be a number or {ndim} numbers (µm); got {size_um!r}")
    if not np.all(np.isfinite(size)) or np.any(size < 0):
        raise ValueError(f"{name} must be finite and >= 0 (µm); got {size_um!r}")
    return np.broadcast_to(size, (ndim,)) / sp


def pixels_from_um(size_um, spacing, ndim: int, *, name: str, square_pixels: bool = False) -> float:
    """A length in µm as pixels along x (for ImageJ's 2D, pixel-based filters)."""
    sp = check_spacing(spacing, ndim)
    if square_pixels and not np.isclose(sp[-1], sp[-2], rtol=1e-6):
        raise ValueError(f"{name}: ImageJ's filter is round in pixels, so it needs square "
                         f"pixels (y spacing == x spacing); got spacing {sp}. Resample the "
                         "image to square pixels first")
    try:
        size = float(size_um)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number (µm); got {size_um!r}") from None
    if not np.isfinite(size):
        raise ValueError(f"{name} must be finite (µm); got {size_um!r}")
    return size / sp[-1]
