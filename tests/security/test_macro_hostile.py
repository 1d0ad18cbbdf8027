"""Macros that leak, fail quietly, or try to end the process (issue 18), on the real
ImageJ 1.53t (Debian's imagej, private Xvfb).

Each must end in a :class:`MacroError` (one line, naming the cause) and leave the
session usable; a 2048² image left open by every run must not grow Java's heap.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from fijibridge import MacroDialogError, MacroError

pytestmark = pytest.mark.imagej


def _used_heap_mb() -> float:
    """Java's used heap after a full collection (Runtime total - free), in MiB."""
    from scyjava import jimport

    runtime = jimport("java.lang.Runtime").getRuntime()
    System = jimport("java.lang.System")
    for _ in range(3):  # System.gc is a request; a few rounds settle the number
        System.gc()
        time.sleep(0.05)
    return (runtime.totalMemory() - runtime.freeMemory()) / 2**20


def test_images_left_open_do_not_grow_the_heap(imagej):
    """15 runs each leaving a 2048² float image (16 MiB) open: the old bridge kept every
    one of them (ImageJ's per-thread temp-image table), +20 MB per run, +280 MB in all."""
    code = 'newImage("big", "32-bit ramp", 2048, 2048, 1);\nprint(getTitle());'
    first = imagej.run_macro(code)
    assert first.images["big"].data.shape == (2048, 2048)
    del first
    base = _used_heap_mb()
    for _ in range(15):
        r = imagej.run_macro(code)
        assert list(r.images) == ["big"]
        del r
    growth = _used_heap_mb() - base
    assert growth < 60, f"Java heap grew by {growth:.0f} MB over 15 runs"
    assert imagej.run_macro('print(nImages);').log.strip() == "0"


def test_pushed_inputs_are_released(imagej):
    image = np.zeros((2048, 2048), np.float32)
    imagej.run_macro('print(getTitle());', images={"a": image})
    base = _used_heap_mb()
    for _ in range(8):
        imagej.run_macro('run("Add...", "value=1");', images={"a": image})
    assert _used_heap_mb() - base < 40


def test_images_of_a_macro_stopped_by_a_dialog_are_closed(imagej):
    """They came back in the next run's result (['leftover2', 'clean'])."""
    with pytest.raises(MacroDialogError):
        imagej.run_macro('newImage("leftover2", "8-bit", 16, 16, 1);\nwaitForUser("OK?");')
    r = imagej.run_macro('newImage("clean", "8-bit", 16, 16, 1);\nprint(nImages);')
    assert list(r.images) == ["clean"] and r.log.strip() == "1"


def test_images_of_a_failing_macro_are_closed(imagej):
    with pytest.raises(MacroError, match="Undefined variable"):
        imagej.run_macro('newImage("leftover", "8-bit", 16, 16, 1);\nx = nothing + 1;')
    assert imagej.run_macro('print(nImages);').log.strip() == "0"


def test_open_of_a_missing_file_is_an_error(imagej, tmp_path):
    """ImageJ logs "Opener: File not found" and goes on; the run returned success."""
    missing = tmp_path / "no_such_image.tif"
    code = '#@ String path\nopen(path);\nprint("went on");'
    with pytest.raises(MacroError, match="File not found") as info:
        imagej.run_macro(code, args={"path": str(missing)})
    text = str(info.value)
    assert missing.name in text and "\n" not in text and info.value.line == 2
    assert imagej.run_macro('print("usable");').log.strip() == "usable"


def test_eval_js_without_a_javascript_engine_is_an_error(imagej):
    from scyjava import jimport

    if jimport("javax.script.ScriptEngineManager")().getEngineByName("js") is not None:
        pytest.skip("this Java has a JavaScript engine: eval('js', …) works here")
    with pytest.raises(MacroError, match="JavaScript engine"):
        imagej.run_macro('x = eval("js", "1 + 1");\nprint("js says " + x);')
    assert imagej.run_macro('print("usable");').log.strip() == "usable"


def test_quit_is_refused_and_later_output_is_kept(imagej):
    """After run("Quit") every later macro's print() output was lost."""
    with pytest.raises(MacroError, match="Quit") as info:
        imagej.run_macro('print("before");\nrun("Quit");\nprint("after");')
    assert info.value.line == 2
    time.sleep(0.5)  # ImageJ's quit ran in a thread of its own: give it time to do harm
    assert imagej.run_macro('print("still here");').log.strip() == "still here"
    from scyjava import jimport

    assert jimport("ij.IJ").getInstance() is not None


def test_messages_and_plain_macros_are_still_fine(imagej):
    """The new checks do not turn informative messages into errors."""
    r = imagej.run_macro('showMessage("Note", "check the scale");\nprint("went on");')
    assert "went on" in r.log
    assert imagej.run_macro('newImage("a", "8-bit black", 8, 8, 1);\nrun("Invert");').images["a"].data.max() == 255


EXIT_SCRIPT = textwrap.dedent("""
    import sys
    from fijibridge import MacroError
    from fijibridge.bridge import open_session

    s = open_session(engine="imagej")
    print("started", flush=True)
    try:
        s.run_macro('print("x");\\ncall("java.lang.System.exit", "7");\\nprint("y");')
        print("returned")
    except MacroError as e:
        print("refused:", e)
    print("alive:", s.run_macro('print(6 * 7);').log.strip(), flush=True)
""")


def test_system_exit_in_a_macro_does_not_end_python(imagej, tmp_path):
    """The old bridge: the Python process ended at once with status 7, nothing on stderr.

    Run in a child process, so that a failure cannot take pytest down with it.
    """
    script = tmp_path / "exit_macro.py"
    script.write_text(EXIT_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=180, env=env)
    out = done.stdout
    assert done.returncode == 0, (done.returncode, out, done.stderr[-2000:])
    assert "refused:" in out and "System.exit(7)" in out and "alive: 42" in out
    assert "WARNING" not in done.stderr  # Java's SecurityManager notice is logged, not shown


def test_exit_guard_class_is_built_from_its_source(tmp_path):
    """The committed ExitGuard.class is what ExitGuard.java compiles to (javac --release 11)."""
    import shutil

    from fijibridge.bridge import _runs

    javac = shutil.which("javac")
    if javac is None:
        pytest.skip("no javac to rebuild ExitGuard.class")
    java_dir = _runs._JAVA_DIR
    subprocess.run([javac, "--release", "11", "-nowarn", "-d", str(tmp_path),
                    str(java_dir / "ExitGuard.java")], check=True, capture_output=True)
    built = (tmp_path / "fijibridge" / "ExitGuard.class").read_bytes()
    assert built == (java_dir / "fijibridge" / "ExitGuard.class").read_bytes(), \
        "rebuild it: javac --release 11 -d fijibridge/bridge/java fijibridge/bridge/java/ExitGuard.java"
