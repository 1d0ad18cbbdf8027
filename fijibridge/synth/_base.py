"""Shared pieces of the phantom generators: the :class:`Phantom` record, random
generators, argument checks and vectorised rendering of ellipsoids and tubes.

Coordinates
-----------
Positions are physical, in micrometres, in array axis order ``(z, y, x)`` (3D) or
``(y, x)`` (2D).  The centre of voxel ``(i, j, k)`` lies at
``(i * spacing[0], j * spacing[1], k * spacing[2])``, so a position converts to the
nearest voxel index with ``numpy.rint(pos / spacing)``.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np

from .._core.options import check_positive, check_spacing

log = logging.getLogger(__name__)

__all__ = ["Phantom", "as_rng", "check_shape"]


@dataclasses.dataclass
class Phantom:
    """A synthetic specimen: ground-truth image, masks, graph and parameters.

    Attributes
    ----------
    image : ndarray of float32
        Ground-truth fluorophore density (before any blur or noise), 0 in the
        background, about 1 inside objects.  Feed it to
        :func:`fijibridge.synth.microscope.simulate_microscope` for a realistic image.
    labels : ndarray of int32
        Instance labels, 0 = background.  What an instance is depends on the kind of
        phantom (nuclei; mitochondrial network components; cells; nuclei and Golgi
        clusters); see the generating function.
    class_mask : ndarray of uint8
        Semantic classes, 0 = background; the meaning of each value is in
        ``params["classes"]``.
    spacing : tuple of float
        Voxel size in µm, ``(z, y, x)`` or ``(y, x)``.
    params : dict
        Everything needed to describe (and regenerate) the phantom: the generator's
        arguments, the seed, and per-object parameters (centres and axes in µm,
        phenotype values, pairs...).  JSON-serialisable.
    graph : networkx.Graph or None
        Ground-truth network for mitochondria and cells (see
        :func:`fijibridge.synth.networks.mitochondria`), else ``None``.
    masks : dict of str to ndarray
        Further named masks of the same shape (e.g. ``"nucleus_labels"``,
        ``"pair_ids"``, ``"overlap"``).
    channels : dict of str to ndarray
        Further ground-truth images of the same shape (e.g. the nuclear stain of a
        cell phantom, ``"nucleus"``); ``image`` is the main channel.
    """

    image: np.ndarray
    labels: np.ndarray
    class_mask: np.ndarray
    spacing: tuple[float, ...]
    params: dict[str, Any]
    graph: Any = None
    masks: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    channels: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    @property
    def ndim(self) -> int:
        """Number of spatial dimensions (2 or 3)."""
        return self.image.ndim

    @property
    def shape(self) -> tuple[int, ...]:
        return self.image.shape


def as_rng(rng) -> np.random.Generator:
    """Return a :class:`numpy.random.Generator` from ``rng``.

    ``rng`` may be ``None`` (fresh entropy, not reproducible), an int seed, a
    :class:`numpy.random.SeedSequence` or a Generator (used as is, and advanced).
    """
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"rng seed must be >= 0; got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator; got {rng!r}")


def seed_of(rng) -> int | None:
    """The int seed when ``rng`` is one (recorded in ``params``), else ``None``."""
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return int(rng)
    return None


def check_shape(shape, *, name: str = "shape", min_size: int = 8) -> tuple[int, ...]:
    """Validate a 2D or 3D image shape (each side >= ``min_size``)."""
    try:
        values = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of 2 or 3 integers; got {shape!r}") from None
    if len(values) not in (2, 3):
        raise ValueError(f"{name} must have 2 (y, x) or 3 (z, y, x) values; got "
                         f"{len(values)}: {shape!r}")
    if any(v < min_size for v in values) or any(int(s) != s for s in shape):
        raise ValueError(f"{name} values must be integers >= {min_size}; got {shape!r}")
    return values


def check_shape_spacing(shape, spacing, default_spacing):
    """Validated ``(shape, spacing)``; ``default_spacing`` (3 values) is cut to ndim."""
    shape = check_shape(shape)
    if spacing is None:
        spacing = default_spacing[-len(shape):]
    return shape, check_spacing(spacing, len(shape))


def check_range(name: str, value, *, low: float = 0.0, high: float | None = None,
                allow_equal: bool = True) -> tuple[float, float]:
    """Validate a ``(min, max)`` pair of finite numbers with ``low <= min <= max``."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a (min, max) pair of numbers; got {value!r}") from None
    ok = np.isfinite(lo) and np.isfinite(hi) and low <= lo <= hi
    if high is not None:
        ok = ok and hi <= high
    if not ok:
        upper = f" <= {high}" if high is not None else ""
        raise ValueError(f"{name} must satisfy {low} <= min <= max{upper}; got {value!r}")
    return lo, hi


def check_fraction(name: str, value) -> float:
    value = check_positive(name, value, allow_zero=True)
    if value > 1:
        raise ValueError(f"{name} must be in [0, 1]; got {value!r}")
    return value


