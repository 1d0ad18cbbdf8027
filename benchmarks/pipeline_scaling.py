"""Pipeline throughput: Dask with 1 and 2 workers against the sequential executor,
cold (fresh processes) and warm (JVMs started), and worker memory over a long batch.

A batch of ``--n`` synthetic nuclei images (files, as a lab's input; 512×512 by
default, ``--shape 128 128`` for small items whose per-run fixed costs weigh most) goes
through a pipeline with a real ImageJ macro step (rolling-ball background
subtraction in each worker's own JVM) and a native threshold + count.  Each repeat
measures, in this order (the order is the same in every repeat, so drift in the
machine's load falls on all of them alike):

* ``sequential``: a fresh process runs the batch twice; the first run is *cold*
  (Xvfb and the JVM start inside it), the second *warm*.
* ``dask_cold_W``: a fresh process runs the batch with ``executor="dask",
  workers=W``: cluster start, worker JVMs, batch, cluster close.
* ``dask_warm_W``: a cluster kept by this process (:func:`start_local_cluster`,
  JVMs started), warmed up by a run of ``--warmup`` items, then timed on the batch
  through ``scheduler=``.  The RSS of each worker process (its JVM included) is
  sampled throughout: start, middle, end and peak of the timed run.

Times exclude Python's imports and the input files' generation.  Speed-ups are
ratios of the best time of the repeats (and of the medians, ``*_median``), measured in
one run of this script; the load average is recorded before and after, since on a
shared machine the ratios are depressed by other work.  Writes
``benchmarks/results/pipeline_scaling.json``.

    python benchmarks/pipeline_scaling.py [--n 200] [--repeats 3] [--shape 512 512]
    python benchmarks/pipeline_scaling.py --shape 128 128 \
        --output benchmarks/results/pipeline_scaling_128.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
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

REPO = Path(__file__).resolve().parents[1]


def make_inputs(folder: Path, n: int, shape=(512, 512)):
    from fijibridge import write_tiff
    from fijibridge.synth import nuclei, simulate_microscope

    folder.mkdir(parents=True, exist_ok=True)
    base = []
    for i in range(8):  # 8 distinct images, repeated (generation is not what we measure)
        ph = nuclei(tuple(shape), ndim=2, rng=i)
        base.append((simulate_microscope(ph.image, spacing=ph.spacing, rng=i), ph.spacing))
    for i in range(n):
        img, sp = base[i % len(base)]
        write_tiff(folder / f"img{i:04d}.tif", img, spacing=sp)


class RssSampler(threading.Thread):
    """Samples the RSS of each of the given processes (the workers, JVMs included)."""

    def __init__(self, pids, period=0.25):
        super().__init__(daemon=True)
        self.pids = list(pids)
        self.period = period
        self.samples: dict[int, list[int]] = {p: [] for p in self.pids}
        self._halt = threading.Event()

    def run(self):
        import psutil

        procs = {p: psutil.Process(p) for p in self.pids}
        while not self._halt.is_set():
            for p, proc in procs.items():
                try:
                    self.samples[p].append(proc.memory_info().rss)
                except psutil.Error:
                    pass
            self._halt.wait(self.period)

    def stop(self) -> dict:
        self._halt.set()
        self.join()
        out = {}
        for p, rss in self.samples.items():
            if len(rss) < 3:
                continue
            k = len(rss)
            part = lambda a, b: float(np.median(rss[int(a * k):max(int(b * k), int(a * k) + 1)])) / 2**20  # noqa: E731
            out[str(p)] = {"start_mb": part(0.0, 0.1), "middle_mb": part(0.45, 0.55),
                           "end_mb": part(0.9, 1.0), "peak_mb": max(rss) / 2**20,
                           "samples": k}
            out[str(p)]["end_over_start"] = out[str(p)]["end_mb"] / out[str(p)]["start_mb"]
        return out


def _run(spec, inputs, out, **kw):
    from fijibridge.pipeline import run_pipeline

    t = time.perf_counter()
    s = run_pipeline(spec, output_dir=out, inputs=str(inputs), progress=False, **kw)
    seconds = time.perf_counter() - t
    if s.failures:
        raise RuntimeError(f"{len(s.failures)} failures, e.g. {s.failures[0]}")
    executor = json.loads(s.run_json.read_text())["executor"]
    _run.executor_seconds = executor.get("seconds")  # cluster start / close, if any
    shutil.rmtree(out, ignore_errors=True)  # 2000+ files a run: not left to the end
    return seconds


def child(args) -> None:
    """In a fresh process: the cold (and for sequential, warm) runs; JSON on stdout."""
    from fijibridge.pipeline import load_pipeline

    spec = load_pipeline(args.spec)
    tmp = Path(tempfile.mkdtemp(dir=args.tmp))
    if args.child == "sequential":
        out = {"cold": _run(spec, args.inputs, tmp / "cold"),
               "warm": _run(spec, args.inputs, tmp / "warm")}
    else:
        out = {"cold": _run(spec, args.inputs, tmp / "cold", executor="dask",
                            workers=args.workers[0]),
               "cluster_seconds": _run.executor_seconds}
    print("RESULT " + json.dumps(out), flush=True)
    sys.stdout.flush()
    os._exit(0)  # a JVM may run here: no interpreter teardown to measure or wait for


def fresh(kind, workers, spec_file, inputs, tmp) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # their own Xvfb
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, __file__, "--child", kind, "--workers", str(workers),
                           "--spec", str(spec_file), "--inputs", str(inputs), "--tmp", str(tmp)],
                          capture_output=True, text=True, env=env, timeout=3600)
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    if done.returncode != 0 or not line:
        raise RuntimeError(f"{kind} child failed ({done.returncode}): {done.stderr[-3000:]}")
    return json.loads(line[-1][7:])


def warm_run(spec, workers, inputs, warmup_inputs, tmp) -> tuple[float, dict]:
    from distributed import Client

    from fijibridge.pipeline._dask import start_local_cluster

    with start_local_cluster(workers, warm=True) as cluster:
        address = cluster.scheduler_address
        _run(spec, warmup_inputs, tmp / "warmup", executor="dask", scheduler=address)
        with Client(cluster) as client:
            pids = sorted(client.run(os.getpid).values())
        sampler = RssSampler(pids)
        sampler.start()
        seconds = _run(spec, inputs, tmp / "timed", executor="dask", scheduler=address)
        rss = sampler.stop()
    return seconds, rss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shape", type=int, nargs=2, default=[512, 512],
                        help="height and width of the images (default 512 512)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--warmup", type=int, default=40,
                        help="items of the warm-up run of a warm cluster")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" /
                                                 "pipeline_scaling.json"))
    parser.add_argument("--child", choices=["sequential", "dask"], help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    parser.add_argument("--inputs", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    from fijibridge.pipeline import load_pipeline

    os.environ.pop("DISPLAY", None)  # workers start their own Xvfb, as on a server
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "loadavg_before": list(os.getloadavg())},
              "n_images": args.n, "image_shape": list(args.shape), "repeats": args.repeats,
              "warmup_items": args.warmup, "seconds": {}}
    times: dict[str, list[float]] = {}
    rss: dict[str, list] = {}
    clusters: dict[str, list] = {}  # start / close seconds of the cold runs' clusters
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        make_inputs(tmp / "in", args.n, args.shape)
        make_inputs(tmp / "warmup", args.warmup, args.shape)
        spec_file = tmp / "scaling.yml"
        spec_file.write_text(PIPELINE.format(macro=REPO / "macros" /
                                             "pipeline_subtract_background.ijm"))
        spec = load_pipeline(spec_file)
        for r in range(args.repeats):
            run_tmp = tmp / f"r{r}"
            run_tmp.mkdir()
            seq = fresh("sequential", 1, spec_file, tmp / "in", run_tmp)
            times.setdefault("sequential_cold", []).append(seq["cold"])
            times.setdefault("sequential_warm", []).append(seq["warm"])
            for w in args.workers:
                cold = fresh("dask", w, spec_file, tmp / "in", run_tmp)
                times.setdefault(f"dask_cold_{w}", []).append(cold["cold"])
                clusters.setdefault(f"dask_cold_{w}", []).append(cold["cluster_seconds"])
                seconds, sample = warm_run(spec, w, tmp / "in", tmp / "warmup",
                                           run_tmp / f"warm{w}")
                times.setdefault(f"dask_warm_{w}", []).append(seconds)
                rss.setdefault(f"dask_warm_{w}", []).append(sample)
            print(f"repeat {r + 1}/{args.repeats}: " + ", ".join(
                f"{k} {v[-1]:.2f} s" for k, v in times.items()), flush=True)
    for k, v in times.items():
        result["seconds"][k] = {"best": min(v), "median": statistics.median(v), "all": v}
    best = {k: v["best"] for k, v in result["seconds"].items()}
    med = {k: v["median"] for k, v in result["seconds"].items()}
    result["items_per_s"] = {k: args.n / v for k, v in best.items()}

    def ratios(t, suffix=""):
        out = {}
        if "dask_warm_1" in t and "dask_warm_2" in t:
            out["speedup_2_vs_1" + suffix] = t["dask_warm_1"] / t["dask_warm_2"]
            out["speedup_2_vs_1_cold" + suffix] = t["dask_cold_1"] / t["dask_cold_2"]
        if "dask_cold_2" in t:
            out["speedup_2_vs_sequential_cold" + suffix] = t["sequential_cold"] / t["dask_cold_2"]
            out["speedup_2_vs_sequential_warm" + suffix] = t["sequential_warm"] / t["dask_warm_2"]
        if "dask_warm_1" in t:  # target: within 10 % of the sequential executor
            out["time_1_vs_sequential_warm" + suffix] = t["dask_warm_1"] / t["sequential_warm"]
            out["time_1_vs_sequential_cold" + suffix] = t["dask_cold_1"] / t["sequential_cold"]
        return out

    result.update(ratios(best))
    result.update(ratios(med, "_median"))
    result["cluster_seconds"] = clusters
    result["rss_per_worker"] = rss
    peaks = [w for runs in rss.values() for sample in runs for w in sample.values()]
    if peaks:
        result["rss_end_over_start_max"] = max(w["end_over_start"] for w in peaks)
        result["rss_peak_mb_max"] = max(w["peak_mb"] for w in peaks)
    result["machine"]["loadavg_after"] = list(os.getloadavg())
    from fijibridge._core.atomic import atomic_write_text

    atomic_write_text(args.output, json.dumps(result, indent=1))
    for k in sorted(result):
        if k.startswith(("speedup", "time_1")) and not k.endswith("_median"):
            print(f"{k}: {result[k]:.2f}")
    print(f"load average before {result['machine']['loadavg_before']}, after "
          f"{result['machine']['loadavg_after']}; wrote {args.output}")


if __name__ == "__main__":
    main()
