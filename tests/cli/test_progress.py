"""Progress of long work (issue 20 point 6): a bar on a terminal, one plain line per item in a
log (stderr not a terminal), nothing with ``--quiet``.

The commands run in a fresh process with stderr a pipe, as in a batch job's log."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fijibridge._core.progress import Progress, progress
from fijibridge._core.tiff import write_tiff

REPO = Path(__file__).resolve().parents[2]


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "fijibridge.cli.main", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.fixture(scope="module")
def three_images(tmp_path_factory):
    from fijibridge.data import load_sample

    folder = tmp_path_factory.mktemp("batch")
    dsb = np.asarray(load_sample("dsb2018_nuclei").data)
    for i, name in enumerate(("a.tif", "b.tif", "c.tif")):
        write_tiff(folder / name, np.ascontiguousarray(dsb[:128, 128 * i:128 * (i + 1)]))
    return folder


def test_segment_batch_logs_one_line_per_image_and_quiet_none(three_images, tmp_path):
    r = _cli("segment", three_images, "-o", "out", "--no-overlay", "--device", "cpu",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("segment:")]
    assert len(lines) == 3, r.stderr
    assert "\r" not in r.stderr  # not a bar redrawn into the log
    for k, (line, name) in enumerate(zip(lines, ("a.tif", "b.tif", "c.tif")), start=1):
        assert re.fullmatch(rf"segment: {k}/3 image \({re.escape(name)}\) \d+\.\d s", line), line
    assert len(r.stdout.strip().splitlines()) == 3  # the per-image results, on stdout
    quiet = _cli("segment", three_images, "-o", "q", "--no-overlay", "--device", "cpu", "--quiet",
                 cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == \
        ["a_labels.tif", "b_labels.tif", "c_labels.tif"]


def test_deconvolve_logs_iterations_and_quiet_none(tmp_path):
    rng = np.random.default_rng(0)
    write_tiff(tmp_path / "img.tif", rng.random((8, 32, 32), dtype=np.float32) + 1)
    psf = np.zeros((3, 5, 5), np.float32)
    psf[1, 1:4, 1:4] = 1
    psf[1, 2, 2] = 4
    write_tiff(tmp_path / "psf.tif", psf)
    for algorithm in ("RL 15", "LW 15 1"):  # spatial and (closed-form) Fourier-domain
        r = _cli("deconvolve", "img.tif", "--psf", "psf.tif", "--algorithm", algorithm,
                 "-o", "out.tif", "--device", "cpu", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        name = algorithm.split()[0]
        lines = [ln for ln in r.stderr.splitlines() if ln.startswith(f"{name}:")]
        # a line every 5 s and the last one: a fast run logs its first and last iteration
        assert 1 <= len(lines) <= 3 and lines[-1].startswith(f"{name}: 15/15 it"), r.stderr
        assert "\r" not in r.stderr
        q = _cli("deconvolve", "img.tif", "--psf", "psf.tif", "--algorithm", algorithm,
                 "-o", "q.tif", "--device", "cpu", "--quiet", cwd=tmp_path)
        assert q.returncode == 0 and q.stderr == "" and q.stdout == ""


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_terminal_gets_a_bar_and_a_log_gets_lines():
    tty = _Terminal()
    with Progress(4, desc="train", unit="step", stream=tty) as bar:
        for _ in range(4):
            bar.update(1, loss="0.5")
    assert "\r" in tty.getvalue() and "train" in tty.getvalue()  # tqdm redraws in place
    log = io.StringIO()
    with Progress(50, desc="train", unit="step", stream=log, every=3600) as bar:
        for _ in range(50):
            bar.update(1, loss="0.5")
    lines = log.getvalue().splitlines()
    # throttled: the first update, then nothing for an hour, then the last one
    assert [ln.split(" ")[1] for ln in lines] == ["1/50", "50/50"]
    assert all("loss=0.5" in ln for ln in lines)
    off = io.StringIO()
    assert list(progress(range(3), desc="x", stream=off, enabled=False)) == [0, 1, 2]
    assert off.getvalue() == ""
    with pytest.raises(ValueError, match="every"):
        Progress(3, every=-1)
