"""Bio-Formats through Java: reading files (``read_image(..., reader="bioformats")``)
and the Bio-Formats commands of lab macros on the ``imagej`` engine.

The Bio-Formats classes come from, in this order: the ``jar`` argument,
``$FIJIBRIDGE_BIOFORMATS_JAR`` (a jar or a folder of jars), ``$FIJI_HOME/jars``
(Fiji ships Bio-Formats; not for the ``imagej`` engine, whose own ij.jar must stay
the only ImageJ), or ``bioformats_package.jar`` in an ImageJ ``plugins`` folder
(``$IMAGEJ_PLUGINS``, or the engine's plugins folder, ``~/.imagej/plugins`` by default).

Macros: the ``imagej`` engine puts these jars on the JVM's classpath before the JVM
starts, and registers the commands of the jar's ``plugins.config`` (``Bio-Formats
Importer``, ``Bio-Formats Windowless Importer``, ``Bio-Formats Macro Extensions``, …)
when ImageJ's plugins folder did not already provide them.  A macro that runs a
Bio-Formats command in an engine without it fails before it starts, with
:class:`~fijibridge.MacroError` saying how to add the jar.  The JVM is started once per process (see ``_java``);
if it already runs without Bio-Formats on its classpath, the jar cannot be added and
:class:`~fijibridge.EngineError` says so.  Physical sizes are converted to µm by the
same code as the Python readers (:func:`fijibridge.io._units.length_to_um`).
"""

from __future__ import annotations

import logging
import os
import re
import zipfile
from pathlib import Path

import numpy as np

from .._core.errors import EngineError, ImageFormatError, MacroError, PluginMissingError
from .._core.image import Image

__all__ = ["find_bioformats_jars", "read_bioformats", "macro_classpath_jars",
           "install_macro_commands", "macro_commands_available", "check_macro_commands",
           "explain_missing_command", "BIOFORMATS_ADVICE"]

log = logging.getLogger(__name__)

_PIXEL_TYPES = {0: "i1", 1: "u1", 2: "i2", 3: "u2", 4: "i4", 5: "u4", 6: "f4", 7: "f8"}


def _jars_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.jar") if p.is_file())


def find_bioformats_jars(jar=None, *, plugins_dir=None, fiji: bool = True) -> list[Path]:
    """The jar(s) that hold Bio-Formats; :class:`PluginMissingError` lists where we looked.

    ``plugins_dir`` (an ImageJ plugins folder) is searched for ``bioformats_package.jar``
    after ``$IMAGEJ_PLUGINS``; ``fiji=False`` leaves ``$FIJI_HOME/jars`` out (the
    ``imagej`` engine: Fiji's jars folder holds another ImageJ).
    """
    searched = []
    candidates = []
    if jar is not None:
        candidates.append(("jar argument", Path(jar)))
    env = os.environ.get("FIJIBRIDGE_BIOFORMATS_JAR")
    if env:
        candidates.append(("$FIJIBRIDGE_BIOFORMATS_JAR", Path(env)))
    fiji_home = os.environ.get("FIJI_HOME") if fiji else None
    if fiji_home:
        candidates.append(("$FIJI_HOME/jars", Path(fiji_home) / "jars"))
    plugins = os.environ.get("IMAGEJ_PLUGINS")
    if plugins:
        candidates.append(("$IMAGEJ_PLUGINS", Path(plugins) / "bioformats_package.jar"))
    if plugins_dir is not None and (not plugins or Path(plugins_dir) != Path(plugins)):
        candidates.append(("plugins folder", Path(plugins_dir) / "bioformats_package.jar"))
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
        f"{_DOWNLOAD}) or FIJI_HOME to a Fiji.app")


_DOWNLOAD = "https://www.openmicroscopy.org/bio-formats/downloads/"
#: what to do when a macro needs Bio-Formats and the engine has none
BIOFORMATS_ADVICE = ("Bio-Formats is not installed in this ImageJ: drop bioformats_package.jar "
                     f"(from {_DOWNLOAD}) into the ImageJ plugins folder "
                     "($IMAGEJ_PLUGINS, default ~/.imagej/plugins) or set "
                     "FIJIBRIDGE_BIOFORMATS_JAR to its path, then start a new process; "
                     "`fijibridge doctor` shows what is found")


def macro_classpath_jars(plugins_dir=None) -> tuple[Path, ...]:
    """The Bio-Formats jar(s) the ``imagej`` engine puts on its classpath, or ``()``.

    ``$FIJIBRIDGE_BIOFORMATS_JAR`` first, then ``bioformats_package.jar`` in the plugins
    folder; ImageJ jars in a folder of jars (``ij.jar``, ``ij-1.*.jar``) are left out,
    so that the engine's own ImageJ is the only one.
    """
    try:
        jars = find_bioformats_jars(plugins_dir=plugins_dir, fiji=False)
    except PluginMissingError as e:
        log.debug("no Bio-Formats for macros: %s", e)
        return ()
    return tuple(j for j in jars if not re.fullmatch(r"ij(-[\d.]+\w*)?\.jar", j.name))


