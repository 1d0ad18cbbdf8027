"""Finding Java and starting the JVM once per process (scyjava/jpype, never a download)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path

from .._core.errors import EngineError, JavaNotFoundError

log = logging.getLogger(__name__)

_JVM_DIRS = ("/usr/lib/jvm", "/usr/java", "/opt/java", "/Library/Java/JavaVirtualMachines")
# The JVM is a process-wide singleton; this lock only serialises its start.
_START_LOCK = threading.Lock()


def _is_java_home(path: Path) -> bool:
    return (path / "bin" / "java").is_file() and any(
        p.is_file() for p in (path / "lib" / "server" / "libjvm.so",
                              path / "jre" / "lib" / "amd64" / "server" / "libjvm.so",
                              path / "lib" / "server" / "libjvm.dylib",
                              path / "bin" / "server" / "jvm.dll"))


def find_java_home() -> Path:
    """Return a Java home (JDK/JRE folder with ``bin/java`` and ``libjvm``).

    Looks at ``$JAVA_HOME``, the ``java`` on ``PATH`` and the usual system folders,
    in that order.  Raises :class:`JavaNotFoundError` listing every place searched.
    """
    searched: list[str] = []
    env = os.environ.get("JAVA_HOME")
    if env:
        searched.append(f"$JAVA_HOME={env}")
        if _is_java_home(Path(env)):
            return Path(env)
    exe = shutil.which("java")
    if exe:
        home = Path(os.path.realpath(exe)).parent.parent
        searched.append(f"java on PATH ({exe} -> {home})")
        if _is_java_home(home):
            return home
    else:
        searched.append("java on PATH (none)")
    for root in _JVM_DIRS:
        searched.append(f"{root}/*")
        base = Path(root)
        if base.is_dir():
            for cand in sorted(base.iterdir(), reverse=True):
                for home in (cand, cand / "Contents" / "Home"):
                    if _is_java_home(home):
                        return home
    raise JavaNotFoundError(
        "no Java runtime found; searched: " + "; ".join(searched)
        + ". Install Java 11 or newer (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; "
        "conda: conda install -c conda-forge openjdk=17) or set JAVA_HOME")


def java_version(java_home: Path) -> str:
    """``java -version`` of ``java_home`` as one line (starts no JVM in this process)."""
    out = subprocess.run([str(java_home / "bin" / "java"), "-version"], capture_output=True,
                         text=True, timeout=30)
    first = (out.stderr or out.stdout).strip().splitlines()
    return first[0] if first else "unknown"


def jvm_started() -> bool:
    import jpype

    return bool(jpype.isJVMStarted())


def start_jvm(*, classpath: list[str], options: list[str]) -> None:
    """Start the JVM with ``classpath`` and ``options`` using the system Java only.

    Raises :class:`EngineError` if a JVM already runs (it cannot be restarted or
    reconfigured within one process) and :class:`JavaNotFoundError` if no Java exists.
    """
    import scyjava

    with _START_LOCK:
        if jvm_started():
            raise EngineError("a JVM is already running in this process and cannot be "
                              "reconfigured; use engine='attach' to reuse it")
        home = find_java_home()
        os.environ["JAVA_HOME"] = str(home)
        scyjava.config.set_java_constraints(fetch="never")
        for entry in classpath:
            scyjava.config.add_classpath(entry)
        for option in options:
            scyjava.config.add_option(option)
        log.info("starting JVM from %s (classpath %s, options %s)", home, classpath, options)
        try:
            scyjava.start_jvm()
        except Exception as e:
            raise JavaNotFoundError(f"could not start the JVM from {home}: {e}") from e
