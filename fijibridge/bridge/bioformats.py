"""Reading any Bio-Formats format through Java (``read_image(..., reader="bioformats")``).

The Bio-Formats classes come from, in this order: the ``jar`` argument,
``$FIJIBRIDGE_BIOFORMATS_JAR`` (a jar or a folder of jars), ``$FIJI_HOME/jars``
(Fiji ships Bio-Formats), or ``bioformats_package.jar`` in an ImageJ ``plugins``
folder (``$IMAGEJ_PLUGINS``).  The JVM is started once per process (see ``_java``);
if it already runs without Bio-Formats on its classpath, the jar cannot be added and
:class:`~fijibridge.EngineError` says so.  Physical sizes are converted to µm by the
same code as the Python readers (:func:`fijibridge.io._units.length_to_um`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from .._core.errors import EngineError, ImageFormatError, PluginMissingError
from .._core.image import Image

__all__ = ["find_bioformats_jars", "read_bioformats"]

log = logging.getLogger(__name__)

_PIXEL_TYPES = {0: "i1", 1: "u1", 2: "i2", 3: "u2", 4: "i4", 5: "u4", 6: "f4", 7: "f8"}


def _jars_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.jar") if p.is_file())


def find_bioformats_jars(jar=None) -> list[Path]:
    """The jar(s) that hold Bio-Formats; :class:`PluginMissingError` lists where we looked."""
    searched = []
    candidates = []
    if jar is not None:
        candidates.append(("jar argument", Path(jar)))
    env = os.environ.get("FIJIBRIDGE_BIOFORMATS_JAR")
    if env:
        candidates.append(("$FIJIBRIDGE_BIOFORMATS_JAR", Path(env)))
    fiji = os.environ.get("FIJI_HOME")
    if fiji:
        candidates.append(("$FIJI_HOME/jars", Path(fiji) / "jars"))
    plugins = os.environ.get("IMAGEJ_PLUGINS")
    if plugins:
        candidates.append(("$IMAGEJ_PLUGINS", Path(plugins) / "bioformats_package.jar"))
    for where, path in candidates:
        searched.append(f"{where}={path}")
        if path.is_file() and path.suffix == ".jar":
            return [path]
        if path.is_dir():
            jars = _jars_in(path)
            if any("bioformats" in j.name or j.name.startswith("formats-") for j in jars):
                return jars
    raise PluginMissingError(
        "Bio-Formats was not found; searched: " + ("; ".join(searched) or "nothing set")
        + ". Set FIJIBRIDGE_BIOFORMATS_JAR to bioformats_package.jar (from "
        "https://www.openmicroscopy.org/bio-formats/downloads/) or FIJI_HOME to a Fiji.app")


def _ensure_jvm(jar=None) -> None:
    from ._java import jvm_started, start_jvm

    if jvm_started():
        from scyjava import jimport

        try:
            jimport("loci.formats.ImageReader")
        except Exception as e:
            raise EngineError(
                "the JVM already runs in this process without Bio-Formats on its classpath, "
                "and a running JVM cannot take new jars; set FIJIBRIDGE_BIOFORMATS_JAR "
                "before the first Java call (or read in a new process)") from e
        return
    jars = find_bioformats_jars(jar)
    start_jvm(classpath=[str(j) for j in jars], options=["-Djava.awt.headless=true"])


def read_bioformats(path, *, scene=None, jar=None) -> Image:
    """Read ``path`` with Bio-Formats' ``ImageReader`` and its OME metadata.

    Returns the same :class:`Image` as the Python readers: axes TCZYX (length-1 axes
    kept, as Bio-Formats reports them), spacing in µm, channel names, scenes = series.
    """
    from ..io._common import build_image, check_scene
    from ..io._units import length_to_um, time_to_s

    path = Path(path)
    _ensure_jvm(jar)
    from scyjava import jimport

    ImageReader = jimport("loci.formats.ImageReader")
    ServiceFactory = jimport("loci.common.services.ServiceFactory")
    OMEXMLService = jimport("loci.formats.services.OMEXMLService")
    DebugTools = jimport("loci.common.DebugTools")
    DebugTools.setRootLevel("ERROR")
    service = ServiceFactory().getInstance(OMEXMLService)
    meta = service.createOMEXMLMetadata()
    reader = ImageReader()
    reader.setMetadataStore(meta)
    try:
        reader.setId(str(path))
    except Exception as e:  # Java FormatException / IOException
        reader.close()
        raise ImageFormatError(f"Bio-Formats cannot read {str(path)!r}: {e}") from e
    try:
        scenes = int(reader.getSeriesCount())
        index = check_scene(scene, scenes, path)
        reader.setSeries(index)
        nx, ny = int(reader.getSizeX()), int(reader.getSizeY())
        nz, nt = int(reader.getSizeZ()), int(reader.getSizeT())
        nc_eff, rgb = int(reader.getEffectiveSizeC()), int(reader.getRGBChannelCount())
        dtype = np.dtype(_PIXEL_TYPES[int(reader.getPixelType())])
        dtype = dtype.newbyteorder("<" if reader.isLittleEndian() else ">")
        interleaved = bool(reader.isInterleaved())
        data = np.zeros((nt, nc_eff, rgb, nz, ny, nx), dtype=dtype.newbyteorder("="))
        for i in range(int(reader.getImageCount())):
            z, c, t = (int(v) for v in reader.getZCTCoords(i))
            raw = np.frombuffer(bytes(reader.openBytes(i)), dtype=dtype)
            plane = raw.reshape((ny, nx, rgb)).transpose(2, 0, 1) if interleaved \
                else raw.reshape((rgb, ny, nx))
            data[t, c, :, z] = plane
        data = data.reshape((nt, nc_eff * rgb, nz, ny, nx))

        def size(q):
            return length_to_um(float(q.value()), str(q.unit().getSymbol())) if q else None

        dist = {"x": size(meta.getPixelsPhysicalSizeX(index)),
                "y": size(meta.getPixelsPhysicalSizeY(index)),
                "z": size(meta.getPixelsPhysicalSizeZ(index))}
        ti = meta.getPixelsTimeIncrement(index)
        interval = time_to_s(float(ti.value()), str(ti.unit().getSymbol())) if ti else None
        names = []
        for c in range(int(meta.getChannelCount(index))):
            name = meta.getChannelName(index, c)
            names.append(str(name) if name is not None else "")
    finally:
        reader.close()
    channels = tuple(names) if len(names) == data.shape[1] and all(names) else ()
    return build_image(data, "TCZYX", dist, channels, scenes, index, "bioformats", path,
                       time_interval=interval)
