"""Timing helper shared by the benchmark scripts (run as ``python benchmarks/<name>.py``,
so this folder is on ``sys.path``)."""

from __future__ import annotations

import time


def timings(fn, repeat):
    """``(seconds of each of repeat calls, result of the last call)``."""
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return times, out


def best_of(fn, repeat):
    """``(best seconds over repeat calls, result of the last call)``."""
    times, out = timings(fn, repeat)
    return min(times), out


def cpu_model() -> str:
    """The processor's model name (Linux ``/proc/cpuinfo``), or ``platform.processor()``:
    ratios to a peer measured in the same run travel between machines better than seconds,
    but not perfectly (cache sizes shift the balance of transforms and element-wise work)."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
