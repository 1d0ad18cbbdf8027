"""``benchmarks/gpu.py`` keeps working where there is no GPU: ``--device cpu --small`` in a
fresh process, within 60 s (~25 s measured on 2 shared cores at load 8), writes the JSON with
every section, and the DL2 parity numbers it reports are within the tolerances of
``tests/deconv/test_parity.py`` (1e-4 relative L2; A_FISTA20 5e-4, DL2's documented
threshold-sign defect)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory, reference_dir):
    out = tmp_path_factory.mktemp("gpu_bench") / "gpu.json"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               FIJIBRIDGE_REFERENCE=str(reference_dir))
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--device", "cpu",
                           "--small", "--threads", "1", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_gpu_benchmark_json_has_every_section(cpu_run):
    assert {"machine", "settings", "rl", "dl2_parity", "unet_inference", "training",
            "targets"} <= set(cpu_run)
    assert cpu_run["complete"] is True and "errors" not in cpu_run
    assert cpu_run["machine"]["device"] == "cpu" and cpu_run["settings"]["small"] is True
    rl = cpu_run["rl"]
    assert rl["transforms"] == 1 + 4 * rl["num_iter"]
    assert rl["seconds"] > 0 and rl["fft_bound_seconds"] > 0
    assert rl["over_fft_bound"] == pytest.approx(rl["seconds"] / rl["fft_bound_seconds"], rel=1e-2)
    assert rl["memory"]["peak_mb"] > 0
    for name in ("unet2d_nuclei2d", "unet3d"):
        assert cpu_run["unet_inference"][name]["seconds"] > 0
    for name in ("unet2d", "pix2pix", "vox2vox"):
        entry = cpu_run["training"][name]
        assert entry["steps_per_second"] > 0 and entry["memory"]["peak_mb"] > 0


def test_gpu_benchmark_parity_within_stated_tolerances(cpu_run):
    parity = cpu_run["dl2_parity"]
    algorithms = {e["algorithm"].split()[0] for e in parity.values()}
    assert algorithms >= {"NIF", "RIF", "TRIF", "RL", "RLTV", "LW", "NNLS", "BVLS", "VC", "TM",
                          "ICTM", "ISTA", "FISTA", "CONV"}
    for name, e in parity.items():
        tol = 5e-4 if name == "A_FISTA20" else 1e-4
        assert e["tolerance"] == tol, name
        assert e["rel_l2"] <= tol, (name, e["rel_l2"])
        assert e["ok"] is True
    assert cpu_run["targets"]["dl2_parity_all_within_tolerance"] is True


def test_a_failing_section_is_recorded_and_the_others_still_run(tmp_path):
    """A section that fails (here: no DL2 reference where --reference points) is written to
    the JSON under ``errors``; the sections after it still run; the exit status says so."""
    out = tmp_path / "gpu.json"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu.py"), "--device", "cpu",
                           "--small", "--threads", "1", "--skip", "training",
                           "--reference", str(tmp_path / "nowhere"), "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1 and "sections failed: dl2_parity" in proc.stderr
    result = json.loads(out.read_text())
    assert result["complete"] is True and set(result["errors"]) == {"dl2_parity"}
    assert "manifest.json" in result["errors"]["dl2_parity"]
    assert result["rl"]["seconds"] > 0 and result["unet_inference"]["unet3d"]["seconds"] > 0
    assert "dl2_parity" not in result and "training" not in result


def test_prepared_device_run_works_in_a_dry_run(tmp_path, reference_dir):
    """benchmarks/device_check.sh, the one prepared run for a lent GPU machine, from another
    folder with DRY_RUN=1 (the same steps on the CPU, small): its gpu tests collect (and skip
    without CUDA), the benchmark writes its JSON with the DL2 cases of FIJIBRIDGE_REFERENCE,
    and every log lands in $OUT; without DRY_RUN and without a GPU it stops at once (exit 3)."""
    out = tmp_path / "out"
    env = dict(os.environ, OUT=str(out), PYTHON=sys.executable, DRY_RUN="1",
               FIJIBRIDGE_REFERENCE=str(reference_dir))
    script = REPO / "benchmarks" / "device_check.sh"
    proc = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert {"machine.txt", "gpu_tests.log", "gpu_tests.xml", "gpu_bench.log",
            "gpu_cpu_small.json"} <= {p.name for p in out.iterdir()}
    assert "skipped" in (out / "gpu_tests.log").read_text()
    result = json.loads((out / "gpu_cpu_small.json").read_text())
    assert result["targets"]["dl2_parity_all_within_tolerance"] is True
    assert len(result["dl2_parity"]) >= 14
    import torch

    if not torch.cuda.is_available():
        env.pop("DRY_RUN")
        stop = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env,
                              timeout=60, cwd=tmp_path)
        assert stop.returncode == 3 and "no CUDA device" in stop.stderr
