"""Writing an :class:`Image`: OME-TIFF, ImageJ hyperstack TIFF or OME-Zarr, atomically.

The format follows the name: ``.ome.tif``/``.ome.tiff`` → OME-TIFF (physical sizes in
µm, channel names and axes in the OME-XML, readable by Bio-Formats); ``.zarr`` →
OME-Zarr (NGFF 0.4, zarr v2, ``scale`` in µm with explicit axis units); anything else
→ ImageJ hyperstack (axes reordered TCZYX → ImageJ's TZCYX).  A dask image is written
plane by plane, never loaded whole.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .._core.atomic import _umask, atomic_path
from .._core.image import Image

__all__ = ["write_image"]

log = logging.getLogger(__name__)


def _planes(image: Image):
    """YX planes of ``image`` in C order of its leading axes (computed one at a time)."""
    data = image.data
    lead = image.shape[:-2]
    for index in np.ndindex(*lead) if lead else [()]:
        plane = data[index]
        yield np.asarray(plane.compute() if hasattr(plane, "compute") else plane)


def write_image(path, image: Image, *, compression: str | None = None) -> Path:
    """Write ``image`` to ``path``; the format is chosen by the name (see module doc).

    The file appears only when complete (written beside it, then renamed).
    """
    if not isinstance(image, Image):
        raise TypeError(f"image must be a fijibridge.Image; got {type(image).__name__} "
                        "(wrap an array: Image(array, axes='ZYX', spacing=(z, y, x)))")
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".ome.tif", ".ome.tiff")):
        return _write_ome_tiff(path, image, compression=compression)
    if name.endswith(".zarr"):
        return _write_ome_zarr(path, image)
    if not name.endswith((".tif", ".tiff")):
        raise ValueError(f"path must end in .ome.tif, .ome.tiff, .tif, .tiff or .zarr; "
                         f"got {path.name!r}")
    return _write_imagej(path, image, compression=compression)


def _write_ome_tiff(path: Path, image: Image, *, compression) -> Path:
    import tifffile

    meta: dict = {"axes": image.axes}
    for key, value in image.spacing_um.items():
        if value is not None:
            meta[f"PhysicalSize{key.upper()}"] = float(value)
            meta[f"PhysicalSize{key.upper()}Unit"] = "µm"
    if image.channels:
        meta["Channel"] = {"Name": list(image.channels)}
    if image.time_interval_s:
        meta["TimeIncrement"] = float(image.time_interval_s)
        meta["TimeIncrementUnit"] = "s"
    big = image.data.nbytes > 2**32 - 2**25
    with atomic_path(path) as tmp:
        if image.is_lazy:
            tifffile.imwrite(tmp, _planes(image), shape=image.shape, dtype=image.dtype,
                             ome=True, bigtiff=big, metadata=meta, compression=compression)
        else:
            tifffile.imwrite(tmp, np.asarray(image.data), ome=True, bigtiff=big, metadata=meta,
                             compression=compression)
    return path


def _write_imagej(path: Path, image: Image, *, compression) -> Path:
    from .._core.tiff import write_tiff

    if image.calibrated and "Z" in image.axes and image.spacing_um["z"] is None:
        log.info("%s: unknown Z step written as 1 µm (ImageJ has no 'unknown')", path)
    # write_tiff reorders TCZYX → ImageJ's TZCYX and keeps spacing, unit and channel names
    return write_tiff(path, image, compression=compression)


_NGFF_TYPES = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}


def _write_ome_zarr(path: Path, image: Image) -> Path:
    import zarr

    sp = image.spacing_um
    axes_meta, scale = [], []
    for a in image.axes:
        entry = {"name": a.lower(), "type": _NGFF_TYPES[a]}
        value = 1.0
        if a in "ZYX" and sp[a.lower()] is not None:
            entry["unit"] = "micrometer"
            value = float(sp[a.lower()])
        elif a == "T" and image.time_interval_s:
            entry["unit"] = "second"
            value = float(image.time_interval_s)
        axes_meta.append(entry)
        scale.append(value)
    attrs = {"multiscales": [{
        "version": "0.4", "name": Path(image.source).name if image.source else path.stem,
        "axes": axes_meta,
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": scale}]}],
    }]}
    if image.channels:
        attrs["omero"] = {"version": "0.4", "channels": [
            {"label": c, "active": True} for c in image.channels]}
    chunks = tuple(1 for _ in image.shape[:-2]) + tuple(min(n, 1024) for n in image.shape[-2:])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        group = zarr.open_group(str(tmp), mode="w", zarr_format=2)
        array = group.create_array("0", shape=image.shape, chunks=chunks, dtype=image.dtype,
                                   chunk_key_encoding={"name": "v2", "separator": "/"})
        if image.is_lazy:
            image.data.store(array, lock=False)
        else:
            array[...] = np.asarray(image.data)
        group.attrs.update(attrs)
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp made it private
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path
