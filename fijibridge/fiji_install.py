"""Install fijibridge's Fiji scripts and ImageJ macros into a Fiji or ImageJ 1.x folder.

What goes where (``DIR`` is the installation folder):

==========================  =====================================================
Fiji (``DIR/jars``,         ``fiji/python/*.py`` → ``DIR/scripts/Plugins/fijibridge/``
``DIR/plugins``)            (Plugins › fijibridge, Fiji's Python mode);
                            ``fiji/jython/*.py`` → ``DIR/scripts/Plugins/fijibridge/Classic_Jython/``
                            (Plugins › fijibridge › Classic Jython);
                            ``macros/*.ijm`` → ``DIR/macros/fijibridge/``
ImageJ 1.x (``DIR/plugins`` ``fiji/jython/*.py`` → ``DIR/plugins/fijibridge/`` (ImageJ 1.x lists
and ``ij.jar``, ``macros/`` scripts with an underscore in ``plugins/`` and its sub-folders
or ``IJ_Prefs.txt``)        under Plugins, and runs ``.py`` files with its Jython plugin);
                            ``macros/*.ijm`` → ``DIR/macros/fijibridge/``.  The Python-mode
                            scripts are not installed: they need Fiji's Python mode.
==========================  =====================================================

Every file is written atomically (a temporary file renamed onto the target).  A
manifest (``.fijibridge-install.json`` in the scripts folder) records the SHA-256 of
each installed file, so a later install can tell an untouched copy (replaced) from one
the user edited: an edited copy is first kept as ``NAME.bak`` (``NAME.bak.2`` … when a
backup exists), and the report says so.  A file of the same name that fijibridge did
not install is treated as edited.

The sources are the ``fiji/`` and ``macros/`` folders of the fijibridge source tree
(a git checkout or ``pip install -e``); pass ``source_dir`` to use another copy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

from ._core.atomic import atomic_path, atomic_write_text
from ._core.errors import FijiBridgeError

__all__ = ["InstallAction", "FijiInstallError", "install", "installation_kind", "source_root",
           "MANIFEST_NAME"]

log = logging.getLogger(__name__)

MANIFEST_NAME = ".fijibridge-install.json"
_IMAGEJ_MARKERS = ("ij.jar", "IJ_Prefs.txt", "ImageJ.cfg", "macros")


class FijiInstallError(FijiBridgeError):
    """The target is not a Fiji/ImageJ folder, or the sources are missing."""


@dataclasses.dataclass(frozen=True)
class InstallAction:
    """What happened (or, in a dry run, would happen) to one file."""

    action: str            # "copied" | "unchanged" | "replaced" | "backed-up+replaced"
    target: Path           # the installed file
    source: Path
    backup: Path | None = None

    def describe(self, root: Path) -> str:
        rel = _rel(self.target, root)
        if self.action == "backed-up+replaced":
            return (f"replaced  {rel} (it had been modified: your copy is kept as "
                    f"{_rel(self.backup, root)})")
        return f"{self.action:<9} {rel}"


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def source_root() -> Path:
    """The folder that holds ``fiji/`` and ``macros/`` (installed wheel or source tree)."""
    from .shipped import shipped_dir

    return shipped_dir("fiji").parent


def installation_kind(folder) -> str:
    """``"fiji"`` or ``"imagej"`` for an installation folder; else FijiInstallError."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise FijiInstallError(f"--fiji-dir {str(folder)!r} is not a folder; pass your Fiji.app "
                               "folder (or an ImageJ 1.x folder)")
    if (path / "jars").is_dir() and (path / "plugins").is_dir():
        return "fiji"
    if (path / "plugins").is_dir() and any((path / m).exists() for m in _IMAGEJ_MARKERS):
        return "imagej"
    found = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())[:12]
    raise FijiInstallError(
        f"{path} is not a Fiji or ImageJ installation: expected the folders jars/ and plugins/ "
        "(Fiji.app), or plugins/ beside ij.jar, macros/ or IJ_Prefs.txt (ImageJ 1.x); found "
        + (", ".join(found) if found else "an empty folder")
        + ". On macOS pass the Fiji.app folder itself (e.g. /Applications/Fiji.app)")


