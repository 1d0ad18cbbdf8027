"""A private virtual X display (Xvfb) for ImageJ 1.x, which needs one for most commands."""

from __future__ import annotations

import atexit
import ctypes
import logging
import os
import select
import shutil
import signal
import subprocess

from .._core.errors import EngineError

log = logging.getLogger(__name__)


def _die_with_parent():  # pragma: no cover - runs in the child
    """Ask Linux to SIGTERM Xvfb when this Python process dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class VirtualDisplay:
    """An ``Xvfb`` server on a free display number, stopped with the process.

    ``Xvfb -displayfd`` picks a free display itself and reports it on a pipe, so
    there is no race for display numbers between parallel workers.
    """

    def __init__(self, *, timeout: float = 20.0, screen: str = "1280x1024x24"):
        exe = shutil.which("Xvfb")
        if exe is None:
            raise EngineError(
                "ImageJ 1.x needs a display and none is set (DISPLAY is empty), and Xvfb is "
                "not installed to make a virtual one. Install it (Debian/Ubuntu: "
                "apt-get install xvfb) or run under an X session")
        read_fd, write_fd = os.pipe()
        self.process = subprocess.Popen(
            [exe, "-displayfd", str(write_fd), "-nolisten", "tcp", "-screen", "0", screen],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent, start_new_session=True)
        os.close(write_fd)
        try:
            ready, _, _ = select.select([read_fd], [], [], timeout)
            data = os.read(read_fd, 64).decode().strip() if ready else ""
        finally:
            os.close(read_fd)
        if not data.isdigit():
            self.stop()
            raise EngineError(f"Xvfb did not report a display within {timeout:.0f} s "
                              f"(exit code {self.process.poll()}); check that Xvfb runs: "
                              "Xvfb -displayfd 1")
        self.display = f":{data}"
        atexit.register(self.stop)
        log.info("started Xvfb on display %s (pid %d)", self.display, self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
