"""Time each stage of the 3D main job (``pipelines/mito_classification.yml``).

Runs the pipeline (its built-in cohort of 3D two-channel OME-TIFF stacks, or
``--input`` stacks) and sums run.json's per-step timings into the stages of the
analysis: render (the synthetic cohort, absent with ``--input``), read (channels by
name from the file's stack), PSF, deconvolution, segmentation (nuclei, territories,
mitochondria), features, outputs (ROIs, overlays), classification and the optional
ImageJ macro step (when ImageJ is installed).  The machine's
load average and the CPU seconds of the run are recorded beside the times: on a
shared machine the seconds are only comparable within one run (``share_of_total``),
and ``cpu_s`` is what the job itself used.

Writes ``benchmarks/results/mito3d_stages.json``.

    python benchmarks/mito3d_stages.py [--profile small] [--workers 1] [--input DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: stage of each step kind of the pipeline (steps of other kinds count as "other")
STAGE_OF_KIND = {
    "synth": "render", "channel": "read", "psf": "psf", "deconvolve": "deconvolution",
    "threshold": "segmentation", "instances": "segmentation",
    "territories": "segmentation", "subtract_background": "segmentation",
    "sato": "segmentation", "tubeness": "segmentation", "frangi": "segmentation",
    "segment": "segmentation", "features": "features", "rois": "outputs",
    "overlay": "outputs", "classify": "classification", "macro": "imagej_macro",
}
STAGES = ("render", "read", "psf", "deconvolution", "segmentation", "features", "outputs",
          "classification", "imagej_macro", "other")


def stage_times(run: dict) -> dict:
    """Seconds per stage from a run.json: the sum of its steps' seconds (all items)."""
    out = dict.fromkeys(STAGES, 0.0)
    for step in run["timings"]["steps"].values():
        out[STAGE_OF_KIND.get(step["kind"], "other")] += float(step["seconds"])
    return out


def _cpu_seconds() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default=None, help="pipeline profile (e.g. small)")
    ap.add_argument("--input", default=None, help="stacks to analyse instead of the cohort")
    ap.add_argument("--workers", type=int, default=1,
                    help="worker processes (1: sequential)")
    ap.add_argument("--output", type=Path,
                    default=ROOT / "benchmarks" / "results" / "mito3d_stages.json")
    a = ap.parse_args(argv)

    from fijibridge._core.atomic import atomic_write_text
    from fijibridge.pipeline import load_pipeline, run_pipeline

    spec = load_pipeline(ROOT / "pipelines" / "mito_classification.yml", profile=a.profile)
    load_before = os.getloadavg()
    cpu_before = _cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="mito3d-bench-") as tmp:
        t0 = time.perf_counter()
        s = run_pipeline(spec, output_dir=tmp, inputs=[a.input] if a.input else None,
                         executor="processes" if a.workers > 1 else "sequential",
                         workers=a.workers, progress=False)
        wall = time.perf_counter() - t0
        run = json.loads(Path(s.run_json).read_text())
    load_after = os.getloadavg()
    cpu = _cpu_seconds() - cpu_before
    stages = stage_times(run)
    total = sum(stages.values())
    metrics = run["metrics"].get("classify", {})
    result = {
        "benchmark": "mito3d_stages", "profile": a.profile or "default",
        "input": a.input, "items": run["inputs"]["items"], "workers": a.workers,
        "wall_s": round(wall, 2), "steps_total_s": round(total, 2),
        # CPU seconds of this process and its workers: what the job costs whatever else
        # shares the machine (wall_s on an idle 2-core machine is about cpu_s / workers)
        "cpu_s": round(cpu, 2),
        "stages_s": {k: round(v, 2) for k, v in stages.items()},
        "share_of_total": {k: round(v / total, 3) if total else 0.0
                           for k, v in stages.items()},
        "per_item_s": round(total / max(run["inputs"]["items"], 1), 2),
        "accuracy": metrics.get("accuracy"),
        "metrics": metrics, "failures": len(run["failures"]),
        "loadavg_1m_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "machine": platform.machine(),
    }
    a.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(a.output, json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