# ----------------------------------------------------------------------------- geometry


def box_slices(lo_um, hi_um, spacing, shape):
    """Slices of the voxels whose centres may lie within ``[lo_um, hi_um]``, or None."""
    sl = []
    for lo, hi, s, n in zip(lo_um, hi_um, spacing, shape):
        a = max(int(np.floor(lo / s)), 0)
        b = min(int(np.ceil(hi / s)) + 1, n)
        if b <= a:
            return None
        sl.append(slice(a, b))
    return tuple(sl)


def box_coords(slices, spacing):
    """Open (broadcastable) physical coordinate grids of a box, one per axis."""
    ndim = len(slices)
    out = []
    for ax, (sl, s) in enumerate(zip(slices, spacing)):
        shape = [1] * ndim
        shape[ax] = sl.stop - sl.start
        out.append((np.arange(sl.start, sl.stop, dtype=np.float64) * s).reshape(shape))
    return out


def rotation(ndim: int, angle: float) -> np.ndarray:
    """Rotation by ``angle`` (rad) in the (y, x) plane; identity along z in 3D."""
    c, s = np.cos(angle), np.sin(angle)
    r2 = np.array([[c, -s], [s, c]])
    if ndim == 2:
        return r2
    r = np.eye(3)
    r[1:, 1:] = r2
    return r


def ellipsoid_q(center, axes, rot, slices, spacing):
    """Normalised squared radius ``q = sum((R^T (x - c))_k / a_k)^2`` over a box.

    ``q <= 1`` inside the ellipsoid with centre ``center`` (µm), semi-axes ``axes``
    (µm, in the body frame) and rotation matrix ``rot`` (columns = body axes).
    """
    coords = box_coords(slices, spacing)
    d = [c - c0 for c, c0 in zip(coords, center)]
    q = 0.0
    for k in range(len(axes)):
        comp = sum(rot[j, k] * d[j] for j in range(len(d)))
        q = q + (comp / axes[k]) ** 2
    return np.broadcast_to(q, tuple(s.stop - s.start for s in slices))


def support(axes, rot, direction) -> float:
    """Half-width of an ellipsoid along a unit ``direction`` (support function)."""
    a = rot @ np.diag(np.asarray(axes, dtype=float) ** 2) @ rot.T
    return float(np.sqrt(direction @ a @ direction))


def render_segment(field, labels, a, b, radius, label, spacing, *, reach=None):
    """Lower ``field`` to the signed distance to a capsule and record ``label``.

    ``field`` holds, per voxel, the smallest ``distance - radius`` (µm) to the tubes
    drawn so far (``inf`` where none); where segment ``a``–``b`` (µm) with
    ``radius`` is closer, ``field`` is lowered and ``labels`` (if given) set to
    ``label``.  Only the box within ``reach`` (default ``radius`` + 2 voxels) of the
    segment is touched: the work is a few vectorised array operations per segment.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if reach is None:
        reach = radius + 2 * max(spacing)
    sl = box_slices(np.minimum(a, b) - reach, np.maximum(a, b) + reach, spacing, field.shape)
    if sl is None:
        return
    coords = box_coords(sl, spacing)
    d = b - a
    dd = float(d @ d)
    rel = [c - a0 for c, a0 in zip(coords, a)]
    if dd > 0:
        t = sum(r * dk for r, dk in zip(rel, d)) / dd
        t = np.clip(t, 0.0, 1.0)
        dist2 = sum((r - t * dk) ** 2 for r, dk in zip(rel, d))
    else:
        dist2 = sum(r ** 2 for r in rel)
    sdf = np.sqrt(dist2) - radius
    view = field[sl]
    closer = sdf < view
    if labels is not None:
        labels[sl][closer] = label
    view[closer] = sdf[closer]


def smooth_noise(shape, *, spacing, scale_um: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-filtered white noise with unit standard deviation (float32).

    The noise is generated on a grid ~4× coarser than ``scale_um`` and interpolated,
    so a 64×256×256 field costs a few tens of milliseconds.
    """
    from scipy import ndimage

    step = [max(1, int(scale_um / s / 3)) for s in spacing]
    coarse_shape = [int(np.ceil(n / k)) + 2 for n, k in zip(shape, step)]
    noise = rng.standard_normal(coarse_shape).astype(np.float32)
    sigma = [scale_um / (s * k) for s, k in zip(spacing, step)]
    noise = ndimage.gaussian_filter(noise, sigma, mode="wrap")
    grid = np.meshgrid(*[np.arange(n, dtype=np.float32) / k for n, k in zip(shape, step)],
                       indexing="ij", sparse=False)
    field = ndimage.map_coordinates(noise, grid, order=1, mode="nearest")
    std = float(field.std())
    return (field - field.mean()) / (std if std > 0 else 1.0)


def jsonable(value):
    """Convert numpy scalars/arrays (recursively) into JSON-friendly Python values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value
