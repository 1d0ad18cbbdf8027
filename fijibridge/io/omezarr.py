"""OME-Zarr (NGFF 0.4 and 0.5) with ``zarr``: multiscales, axes with units, scale transforms.

Only the full-resolution level (``datasets[0]``) is read; its scale is the product of
the dataset's and the multiscale's ``scale`` transformations, in each axis' unit.
Channel names come from ``omero.channels[].label``.  Data are read lazily (dask) when
larger than the memory budget.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .._core.errors import ImageFormatError
from .._core.image import Image
from ._common import build_image, check_scene, lazy_from_zarr, to_tczyx
from ._units import length_to_um, time_to_s

__all__ = ["read"]

log = logging.getLogger(__name__)


def _scale(transforms, ndim) -> np.ndarray:
    scale = np.ones(ndim)
    for t in transforms or ():
        if t.get("type") == "scale":
            scale = scale * np.asarray(t["scale"], float)
    return scale


def read(path, *, scene=None, max_memory: int, lazy=None) -> Image:
    """Read an OME-Zarr image group (a folder)."""
    import zarr

    path = Path(path)
    try:
        group = zarr.open_group(str(path), mode="r")
        attrs = dict(group.attrs)
        attrs = attrs.get("ome", attrs)  # NGFF 0.5 nests the metadata under "ome"
        multiscales = attrs.get("multiscales")
        if not multiscales:
            raise ImageFormatError(f"{str(path)!r} is a zarr group without OME-NGFF "
                                   "'multiscales' metadata")
        index = check_scene(scene, len(multiscales), path)
        ms = multiscales[index]
        version = str(ms.get("version", attrs.get("version", "0.5")))
        if version in ("0.1", "0.2", "0.3"):
            raise ImageFormatError(f"{str(path)!r} is OME-NGFF {version}; fijibridge reads "
                                   "0.4 and later (axes with units)")
        axes_meta = ms["axes"]
        names = "".join(a["name"] if isinstance(a, dict) else a for a in axes_meta).upper()
        units = [a.get("unit") if isinstance(a, dict) else None for a in axes_meta]
        dataset = ms["datasets"][0]
        array = group[dataset["path"]]
        scale = _scale(dataset.get("coordinateTransformations"), len(names)) \
            * _scale(ms.get("coordinateTransformations"), len(names))
        nbytes = int(np.prod(array.shape, dtype=np.int64)) * np.dtype(array.dtype).itemsize
        if lazy is None:
            lazy = nbytes > max_memory
        data = lazy_from_zarr(array) if lazy else array[...]
        omero = attrs.get("omero") or {}
        labels = [c.get("label") for c in omero.get("channels", [])]
    except (ImageFormatError, ValueError) as e:
        if isinstance(e, ImageFormatError) or "scene" in str(e):
            raise
        raise ImageFormatError(f"cannot read {str(path)!r} as OME-Zarr ({e})") from e
    except Exception as e:  # zarr and json raise many types on broken stores
        raise ImageFormatError(f"cannot read {str(path)!r} as OME-Zarr "
                               f"({type(e).__name__}: {e}); corrupt or incomplete") from e
    dist = {}
    interval = None
    for name, unit, s in zip(names, units, scale):
        if name in "XYZ":
            # NGFF: a spatial axis without a unit states no physical size
            dist[name.lower()] = length_to_um(s, unit) if unit else None
        elif name == "T" and unit:
            interval = time_to_s(s, unit)
    data, axes = to_tczyx(data, names)
    nc = dict(zip(axes, data.shape)).get("C", 1)
    channels = tuple(labels) if len(labels) == nc and all(labels) else ()
    return build_image(data, axes, dist, channels, len(multiscales), index, "ome-zarr", path,
                       time_interval=interval)
