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
import warnings
from pathlib import Path

from .errors import ModelError

__all__ = ["load_model_file", "load_torchscript", "plain", "one_line", "read_head", "refusal",
           "why_not_zip"]

_ZIP_MAGIC = b"PK\x03\x04"


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


def _pickle_globals(path: Path, limit: int = 64 << 20) -> list[str] | None:
    """Names a raw pickle imports (GLOBAL/STACK_GLOBAL), read by parsing its opcodes
    without executing any; None when it cannot be parsed (truncated, not a pickle)."""
    import pickletools

    if path.stat().st_size > limit:
        return None
    names, strings = [], []
    try:
        for op, arg, _ in pickletools.genops(path.read_bytes()):
            if op.name == "GLOBAL":
                names.append(str(arg).replace(" ", "."))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                names.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str):
                strings.append(arg)
    except Exception:  # pickletools raises ValueError/EOFError/... on damaged data
        return None
    return names


def _torch_detail(text: str) -> str:
    """torch's error without its advice (the lines about weights_only and the docs)."""
    keep = [ln.split("WeightsUnpickler error:")[-1].strip() for ln in str(text).splitlines()]
    keep = [ln for ln in keep if ln and "weights_only" not in ln.lower()
            and "weights only" not in ln.lower() and "documentation of torch.load" not in ln]
    first = keep[0] if keep else type(text).__name__
    return one_line(first.split(". ")[0], 120)


def why_not_zip(path: Path, head: bytes) -> str:
    """Why a file that does not start as a zip archive is not a model file (one line).

    A raw pickle is parsed (never executed) to name what it would import."""
    if head[:1] == b"\x80":  # pickle protocol 2+
        names = _pickle_globals(path)
        if names is None:
            return "a truncated or damaged Python pickle, not a zip archive"
        if names:
            shown = ", ".join(dict.fromkeys(names))
            return f"a raw Python pickle naming {one_line(shown, 120)}, which {_CODE}"
        return "a raw Python pickle, not a zip archive"
    return f"not a zip archive: it starts with bytes {head[:8]!r}"


_CODE = ("could run code when loaded; refused without loading it (a model file holds only "
         "tensors and plain values)")


def _why_unreadable(error: BaseException) -> str:
    """A one-line reason for a zip archive torch's safe loader refused."""
    text = str(error)
    glob = re.search(r"GLOBAL ([\w.]+)", text)
    if glob:
        return f"it holds a Python object ({glob.group(1)}) that {_CODE}"
    if "zip archive" in text or "central directory" in text:
        return f"a damaged or truncated zip/torch archive ({_torch_detail(text)})"
    return f"its content is not tensors and plain values ({_torch_detail(text)})"


def load_model_file(path, *, what: str = "model file"):
    """Read a torch model/checkpoint file without running any code it may hold.

    Parameters
    ----------
    path : str or Path
    what : str
        How to name the file in errors ("segmentation checkpoint", "GAN model" …).

    Returns
    -------
    object
        What the file holds: tensors (on the CPU) in plain dicts and lists.

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
    if not head.startswith(_ZIP_MAGIC):  # torch writes zip archives; never unpickle raw data
        raise refusal(path, what, why_not_zip(path, head))
    try:
        with warnings.catch_warnings():  # a foreign file's protocol note is not our message
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types (zip, pickle, runtime) for bad files
        raise refusal(path, what, _why_unreadable(e)) from None


def load_torchscript(path, *, what: str = "TorchScript model"):
    """Load a TorchScript archive (bioimage.io weights) on the CPU, one-line ModelError if not.

    TorchScript archives hold a compiled graph, run by torch's TorchScript interpreter
    (not Python): the file's own computation, with no access to Python modules.
    """
    import torch

    path = Path(path)
    head = read_head(path, what)
    if not head.startswith(_ZIP_MAGIC):
        raise refusal(path, what, why_not_zip(path, head))
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
