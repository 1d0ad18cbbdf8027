"""Leica LIF through ``liffile``.

Supported through its reader but NOT tested on a real file: no registry package ships
a real LIF.  Each LIF image is a scene; the voxel size is each dimension's length
(first to last element) over ``n - 1``, in the dimension's unit.
"""

from __future__ import annotations

from pathlib import Path

from .._core.errors import ImageFormatError
from .._core.image import Image
from ._common import build_image, check_scene, open_or_fail, to_tczyx
from ._units import length_to_um, time_to_s

__all__ = ["read"]


def read(path, *, scene=None, max_memory: int, lazy=None) -> Image:
    """Read one image (scene) of a LIF file."""
    import liffile

    path = Path(path)
    lif = open_or_fail(liffile.LifFile, path, "LIF")
    try:
        images = list(lif.images)
        if not images:
            raise ImageFormatError(f"{str(path)!r} holds no image")
        index = check_scene(scene, len(images), path)
        image = images[index]
        try:
            data = image.asarray()
            axes = "".join(image.sizes)
            dims = {d.label: d for d in getattr(image, "_dimensions", ())}
        except Exception as e:
            raise ImageFormatError(f"cannot read {str(path)!r} as LIF ({type(e).__name__}: "
                                   f"{e}); the file is corrupt or truncated") from e
    finally:
        lif.close()
    data, axes = to_tczyx(data, axes)
    dist = {}
    for label in "XYZ":
        d = dims.get(label)
        if d is not None and d.number_elements > 1 and d.length:
            dist[label.lower()] = length_to_um(abs(d.length) / (d.number_elements - 1), d.unit)
    interval = None
    t = dims.get("T")
    if t is not None and t.number_elements > 1 and t.length:
        interval = time_to_s(abs(t.length) / (t.number_elements - 1), t.unit or "s")
    return build_image(data, axes, dist, (), len(images), index, "lif", path,
                       time_interval=interval)
