"""Atomic file writes: write to a temporary file beside the target, then rename.

A reader never sees a half-written file and a crash (even ``kill -9``) leaves either
the old file or no file, plus at most a ``.tmp`` file that later writes ignore.

``durable=True`` (the default) also forces the bytes to the disk (``fsync``) before the
rename, so that a power cut or kernel crash cannot leave an empty file under the final
name.  That costs ~0.4 ms or more a file, and far more when several processes write at
once (the ext4 journal serialises them).  Writers whose files are checked on re-use —
a pipeline's per-item outputs and manifests, whose sizes and SHA-256 ``--resume``
verifies before skipping anything — pass ``durable=False``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text", "atomic_write_bytes", "file_sha256"]


def _umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: read by setting (briefly) and restoring
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    On an exception the temporary file is removed and ``path`` is left untouched.
    The temporary name is hidden (``.name.XXXX.tmp.ext``) and keeps the target's
    extension, so writers that look at it (tifffile, matplotlib) behave as for the
    real name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix,
                               dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp makes the file private (0600); give it what open() would (0666 & ~umask)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write_bytes(path, data: bytes, *, durable: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically and return the path (``durable``: fsync
    before the rename, see the module's docstring)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
    return Path(path)


def atomic_write_text(path, text: str, *, encoding: str = "utf-8", durable: bool = True) -> Path:
    """Write ``text`` to ``path`` atomically and return the path."""
    return atomic_write_bytes(path, text.encode(encoding), durable=durable)


def file_sha256(path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB blocks."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
