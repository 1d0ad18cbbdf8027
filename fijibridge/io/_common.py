"""Helpers shared by the format readers: explicit reorders to TCZYX, the memory budget."""

from __future__ import annotations

import logging
import os
import re

import numpy as np

from .._core.errors import ImageFormatError
from .._core.image import AXES, Image

__all__ = ["build_image", "to_tczyx", "memory_budget", "check_scene", "lazy_from_zarr",
           "lazy_contiguous", "missing_reader"]

log = logging.getLogger(__name__)

_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_FACTOR = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "kib": 2**10, "ki": 2**10, "m": 1e6, "mb": 1e6,
           "mib": 2**20, "mi": 2**20, "g": 1e9, "gb": 1e9, "gib": 2**30, "gi": 2**30,
           "t": 1e12, "tb": 1e12, "tib": 2**40, "ti": 2**40}


def parse_size(text, *, name: str = "max_memory") -> int:
    """``"2G"``, ``"500MB"``, ``"1.5GiB"`` or a number of bytes → bytes."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text <= 0:
            raise ValueError(f"{name} must be a positive number of bytes; got {text!r}")
        return int(text)
    m = _SIZE.match(str(text))
    if not m or (m.group(2) or "").lower() not in _FACTOR:
        raise ValueError(f"{name} must be a size such as 2000000000, '2G' or '512MiB'; "
                         f"got {text!r}")
    value = int(float(m.group(1)) * _FACTOR[(m.group(2) or "").lower()])
    if value <= 0:
        raise ValueError(f"{name} must be positive; got {text!r}")
    return value


def memory_budget(max_memory=None) -> int:
    """Bytes above which a file is read lazily (dask): the keyword, else
    ``$FIJIBRIDGE_MAX_MEMORY``, else a quarter of the physical memory."""
    if max_memory is not None:
        return parse_size(max_memory)
    env = os.environ.get("FIJIBRIDGE_MAX_MEMORY")
    if env:
        return parse_size(env, name="FIJIBRIDGE_MAX_MEMORY")
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 2**30
    return int(total // 4)


def check_scene(scene, scenes: int, path) -> int:
    """Validate a scene index (``None`` → 0)."""
    if scene is None:
        return 0
    if isinstance(scene, bool) or not isinstance(scene, (int, np.integer)):
        raise TypeError(f"scene must be an integer index; got {type(scene).__name__}")
    if not 0 <= int(scene) < scenes:
        raise ValueError(f"scene {int(scene)} is out of range for {str(path)!r}: the file has "
                         f"{scenes} scene{'s' if scenes != 1 else ''} (0..{scenes - 1})")
    return int(scene)


def to_tczyx(data, axes: str, *, drop: str = ""):
    """Reorder ``data`` from ``axes`` to the TCZYX subset it has, written out explicitly.

    Axes named in ``drop`` (e.g. a size-1 scene axis) are indexed at 0; any other axis
    that is not one of TCZYX must have length 1, or an ImageFormatError is raised.
    Returns ``(data, new_axes)``.
    """
    axes = axes.upper()
    index = []
    kept = []
    for a, n in zip(axes, data.shape):
        if a in AXES and a not in kept:
            index.append(slice(None))
            kept.append(a)
        elif n == 1 or a in drop:
            index.append(0)
        else:
            raise ImageFormatError(f"the file has an axis {a!r} of length {n} that is none of "
                                   "T, C, Z, Y, X; read it with reader='bioformats' or "
                                   "convert it")
    data = data[tuple(index)]
    target = "".join(a for a in AXES if a in kept)
    order = [kept.index(a) for a in target]  # explicit: source position of each TCZYX axis
    if order != list(range(len(order))):
        data = data.transpose(order)
    return data, target


def lazy_from_zarr(array, *, target_chunk_bytes: int = 8 * 2**20,
                   min_chunk_bytes: int = 2**20):
    """A dask array over a zarr array (or tifffile's zarr store of a TIFF series).

    The stored chunks are kept when they hold at least ``min_chunk_bytes`` (dask tasks
    then match what is read from disk; measured in ``benchmarks/read_lazy.py``);
    smaller ones (e.g. strips) are grouped into whole planes, up to
    ``target_chunk_bytes``.  Small chunks keep a reduction's peak memory low.
    """
    import dask.array as da

    shape = tuple(int(n) for n in array.shape)
    itemsize = np.dtype(array.dtype).itemsize
    stored = getattr(array, "chunks", None)
    if stored and int(np.prod(stored)) * itemsize >= min_chunk_bytes:
        return da.from_zarr(array)
    plane = int(np.prod(shape[-2:])) * itemsize
    chunks = list(shape)
    budget = max(1, target_chunk_bytes // max(plane, 1))
    for i in range(len(shape) - 3, -1, -1):
        chunks[i] = max(min(shape[i], budget), 1)
        budget = max(1, budget // max(shape[i], 1))
    return da.from_zarr(array, chunks=tuple(chunks))


class _ContiguousPlanes:
    """Array-like over planes stored one after another, uncompressed, from ``offset`` in a
    file (what tifffile and ImageJ write): ``[...]`` reads only the rows asked for, with
    ``os.pread`` on a file opened per call (safe across threads and processes)."""

    def __init__(self, path, offset: int, shape: tuple, dtype):
        self.path, self.offset = str(path), int(offset)
        self.shape, self.file_dtype = tuple(int(n) for n in shape), np.dtype(dtype)
        self.dtype = self.file_dtype.newbyteorder("=")  # what the chunks hold
        self.ndim = len(self.shape)

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        key = key + (slice(None),) * (self.ndim - len(key))
        ranges = [range(*k.indices(n)) if isinstance(k, slice) else range(int(k), int(k) + 1)
                  for k, n in zip(key, self.shape)]
        if any(r.step != 1 for r in ranges[-2:]):
            raise IndexError("rows and columns are read in steps of 1")
        rows, cols = ranges[-2], ranges[-1]
        row_bytes = self.shape[-1] * self.file_dtype.itemsize
        plane_bytes = self.shape[-2] * row_bytes
        lead = [len(r) for r in ranges[:-2]]
        out = np.empty((*lead, len(rows), self.shape[-1]), self.file_dtype)
        flat = out.reshape(-1, len(rows), self.shape[-1])
        nbytes = len(rows) * row_bytes
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for i, index in enumerate(np.ndindex(*lead)):
                plane = int(np.ravel_multi_index(
                    tuple(r[j] for r, j in zip(ranges[:-2], index)), self.shape[:-2])) \
                    if lead else 0
                start = self.offset + plane * plane_bytes + rows.start * row_bytes
                view = memoryview(flat[i]).cast("B")
                if hasattr(os, "preadv"):
                    got = os.preadv(fd, [view], start)
                else:  # pragma: no cover - platforms without preadv
                    data = os.pread(fd, nbytes, start)
                    got = len(data)
                    view[:got] = data
                if got != nbytes:
                    raise OSError(f"{self.path}: {got} of {nbytes} bytes at offset {start} "
                                  "(the file is truncated)")
        finally:
            os.close(fd)
        if not self.file_dtype.isnative:
            out = out.astype(self.dtype)
        index = tuple(0 if not isinstance(k, slice) else slice(None) for k in key[:-1])
        return out[index + (slice(cols.start, cols.stop),)]


def lazy_contiguous(path, offset: int, shape, dtype, axes: str, *,
                    target_chunk_bytes: int = 8 * 2**20):
    """A dask array over uncompressed planes stored contiguously from ``offset``.

    Chunks hold up to 16 planes along ``Z`` (else the axis before Y) and as many whole
    rows as fit ``target_chunk_bytes``: a projection over Z then keeps only thin
    partial results (measured in ``benchmarks/read_lazy.py``: the whole-plane chunks of
    the zarr route held ~30 planes of partial maxima), and each chunk is read with one
    ``pread`` per plane, with no decoding and no copy beyond the chunk itself.
    """
    import dask.array as da

    shape = tuple(int(n) for n in shape)
    dtype = np.dtype(dtype)
    native = dtype.newbyteorder("=")
    elems = max(1, target_chunk_bytes // dtype.itemsize)
    y, x = shape[-2:]
    chunks = [1] * (len(shape) - 2) + [y, x]
    if len(shape) > 2:
        k = axes.upper().find("Z")
        k = k if 0 <= k < len(shape) - 2 else len(shape) - 3
        nz = min(shape[k], 16)
        rows = max(1, min(y, elems // max(nz * x, 1)))
        if rows == y:  # small planes: more of them per chunk
            nz = max(1, min(shape[k], elems // max(y * x, 1)))
        chunks[k], chunks[-2] = nz, rows
    else:
        chunks[-2] = max(1, min(y, elems // max(x, 1)))
    st = os.stat(path)
    name = "fijibridge-tiff-" + _token(str(os.path.realpath(path)), st.st_size, st.st_mtime_ns,
                                       offset, shape, dtype.str)
    arr = da.from_array(_ContiguousPlanes(path, offset, shape, dtype), chunks=tuple(chunks),
                        name=name, meta=np.empty((0,) * len(shape), native), asarray=False,
                        lock=False, fancy=False)
    return arr


def _token(*parts) -> str:
    import hashlib

    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def missing_reader(fmt: str, package: str, error: ImportError) -> ImageFormatError:
    return ImageFormatError(
        f"reading {fmt} files needs the package {package!r}, which is not installed: "
        f"pip install 'fijibridge[formats]' (or pip install {package}) [{error}]")


def build_image(data, axes, dist, channels, scenes, index, fmt, path, time_interval=None) -> Image:
    """An Image from µm sizes ``dist`` ({"x","y","z"} → µm or None); x and y go together."""
    x, y, z = dist.get("x"), dist.get("y"), dist.get("z")
    if x is None or y is None:
        x = y = None
    if "Z" in axes:
        spacing = (z or 1.0, y or 1.0, x or 1.0)
        known = (z is not None, y is not None, x is not None)
    else:
        spacing, known = (y or 1.0, x or 1.0), (y is not None, x is not None)
    return Image(data=data, axes=axes, spacing=spacing, spacing_known=known,
                 calibrated=x is not None, channels=channels, time_interval_s=time_interval,
                 scenes=scenes, scene=index, format=fmt, source=str(path))


def open_or_fail(opener, path, fmt: str):
    """``opener(path)``, with any error of a format library (they raise many types on
    broken files) turned into one :class:`ImageFormatError` naming the file and format."""
    try:
        return opener(path)
    except Exception as e:  # noqa: BLE001 - the library's own error is named in the message
        raise ImageFormatError(f"cannot read {str(path)!r} as {fmt} ({type(e).__name__}: {e}); "
                               "the file is corrupt or truncated") from e
