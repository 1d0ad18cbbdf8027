"""TIFF family: OME-TIFF (OME-XML, multi-series), ImageJ hyperstacks and plain TIFF.

Core install only (tifffile + ``xml.etree``).  Calibration rules:

* OME-TIFF: ``PhysicalSize{X,Y,Z}`` with their ``…Unit`` (default µm, as the OME
  schema says), ``TimeIncrement``; channel names from ``Channel/@Name``.
* ImageJ: ``unit`` from the ImageJ description; no unit, or ``"pixel"`` → uncalibrated;
  ``spacing`` is the Z step, ``finterval`` the frame interval.
* plain TIFF: ``ResolutionUnit`` inch or centimetre with a resolution → calibrated;
  ``NONE`` (tifffile's default ``1/1`` resolution) → uncalibrated.
"""

from __future__ import annotations

import logging
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .._core.errors import ImageFormatError
from .._core.image import Image
from ._common import check_scene, lazy_contiguous, lazy_from_zarr, to_tczyx
from ._units import length_to_um, time_to_s

__all__ = ["read", "parse_ome_xml"]

log = logging.getLogger(__name__)


class _ErrorCollector(logging.Handler):
    """Collects tifffile's ERROR records during one read (it logs, not raises, on truncation)."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_ome_xml(xml: str) -> list[dict]:
    """The fields we use from each ``Image`` of an OME-XML document.

    Returns one dict per Image: ``name``, ``sizes`` ({"X": …}), ``spacing_um``
    ({"x", "y", "z"} → µm or None), ``time_interval_s``, ``channels`` (names or None).
    """
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as e:
        raise ImageFormatError(f"the OME-XML metadata is not valid XML ({e})") from e
    images = []
    for image in root:
        if _local(image.tag) != "Image":
            continue
        pixels = next((p for p in image if _local(p.tag) == "Pixels"), None)
        if pixels is None:
            continue
        a = pixels.attrib
        spacing = {k.lower(): length_to_um(a.get(f"PhysicalSize{k}"),
                                           a.get(f"PhysicalSize{k}Unit", "µm"))
                   for k in "XYZ"}
        channels = [c.attrib.get("Name") for c in pixels if _local(c.tag) == "Channel"]
        images.append({
            "name": image.attrib.get("Name"),
            "sizes": {k: int(a.get(f"Size{k}", 1)) for k in "XYZCT"},
            "spacing_um": spacing,
            "time_interval_s": time_to_s(a.get("TimeIncrement"), a.get("TimeIncrementUnit", "s")),
            "channels": channels,
        })
    return images


def _res_size(tag) -> float | None:
    """Pixel size (in the resolution unit) from an X/YResolution tag (pixels per unit)."""
    if not tag:
        return None
    num, den = tag.value
    return den / num if num and den else None


def read(path, *, scene=None, max_memory: int, lazy=None) -> Image:
    """Read a TIFF/OME-TIFF/ImageJ file as an :class:`Image` (see module doc)."""
    import tifffile

    path = Path(path)
    problems = _ErrorCollector()
    tiff_log = logging.getLogger("tifffile")
    tiff_log.addHandler(problems)
    propagate = tiff_log.propagate
    tiff_log.propagate = False  # its messages are collected and reported in our error
    tif = None
    try:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # tifffile warns (not raises) on broken files
                tif = tifffile.TiffFile(path)
                series_list = [s for s in tif.series if s.shape]
        except Exception as e:  # tifffile raises many types for broken files
            raise _broken(path, e) from e
        if not series_list:
            raise ImageFormatError(f"{str(path)!r} holds no image data")
        index = check_scene(scene, len(series_list), path)
        try:
            return _read_series(tif, series_list, index, path, max_memory=max_memory,
                                lazy=lazy, problems=problems)
        except ImageFormatError:
            raise
        except Exception as e:
            raise _broken(path, e) from e
    finally:
        tiff_log.removeHandler(problems)
        tiff_log.propagate = propagate
        if tif is not None and not getattr(tif, "_fijibridge_keep_open", False):
            tif.close()


def _broken(path, e) -> ImageFormatError:
    return ImageFormatError(f"cannot read {str(path)!r} as TIFF ({type(e).__name__}: {e}); "
                            "the file is corrupt, truncated or not a TIFF")


def _read_series(tif, series_list, index, path: Path, *, max_memory, lazy, problems) -> Image:
    scenes = len(series_list)
    ome = parse_ome_xml(tif.pages[0].description) if tif.is_ome else None
    fmt = "ome-tiff" if ome is not None else ("imagej-tiff" if tif.is_imagej else "tiff")
    series = series_list[index]
    axes = series.axes.upper()
    nbytes = int(np.prod(series.shape, dtype=np.int64)) * np.dtype(series.dtype).itemsize
    if lazy is None:
        lazy = nbytes > max_memory
    if lazy:
        try:
            import zarr
        except ImportError as e:
            raise ImageFormatError(
                f"{str(path)!r} is {nbytes / 2**30:.1f} GiB, above the memory budget of "
                f"{max_memory / 2**30:.1f} GiB; lazy reading needs zarr and dask: pip install "
                "'fijibridge[formats]', or raise FIJIBRIDGE_MAX_MEMORY") from e
        if series.dataoffset is not None and len(series.levels) <= 1 \
                and series.axes.upper().endswith("YX"):
            # uncompressed planes one after another (tifffile's and ImageJ's default):
            # read directly, in chunks that keep a Z projection's memory low
            data = lazy_contiguous(path, series.dataoffset, series.shape,
                                   np.dtype(series.dtype).newbyteorder(tif.byteorder),
                                   series.axes)
        else:
            store = series.aszarr(level=0) if len(series.levels) > 1 else series.aszarr()
            data = lazy_from_zarr(zarr.open(store, mode="r"))
            tif._fijibridge_keep_open = True  # the store reads from the open file later
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            data = series.asarray()
        if problems.messages:
            raise ImageFormatError(f"{str(path)!r} is corrupt or truncated: "
                                   f"{'; '.join(problems.messages)}")
    ij = tif.imagej_metadata or {}
    if not ome and ij and not lazy:
        expected = ij.get("images")
        if expected and "S" not in axes \
                and int(expected) != int(np.prod(data.shape[:-2], dtype=np.int64)):
            raise ImageFormatError(f"{str(path)!r} is truncated: ImageJ metadata announces "
                                   f"{expected} planes but {int(np.prod(data.shape[:-2]))} "
                                   "were read")
    # tifffile's letters: I/Q = unknown planes (a plain stack → Z), S = samples (RGB → C)
    if "S" in axes:
        if "C" in axes:
            raise ImageFormatError(f"{str(path)!r} has both channels and RGB samples; "
                                   "split the colours first (ImageJ: Image > Color > "
                                   "Split Channels)")
        axes = axes.replace("S", "C")
    unknown = [i for i, a in enumerate(axes) if a in "IQ"]
    if len(unknown) == 2 and not set("TZ") & set(axes):
        # a shaped 4-D stack (tifffile's own metadata), e.g. Cell Tracking Challenge 3D
        # time-lapses: numpy's usual order, time then depth
        log.info("%s: two unnamed plane axes %s read as T, Z", path,
                 tuple(data.shape[i] for i in unknown))
        axes = axes[:unknown[0]] + "T" + axes[unknown[0] + 1:unknown[1]] + "Z" \
            + axes[unknown[1] + 1:]
    for letter in "IQ":
        if letter in axes and "Z" not in axes:
            axes = axes.replace(letter, "Z", 1)
    data, axes = to_tczyx(data, axes)

    channels: tuple = ()
    time_interval = None
    if ome is not None:
        meta = ome[index] if index < len(ome) else ome[0]
        sp = meta["spacing_um"]
        time_interval = meta["time_interval_s"]
        names = meta["channels"]
        nc = dict(zip(axes, data.shape)).get("C", 1)
        if names and any(names):
            names = [n if n else f"C{i}" for i, n in enumerate(names)]
            if len(names) == nc:
                channels = tuple(names)
            else:
                log.info("%s: %d channel names for %d channels; names left out", path,
                         len(names), nc)
        z, y, x = sp["z"], sp["y"], sp["x"]
    elif ij:
        unit = ij.get("unit")
        page = tif.pages[0]
        y = length_to_um(_res_size(page.tags.get("YResolution")), unit) if unit else None
        x = length_to_um(_res_size(page.tags.get("XResolution")), unit) if unit else None
        if unit and x is None and str(unit).lower() not in ("pixel", "pixels", ""):
            log.warning("%s: unknown ImageJ unit %r: treated as uncalibrated", path, unit)
        z = None
        if x is not None and "Z" in axes:
            # ImageJ's pixelDepth is 1 (in the image unit) when the file states no spacing
            z = length_to_um(float(ij.get("spacing", 1.0)), unit)
        time_interval = time_to_s(ij.get("finterval"), ij.get("tunit", "s"))
        labels = ij.get("Labels")
        if isinstance(labels, (list, tuple)) and "C" in axes and ij.get("channels"):
            nc = int(ij["channels"])
            first = [str(s).split("\n")[0] for s in labels[:nc]]
            # one label per channel, or ImageJ's slice labels (every plane: C fastest)
            per_plane = len(labels) % nc == 0 and all(
                str(s).split("\n")[0] == first[i % nc] for i, s in enumerate(labels))
            if len(first) == nc and all(first) and (len(labels) == nc or per_plane):
                channels = tuple(first)
    else:
        page = tif.pages[0]
        runit = page.tags.get("ResolutionUnit")
        runit = int(runit.value) if runit else 2  # TIFF default: inch
        unit = {2: "inch", 3: "cm"}.get(runit)
        y = length_to_um(_res_size(page.tags.get("YResolution")), unit) if unit else None
        x = length_to_um(_res_size(page.tags.get("XResolution")), unit) if unit else None
        z = None
    if x is None or y is None:
        x = y = None  # one stated without the other is not a calibration
    calibrated = x is not None
    has_z = "Z" in axes
    if has_z:
        spacing = (z or 1.0, y or 1.0, x or 1.0)
        known = (z is not None, y is not None, x is not None)
    else:
        spacing = (y or 1.0, x or 1.0)
        known = (y is not None, x is not None)
    return Image(data=data, axes=axes, spacing=spacing, spacing_known=known,
                 calibrated=calibrated, channels=channels, time_interval_s=time_interval,
                 scenes=scenes, scene=index, format=fmt, source=str(path))
