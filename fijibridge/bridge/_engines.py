"""Where ImageJ/Fiji lives on this machine, and which engine to use.

Selection order: an explicit ``engine=`` > ``$FIJI_HOME`` (a Fiji.app) > an ImageJ 1.x
jar (``$IMAGEJ_JAR``, an ImageJ folder, Debian's ``/usr/share/java/ij.jar``) > an error
listing what was searched and how to install ImageJ.  No lookup downloads anything.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from .._core.errors import EngineNotFoundError
from .._core.options import check_choice

ENGINES = ("auto", "imagej", "fiji", "attach")
_SYSTEM_JARS = ("/usr/share/java/ij.jar", "/usr/share/imagej/ij.jar", "/usr/local/share/java/ij.jar")
PLUGIN_JARS = {
    "DeconvolutionLab2": ("DeconvolutionLab_2*.jar", "DeconvolutionLab2*.jar"),
    "PSF Generator": ("PSF_Generator*.jar", "PSFGenerator*.jar"),
}


@dataclasses.dataclass(frozen=True)
class EngineSpec:
    """A resolved engine: its kind and where its files are."""

    kind: str                       # "imagej" | "fiji" | "attach"
    ij_jar: Path | None = None      # imagej
    fiji_dir: Path | None = None    # fiji
    plugins_dir: Path | None = None
    searched: tuple[str, ...] = ()
    #: Bio-Formats jar(s) put on the imagej engine's classpath (``()``: none found)
    bioformats_jars: tuple[Path, ...] = ()

    def classpath(self) -> list[str]:
        """The imagej engine's JVM classpath: ij.jar, then any Bio-Formats jars."""
        return [str(self.ij_jar), *(str(j) for j in self.bioformats_jars)]


def _ij_jar_in(folder: Path) -> Path | None:
    for cand in (folder / "ij.jar", folder / "jars" / "ij.jar"):
        if cand.is_file():
            return cand
    jars = sorted((folder / "jars").glob("ij-1.*.jar")) if (folder / "jars").is_dir() else []
    return jars[-1] if jars else None


def find_imagej_jar(searched: list[str]) -> Path | None:
    """An ImageJ 1.x jar from ``$IMAGEJ_JAR`` (jar or folder) or the system locations."""
    env = os.environ.get("IMAGEJ_JAR")
    if env:
        searched.append(f"$IMAGEJ_JAR={env}")
        p = Path(env)
        if p.is_file():
            return p
        if p.is_dir() and (jar := _ij_jar_in(p)):
            return jar
    for cand in _SYSTEM_JARS:
        searched.append(cand)
        if Path(cand).is_file():
            return Path(cand).resolve()
    return None


def default_plugins_dir(*, ij_jar: Path | None = None) -> Path:
    """The plugins folder an ImageJ 1.x user has: ``$IMAGEJ_PLUGINS``, a ``plugins``
    folder beside a non-system ij.jar, or ``~/.imagej/plugins`` (Debian's imagej)."""
    env = os.environ.get("IMAGEJ_PLUGINS")
    if env:
        return Path(env)
    if ij_jar is not None and not str(ij_jar).startswith("/usr/"):
        beside = ij_jar.parent / "plugins"
        if beside.is_dir():
            return beside
    return Path.home() / ".imagej" / "plugins"


def find_dl2_jar(plugins_dir) -> Path | None:
    """The DeconvolutionLab2 jar in ``plugins_dir`` (searched recursively), or None.

    Any ``DeconvolutionLab*.jar`` counts, whatever its separators and case
    (``DeconvolutionLab_2.jar`` from EPFL, ``DeconvolutionLab2-2.1.2.jar`` from an update site).
    """
    if plugins_dir is None:
        return None
    folder = Path(plugins_dir)
    if not folder.is_dir():
        return None
    for jar in sorted(folder.rglob("*.jar")):
        name = jar.name.lower().replace("_", "").replace("-", "")
        if name.startswith("deconvolutionlab"):
            return jar
    return None


def find_plugin_jars(plugins_dir: Path | None) -> dict[str, Path | None]:
    """Which of DeconvolutionLab2 / PSF Generator are installed in ``plugins_dir``."""
    found: dict[str, Path | None] = {}
    for name, patterns in PLUGIN_JARS.items():
        if name == "DeconvolutionLab2":
            found[name] = find_dl2_jar(plugins_dir)
            continue
        hit = None
        if plugins_dir is not None and plugins_dir.is_dir():
            for pattern in patterns:
                matches = sorted(plugins_dir.rglob(pattern))
                if matches:
                    hit = matches[-1]
                    break
        found[name] = hit
    return found


def is_fiji_dir(path: Path) -> bool:
    return path.is_dir() and (path / "jars").is_dir() and (path / "plugins").is_dir()


def resolve_engine(engine: str = "auto", *, fiji_dir=None, imagej_jar=None,
                   plugins_dir=None) -> EngineSpec:
    """Decide which engine to start (see the module docstring for the order)."""
    engine = check_choice("engine", engine, ENGINES)
    searched: list[str] = []
    if engine == "attach":
        return EngineSpec(kind="attach", plugins_dir=Path(plugins_dir) if plugins_dir else None)
    if engine in ("auto", "fiji"):
        cand = fiji_dir or os.environ.get("FIJI_HOME")
        if cand:
            searched.append(f"Fiji at {cand}" + (" (FIJI_HOME)" if not fiji_dir else ""))
            path = Path(cand).expanduser()
            if is_fiji_dir(path):
                return EngineSpec(kind="fiji", fiji_dir=path,
                                  plugins_dir=Path(plugins_dir) if plugins_dir else path / "plugins",
                                  searched=tuple(searched))
            if engine == "fiji" or fiji_dir:
                raise EngineNotFoundError(
                    f"{path} is not a Fiji installation (expected the folders jars/ and "
                    "plugins/ inside Fiji.app); pass the Fiji.app folder or set FIJI_HOME")
        elif engine == "fiji":
            raise EngineNotFoundError(
                "engine='fiji' needs a Fiji installation: pass fiji_dir=… (CLI: --fiji-dir) "
                "or set FIJI_HOME to your Fiji.app folder (download from https://fiji.sc)")
    if engine in ("auto", "imagej"):
        jar = Path(imagej_jar) if imagej_jar else find_imagej_jar(searched)
        if imagej_jar:
            searched.append(f"imagej_jar={imagej_jar}")
            if jar.is_dir():
                jar = _ij_jar_in(jar)
            if jar is None or not jar.is_file():
                raise EngineNotFoundError(f"no ImageJ jar at {imagej_jar}; pass the path of "
                                          "ij.jar or of an ImageJ folder that contains it")
        if jar is not None:
            from .bioformats import macro_classpath_jars

            pdir = Path(plugins_dir) if plugins_dir else default_plugins_dir(ij_jar=jar)
            return EngineSpec(kind="imagej", ij_jar=jar, plugins_dir=pdir,
                              searched=tuple(searched),
                              bioformats_jars=macro_classpath_jars(pdir))
    raise EngineNotFoundError(
        "no ImageJ or Fiji found; searched: " + "; ".join(searched or ["nothing"])
        + ". Install ImageJ 1.x (Debian/Ubuntu: apt-get install imagej, or set IMAGEJ_JAR "
        "to an ij.jar) or point FIJI_HOME at a Fiji.app folder")
