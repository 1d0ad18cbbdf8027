"""Zeiss CZI through czifile (pure Python; imagecodecs for compressed CZI)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from .._core.errors import ImageFormatError
from .._core.image import Image
from ._common import build_image, check_scene, to_tczyx
from ._units import length_to_um

__all__ = ["read"]


def read(path, *, scene=None, max_memory: int, lazy=None) -> Image:
    """Read a CZI file: Scaling/Distance (metres), channel names, scenes (``S`` axis)."""
    import czifile

    path = Path(path)
    try:
        with czifile.CziFile(path) as czi:
            axes, shape = czi.axes, czi.shape
            meta = ET.fromstring(czi.metadata())
            sizes = dict(zip(axes, shape))
            scenes = int(sizes.get("S", 1))
            index = check_scene(scene, scenes, path)
            data = czi.asarray()
    except (ValueError, TypeError) as e:
        if "scene" in str(e):
            raise
        raise ImageFormatError(f"cannot read {str(path)!r} as CZI ({type(e).__name__}: {e}); "
                               "the file is corrupt or truncated") from e
    except Exception as e:  # czifile raises many types on broken files
        raise ImageFormatError(f"cannot read {str(path)!r} as CZI ({type(e).__name__}: {e}); "
                               "the file is corrupt or truncated") from e
    if "S" in axes:
        data = data[(slice(None),) * axes.index("S") + (index,)]
        axes = axes.replace("S", "")
    # czifile's '0' is the pixel-sample axis (1 for grey), 'B' 'V' 'H' … are acquisition blocks
    axes = axes.replace("0", "s")
    data, axes = to_tczyx(data, axes)
    dist = {}
    for d in meta.iter("Distance"):
        ident = d.get("Id")
        value = d.findtext("Value")
        if ident in ("X", "Y", "Z") and value:
            # CZI states scaling in metres
            dist[ident.lower()] = length_to_um(float(value), "m")
    names = [c.get("Name") or c.get("Id")
             for c in meta.findall(".//Information/Image/Dimensions/Channels/Channel")]
    nc = dict(zip(axes, data.shape)).get("C", 1)
    channels = tuple(names) if len(names) == nc and all(names) else ()
    return build_image(data, axes, dist, channels, scenes, index, "czi", path)

