"""A plain Python script that used the imagej engine must end by itself.

JPype waits for the JVM's non-daemon threads at exit. ImageJ's shared thread pool
(``ij.util.ThreadUtil``, started by multi-threaded filters such as Gaussian Blur)
keeps idle non-daemon threads forever, so a script hung after printing its result
until the pool is shut down when the JVM stops.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import numpy as np
    from fijibridge.bridge import open_session

    s = open_session(engine="imagej")
    image = np.random.default_rng(0).random((32, 128, 128), dtype=np.float32)
    r = s.run_macro('run("Gaussian Blur...", "sigma=2 stack");', images={"a": image})
    print("blurred", r.images["a"].data.std() < image.std())
""")


def test_script_using_imagej_exits_by_itself(imagej, tmp_path):
    script = tmp_path / "uses_imagej.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # its own Xvfb
    try:
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                              timeout=120, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the script did not exit within 120 s after its work: {e.stdout!r}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "blurred True"
