"""Argument checks, radial interpolation and normalisation shared by the PSF models."""

from __future__ import annotations

import numpy as np

from .._core.options import check_choice, check_positive, check_spacing

#: PSF Generator's accuracy levels, in the order of its combo box (index 0, 1, 2).
ACCURACIES = ("Good", "Better", "Best")
#: Allowed values of ``normalize``.
NORMALIZATIONS = ("max", "sum")


def check_shape(shape) -> tuple[int, ...]:
    """Validate a PSF size ``(z, y, x)`` or ``(y, x)`` in voxels."""
    if isinstance(shape, (int, np.integer)) or isinstance(shape, (str, bytes)):
        raise TypeError(f"shape must be a sequence of 2 or 3 integers (z, y, x) or (y, x) "
                        f"in voxels; got {shape!r}")
    try:
        values = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be a sequence of 2 or 3 integers (z, y, x) or (y, x) "
                        f"in voxels; got {shape!r}") from None
    if len(values) not in (2, 3):
        raise ValueError(f"shape must have 2 values (y, x) or 3 values (z, y, x); "
                         f"got {len(values)}: {shape!r}")
    names = ("z", "y", "x")[-len(values):]
    return tuple(check_positive(f"shape[{i}] ({n})", v, integer=True)
                 for i, (n, v) in enumerate(zip(names, values)))


def check_optics(*, na, wavelength_nm, ni=None, ns=None) -> tuple[float, float]:
    """Check NA and wavelength (and NA <= ni, NA <= ns where given); return floats."""
    na = check_positive("na", na)
    wavelength_nm = check_positive("wavelength_nm", wavelength_nm)
    if ni is not None:
        ni = check_positive("ni", ni)
        if na > ni:
            raise ValueError(f"na must be <= ni (the immersion refractive index): an "
                             f"objective cannot collect beyond its immersion medium; got "
                             f"na={na} > ni={ni}")
    if ns is not None:
        check_positive("ns", ns)
    return na, wavelength_nm


def check_accuracy(accuracy) -> int:
    """Index (0, 1, 2) of PSF Generator's accuracy level ``Good``/``Better``/``Best``."""
    if isinstance(accuracy, (int, np.integer)) and not isinstance(accuracy, bool):
        if 0 <= accuracy < len(ACCURACIES):
            return int(accuracy)
        raise ValueError(f"accuracy must be one of {', '.join(ACCURACIES)} (or 0, 1, 2); "
                         f"got {accuracy!r}")
    return ACCURACIES.index(check_choice("accuracy", accuracy, ACCURACIES))


def grid(shape, spacing) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Check ``shape`` and ``spacing`` together; always return 3D versions (nz=1 for 2D)."""
    shape = check_shape(shape)
    spacing = check_spacing(spacing, len(shape))
    if len(shape) == 2:
        return (1,) + shape, (1.0,) + spacing
    return shape, spacing


def axial_offsets(nz: int) -> np.ndarray:
    """Plane offsets in planes from the centre ``(nz - 1) / 2`` (0 for a single plane)."""
    return np.arange(nz, dtype=np.float64) - (nz - 1) / 2.0


def radial_samples(ny: int, nx: int, oversampling: int) -> int:
    """Number of radial samples PSF Generator computes (``maxRadius * OVER_SAMPLING``)."""
    x0, y0 = (nx - 1) / 2.0, (ny - 1) / 2.0
    # Java's Math.round is floor(v + 0.5)
    return (int(np.floor(np.sqrt((nx - x0) ** 2 + (ny - y0) ** 2) + 0.5)) + 1) * oversampling


def radial_to_planes(h: np.ndarray, ny: int, nx: int, *, step_y: float, step_x: float,
                     oversampling: int) -> np.ndarray:
    """Spread radial profiles ``h[z, n]`` (at radius ``n / oversampling`` units) on (y, x).

    Linear interpolation between radial samples, centred at ``((ny-1)/2, (nx-1)/2)``
    as in PSF Generator.  ``step_y`` and ``step_x`` are the pixel sizes in units of
    the radial unit (1 for square pixels).
    """
    y = (np.arange(ny) - (ny - 1) / 2.0) * step_y
    x = (np.arange(nx) - (nx - 1) / 2.0) * step_x
    rho = np.sqrt(y[:, None] ** 2 + x[None, :] ** 2)
    index = np.floor(rho * oversampling).astype(np.intp)
    frac = rho * oversampling - index
    return h[:, index] + (h[:, index + 1] - h[:, index]) * frac


def finish(volume: np.ndarray, *, normalize: str, dtype, two_d: bool) -> np.ndarray:
    """Scale to max 1 (PSF Generator) or sum 1, cast, and drop the z axis for 2D."""
    normalize = check_choice("normalize", normalize, NORMALIZATIONS)
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating type (float32 or float64); got {dtype}")
    if normalize == "max":
        volume = volume / volume.max()
    else:
        volume = volume / volume.sum()
    volume = volume.astype(dtype, copy=False)
    return volume[0] if two_d else volume
