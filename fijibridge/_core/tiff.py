"""ImageJ TIFF reading and writing with calibration (tifffile, imported lazily).

Axes follow ImageJ's hyperstack order ``TZCYX``; an array carries only the axes it
has (``"YX"``, ``"ZYX"``, ``"ZCYX"``, ``"TZCYX"``, …). ``spacing`` is the voxel size
in micrometres as ``(z, y, x)`` (or ``(y, x)`` for a single plane).
"""

from __future__ import annotations

import dataclasses
import logging
import warnings
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .errors import ImageFormatError

__all__ = ["TiffImage", "read_tiff", "write_tiff", "default_axes", "IMAGEJ_DTYPES"]

log = logging.getLogger(__name__)

#: dtypes ImageJ stores natively (8-, 16- and 32-bit images).
IMAGEJ_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
_HYPERSTACK = "TZCYX"
_UNIT_TO_UM = {"micron": 1.0, "um": 1.0, "µm": 1.0, "\u00b5m": 1.0, "microns": 1.0,
               "nm": 1e-3, "nanometer": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6, "meter": 1e6}


@dataclasses.dataclass(frozen=True)
class TiffImage:
    """An image read from an ImageJ TIFF: pixels, axis names and calibration."""

    data: np.ndarray
    axes: str
    spacing: tuple[float, ...]  # (z, y, x) or (y, x), micrometres
    unit: str = "micron"
    calibrated: bool = True

    @property
    def spatial_ndim(self) -> int:
        return len(self.spacing)


class _ErrorCollector(logging.Handler):
    """Collects tifffile's ERROR records during one read."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def default_axes(ndim: int) -> str:
    """ImageJ axes for an array of ``ndim`` dimensions when none are given."""
    table = {2: "YX", 3: "ZYX", 4: "ZCYX", 5: "TZCYX"}
    if ndim not in table:
        raise ValueError(f"images must have 2 to 5 dimensions (YX … TZCYX); got ndim={ndim}")
    return table[ndim]


def _check_axes(axes: str, ndim: int) -> str:
    axes = axes.upper()
    if len(axes) != ndim:
        raise ValueError(f"axes {axes!r} has {len(axes)} letters but the image has {ndim} "
                         "dimensions")
    if not axes.endswith("YX") or any(a not in _HYPERSTACK for a in axes) or len(set(axes)) != ndim:
        raise ValueError(f"axes must be a subsequence of ImageJ's 'TZCYX' ending in 'YX'; "
                         f"got {axes!r}")
    order = [_HYPERSTACK.index(a) for a in axes]
    if order != sorted(order):
        raise ValueError(f"axes {axes!r} are not in ImageJ order TZCYX; reorder the array "
                         "first (e.g. numpy.moveaxis)")
    return axes


def write_tiff(path, image, *, spacing=None, axes: str | None = None, unit: str = "micron",
               compression: str | None = None) -> Path:
    """Write ``image`` as an ImageJ TIFF with calibration, atomically.

    Parameters
    ----------
    path : str or Path
        Output file. Written to a temporary file first and renamed, so a crash never
        leaves a partial file at ``path``.
    image : ndarray
        uint8, uint16 or float32 (other real dtypes raise TypeError: convert first,
        e.g. ``image.astype(np.float32)``), 2 to 5 dimensions.
    spacing : sequence of float, optional
        Voxel size in µm, ``(z, y, x)`` or ``(y, x)``. Default 1.
    axes : str, optional
        ImageJ axes of ``image``; default from ``image.ndim`` (see :func:`default_axes`).
    """
    import tifffile

    image = np.asarray(image)
    if image.dtype == np.float64:
        raise TypeError("ImageJ TIFF stores uint8, uint16 or float32; got float64. "
                        "Convert with image.astype(np.float32)")
    if image.dtype not in IMAGEJ_DTYPES:
        raise TypeError(f"ImageJ TIFF stores uint8, uint16 or float32; got {image.dtype}. "
                        "Convert first (e.g. image.astype(np.float32))")
    axes = _check_axes(axes or default_axes(image.ndim), image.ndim)
    has_z = "Z" in axes
    if spacing is None:
        spacing = (1.0, 1.0, 1.0) if has_z else (1.0, 1.0)
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) == 2 and has_z:
        spacing = (1.0,) + spacing
    if len(spacing) not in (2, 3) or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise ValueError(f"spacing must be 2 or 3 positive numbers (µm, z y x); got {spacing!r}")
    metadata = {"axes": axes, "unit": unit}
    if len(spacing) == 3:
        metadata["spacing"] = spacing[0]
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, image, imagej=True, resolution=(1.0 / spacing[-1], 1.0 / spacing[-2]),
                         metadata=metadata, compression=compression)
    return Path(path)


def read_tiff(path) -> TiffImage:
    """Read a TIFF (ImageJ or plain) with its calibration.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ImageFormatError
        The file is not a TIFF, is corrupt, or is truncated.
    """
    import tifffile

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image file at {str(path)!r}")
    problems = _ErrorCollector()
    tiff_log = logging.getLogger("tifffile")
    tiff_log.addHandler(problems)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # tifffile warns (not raises) on truncated data
            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                data = series.asarray()
                axes = series.axes.upper()
                ij = tif.imagej_metadata or {}
                page = tif.pages[0]
                xres = page.tags.get("XResolution")
                yres = page.tags.get("YResolution")
    except Exception as e:  # tifffile raises many types for broken files
        raise ImageFormatError(f"cannot read {str(path)!r} as TIFF ({type(e).__name__}: {e}); "
                               "the file is corrupt, truncated or not a TIFF") from e
    finally:
        tiff_log.removeHandler(problems)
    if problems.messages:
        # tifffile logs (and does not raise) when pages are missing: a truncated file
        raise ImageFormatError(f"{str(path)!r} is corrupt or truncated: "
                               f"{'; '.join(problems.messages)}")
    expected = ij.get("images") if ij else None
    if expected and int(expected) != int(np.prod(data.shape[:-2], dtype=np.int64)):
        raise ImageFormatError(f"{str(path)!r} is truncated: ImageJ metadata announces "
                               f"{expected} planes but {int(np.prod(data.shape[:-2]))} were read")
    # tifffile names ImageJ's samples axis "S" for RGB and frames "I" for plain stacks
    axes = axes.replace("I", "Z").replace("Q", "Z")
    if "S" in axes:
        raise ImageFormatError(f"{str(path)!r} is an RGB image; convert it to a channel stack "
                               "first (ImageJ: Image > Color > Split Channels)")
    unit = str(ij.get("unit", "micron")) if ij else "micron"
    unit = unit.replace("\\u00B5", "µ")
    scale = _UNIT_TO_UM.get(unit, None)
    calibrated = bool(xres) and scale is not None
    if scale is None:
        log.warning("%s: unknown unit %r, spacing left in pixels", path, unit)
        scale = 1.0

    def _res(tag):
        if not tag:
            return 1.0
        num, den = tag.value
        return den / num if num else 1.0

    sy, sx = _res(yres) * scale, _res(xres) * scale
    if "Z" in axes:
        spacing = (float(ij.get("spacing", 1.0)) * scale, sy, sx)
    else:
        spacing = (sy, sx)
    return TiffImage(data=data, axes=axes, spacing=tuple(float(s) for s in spacing),
                     unit="micron" if calibrated else unit, calibrated=calibrated)