def _plan(kind: str, root: Path, src: Path) -> tuple[list[tuple[Path, Path]], Path, list[str]]:
    """(source, target) pairs, the manifest folder, and notes on what is left out."""
    python_dir, jython_dir, macros_dir = src / "fiji" / "python", src / "fiji" / "jython", src / "macros"
    for d in (python_dir, jython_dir, macros_dir):
        if not d.is_dir():
            raise FijiInstallError(
                f"fijibridge's {d.relative_to(src)}/ folder is missing at {d}: `fijibridge fiji "
                "install` needs the source tree (git clone + pip install -e .)")
    pairs: list[tuple[Path, Path]] = []
    notes: list[str] = []
    if kind == "fiji":
        scripts = root / "scripts" / "Plugins" / "fijibridge"
        pairs += [(f, scripts / f.name) for f in sorted(python_dir.glob("*.py"))]
        pairs += [(f, scripts / "Classic_Jython" / f.name) for f in sorted(jython_dir.glob("*.py"))]
    else:
        scripts = root / "plugins" / "fijibridge"
        pairs += [(f, scripts / f.name) for f in sorted(jython_dir.glob("*.py"))]
        notes.append(f"skipped {len(list(python_dir.glob('*.py')))} Python-mode scripts: they "
                     "need Fiji's Python mode (ImageJ 1.x runs .py files with Jython only)")
    pairs += [(f, root / "macros" / "fijibridge" / f.name) for f in sorted(macros_dir.glob("*.ijm"))]
    return pairs, scripts, notes


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _backup_name(target: Path) -> Path:
    cand = target.with_name(target.name + ".bak")
    n = 2
    while cand.exists():
        cand = target.with_name(f"{target.name}.bak.{n}")
        n += 1
    return cand


def install(fiji_dir, *, dry_run: bool = False, source_dir=None) -> tuple[str, list[InstallAction], list[str]]:
    """Copy the scripts and macros into ``fiji_dir``.

    Parameters
    ----------
    fiji_dir : path
        A Fiji.app folder (``jars/`` and ``plugins/``) or an ImageJ 1.x folder.
    dry_run : bool
        Report what would happen; write nothing.
    source_dir : path, optional
        fijibridge source tree holding ``fiji/`` and ``macros/`` (default: this one).

    Returns
    -------
    kind, actions, notes
        ``"fiji"`` or ``"imagej"``; one :class:`InstallAction` per file; notes on
        what was left out.

    Raises
    ------
    FijiInstallError
        ``fiji_dir`` is not a Fiji/ImageJ installation, or the sources are missing.
    """
    root = Path(fiji_dir).expanduser().resolve()
    kind = installation_kind(root)
    src = Path(source_dir).resolve() if source_dir else source_root()
    pairs, scripts_dir, notes = _plan(kind, root, src)
    manifest_path = scripts_dir / MANIFEST_NAME
    manifest: dict[str, str] = {}
    if manifest_path.is_file():
        try:
            manifest = dict(json.loads(manifest_path.read_text("utf-8")).get("files", {}))
        except (ValueError, AttributeError) as e:
            log.warning("ignoring unreadable install manifest %s (%s): every existing file "
                        "counts as modified", manifest_path, e)
    actions: list[InstallAction] = []
    for source, target in pairs:
        key = target.relative_to(root).as_posix()
        new_hash = _sha256(source)
        backup = None
        if not target.exists():
            action = "copied"
        else:
            old_hash = _sha256(target)
            if old_hash == new_hash:
                action = "unchanged"
            elif manifest.get(key) == old_hash:
                action = "replaced"
            else:
                action, backup = "backed-up+replaced", _backup_name(target)
        actions.append(InstallAction(action, target, source, backup))
        manifest[key] = new_hash
        if dry_run or action == "unchanged":
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if backup is not None:
            with atomic_path(backup) as tmp:
                shutil.copy2(target, tmp)
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o644)  # the temporary file is created private (0600)
        log.info("%s %s", action, target)
    if not dry_run:
        scripts_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(manifest_path, json.dumps(
            {"note": "written by `fijibridge fiji install`: SHA-256 of the files it installed, "
                     "to tell them from copies you edited", "files": manifest},
            indent=1, sort_keys=True) + "\n")
    return kind, actions, notes
