"""Imaris IMS (HDF5) through h5py: full-resolution level, voxel size from the extents."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._core.errors import ImageFormatError
from .._core.image import Image
from ._common import build_image, check_scene
from ._units import length_to_um

__all__ = ["read"]


def _attr(node, name, default=None):
    value = node.attrs.get(name)
    if value is None:
        return default
    if isinstance(value, np.ndarray):
        value = b"".join(value.ravel().tolist()) if value.dtype.kind == "S" else value.tolist()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value


def read(path, *, scene=None, max_memory: int, lazy=None) -> Image:
    """Read an IMS file: ``DataSetInfo/Image`` X/Y/Z sizes and ExtMin/ExtMax extents give
    the voxel size in ``Unit`` (default µm); the stored blocks are padded, so each
    channel's ``Data`` is cropped to X/Y/Z."""
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as f:
            info = f["DataSetInfo/Image"]
            size = {k: int(_attr(info, k)) for k in "XYZ"}
            ext = {k: float(_attr(info, f"ExtMax{i}")) - float(_attr(info, f"ExtMin{i}"))
                   for i, k in enumerate("XYZ")}
            unit = _attr(info, "Unit", "um") or "um"
            level = f["DataSet/ResolutionLevel 0"]
            times = sorted(level, key=lambda s: int(s.split()[-1]))
            chans = sorted(level[times[0]], key=lambda s: int(s.split()[-1]))
            planes = [[level[t][c]["Data"][:size["Z"], :size["Y"], :size["X"]] for c in chans]
                      for t in times]
            names = []
            for c in chans:
                node = f.get(f"DataSetInfo/{c}")
                names.append(_attr(node, "Name", "") if node is not None else "")
    except Exception as e:  # h5py raises many types on broken files
        raise ImageFormatError(f"cannot read {str(path)!r} as Imaris IMS "
                               f"({type(e).__name__}: {e}); the file is corrupt, truncated "
                               "or not an Imaris file") from e
    index = check_scene(scene, 1, path)
    data = np.stack([np.stack(p) for p in planes])  # T C Z Y X
    axes = "TCZYX"
    if data.shape[0] == 1:
        data, axes = data[0], "CZYX"
    dist = {k.lower(): length_to_um(ext[k] / size[k], unit) for k in "XYZ"}
    nc = len(chans)
    # Imaris writes "(name not specified)" for unnamed channels
    named = [n for n in names if n and n != "(name not specified)"]
    channels = tuple(names) if len(named) == nc else ()
    return build_image(data, axes, dist, channels, 1, index, "ims", path)
