"""The Java session: one ImageJ/Fiji per process, and macros run on in-memory images.

Use :func:`open_session`; it starts the engine once and returns the same
:class:`Session` afterwards (the JVM cannot be restarted inside a process).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from .._core.errors import (EngineError, MacroDialogError, MacroError, MacroTimeoutError)
from .._core.image import Image
from ._engines import EngineSpec, find_plugin_jars, resolve_engine
from ._runs import MacroRunImages, load_exit_guard
from .macro import MacroResult, prepare_macro

log = logging.getLogger(__name__)

__all__ = ["Session", "open_session", "current_session"]

#: seconds an aborted macro may take to unwind before the session is declared unusable
_ABORT_GRACE = 60.0
_ABORT_WAIT = 3.0    # seconds a macro gets to honour abortMacro before its thread is stopped

# The JVM is process-global, so the session that owns it is too. Guarded by a lock.
_SESSION: list = []
_SESSION_LOCK = threading.Lock()


def current_session():
    """The session started in this process, or None."""
    return _SESSION[0] if _SESSION else None


def open_session(engine: str = "auto", *, fiji_dir=None, imagej_jar=None, plugins_dir=None,
                 display: str = "auto") -> "Session":
    """Start (once) and return the process's ImageJ/Fiji session.

    Parameters
    ----------
    engine : {"auto", "imagej", "fiji", "attach"}
        ``imagej``: ImageJ 1.x from an ij.jar on a (virtual) display; ``fiji``: a local
        Fiji.app through PyImageJ in headless mode; ``attach``: the JVM already running in
        this process (Fiji's script editor). ``auto``: attach if a JVM with ImageJ runs,
        else ``$FIJI_HOME``, else an ImageJ jar.
    fiji_dir, imagej_jar, plugins_dir : path, optional
        Where the engine's files are (see :mod:`fijibridge.bridge._engines`).
    display : {"auto", "xvfb", "inherit"}
        ``auto`` starts a private Xvfb when ``$DISPLAY`` is empty (imagej engine only).
    """
    from ._java import jvm_started

    with _SESSION_LOCK:
        if _SESSION:
            s = _SESSION[0]
            if engine not in ("auto", "attach", s.engine):
                raise EngineError(f"this process already runs the {s.engine!r} engine; a JVM "
                                  f"cannot be restarted, so engine={engine!r} is not possible "
                                  "here (use a new process)")
            return s
        if engine == "auto" and jvm_started():
            engine = "attach"
        spec = resolve_engine(engine, fiji_dir=fiji_dir, imagej_jar=imagej_jar,
                              plugins_dir=plugins_dir)
        session = Session(spec, display=display)
        _SESSION.append(session)
        return session


class Session:
    """A running ImageJ 1.x / Fiji with the methods fijibridge needs.

    Not created directly: use :func:`open_session`.
    """

    def __init__(self, spec: EngineSpec, *, display: str = "auto"):
        from ._java import jvm_started, start_jvm

        self.spec = spec
        self.engine = spec.kind
        self.plugins_dir = spec.plugins_dir
        self._display = None
        self._lock = threading.Lock()  # ImageJ's macro interpreter state is global
        self._broken: str | None = None
        self._unfinished: threading.Event | None = None  # an aborted macro still unwinding
        self._ij2 = None
        t0 = time.perf_counter()
        if spec.kind == "imagej":
            if display not in ("auto", "xvfb", "inherit"):
                raise ValueError(f"display must be 'auto', 'xvfb' or 'inherit'; got {display!r}")
            if display == "xvfb" or (display == "auto" and not os.environ.get("DISPLAY")):
                from ._display import VirtualDisplay

                self._display = VirtualDisplay()
                os.environ["DISPLAY"] = self._display.display
            # "allow": a SecurityManager may be installed (the exit guard; Java 18-23
            # refuse it otherwise, Java 17 allows it anyway)
            options = ["-Djava.awt.headless=false", "-Xss4m", "-Djava.security.manager=allow"]
            if spec.plugins_dir is not None:
                # ImageJ 1.x looks for plugins in <plugins.dir>/plugins
                base = spec.plugins_dir.parent if spec.plugins_dir.name == "plugins" else spec.plugins_dir
                options.append(f"-Dplugins.dir={base}")
            start_jvm(classpath=spec.classpath(), options=options)
        elif spec.kind == "fiji":
            self._ij2 = _init_fiji(spec.fiji_dir)
        else:  # attach
            if not jvm_started():
                raise EngineError("engine='attach' needs a running JVM with ImageJ (e.g. Fiji's "
                                  "Python script editor); none runs in this process")
        import scyjava
        from scyjava import jimport

        try:
            self._IJ = jimport("ij.IJ")
            self._Interpreter = jimport("ij.macro.Interpreter")
        except Exception as e:
            raise EngineError(f"the JVM has no ImageJ 1.x classes (ij.IJ): {e}") from e
        self._current_interp = None
        self._dialogs: list[str] = []     # dialogs that needed a person
        self._messages: list[str] = []    # message boxes (IJ.error, showMessage, exit("…"))
        self._message_titles: list[str] = []
        self._dialog_guard = None
        self._quit_guard = None
        self._quit_attempts: list[str] = []   # run("Quit") refused during a macro
        self._exit_guard = load_exit_guard()
        if spec.kind == "imagej":
            # An off-screen ImageJ (on the virtual display): macros log to its Log window
            # and show Results as ImageJ does, instead of printing them to stdout.
            ImageJ = jimport("ij.ImageJ")
            if self._IJ.getInstance() is None:
                self._imagej = ImageJ(ImageJ.NO_SHOW)
            self._dialog_guard = _install_dialog_guard(self)
            if spec.bioformats_jars:
                from .bioformats import install_macro_commands

                install_macro_commands(spec.bioformats_jars)
        self._quit_guard = _install_quit_guard(self)
        # scyjava shuts the JVM down at exit (its own atexit handler); its
        # when_jvm_stops callbacks run first, before JPype waits for Java threads.
        guards = (self._dialog_guard, self._quit_guard)
        self._wait_for_jvm_at_exit = True
        scyjava.when_jvm_stops(lambda: _at_exit(*guards, wait=self._wait_for_jvm_at_exit))
        self.startup_seconds = time.perf_counter() - t0
        log.info("%s engine ready in %.2f s (ImageJ %s)", self.engine, self.startup_seconds,
                 self.imagej_version)

    def exit_without_waiting(self) -> None:
        """At process exit, do not destroy the JVM: the process ends without waiting
        for Java's threads (AWT's event thread takes about a second to wind down).

        For worker processes whose results are written by the time they end (the
        Dask and process executors' workers): measured, a worker's exit went from
        1.95 s to 0.71 s. Java's shutdown hooks then do not run (ImageJ registers none
        that matter for files it has finished writing); everything else of the
        normal exit path (windows disposed, ImageJ's thread pool stopped, JPype's Java
        side ended, see :func:`_do_not_wait_for_plugin_threads`) is the same.
        """
        self._wait_for_jvm_at_exit = False

    # -- facts -------------------------------------------------------------------------
    @property
    def imagej_version(self) -> str:
        return str(self._IJ.getFullVersion())

    @property
    def java_version(self) -> str:
        from scyjava import jimport

        System = jimport("java.lang.System")
        return f"{System.getProperty('java.version')} ({System.getProperty('java.home')})"

    def plugins(self) -> dict[str, Path | None]:
        """Jars of DeconvolutionLab2 and PSF Generator found in the plugins folder."""
        return find_plugin_jars(self.plugins_dir)

    def versions(self) -> dict:
        return {"engine": self.engine, "imagej": self.imagej_version, "java": self.java_version,
                "plugins_dir": str(self.plugins_dir) if self.plugins_dir else None,
                "plugins": {k: (str(v) if v else None) for k, v in self.plugins().items()},
                "display": os.environ.get("DISPLAY")}

    # -- macros ------------------------------------------------------------------------
    def run_macro(self, source, *, images: dict | None = None, args: dict | None = None,
                  timeout: float | None = 600.0) -> MacroResult:
        """Run an ImageJ macro on in-memory images and collect what it leaves.

        Parameters
        ----------
        source : str or pathlib.Path
            Macro text, or a ``Path`` to an ``.ijm`` file.
        images : dict[str, Image or ndarray], optional
            Input images; each is open in ImageJ (batch mode) with its key as title,
            the last one active.  An :class:`~fijibridge.Image` keeps its axes
            (reordered ``TCZYX`` → ImageJ's ``TZCYX``), spacing and channel names; an
            array is read as ``YX``/``ZYX``/``CZYX``/``TCZYX`` by its ndim.
        args : dict, optional
            Parameters: they fill the macro's ``#@`` declarations and are what
            ``getArgument()`` returns (``key=value …``).
        timeout : float or None
            Seconds before the macro is aborted with :class:`MacroTimeoutError`.

        Raises
        ------
        MacroError
            ImageJ reported an error; ``str(e)`` is ``file:line: message``.
        MacroDialogError
            The macro opened a dialog (a missing option, ``waitForUser``, ``getNumber``…)
            that nobody can answer in this run.
        MacroTimeoutError
            The macro ran longer than ``timeout``.
        """
        from .bioformats import check_macro_commands, explain_missing_command
        from .convert import ndarray_to_imageplus

        images = dict(images or {})
        code, argument, macro_file = prepare_macro(source, args, image_titles=list(images))
        check_macro_commands(code, macro_file=macro_file)
        if self._unfinished is not None:
            if not self._unfinished.wait(_ABORT_GRACE):
                self._broken = (f"an aborted macro was still running {_ABORT_GRACE:.0f} s after "
                                "its time limit")
            self._unfinished = None
        if self._broken:
            raise EngineError(f"this ImageJ session is unusable: {self._broken}; start a new process")
        with self._lock:
            t0 = time.perf_counter()
            self._reset_state()
            # every image of the run is closed when this block ends, however it ends
            with MacroRunImages(self._Interpreter) as run_images:
                for title, img in images.items():
                    run_images.push(ndarray_to_imageplus(img, title=title))
                try:
                    outcome = self._execute(code, argument, run_images, timeout=timeout,
                                            macro_file=macro_file)
                except MacroError as e:
                    explained = explain_missing_command(e)
                    if explained is e:
                        raise
                    raise explained from e
                result = self._collect(outcome["log"], run_images.open_images())
            result.seconds = time.perf_counter() - t0
            return result

    def _reset_state(self):
        from scyjava import jimport

        jimport("ij.measure.ResultsTable").getResultsTable().reset()
        self._dialogs.clear()
        self._messages.clear()
        self._message_titles.clear()
        self._quit_attempts.clear()
        self._dialog_line = None
        self._IJ.getErrorMessage()  # clears ImageJ's last IJ.error() message
        self._IJ.log("\\Clear")
        rm = self._roi_manager(create=True)
        if rm is not None:
            rm.reset()

    def _roi_manager(self, *, create: bool):
        from scyjava import jimport

        RoiManager = jimport("ij.plugin.frame.RoiManager")
        rm = RoiManager.getInstance()
        if rm is None and create and self.engine == "imagej":
            # A real (off-screen, on the virtual display) ROI Manager: the batch-mode one
            # that ImageJ would make is discarded when the macro ends.
            rm = RoiManager()
            rm.setVisible(False)
        return rm

    def _execute(self, code, argument, run_images, *, timeout, macro_file):
        from jpype import JException
        from scyjava import jimport

        Interpreter = self._Interpreter
        System = jimport("java.lang.System")
        ByteArrayOutputStream = jimport("java.io.ByteArrayOutputStream")
        PrintStream = jimport("java.io.PrintStream")
        interp = Interpreter()
        # With the dialog guard (imagej engine), ImageJ reports errors as it always does
        # (a "Macro Error" dialog that the guard reads and closes), which keeps its exact
        # line. Elsewhere errors are only recorded (ImageJ then keeps parsing, so the
        # line is approximate).
        interp.setIgnoreErrors(self._dialog_guard is None)
        buf = ByteArrayOutputStream()
        stream = PrintStream(buf, True, "UTF-8")
        old_out = System.out
        outcome = {"error": None, "exception": None, "thread": None}
        done = threading.Event()
        JThread = jimport("java.lang.Thread")

        def work():
            try:
                outcome["thread"] = JThread.currentThread()
                interp.run(code, argument)
            except JException as e:  # "Macro canceled" after an error or abort
                outcome["exception"] = str(e)
            except Exception as e:  # pragma: no cover - Python-side failure
                outcome["exception"] = repr(e)
            finally:
                done.set()

        self._current_interp = interp
        System.setOut(stream)
        worker = threading.Thread(target=work, name="fijibridge-macro", daemon=True)
        exit_guard = self._exit_guard
        blocked_exit = None
        if exit_guard is not None:
            exit_guard.enter()
        try:
            worker.start()
            finished = done.wait(timeout)
            if not finished:
                interp.abortMacro()
                if not done.wait(_ABORT_WAIT):
                    _stop_thread(outcome["thread"])
                    done.wait(10)
        finally:
            if exit_guard is not None:
                blocked_exit = exit_guard.leave()
            System.setOut(old_out)
            self._current_interp = None
            run_images.add_thread(outcome["thread"])
        stream.flush()
        outcome["log"] = self._read_log(str(buf.toString("UTF-8")))
        where = macro_file or "<macro>"
        ij_error = self._IJ.getErrorMessage()  # set by IJ.error(), also when only logged
        if blocked_exit is not None:
            raise MacroError(f"the macro tried to end Java and the Python process "
                             f"({blocked_exit}); fijibridge refused it", macro_file=macro_file,
                             line=_safe_line(interp),
                             advice="a macro run by fijibridge must not call System.exit")
        if self._quit_attempts:
            raise MacroError("the macro ran Quit, which would close ImageJ for every later "
                             "macro of this session; fijibridge refused it",
                             macro_file=macro_file, line=self._quit_attempts[0] or None,
                             advice='remove run("Quit") from the macro')
        if self._dialogs:
            raise MacroDialogError(
                f"the macro opened a dialog ({'; '.join(self._dialogs)}) that needs a person; "
                "in a headless run that is an error", macro_file=macro_file,
                line=self._dialog_line,
                advice="give every run(...) its options string, and replace waitForUser/"
                       "getNumber/Dialog.* with #@ parameters")
        if not finished:
            # An aborted macro can take a while to unwind on a loaded machine; the next
            # run waits for it (bounded) instead of declaring the session unusable.
            if not done.is_set():
                self._unfinished = done
            raise MacroTimeoutError(f"macro did not finish within {timeout} s and was aborted",
                                    macro_file=macro_file, line=_safe_line(interp))
        message = interp.getErrorMessage()
        if message is not None:
            raise MacroError(str(message), macro_file=macro_file, line=_error_line(interp))
        if outcome["exception"] and "Macro canceled" not in outcome["exception"]:
            raise MacroError(outcome["exception"], macro_file=macro_file, line=_safe_line(interp))
        if outcome["exception"] and self._messages:
            # exit("…") or an IJ.error() that stopped the macro: the message says why
            raise MacroError(self._messages[-1], macro_file=macro_file,
                             line=self._dialog_line or _safe_line(interp))
        if ij_error is not None:
            # ImageJ reported an error (IJ.error) but let the macro go on, e.g. open() of
            # a missing file ("Opener: File not found") or eval("js", …) without a
            # JavaScript engine: the macro's result cannot be trusted
            text = " ".join(str(ij_error).split())
            title = self._message_titles[-1] if self._message_titles else ""
            raise MacroError(f"{title}: {text}" if title else text, macro_file=macro_file,
                             line=self._dialog_line or _safe_line(interp))
        log.debug("%s finished; log: %s", where, outcome["log"][-2000:])
        return outcome

    def _read_log(self, captured: str) -> str:
        """Log window text, then message boxes, then what Java printed to stdout."""
        parts = []
        window_log = self._IJ.getLog()
        if window_log is not None and str(window_log):
            parts.append(str(window_log).rstrip("\n"))
        parts.extend(f"[message] {m}" for m in self._messages)
        if captured.strip():
            parts.append(captured.rstrip("\n"))
        return "\n".join(parts) + ("\n" if parts else "")

    def _collect(self, log_text: str, imps: list) -> MacroResult:
        from scyjava import jimport

        from .convert import imageplus_to_ndarray

        images: dict[str, Image] = {}
        for imp in imps:
            title = str(imp.getTitle())
            key, n = title, 2
            while key in images:
                key, n = f"{title}-{n}", n + 1
            images[key] = imageplus_to_ndarray(imp)
        results = _results_to_dataframe(jimport("ij.measure.ResultsTable").getResultsTable())
        rois = []
        rm = self._roi_manager(create=False)
        if rm is not None and rm.getCount() > 0:
            import roifile

            RoiEncoder = jimport("ij.io.RoiEncoder")
            for roi in rm.getRoisAsArray():
                data = bytes(memoryview(RoiEncoder.saveAsByteArray(roi)))
                rois.append(roifile.ImagejRoi.frombytes(data))
        return MacroResult(images=images, results=results, log=log_text, rois=rois)

    def _on_dialog(self, window, title: str) -> None:
        """Called on the AWT thread when a dialog opens during a macro.

        ImageJ's own "Macro Error" box is read (the interpreter has the message and
        line) and closed; message boxes (IJ.error, showMessage, exit("…")) are
        acknowledged and their text goes to the log, as a user clicking OK would;
        any other dialog needs a person: it is closed and the macro aborted.
        """
        from scyjava import jimport

        interp = self._current_interp
        if interp is None:
            return
        name = str(window.getClass().getName())
        WindowEvent = jimport("java.awt.event.WindowEvent")
        self._dialog_line = _safe_line(interp)  # the macro waits on the statement that opened it
        if title == "Macro Error":
            pass
        elif name.endswith("MessageDialog") or (name.endswith("HTMLDialog")):
            text = _dialog_text(window)
            self._messages.append(f"{title}: {text}" if title else text)
            self._message_titles.append(title)
        else:
            text = _dialog_text(window)
            what = f"{window.getClass().getSimpleName()} {title!r}"
            self._dialogs.append(what + (f" saying {text[:200]!r}" if text else ""))
            interp.abortMacro()
        window.dispatchEvent(WindowEvent(window, WindowEvent.WINDOW_CLOSING))
        window.dispose()


def _stop_thread(thread) -> None:
    """Stop the Java thread of a macro that ignores ``abortMacro``.

    ImageJ's interpreter polls a plain (non-volatile) ``done`` field; once the JIT has
    compiled a tight macro loop (``while (true) { i++; }``) the loop may never see the
    abort (measured: unwound after 2 s, 10 s, or not within 60 s, depending on load).
    ``Thread.stop`` raises ThreadDeath at the thread's next safepoint, which every
    compiled loop has. Deprecated but working up to Java 19; on newer Java it raises
    UnsupportedOperationException, and the session then waits as before.
    """
    if thread is None:
        return
    try:
        log.warning("the aborted macro keeps running; stopping its thread")
        thread.stop()
    except Exception as e:  # pragma: no cover - Java >= 20
        log.warning("could not stop the macro's thread: %s", e)


def _at_exit(dialog_guard=None, quit_guard=None, *, wait: bool = True) -> None:
    """Let the process end at interpreter exit, whatever Java threads are left.

    JPype shuts the JVM down at exit and waits for its non-daemon threads; AWT's event
    thread ends by itself (auto-shutdown) once no window is displayable, so every
    window is disposed. ImageJ's shared thread pool (``ij.util.ThreadUtil``, used by
    multi-threaded filters) keeps idle non-daemon core threads forever; ImageJ itself
    ends with System.exit, a script must shut the pool down. The guards go first:
    during interpreter shutdown a Java thread calling back into Python would block
    forever.

    Plugins leave non-daemon threads of their own that nobody can stop from outside
    (DeconvolutionLab2: an idle ``Executors.newSingleThreadExecutor`` worker,
    ``pool-1-thread-1``): a script then hung at exit. When such threads are alive,
    JPype is told not to destroy the JVM (``jpype.config.destroy_jvm = False``), so it
    does not wait for them; see :func:`_do_not_wait_for_plugin_threads` for what must
    then be done by hand so that Python's own exit (and its status) stays intact.
    ``wait=False`` (:meth:`Session.exit_without_waiting`) takes that path always.
    """
    from scyjava import jimport

    def attempt(what, fn):
        try:
            fn()
        except Exception:  # pragma: no cover - best effort at exit
            log.debug("at exit: %s failed", what, exc_info=True)

    def close_windows():
        ImageJ = jimport("ij.IJ").getInstance()
        if ImageJ is not None:
            ImageJ.exitWhenQuitting(False)
        for window in jimport("java.awt.Window").getWindows():
            window.dispose()

    if dialog_guard is not None:
        attempt("removing the dialog guard", lambda: jimport("java.awt.Toolkit")
                .getDefaultToolkit().removeAWTEventListener(dialog_guard))
    if quit_guard is not None:
        attempt("removing the quit guard",
                lambda: jimport("ij.Executer").removeCommandListener(quit_guard))
    attempt("stopping ImageJ's thread pool",
            lambda: jimport("ij.util.ThreadUtil").threadPoolExecutor.shutdown())
    attempt("closing ImageJ's windows", close_windows)
    attempt("not waiting for plugins' threads",
            lambda: _do_not_wait_for_plugin_threads(always=not wait))


def _do_not_wait_for_plugin_threads(*, always: bool = False) -> None:
    """Skip JVM destruction when plugins left non-daemon threads, and end JPype's Java side.

    JPype's Java side (``org.jpype.JPypeContext.shutdown``: refuse further calls of
    Python proxies from Java, stop the "Python Reference Queue" thread that releases
    Python objects held by Java) runs as a JVM shutdown hook, i.e. only when the JVM
    is destroyed. With ``destroy_jvm = False`` it never ran: the reference-queue thread
    (a Java thread) went on taking the GIL to release Python objects while Python
    finalised; CPython ends such a thread with ``pthread_exit``, whose forced unwinding
    through Java's frames aborted the process ("FATAL: exception not rethrown",
    SIGABRT, 1 run in 5-10; gdb named that thread). So that shutdown is run here, as
    the last ``when_jvm_stops`` callback; Python then finalises and exits with its own
    status (0, ``sys.exit(n)``, 1 after a traceback) while the plugin threads, which
    never call Python, end with the process as they do when ImageJ quits.
    """
    import jpype
    from scyjava import jimport, when_jvm_stops

    Thread = jimport("java.lang.Thread")
    me = Thread.currentThread()
    left = []
    for thread in Thread.getAllStackTraces().keySet():
        name = str(thread.getName())
        if (thread.isDaemon() or not thread.isAlive() or thread.equals(me)
                or name in ("DestroyJavaVM", "main") or name.startswith("AWT-")):
            continue  # AWT's threads end by themselves once no window is left
        left.append(name)
    if left or always:
        if left:
            log.info("at exit: not waiting for Java threads left by plugins: %s",
                     ", ".join(sorted(left)))
        jpype.config.destroy_jvm = False
        # scyjava runs its callbacks in list order and sees one appended while it
        # runs them: JPype's Java side ends after every other callback used Java.
        when_jvm_stops(_end_jpype_java_side)


def _end_jpype_java_side() -> None:
    """Run JPype's JVM shutdown hook now (the JVM itself stays up, see above).

    The hook is a private method (``JPypeContext.shutdown``, JPype 1.5 to 1.7 at
    least); where it is missing, the reference-queue thread, which did abort the
    process, is stopped through its public ``stop``. Java's output is flushed first:
    nothing may call Java afterwards.
    """
    import _jpype
    from scyjava import jimport

    System = jimport("java.lang.System")
    System.out.flush()
    System.err.flush()
    # (``freeResources`` is left at JPype's default, true: assigning it through the
    # context instance, as jpype.shutdownJVM does, kept the hook from stopping the queue)
    context = _jpype.JPypeContext
    try:
        method = context.getClass().getDeclaredMethod("shutdown")
    except Exception:  # pragma: no cover - another JPype
        log.warning("at exit: JPype has no JPypeContext.shutdown; stopping only its "
                    "reference queue")
        jimport("org.jpype.ref.JPypeReferenceQueue").getInstance().stop()
        return
    method.setAccessible(True)
    method.invoke(context)


def _install_quit_guard(session: "Session"):
    """Refuse ImageJ's Quit command while a macro runs (``Executer`` command listener).

    ``run("Quit")`` closes ImageJ's main window and its Log window: every later
    macro's ``print()`` output was lost. The refusal is recorded and the run raises
    :class:`MacroError`; the session stays usable.
    """
    from jpype import JImplements, JOverride
    from scyjava import jimport

    @JImplements("ij.CommandListener")
    class QuitGuard:
        @JOverride
        def commandExecuting(self, command):
            interp = session._current_interp
            if interp is not None and command is not None and str(command) == "Quit":
                session._quit_attempts.append(_safe_line(interp))
                return None
            return command

    guard = QuitGuard()
    jimport("ij.Executer").addCommandListener(guard)
    return guard


def _safe_line(interp):
    try:
        return int(interp.getLineNumber())
    except Exception:
        return None


def _error_line(interp):
    """The line ImageJ names in its error message ("… in line N"): the interpreter's
    ``lineNumber`` field, set from the failing token when the error is reported."""
    try:
        field = interp.getClass().getDeclaredField("lineNumber")
        field.setAccessible(True)
        line = int(field.get(interp))
        if line > 0:
            return line
    except Exception:  # pragma: no cover - other ImageJ versions
        pass
    return _safe_line(interp)


def _dialog_text(window) -> str:
    """The text shown in an AWT dialog (Labels, TextAreas, ImageJ's MultiLineLabel)."""
    from scyjava import jimport

    Container = jimport("java.awt.Container")
    Label = jimport("java.awt.Label")
    TextComponent = jimport("java.awt.TextComponent")
    texts: list[str] = []

    def walk(component):
        if isinstance(component, Label):
            texts.append(str(component.getText() or ""))
        elif isinstance(component, TextComponent):
            texts.append(str(component.getText() or ""))
        elif str(component.getClass().getName()).endswith("MultiLineLabel"):
            try:
                field = component.getClass().getDeclaredField("lines")
                field.setAccessible(True)
                texts.extend(str(t) for t in field.get(component))
            except Exception:
                pass
        if isinstance(component, Container):
            for child in component.getComponents():
                walk(child)

    try:
        walk(window)
    except Exception:  # pragma: no cover - reading text is best effort
        return ""
    return " ".join(t.strip() for t in texts if t and t.strip())


def _results_to_dataframe(rt):
    """ImageJ ResultsTable → pandas DataFrame (ImageJ's column names, bulk copies)."""
    import numpy as np
    import pandas as pd

    n = int(rt.size())
    columns: dict[str, object] = {}
    if n == 0:
        return pd.DataFrame()
    headings = [str(h) for h in rt.getHeadings()]
    for heading in headings:
        if heading.strip() == "":
            continue
        if heading == "Label":
            columns["Label"] = [str(rt.getLabel(i)) for i in range(n)]
            continue
        index = int(rt.getColumnIndex(heading))
        values = np.asarray(memoryview(rt.getColumnAsDoubles(index)), dtype=np.float64).copy()
        if np.isnan(values).all():
            strings = [str(rt.getStringValue(index, i)) for i in range(n)]
            if any(s not in ("NaN", "") for s in strings):
                columns[heading] = strings
                continue
        columns[heading] = values
    return pd.DataFrame(columns)


def _install_dialog_guard(session: Session):
    """Listen for windows opening (AWT events, no polling): a dialog during a macro
    is closed at once and the macro aborted, so a headless run can never hang."""
    from jpype import JImplements, JOverride
    from scyjava import jimport

    Toolkit = jimport("java.awt.Toolkit")
    AWTEvent = jimport("java.awt.AWTEvent")
    WindowEvent = jimport("java.awt.event.WindowEvent")
    Dialog = jimport("java.awt.Dialog")
    Frame = jimport("java.awt.Frame")

    @JImplements("java.awt.event.AWTEventListener")
    class DialogGuard:
        @JOverride
        def eventDispatched(self, event):
            if event.getID() != WindowEvent.WINDOW_OPENED:
                return
            window = event.getWindow()
            title = ""
            if isinstance(window, Dialog):
                title = str(window.getTitle() or "")
            elif isinstance(window, Frame):
                name = str(window.getClass().getName())
                # Image, text and ROI Manager windows are fine; anything asking for input is not
                if not any(k in name for k in ("GenericDialog", "WaitForUser", "YesNo", "Message")):
                    return
                title = str(window.getTitle() or "")
            else:
                return
            try:
                session._on_dialog(window, title)
            except BaseException:  # never leave a dialog open: that would hang the macro
                log.exception("dialog guard failed; closing %r anyway", title)
                session._dialogs.append(f"dialog {title!r}")
                interp = session._current_interp
                if interp is not None:
                    interp.abortMacro()
                window.dispose()

    guard = DialogGuard()
    Toolkit.getDefaultToolkit().addAWTEventListener(guard, AWTEvent.WINDOW_EVENT_MASK)
    return guard


def _init_fiji(fiji_dir: Path):
    """Start a local Fiji.app through PyImageJ in headless mode, offline.

    A local Fiji folder is used as it is: no Maven resolution, no download. The
    system Java is used (scyjava's fetch is off).
    """
    import scyjava

    from ._java import find_java_home, jvm_started

    if jvm_started():
        raise EngineError("a JVM already runs in this process; use engine='attach'")
    try:
        import imagej
    except ImportError as e:
        raise EngineError("the fiji engine needs PyImageJ: pip install pyimagej") from e
    os.environ.setdefault("JAVA_HOME", str(find_java_home()))
    scyjava.config.set_java_constraints(fetch="never")
    scyjava.config.add_option("-Djava.security.manager=allow")  # the exit guard
    try:
        return imagej.init(str(fiji_dir), mode="headless", add_legacy=True)
    except Exception as e:
        raise EngineError(f"could not start Fiji from {fiji_dir}: {e}") from e
