"""Runner: resume after kill -9, failure isolation, two Dask workers on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from fijibridge.pipeline import load_pipeline, run_pipeline

STEPS_MODULE = '''
import time
import numpy as np

def slow_blur(image, *, seconds=0.0, fail_on=None, meta=None):
    """Gaussian blur that takes a while (and fails on one chosen sample)."""
    from scipy import ndimage as ndi
    if fail_on is not None and meta["sample"] == fail_on:
        raise RuntimeError(f"broken sample {fail_on}")
    time.sleep(seconds)
    return ndi.gaussian_filter(np.asarray(image, np.float32), 1.0)
'''

PIPELINE = """\
version: 1
name: small
config: {n: 6, seconds: 0.0, fail_on: null}
items: {source: gen}
steps:
  - id: gen
    synth: {kind: nuclei, n: "${n}", shape: [96, 96], seed: 3}
  - id: blur
    python: pl_test_steps:slow_blur
    params: {seconds: "${seconds}", fail_on: "${fail_on}"}
    inputs: {image: gen.image}
    outputs: [image]
  - id: mask
    threshold: {method: Otsu}
    inputs: {image: blur.image}
  - id: labels
    instances: {method: connected}
    inputs: {mask: mask.mask}
  - id: count
    count: {}
    inputs: {labels: labels.labels, image: gen.image}
  - id: overlay
    overlay: {}
    inputs: {image: blur.image, labels: labels.labels}
  - id: counts
    summarize: {}
    inputs: {table: count.summary}
