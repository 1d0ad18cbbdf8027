"""Book-keeping of one macro run: its images, and what a macro must not do to the process.

:class:`MacroRunImages` is the one place where a macro run's images are accounted for:
the inputs the bridge pushed, everything the macro created, and ImageJ's per-thread
"current image" entry. Whatever happens in the run (success, error, dialog, timeout),
leaving the ``with`` block closes and flushes them, so a 200-image batch keeps a flat
Java heap and the next run starts with no image open.

:func:`load_exit_guard` loads ``fijibridge.ExitGuard`` (``java/ExitGuard.java``), which
refuses ``System.exit`` while a macro runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

__all__ = ["MacroRunImages", "load_exit_guard"]

_JAVA_DIR = Path(__file__).with_name("java")


class MacroRunImages:
    """Context manager owning every ImageJ image of one macro run.

    ``push(imp)`` registers an input (opened as a batch-mode image), ``add_thread(t)``
    a Java thread that ran macro code (ImageJ keeps a "temporary current image" per
    thread in ``WindowManager.tempImageTable`` and never removes the entry of a thread
    that ended: with a fresh thread per run this table held every run's last image,
    ~+20 MB per 2048² float run). On exit every batch-mode image, every image in
    ``WindowManager`` and every pushed input is closed (``changes = False``, so no
    "save changes?" dialog) and flushed (pixel arrays released), and the thread
    entries are removed. Copies taken with :meth:`Session._collect` are numpy arrays
    and stay valid.
    """

    def __init__(self, interpreter_class):
        from scyjava import jimport

        self._Interpreter = interpreter_class
        self._WindowManager = jimport("ij.WindowManager")
        self._inputs: list = []
        self._threads: list = []

    def __enter__(self) -> "MacroRunImages":
        self._Interpreter.batchMode = True
        return self

    def push(self, imp) -> None:
        """Open ``imp`` as a batch-mode image of this run (the last pushed is active)."""
        self._inputs.append(imp)
        self._Interpreter.addBatchModeImage(imp)

    def add_thread(self, thread) -> None:
        if thread is not None:
            self._threads.append(thread)

    def open_images(self) -> list:
        """Batch-mode images, then other images ImageJ knows (each once)."""
        imps = []
        for image_id in list(self._Interpreter.getBatchModeImageIDs()):
            imp = self._Interpreter.getBatchModeImage(int(image_id))
            if imp is not None:
                imps.append(imp)
        ids = self._WindowManager.getIDList()
        for image_id in (list(ids) if ids is not None else []):
            imp = self._WindowManager.getImage(int(image_id))
            if imp is not None and all(imp.getID() != o.getID() for o in imps):
                imps.append(imp)
        return imps

    def __exit__(self, *exc) -> None:
        try:
            self.close_all()
        except Exception:  # never hide the run's own error behind a clean-up failure
            if exc[0] is None:
                raise
            log.exception("closing the images of a failed macro run failed")
        return None

    def close_all(self) -> None:
        Interpreter = self._Interpreter
        closed = {}
        for imp in self.open_images() + self._inputs:
            if int(imp.getID()) in closed:
                continue
            closed[int(imp.getID())] = imp
            imp.changes = False
            Interpreter.removeBatchModeImage(imp)
            imp.close()
        for thread in self._threads:
            self._WindowManager.setTempCurrentImage(thread, None)
        _drop_dead_thread_images(self._WindowManager)
        Interpreter.batchMode = False
        _set_static(Interpreter, "imageTable", None)
        _set_static(Interpreter, "imageActivations", None)
        for imp in closed.values():
            imp.flush()
        self._inputs.clear()
        self._threads.clear()


def _drop_dead_thread_images(WindowManager) -> None:
    """Remove ``tempImageTable`` entries of threads that ended (whoever started them)."""
    try:
        field = WindowManager.class_.getDeclaredField("tempImageTable")
        field.setAccessible(True)
        table = field.get(None)
    except Exception:  # pragma: no cover - other ImageJ versions
        log.debug("no WindowManager.tempImageTable in this ImageJ", exc_info=True)
        return
    if table is None:
        return
    for thread in list(table.keySet()):
        if not thread.isAlive():
            table.remove(thread)


def _set_static(cls, name, value):
    field = cls.class_.getDeclaredField(name)
    field.setAccessible(True)
    field.set(None, value)


@contextlib.contextmanager
def _stderr_captured():
    """Capture what is written to file descriptor 2 (also by Java) inside the block."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as tmp:
            os.dup2(tmp.fileno(), 2)
            try:
                yield lines
            finally:
                os.dup2(saved, 2)
            tmp.seek(0)
            lines.extend(tmp.read().decode("utf-8", "replace").splitlines())
    finally:
        os.close(saved)


def load_exit_guard():
    """Load and install ``fijibridge.ExitGuard`` in the running JVM.

    Returns the Java class, or None when its compiled class is missing (it ships with
    the package as ``bridge/java/fijibridge/ExitGuard.class``). Java 17 prints a
    four-line deprecation warning on the process's stderr when a SecurityManager is
    installed (to its initial stream, which ``System.setErr`` does not catch); it is
    addressed to developers, so it is captured at the file descriptor and logged at
    debug level instead. Where installing is refused (Java 24+; Java 18-23 started
    without ``-Djava.security.manager=allow``; another SecurityManager) exits cannot be
    blocked, only announced on stderr: that is logged as a warning.
    """
    import jpype
    from scyjava import jimport

    if not (_JAVA_DIR / "fijibridge" / "ExitGuard.class").is_file():
        log.warning("fijibridge's ExitGuard class is missing from %s: a macro calling "
                    "System.exit would end Python", _JAVA_DIR)
        return None
    URL = jimport("java.net.URL")
    URLClassLoader = jimport("java.net.URLClassLoader")
    loader = URLClassLoader(jpype.JArray(URL)([URL(_JAVA_DIR.resolve().as_uri() + "/")]),
                            jimport("ij.IJ").class_.getClassLoader())
    guard = jpype.JClass("fijibridge.ExitGuard", loader=loader)
    with _stderr_captured() as said:
        why = str(guard.install())
    if said:
        log.debug("Java said while installing the exit guard: %s", " ".join(said))
    if why:
        log.warning("cannot block System.exit in macros (%s); a macro calling it ends Python, "
                    "with a message on stderr", why)
    return guard
