"""Nikon ND2 through the ``nd2`` package."""

from __future__ import annotations

from pathlib import Path

from .._core.errors import ImageFormatError
from .._core.image import Image
from ._common import build_image, check_scene, open_or_fail, to_tczyx
from ._units import time_to_s

__all__ = ["read"]


def read(path, *, scene=None, max_memory: int, lazy=None) -> Image:
    """Read an ND2 file: voxel size (µm), channel names, time loop period, positions as scenes."""
    import nd2

    path = Path(path)
    f = open_or_fail(nd2.ND2File, path, "ND2")
    try:
        sizes = dict(f.sizes)
        scenes = int(sizes.get("P", 1))
        index = check_scene(scene, scenes, path)
        try:
            data = f.asarray()
            vox = f.voxel_size()
            names = [ch.channel.name for ch in (f.metadata.channels or [])]
            period = None
            for loop in f.experiment or []:
                if loop.type == "TimeLoop":
                    period = time_to_s(loop.parameters.periodMs, "ms")
        except Exception as e:
            raise ImageFormatError(f"cannot read {str(path)!r} as ND2 ({type(e).__name__}: "
                                   f"{e}); the file is corrupt or truncated") from e
    finally:
        f.close()
    axes = "".join(sizes)
    if "P" in axes:
        data = data[(slice(None),) * axes.index("P") + (index,)]
        axes = axes.replace("P", "")
    data, axes = to_tczyx(data, axes)
    # nd2 reports 1.0 when the file has no calibration; ND2 always states x/y
    dist = {"x": vox.x, "y": vox.y, "z": vox.z if "Z" in axes else None}
    nc = dict(zip(axes, data.shape)).get("C", 1)
    channels = tuple(names) if len(names) == nc and all(names) else ()
    return build_image(data, axes, dist, channels, scenes, index, "nd2", path,
                       time_interval=period)
