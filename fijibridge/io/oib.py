"""Olympus OIB/OIF through ``oiffile``."""

from __future__ import annotations

from pathlib import Path

from .._core.errors import ImageFormatError
from .._core.image import Image
from ._common import build_image, check_scene, to_tczyx
from ._units import length_to_um

__all__ = ["read"]


def read(path, *, scene=None, max_memory: int, lazy=None) -> Image:
    """Read an OIB file: pixel size from ``Reference Image Parameter``, Z step from the Z
    axis ``Interval`` (in its ``UnitName``), channel names from ``CH Name``."""
    import oiffile

    path = Path(path)
    try:
        with oiffile.OifFile(path) as f:
            axes, data, main = f.axes, f.asarray(), f.mainfile
    except Exception as e:  # oiffile raises many types on broken files
        raise ImageFormatError(f"cannot read {str(path)!r} as OIB ({type(e).__name__}: "
                               f"{e}); the file is corrupt or truncated") from e
    index = check_scene(scene, 1, path)
    data, axes = to_tczyx(data, axes)
    ref = main.get("Reference Image Parameter", {})
    dist = {"x": length_to_um(ref.get("WidthConvertValue"), ref.get("WidthUnit")),
            "y": length_to_um(ref.get("HeightConvertValue"), ref.get("HeightUnit")), "z": None}
    if "Z" in axes:
        for key, section in main.items():
            if key.startswith("Axis ") and section.get("AxisCode") == "Z":
                dist["z"] = length_to_um(section.get("Interval"), section.get("UnitName"))
    names = []
    i = 1
    while f"Channel {i} Parameters" in main:
        names.append(str(main[f"Channel {i} Parameters"].get("CH Name", "")))
        i += 1
    nc = dict(zip(axes, data.shape)).get("C", 1)
    channels = tuple(names) if len(names) == nc and all(names) else ()
    return build_image(data, axes, dist, channels, 1, index, "oib", path)