def _plugins_config(jar: Path) -> list[tuple[str, str]]:
    """``(command, "class(\"arg\")")`` of each entry of a jar's ``plugins.config``."""
    try:
        with zipfile.ZipFile(jar) as z:
            if "plugins.config" not in z.namelist():
                return []
            text = z.read("plugins.config").decode("utf-8", "replace")
    except (OSError, zipfile.BadZipFile) as e:
        log.warning("cannot read plugins.config of %s: %s", jar, e)
        return []
    entries = []
    for line in text.splitlines():
        m = re.match(r'\s*[^#"]+?,\s*"([^"]+)",\s*(\S.*\S)\s*$', line)
        if m and m.group(1) != "-":
            entries.append((m.group(1), m.group(2)))
    return entries


def install_macro_commands(jars) -> list[str]:
    """Register the ``plugins.config`` commands of ``jars`` that ImageJ does not know yet.

    ImageJ 1.x reads ``plugins.config`` only from jars in its plugins folder; a jar
    given by ``$FIJIBRIDGE_BIOFORMATS_JAR`` is on the classpath, and its commands are
    added to ImageJ's command table here (what ``run("…")`` looks up), not to menus.
    Returns the commands added.  Needs a started ImageJ.
    """
    from scyjava import jimport

    commands = jimport("ij.Menus").getCommands()
    added = []
    if commands is None:
        return added
    for jar in jars:
        for label, target in _plugins_config(Path(jar)):
            if commands.get(label) is None:
                commands.put(label, target)
                added.append(label)
    if added:
        log.info("registered %d Bio-Formats commands from the classpath", len(added))
    _quiet_bioformats_logging()
    return added


def _quiet_bioformats_logging() -> None:
    """Keep Bio-Formats' INFO messages ("Parsing block …") out of the macro's log.

    Its readers log every parsing step at INFO through a console appender on
    ``System.out``, which a run captures; the importer sets the root level back to
    INFO on each run, so a WARN threshold is put on the appenders themselves.
    Warnings and errors still show.
    """
    from scyjava import jimport

    try:
        jimport("loci.common.DebugTools").enableLogging("WARN")
        root = jimport("org.slf4j.LoggerFactory").getLogger("ROOT")
        ThresholdFilter = jimport("ch.qos.logback.classic.filter.ThresholdFilter")
        appenders = root.iteratorForAppenders()
        while appenders.hasNext():
            appender = appenders.next()
            threshold = ThresholdFilter()
            threshold.setLevel("WARN")
            threshold.setContext(root.getLoggerContext())
            threshold.start()
            appender.addFilter(threshold)
    except Exception as e:  # a jar without logback: its messages stay in the log
        log.info("could not quieten Bio-Formats' logging: %s", e)


def macro_commands_available() -> bool:
    """Whether the running ImageJ knows ``run("Bio-Formats Importer")``."""
    from scyjava import jimport

    commands = jimport("ij.Menus").getCommands()
    return commands is not None and commands.get("Bio-Formats Importer") is not None


# run("Bio-Formats …") with a literal command name, in double or single quotes
_BF_RUN = re.compile(r"""\brun\s*\(\s*(["'])(Bio-Formats[^"']*)\1\s*[,)]""")


def check_macro_commands(code: str, *, macro_file=None) -> None:
    """Fail before running when ``code`` runs a Bio-Formats command ImageJ does not have.

    A static scan of ``run("Bio-Formats …")`` calls (``//`` comment lines skipped):
    without it, ImageJ would stop at the first one with "Unrecognized command".
    Raises :class:`MacroError` naming the line and how to add Bio-Formats.
    """
    from scyjava import jimport

    found = []
    for number, line in enumerate(code.splitlines(), start=1):
        if line.lstrip().startswith("//"):
            continue
        found.extend((number, m.group(2)) for m in _BF_RUN.finditer(line))
    if not found:
        return
    commands = jimport("ij.Menus").getCommands()
    if commands is None:  # no menus built (a headless engine): ImageJ will say it
        return
    for number, command in found:
        if commands.get(command) is None:
            raise MacroError(f'the macro runs "{command}", and Bio-Formats is not available '
                             "to this ImageJ", macro_file=macro_file, line=number,
                             advice=BIOFORMATS_ADVICE)


def explain_missing_command(error: MacroError) -> MacroError:
    """ImageJ's 'Unrecognized command: "Bio-Formats …"' → the same error with the fix."""
    message = str(error.imagej_message)
    if 'Unrecognized command: "Bio-Formats' not in message or error.advice:
        return error
    return MacroError(message, macro_file=error.macro_file, line=error.line,
                      advice=BIOFORMATS_ADVICE)


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
