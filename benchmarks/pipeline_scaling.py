"""Pipeline throughput with 1 vs 2 Dask workers, and worker memory over a long batch.

A batch of ``--n`` small synthetic nuclei images (files, as a lab's input) goes
through a pipeline with a real ImageJ macro step (rolling-ball background
subtraction in each worker's own JVM) and a native threshold + count.  For each
worker count the run's throughput (items/s) is measured; the RSS of the worker
processes (JVM included: it lives in the worker process) is sampled throughout, and
reported at start, middle and end of the run.  Writes
``benchmarks/results/pipeline_scaling.json``.

    python benchmarks/pipeline_scaling.py [--n 200] [--workers 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

PIPELINE = """\
version: 1
name: scaling
steps:
  - id: background
    macro: {macro}
    params: {{rolling: 20.0, light: false}}
    inputs: {{image: input.image}}
    outputs: [image]
  - id: mask
    threshold: {{method: Otsu}}
    inputs: {{image: background.image}}
  - id: labels
    instances: {{method: connected}}
    inputs: {{mask: mask.mask}}
  - id: count
    count: {{}}
    inputs: {{labels: labels.labels}}
"""


def make_inputs(folder: Path, n: int):
    from fijibridge import write_tiff
    from fijibridge.synth import nuclei, simulate_microscope

    folder.mkdir(parents=True, exist_ok=True)
    base = []
    for i in range(8):  # 8 distinct images, repeated (generation is not what we measure)
        ph = nuclei((128, 128), ndim=2, rng=i)
        base.append((simulate_microscope(ph.image, spacing=ph.spacing, rng=i), ph.spacing))
    for i in range(n):
        img, sp = base[i % len(base)]
        write_tiff(folder / f"img{i:04d}.tif", img, spacing=sp)


class RssSampler(threading.Thread):
    """Samples the summed RSS of this process's descendants (the worker processes)."""

    def __init__(self, period=0.5):
        super().__init__(daemon=True)
        self.period = period
        self.samples: list[tuple[float, int, int]] = []
        self._halt = threading.Event()

    def run(self):
        import psutil

        me = psutil.Process()
        t0 = time.perf_counter()
        while not self._halt.is_set():
            rss, n = 0, 0
            for c in me.children(recursive=True):
                try:
                    rss += c.memory_info().rss
                    n += 1
                except psutil.Error:
                    pass
            self.samples.append((time.perf_counter() - t0, rss, n))
            self._halt.wait(self.period)

    def stop(self):
        self._halt.set()
        self.join()


def main(argv=None):
    from fijibridge.pipeline import load_pipeline, run_pipeline

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" /
                                                 "pipeline_scaling.json"))
    args = parser.parse_args(argv)
    repo = Path(__file__).resolve().parents[1]
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
              "n_images": args.n, "image_shape": [128, 128], "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_inputs(tmp / "in", args.n)
        p = tmp / "scaling.yml"
        p.write_text(PIPELINE.format(macro=repo / "macros" / "pipeline_subtract_background.ijm"))
        spec = load_pipeline(p)
        for w in args.workers:
            sampler = RssSampler()
            sampler.start()
            t = time.perf_counter()
            s = run_pipeline(spec, output_dir=tmp / f"out{w}", inputs=str(tmp / "in"),
                             executor="dask", workers=w, progress=False)
            elapsed = time.perf_counter() - t
            sampler.stop()
            busy = [x for x in sampler.samples if x[2] > 0]
            rss = [x[1] for x in busy]
            k = len(rss)
            pick = lambda a, b: float(np.median(rss[int(a * k):max(int(b * k), int(a * k) + 1)]))  # noqa: E731
            result["runs"][str(w)] = {
                "workers": w, "seconds": elapsed, "items_per_s": args.n / elapsed,
                "failures": len(s.failures),
                "rss_mb": {"start": pick(0.05, 0.15) / 2**20, "middle": pick(0.45, 0.55) / 2**20,
                           "end": pick(0.85, 0.95) / 2**20, "max": max(rss) / 2**20},
                "rss_samples": len(rss)}
            print(f"{w} worker(s): {args.n / elapsed:.2f} items/s, RSS start/middle/end "
                  f"{result['runs'][str(w)]['rss_mb']['start']:.0f}/"
                  f"{result['runs'][str(w)]['rss_mb']['middle']:.0f}/"
                  f"{result['runs'][str(w)]['rss_mb']['end']:.0f} MB, failures {len(s.failures)}")
    runs = result["runs"]
    if "1" in runs and "2" in runs:
        result["speedup_2_vs_1"] = runs["2"]["items_per_s"] / runs["1"]["items_per_s"]
        result["rss_growth_end_over_start"] = {w: r["rss_mb"]["end"] / r["rss_mb"]["start"]
                                               for w, r in runs.items()}
    from fijibridge._core.atomic import atomic_write_text

    atomic_write_text(args.output, json.dumps(result, indent=1))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
