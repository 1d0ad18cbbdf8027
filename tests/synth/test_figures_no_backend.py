"""Library figures leave matplotlib's global backend alone (issue 19, point 5)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_matplotlib_use_in_the_package():
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "fijibridge").rglob("*.py")
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if re.search(r"matplotlib\.use\(|pyplot", line) and not line.lstrip().startswith(
                ("#", '"""', "``")) and "figures.py" not in p.name]
    assert not hits, hits


def test_plots_do_not_touch_pyplot_or_the_backend(tmp_path):
    code = (
        "import matplotlib, sys\n"
        "before = matplotlib.rcParams['backend']\n"
        "from fijibridge.synth.gan.training import _plot_losses\n"
        f"_plot_losses({str(tmp_path / 'l.png')!r}, {{'step': [1, 2], 'g': [1.0, 0.5]}})\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "assert matplotlib.rcParams['backend'] == before, matplotlib.rcParams['backend']\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="svg")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "l.png").read_bytes()[:4] == b"\x89PNG"
