"""Java heap over a 200-run macro loop in one session (issue 18): it must stay flat.

Each run creates a SIZE x SIZE 32-bit image, leaves it open and takes it back as an
array, as a batch over 200 images does. Java's used heap (``Runtime.totalMemory -
freeMemory`` after ``System.gc()``, a few rounds) is read after run 1 and after every
20th run. Target: within +40 MB of run 1 at every sample.

    python3 benchmarks/macro_heap.py [--runs 200] [--size 2048]  ->  benchmarks/results/macro_heap.json

Before the fix every run kept its image (ImageJ's per-thread temporary-image table,
one entry per macro thread): +16 MiB per 2048² run, 28 -> 308 MB over 15 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

OUT = Path(__file__).parent / "results" / "macro_heap.json"
LIMIT_MB = 40.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--output", type=Path, default=OUT)
    args = parser.parse_args()

    from scyjava import jimport

    from fijibridge._core.atomic import atomic_write_text
    from fijibridge.bridge import open_session

    session = open_session(engine="imagej")
    runtime = jimport("java.lang.Runtime").getRuntime()
    System = jimport("java.lang.System")

    def used_mb() -> float:
        for _ in range(3):
            System.gc()
            time.sleep(0.05)
        return (runtime.totalMemory() - runtime.freeMemory()) / 2**20

    code = ('#@ Integer size\nnewImage("big", "32-bit ramp", size, size, 1);\n'
            'print(getTitle());\n')
    samples = []
    t0 = time.perf_counter()
    for run in range(1, args.runs + 1):
        result = session.run_macro(code, args={"size": args.size})
        if result.images["big"].data.shape != (args.size, args.size):
            raise RuntimeError(f"run {run}: unexpected result {result.images}")
        del result
        if run == 1 or run % args.every == 0:
            samples.append({"run": run, "used_heap_mb": round(used_mb(), 2),
                            "seconds": round(time.perf_counter() - t0, 2)})
            print(samples[-1], flush=True)
    base = samples[0]["used_heap_mb"]
    growth = max(s["used_heap_mb"] for s in samples) - base
    report = {
        "what": "Java used heap over a macro loop; each run leaves a new float image open",
        "runs": args.runs, "image": f"{args.size}x{args.size} float32",
        "image_mb": args.size * args.size * 4 / 2**20,
        "samples": samples, "run1_mb": base, "max_growth_mb": round(growth, 2),
        "final_growth_mb": round(samples[-1]["used_heap_mb"] - base, 2),
        "limit_mb": LIMIT_MB, "pass": growth <= LIMIT_MB,
        "java_max_heap_mb": round(runtime.maxMemory() / 2**20, 1),
        "versions": session.versions(), "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.output, json.dumps(report, indent=2) + "\n")
    print(f"growth {growth:.1f} MB over {args.runs} runs (limit {LIMIT_MB} MB): "
          f"{'pass' if report['pass'] else 'FAIL'} -> {args.output}")
    os._exit(0)  # as the fijibridge command does: no JVM teardown after the work


if __name__ == "__main__":
    main()
