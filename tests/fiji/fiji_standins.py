"""Running the two stand-ins (jython_harness.py, python_mode_standin.py) in subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
JYTHON_JAR = Path("/usr/share/java/jython.jar")


def _need(ok: bool, what: str):
    if not ok:
        if os.environ.get("FIJIBRIDGE_REQUIRE_IMAGEJ") == "1":
            pytest.fail(f"required here (FIJIBRIDGE_REQUIRE_IMAGEJ=1) but missing: {what}")
        pytest.skip(f"missing: {what}")


def ij_jar() -> Path:
    from fijibridge.bridge._engines import find_imagej_jar

    jar = find_imagej_jar([])
    _need(jar is not None, "ImageJ's ij.jar (Debian package imagej)")
    _need(shutil.which("xvfb-run") is not None, "xvfb-run (Debian package xvfb)")
    return jar


def fijibridge_exe() -> str:
    exe = shutil.which("fijibridge") or str(Path(sys.executable).parent / "fijibridge")
    if not Path(exe).is_file():
        pytest.fail("the fijibridge command is not installed (pip install -e .)")
    return exe


def shipped_model_or_skip():
    from fijibridge._core.errors import ModelError
    from fijibridge.segment.models import resolve_model_path

    try:
        resolve_model_path("nuclei2d")
    except ModelError as e:
        if os.environ.get("CI"):
            pytest.fail(str(e))
        pytest.skip(str(e))


def _report(proc) -> dict:
    lines = [l for l in proc.stdout.splitlines() if l.startswith("HARNESS-REPORT ")]
    assert lines, f"no report; exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    report = json.loads(lines[-1][len("HARNESS-REPORT "):])
    report["stdout"], report["stderr"], report["code"] = proc.stdout, proc.stderr, proc.returncode
    report["image_titles"] = {i["title"]: i for i in report["images"]}
    report["table_titles"] = {t["title"]: t for t in report["tables"]}
    return report


def run_jython(script: Path, image: Path, cwd: Path, timeout: float = 120, **params) -> dict:
    """SCRIPT through Debian's Jython with ImageJ 1.x on the classpath, under Xvfb."""
    _need(JYTHON_JAR.is_file(), f"{JYTHON_JAR} (Debian package jython)")
    jar = ij_jar()
    cmd = ["xvfb-run", "-a", "java", "-Dpython.home=/usr/share/jython", f"-Djava.io.tmpdir={cwd}",
           "-cp", f"{jar}{os.pathsep}{JYTHON_JAR}", "org.python.util.jython",
           str(HERE / "jython_harness.py"), str(script), str(image)]
    cmd += [f"{k}={v}" for k, v in params.items()]
    env = {**os.environ, "TMPDIR": str(cwd)}  # the script's output folder goes under tmp_path
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    return _report(proc)


def run_python_mode(script: Path, image: Path, cwd: Path, timeout: float = 120, **params) -> dict:
    """SCRIPT in a CPython process whose JVM fijibridge started without a session."""
    ij_jar()
    cmd = ["xvfb-run", "-a", sys.executable, str(HERE / "python_mode_standin.py"), str(script),
           str(image)] + [f"{k}={v}" for k, v in params.items()]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return _report(proc)
