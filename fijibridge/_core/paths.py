"""Confining written paths to an output folder (numpy-free, stdlib only).

Every file that fijibridge writes under an output folder goes through
:func:`confined_path`: each name is one plain path component (no separator, not
``.``/``..``, no NUL, not empty) and the joined path, with symbolic links of existing
folders followed, must lie inside the output folder.  A name that breaks a rule raises
:class:`UnsafePathError` naming what the name is (``what``), the value and the rule —
never a file written elsewhere.

Example
-------
>>> confined_path("/tmp/out", "step", "a.mask.tif").name
'a.mask.tif'
>>> confined_path("/tmp/out", "step", "../x.tif")
Traceback (most recent call last):
...
fijibridge._core.paths.UnsafePathError: output file name '../x.tif' is not allowed: ...
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import FijiBridgeError

__all__ = ["UnsafePathError", "check_name", "confined_path", "is_within"]

_RULE = ("a name is one plain path component: no '/' or '\\', not '.' or '..', no NUL "
         "character, not empty, and the file must stay inside the output folder")


class UnsafePathError(FijiBridgeError, ValueError):
    """A name would put a file outside its output folder (or is not a plain name)."""


def check_name(name, *, what: str = "name") -> str:
    """Return ``name`` if it is one plain path component, else raise UnsafePathError."""
    if not isinstance(name, str):
        raise UnsafePathError(f"{what} must be a string; got {name!r} ({type(name).__name__})")
    bad = (not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name
           or os.path.isabs(name))
    if bad:
        raise UnsafePathError(f"{what} {name!r} is not allowed: {_RULE}")
    return name


def is_within(path, root) -> bool:
    """Whether ``path`` lies in ``root`` (or is ``root``), symbolic links followed."""
    p, r = os.path.realpath(path), os.path.realpath(root)
    return p == r or os.path.commonpath([p, r]) == r


def confined_path(root, *names: str, what: str = "output file name") -> Path:
    """``root / name1 / name2 …``, checked to stay inside ``root``.

    Parameters
    ----------
    root : str or Path
        The output folder.
    *names : str
        Path components, each checked by :func:`check_name`.
    what : str
        What the names are, for the message (e.g. ``"output 'mask' of step 'seg'"``).

    Raises
    ------
    UnsafePathError
        A name is not one plain component, or the path leads outside ``root``
        (e.g. through a symbolic link to another folder).
    """
    for n in names:
        check_name(n, what=what)
    path = Path(root).joinpath(*names)
    if not is_within(path, root):
        raise UnsafePathError(f"{what} {'/'.join(names)!r} is not allowed: it resolves to "
                              f"{os.path.realpath(path)}, outside the output folder "
                              f"{os.path.realpath(root)} (a symbolic link?); {_RULE}")
    return path
