"""Checks on output paths before any work: never overwrite an input, never let two outputs
of one batch land on the same file.

The command-line tools call these once, with every output they are about to write and every
file they read, *before* reading image data, so a mistake costs nothing and leaves nothing.

Examples
--------
>>> from fijibridge._core.outputs import check_not_input
>>> check_not_input({"-o": "mask.tif"}, {"IMAGE": "cells.tif"})
>>> check_not_input({"-o": "cells.tif"}, {"IMAGE": "cells.tif"})
Traceback (most recent call last):
...
ValueError: -o 'cells.tif' is the input IMAGE 'cells.tif'; fijibridge never overwrites an input: choose another output name or folder
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

__all__ = ["same_file", "check_not_input", "check_unique_outputs"]


def _key(path) -> str:
    """A comparable form of ``path``: absolute, symlinks resolved, case kept."""
    return os.path.normcase(str(Path(path).expanduser().resolve(strict=False)))


def same_file(a, b) -> bool:
    """True when ``a`` and ``b`` name the same file (same resolved path, or, for two
    existing files, the same inode: hard links and symlinks count as the same file)."""
    if _key(a) == _key(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): different files
        return False


def _items(paths, default_name):
    if isinstance(paths, dict):
        return [(name, p) for name, p in paths.items() if p is not None]
    if isinstance(paths, (str, os.PathLike)):
        return [(default_name, paths)]
    return [(default_name, p) for p in paths if p is not None]


def check_not_input(outputs, inputs, *, name: str = "output") -> None:
    """Raise ``ValueError`` when an output path names one of the input files.

    Parameters
    ----------
    outputs, inputs : dict, path or sequence of paths
        ``{label: path}`` (the label, e.g. ``"-o"`` or ``"--psf"``, appears in the
        message), a single path, or a sequence of paths; ``None`` values are skipped.
    name : str
        Label of the outputs given as a path or a sequence (e.g. ``"--output-dir"``).

    Raises
    ------
    ValueError
        Naming the output option, the clashing path and the input it would overwrite.
        Paths are compared resolved (``..``, symlinks), and existing files by inode (hard
        links).
    """
    ins = _items(inputs, "input")
    by_key = {_key(p): (label, p) for label, p in ins}
    by_inode = {}
    for label, p in ins:
        inode = _inode(p)
        if inode is not None:
            by_inode.setdefault(inode, (label, p))
    for out_name, out in _items(outputs, name):
        hit = by_key.get(_key(out))
        if hit is None:
            inode = _inode(out)  # an existing output: a hard link or symlink to an input?
            hit = by_inode.get(inode) if inode is not None else None
        if hit is not None:
            in_name, inp = hit
            raise ValueError(f"{out_name} {str(out)!r} is the input {in_name} {str(inp)!r}; "
                             "fijibridge never overwrites an input: choose another output "
                             "name or folder")


def _inode(path):
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


def check_unique_outputs(planned) -> None:
    """Raise ``ValueError`` when two inputs of a batch would write the same output file.

    Parameters
    ----------
    planned : iterable of (input, output)
        Each input with one of the files it will produce.

    Raises
    ------
    ValueError
        Listing every clash (the output and the inputs that share it), before any work.
    """
    by_output: dict[str, list] = defaultdict(list)
    shown: dict[str, str] = {}
    for inp, out in planned:
        key = _key(out)
        by_output[key].append(str(inp))
        shown.setdefault(key, str(out))
    clashes = {shown[k]: v for k, v in by_output.items() if len(v) > 1}
    if clashes:
        listing = "; ".join(f"{out!r} from {' and '.join(repr(i) for i in ins)}"
                            for out, ins in clashes.items())
        raise ValueError(f"{len(clashes)} output file(s) would be written by more than one input "
                         f"(inputs with the same name in different folders): {listing}. "
                         "Run each folder into its own --output-dir, or rename the inputs")
