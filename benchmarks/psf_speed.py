"""Time fijibridge's PSF models on every ``psfgen`` reference case against PSF Generator.

PSF Generator's ``seconds`` in the manifest is the wall time of the real plugin run
(JVM start included) on a 2-core machine; ours is measured in this process, best of
``--repeat`` runs (the first run includes scipy's import), plus one run in a fresh
Python process (``python -c``, start-up and imports included) for a like-for-like
comparison.  Writes ``benchmarks/results/psf_speed.json``; never asserts timings.

Usage::

    python benchmarks/psf_speed.py [--repeat 3] [--reference ../shared/reference]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference", type=Path,
                        default=Path(os.environ.get("FIJIBRIDGE_REFERENCE",
                                                    ROOT.parent / "shared" / "reference")))
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "psf_speed.json")
    args = parser.parse_args(argv)

    from fijibridge._core.tiff import read_tiff
    from fijibridge.psf import psf_from_config

    manifest = json.loads((args.reference / "manifest.json").read_text())
    rows = []
    for case in manifest["psfgen"]:
        config = args.reference / case["config"]
        times = []
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            psf = psf_from_config(config)
            times.append(time.perf_counter() - t0)
        code = "from fijibridge.psf import psf_from_config; psf_from_config(%r)" % str(config)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        process_s = time.perf_counter() - t0
        ref = read_tiff(args.reference / case["output"]).data.astype(np.float64)
        diff = float(np.abs(psf / psf.max() - ref / ref.max()).max())
        best = min(times)
        rows.append({
            "name": case["name"], "shape_zyx": case["shape_zyx"],
            "psfgenerator_s": case["seconds"],
            "fijibridge_s": round(best, 4),
            "fijibridge_process_s": round(process_s, 3),
            "speedup_in_process": round(case["seconds"] / best, 1),
            "speedup_process_vs_process": round(case["seconds"] / process_s, 2),
            "max_abs_diff": diff,
        })
        print(f"{case['name']:>18}: ours {best:7.3f} s (process {process_s:5.2f} s), "
              f"PSF Generator {case['seconds']:5.2f} s, x{case['seconds'] / best:6.1f}, "
              f"max|diff| {diff:.2e}")
    result = {
        "benchmark": "psf_speed",
        "about": "fijibridge.psf.psf_from_config vs PSF Generator 1.1.1.2 (manifest 'seconds', "
                 "JVM start included) on the psfgen reference cases; ratios = plugin / ours",
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "cpu_count": os.cpu_count(), "platform": platform.platform()},
        "repeat": args.repeat,
        "cases": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
