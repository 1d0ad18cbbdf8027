"""Argument checks, radial interpolation and normalisation shared by the PSF models."""

from __future__ import annotations

import numpy as np

from .._core.options import check_choice, check_positive, check_spacing

#: PSF Generator's accuracy levels, in the order of its combo box (index 0, 1, 2).
ACCURACIES = ("Good", "Better", "Best")
#: Allowed values of ``normalize``.
NORMALIZATIONS = ("max", "sum")
#: Peak bytes per voxel of each model family (float64 planes, radial interpolation and
#: temporaries), measured with tracemalloc on (8, 128, 128), (32, 64, 64) and (2, 256, 256)
#: grids (BW 195-306, GL 313-451, RW 947-1348, lateral/axial 20-32), rounded up.
BYTES_PER_VOXEL = {"BW": 320, "GL": 480, "RW": 1400, "lateral": 40}


def available_memory() -> int | None:
    """Bytes of memory available now (Linux ``MemAvailable``), or ``None`` where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_memory(shape, *, model: str, max_memory=None, n_radial: int = 0) -> int:
    """Refuse a PSF whose computation would need more than ``max_memory`` bytes.

    Called with the checked 3D shape *before* anything of its size is allocated. The
    estimate is :data:`BYTES_PER_VOXEL` per voxel (``"BW"``, ``"GL"``, ``"RW"``; any other
    ``model`` name counts as a lateral/axial model) plus the radial profiles (complex,
    ``nz * n_radial``). ``max_memory=None``: the memory available now (``MemAvailable``;
    4 GiB where the system does not tell). Returns the estimate in bytes.

    Raises
    ------
    ValueError
        Naming the shape, the bytes it would need, the budget and how to change it.
    """
    nz, ny, nx = (int(n) for n in shape)
    need = (BYTES_PER_VOXEL.get(model, BYTES_PER_VOXEL["lateral"]) * float(nz) * float(ny) * float(nx)
            + 64.0 * float(nz) * float(n_radial))
    if max_memory is None:
        budget = available_memory() or 4 << 30
        source = "the memory available now"
    else:
        if isinstance(max_memory, bool) or not isinstance(max_memory, (int, float, np.integer,
                                                                       np.floating)) \
                or not max_memory > 0:
            raise ValueError(f"max_memory must be a number of bytes > 0 or None; got "
                             f"{max_memory!r}")
        budget, source = float(max_memory), "max_memory"
    if need > budget:
        raise ValueError(
            f"a {model} PSF of shape "
            f"{(nz, ny, nx) if nz > 1 else (ny, nx)} ({float(nz) * ny * nx:.3g} voxels) would "
            f"need ~{_size(need)} of memory; the budget is {_size(budget)} ({source}). Use a "
            "smaller shape, or raise the budget: max_memory= (bytes) in Python, --max-memory MB "
            "on the command line")
    return int(need)


def _size(n: float) -> str:
    for unit, factor in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20)):
        if n >= factor:
            return f"{n / factor:.3g} {unit}"
    return f"{n / 2**10:.3g} KB"


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
