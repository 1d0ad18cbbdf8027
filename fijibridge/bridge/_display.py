"""A private virtual X display (Xvfb) for ImageJ 1.x, which needs one for most commands."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import select
import signal
import shutil
import socket
import subprocess
import time
from pathlib import Path

from .._core.errors import EngineError

log = logging.getLogger(__name__)


# Runs Xvfb and stops it once the Python process that asked for it is gone, however it
# ended (even SIGKILL). Stopping it earlier, at interpreter exit, would pull the
# display from under the JVM's AWT, whose X11 error handler then ends the process
# with status 1. (A pipe-EOF trigger proved unreliable under pytest's fd capture.)
# (No fd juggling in the shell: dash rejects multi-digit descriptors such as 13>&-,
# which made the guardian exit with 127 under pytest's capture and orphan Xvfb.)
# Xvfb reports its display on the guardian's stdout (the pipe, ``-displayfd 1``) and
# the guardian lets go of it at once: a server that fails to start (display taken)
# then closes the pipe's last write end, and the failure is seen at once instead of
# after the guardian's next ``sleep 1`` (measured: the loser of a race retried 1.07 s
# later).
_GUARDIAN = ('Xvfb "$@" -displayfd 1 & xvfb=$!; exec >/dev/null; '
             'while kill -0 "$OWNER" 2>/dev/null && kill -0 "$xvfb" 2>/dev/null; do sleep 1; done; '
             'kill "$xvfb" 2>/dev/null; wait "$xvfb"')


_FIRST_DISPLAY = 90
_CLAIM = "/tmp/.fijibridge-X{}.lock"  # flock'd while a fijibridge process owns display N


def _claim(number: int):
    """An open file holding an exclusive ``flock`` on display ``number``'s claim file,
    or None when another process holds it (or the file cannot be opened).

    The lock lives as long as the file stays open: for the process's lifetime, and
    the kernel drops it however the process ends (SIGKILL included), so a stale claim
    never blocks a number. Two fijibridge processes starting at once (Dask workers)
    thus never both try the same display.
    """
    try:
        fd = os.open(_CLAIM.format(number), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _accepts_connections(number: int) -> bool:
    """True if the X server's socket for display ``number`` accepts a connection."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect(f"/tmp/.X11-unix/X{number}")
        except OSError:
            return False
    return True


class VirtualDisplay:
    """An ``Xvfb`` server on a free display number, stopped with the process.

    The number is claimed first with a per-number lock file (``flock``, held for the
    process's lifetime), so parallel workers never race for the same display; then
    ``Xvfb -displayfd`` reports on a pipe when the server is ready.
    """

    def __init__(self, *, timeout: float = 20.0, screen: str = "1280x1024x24"):
        exe = shutil.which("Xvfb")
        if exe is None:
            raise EngineError(
                "ImageJ 1.x needs a display and none is set (DISPLAY is empty), and Xvfb is "
                "not installed to make a virtual one. Install it (Debian/Ubuntu: "
                "apt-get install xvfb) or run under an X session")
        self.process = None
        self._fd = None
        self._claim = None
        tried = []
        # Pick the number ourselves: Xvfb's own choice (-displayfd alone) looks only at
        # lock files and can land on a display whose socket file is stale.
        for number in range(_FIRST_DISPLAY, _FIRST_DISPLAY + 100):
            if (Path(f"/tmp/.X{number}-lock").exists()
                    or Path(f"/tmp/.X11-unix/X{number}").exists()):
                continue
            claim = _claim(number)
            if claim is None:  # another fijibridge process is starting Xvfb there
                continue
            tried.append(number)
            if self._start(exe, number, screen, timeout):
                self.display = f":{number}"
                self._claim = claim
                log.info("started Xvfb on display %s (pid %d)", self.display, self.process.pid)
                return
            os.close(claim)
            if len(tried) >= 5:
                break
        raise EngineError(f"could not start Xvfb on displays {tried} within {timeout:.0f} s "
                          "each; check that it runs: Xvfb :99")

    def _start(self, exe, number, screen, timeout) -> bool:
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            ["/bin/sh", "-c", _GUARDIAN, "xvfb-guardian", f":{number}",
             "-nolisten", "tcp", "-noreset", "-screen", "0", screen],
            stdin=subprocess.DEVNULL, stdout=write_fd, stderr=subprocess.DEVNULL,
            env={**os.environ, "OWNER": str(os.getpid())},
            start_new_session=True)
        os.close(write_fd)
        # Xvfb writes "N" and "\n" separately when it is ready, and dies (EPIPE) if the
        # pipe is closed under it; so read up to the newline and keep the pipe open for
        # the server's lifetime.
        self._fd = read_fd
        data, deadline = b"", time.monotonic() + timeout
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_fd], [], [], max(left, 0))
            chunk = os.read(read_fd, 64) if ready else b""
            if not chunk:  # timeout or Xvfb exited
                break
            data += chunk
        if data.strip() == str(number).encode() and _accepts_connections(number):
            return True
        self.stop()
        return False

    def stop(self) -> None:
        """Stop Xvfb now (only for a failed start: a running JVM needs its display
        until the process ends, when the guardian stops Xvfb by itself)."""
        if self.process is not None and self.process.poll() is None:
            # guardian and Xvfb share the process group the guardian leads
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None
