"""The one reader of model and checkpoint files: nothing in a file can run code.

Every torch model or checkpoint that fijibridge reads (segmentation checkpoints,
GAN generators, ``last.pt`` training states) goes through :func:`load_model_file`.
It loads with torch's restricted unpickler (``weights_only=True``), which accepts
tensors and plain containers (dict, list, tuple, str, int, float, bool, None) and
refuses anything else, so a file crafted to run code when unpickled (a pickle whose
``__reduce__`` calls ``os.system``) is refused before any of it runs.  fijibridge
writes its files in that form (:func:`plain` turns numpy scalars, paths and tuples
into plain values).

Whatever is wrong with a file — missing, a folder, empty, truncated, not a torch
file, or holding Python objects — the error is one :class:`~fijibridge.ModelError`
line: ``'FILE' is not a fijibridge <what>: <why>``.

torch is imported inside the functions (``fijibridge._core`` stays torch-free).
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import ModelError

__all__ = ["load_model_file", "load_torchscript", "plain", "one_line", "read_head", "refusal"]

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP = b"PK\x05\x06"


def one_line(text, limit: int = 300) -> str:
    """``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def refusal(path: Path, what: str, why: str) -> ModelError:
    """The one-line error for a file that is not a fijibridge model, and why."""
    return ModelError(f"{str(path)!r} is not a fijibridge {what}: {why}")


def read_head(path: Path, what: str) -> bytes:
    """First bytes of ``path``; ModelError when it is missing, a folder, empty or unreadable."""
    if path.is_dir():
        raise refusal(path, what, "it is a folder, not a file")
    if not path.exists():
        raise refusal(path, what, "no such file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as e:
        raise refusal(path, what, f"cannot read it ({one_line(e.strerror or e)})") from None
    if not head:
        raise refusal(path, what, "the file is empty (0 bytes)")
    return head


def _why_unreadable(head: bytes, error: BaseException) -> str:
    """A one-line reason from the file's first bytes and torch's (long) error."""
    import pickle

    text = str(error)
    glob = re.search(r"GLOBAL ([\w.]+)", text) or re.search(r"Unsupported global: ([\w.]+)", text)
    if isinstance(error, pickle.UnpicklingError) and ("global" in text.lower() or glob):
        name = glob.group(1) if glob else "a Python object"
        return (f"it holds Python objects ({name}) that could run code when loaded; "
                "refused without loading them — only files holding tensors and plain "
                "values are read")
    if isinstance(error, pickle.UnpicklingError):
        return f"it is a Python pickle with content a model file never holds ({one_line(text, 120)})"
    if head.startswith(_ZIP_MAGIC) or head.startswith(_EMPTY_ZIP):
        return f"a damaged or truncated zip/torch archive ({one_line(text, 120)})"
    if head[:1] == b"\x80":
        return "a truncated or damaged Python pickle, not a torch file"
    return (f"not a torch (zip) file: it starts with bytes {head[:8]!r} "
            f"({type(error).__name__})")


def load_model_file(path, *, what: str = "model file", dict_keys=None):
    """Read a torch model/checkpoint file without running any code it may hold.

    Parameters
    ----------
    path : str or Path
    what : str
        How to name the file in errors ("segmentation checkpoint", "GAN model" …).
    dict_keys : iterable of str, optional
        Keys the loaded object must have (it must then be a dict).

    Returns
    -------
    The loaded object: tensors in plain dicts/lists (on the CPU).

    Raises
    ------
    ModelError
        One line naming the file and why it was not loaded: missing, a folder,
        empty, truncated, not a torch file, or holding Python objects (which are
        never unpickled).
    """
    import torch

    path = Path(path)
    head = read_head(path, what)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types (zip, pickle, runtime) for bad files
        raise refusal(path, what, _why_unreadable(head, e)) from None
    if dict_keys is not None:
        if not isinstance(state, dict):
            raise refusal(path, what, f"it holds a {type(state).__name__}, not a checkpoint dict")
        missing = [k for k in dict_keys if k not in state]
        if missing:
            raise refusal(path, what, f"its dict lacks {missing}")
    return state


def load_torchscript(path, *, what: str = "TorchScript model"):
    """Load a TorchScript archive (bioimage.io weights) on the CPU, one-line ModelError if not.

    TorchScript archives hold a compiled graph, run by torch's TorchScript interpreter
    (not Python): the file's own computation, with no access to Python modules.
    """
    import torch

    path = Path(path)
    head = read_head(path, what)
    if not head.startswith(_ZIP_MAGIC):
        raise refusal(path, what, f"not a zip archive (starts with bytes {head[:8]!r})")
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception as e:  # torch.jit raises RuntimeError/ValueError for foreign archives
        raise refusal(path, what, one_line(e, 160)) from None


def plain(value):
    """``value`` with numpy scalars/arrays, paths and sets turned into plain
    Python values (tensors kept), so that :func:`load_model_file` can read it back."""
    import numbers
    import os

    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v) for v in value)
    if isinstance(value, (str, bool, type(None))):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if type(value).__module__ == "numpy":
        return plain(value.tolist())
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value  # tensors and anything else torch's safe loader knows