"""


@pytest.fixture
def pipeline(tmp_path, monkeypatch):
    mod = tmp_path / "mods"
    mod.mkdir()
    (mod / "pl_test_steps.py").write_text(STEPS_MODULE)
    monkeypatch.syspath_prepend(str(mod))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(mod), os.environ.get("PYTHONPATH", "")]))
    p = tmp_path / "small.yml"
    p.write_text(PIPELINE)
    return p


def outputs(folder: Path) -> dict[str, bytes]:
    """Every output file (not run.json / report.html, which carry timings)."""
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*"))
            if f.is_file() and f.name not in ("run.json", "report.html")
            and not f.name.endswith(".done.json")}


def test_resume_after_sigkill_equals_clean_run(pipeline, tmp_path):
    # Deterministic kill point, no timing: with PL_TEST_HOLD_FROM=2 the blur of samples
    # 2.. blocks for good, so exactly samples 0 and 1 can finish before the kill.
    import importlib

    (pipeline.parent / "mods" / "pl_hold_steps.py").write_text(textwrap.dedent('''
        import os
        import threading

        import numpy as np


        def held_blur(image, *, seconds=0.0, fail_on=None, meta=None):
            """slow_blur that, when told by the environment, never returns."""
            from scipy import ndimage as ndi
            hold_from = os.environ.get("PL_TEST_HOLD_FROM")
            if hold_from is not None and meta["sample"] >= int(hold_from):
                threading.Event().wait()  # held here until the process is killed
            return ndi.gaussian_filter(np.asarray(image, np.float32), 1.0)
        '''))
    importlib.invalidate_caches()
    held = pipeline.parent / "held.yml"
    held.write_text(pipeline.read_text().replace("pl_test_steps:slow_blur",
                                                 "pl_hold_steps:held_blur"))
    clean = run_pipeline(load_pipeline(held), output_dir=tmp_path / "clean", progress=False)
    assert clean.ok
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "fijibridge.cli.main", "run", str(held), "--output-dir",
           str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PL_TEST_HOLD_FROM": "2"})
    # bounded wait for the two blurs that can finish; a third can never appear
    deadline = time.monotonic() + 120
    while (time.monotonic() < deadline and proc.poll() is None
           and len(list((out / "blur").glob("*.done.json"))) < 2):
        time.sleep(0.05)
    assert proc.poll() is None, "the held run ended on its own"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list((out / "blur").glob("*.done.json")))
    assert done_before == 2, "the run was not held at sample 2"
    assert not (out / "run.json").exists()
    # nothing half-written under a real name: every TIFF there reads
    from fijibridge import read_tiff
    for f in out.rglob("*.tif"):
        if not f.name.startswith("."):
            read_tiff(f)
    r = subprocess.run(cmd[:-1] + ["--resume", "--no-progress"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["timings"]["steps"]["blur"]["resumed"] == done_before
    assert outputs(out) == outputs(tmp_path / "clean")  # byte for byte


def test_one_failing_item_does_not_stop_the_others(pipeline, tmp_path):
    from fijibridge.cli.main import main

    rc = main(["run", str(pipeline), "--output-dir", str(tmp_path / "o"), "--set", "fail_on=2",
               "--no-progress"])
    assert rc == 1
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert [(f["step"], f["item"]) for f in run["failures"]] == [("blur", "nuclei002")]
    assert "broken sample 2" in run["failures"][0]["error"]
    assert run["timings"]["steps"]["count"]["ok"] == 5
    assert run["timings"]["steps"]["count"]["skipped"] == 1
    import pandas as pd
    table = pd.read_csv(tmp_path / "o" / "counts" / "table.csv")
    assert list(table["item"]) == [f"nuclei00{i}" for i in (0, 1, 3, 4, 5)]
    assert "broken sample 2" in (tmp_path / "o" / "report.html").read_text()


def test_resume_reruns_changed_parameters(pipeline, tmp_path):
    out = tmp_path / "o"
    run_pipeline(load_pipeline(pipeline), output_dir=out, progress=False)
    s = run_pipeline(load_pipeline(pipeline), output_dir=out, progress=False, resume=True)
    run = json.loads(s.run_json.read_text())
    assert run["timings"]["steps"]["mask"]["resumed"] == 6
    spec = load_pipeline(pipeline)
    spec.step("mask").params["method"] = "Li"
    s = run_pipeline(spec, output_dir=out, progress=False, resume=True)
    steps = json.loads(s.run_json.read_text())["timings"]["steps"]
    assert steps["blur"]["resumed"] == 6 and steps["mask"]["ok"] == 6


def test_two_dask_workers_on_loopback(pipeline, tmp_path):
    pytest.importorskip("distributed")
    seq = run_pipeline(load_pipeline(pipeline), output_dir=tmp_path / "seq", progress=False)
    spec = load_pipeline(pipeline, overrides={"seconds": 0.3})
    dsk = run_pipeline(spec, output_dir=tmp_path / "dask", executor="dask", workers=2,
                       progress=False)
    assert seq.ok and dsk.ok
    run = json.loads(dsk.run_json.read_text())
    assert len(run["executor"]["worker_pids"]) == 2
    assert os.getpid() not in run["executor"]["worker_pids"]
    assert outputs(tmp_path / "dask") == outputs(tmp_path / "seq")


def test_processes_executor_and_input_files(pipeline, tmp_path):
    seq = run_pipeline(load_pipeline(pipeline), output_dir=tmp_path / "seq", progress=False)
    # the synthetic images as real input files, replacing the items source
    files = tmp_path / "files"
    files.mkdir()
    for f in (tmp_path / "seq" / "gen").glob("*.image.tif"):
        (files / f.name.replace(".image", "")).write_bytes(f.read_bytes())
    s = run_pipeline(load_pipeline(pipeline), output_dir=tmp_path / "files_out",
                     inputs=str(files), executor="processes", workers=2, progress=False)
    assert s.ok, s.failures
    run = json.loads(s.run_json.read_text())
    assert run["skipped_steps"] == ["gen"] and len(run["inputs"]["hashes"]) == 6
    a = (tmp_path / "seq" / "mask" / "nuclei000.mask.tif").read_bytes()
    b = (tmp_path / "files_out" / "mask" / "nuclei000.mask.tif").read_bytes()
    assert a == b


def test_progress_in_a_log_is_one_line_per_item(pipeline, tmp_path):
    """Without a terminal (a batch job's log) the run's progress is one plain line per item,
    naming it and the step that failed there; no carriage-return redraws; --quiet: none."""
    cmd = [sys.executable, "-m", "fijibridge.cli.main", "run", str(pipeline), "--output-dir",
           str(tmp_path / "o"), "--set", "fail_on=2"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "\r" not in r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("small: gen, blur, mask")]
    assert len(lines) == 6, r.stderr[-2000:]
    assert [x.split(" item (")[0].split()[-1] for x in lines] == [f"{i}/6" for i in range(1, 7)]
    named = {x.split("(")[1].split(")")[0]: x for x in lines}
    assert sorted(named) == [f"nuclei00{i}" for i in range(6)]
    assert "failed=blur" in named["nuclei002"]
    assert all("failed=" not in x for k, x in named.items() if k != "nuclei002")
    q = subprocess.run(cmd[:-4] + ["--output-dir", str(tmp_path / "q"), "--quiet"],
                       capture_output=True, text=True, timeout=600)
    assert q.returncode == 0, q.stderr[-2000:]
    assert not [x for x in q.stderr.splitlines() if x.startswith("small:")]
