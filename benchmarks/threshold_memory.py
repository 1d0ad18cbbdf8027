"""Peak memory of ``fijibridge threshold --stack`` relative to the file size, old vs new.

Writes a ~200 MB float32 stack, runs the command with this checkout and with the code of
``--old-ref`` (extracted with ``git archive`` into a temporary folder), each in a fresh
process, and records each peak RSS (``ru_maxrss`` of that process) and its ratio to the
file size, plus the baseline RSS of an import-only process, into
``benchmarks/results/threshold_memory.json``. Also checks that both give identical thresholds.

    python3 benchmarks/threshold_memory.py [--old-ref 1bf7e44] [--planes 50]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# VmHWM (peak RSS of this process image): ru_maxrss would carry the parent's peak over exec
_RUN = ("import sys, runpy; sys.argv = ['fijibridge'] + sys.argv[1:]\n"
        "try:\n    runpy.run_module('fijibridge.cli.main', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print('MAXRSS', hwm, file=sys.stderr)")


def _run(code_root, *args):
    # cwd: the code's own root, since ``python -c`` puts the working folder first on sys.path
    r = subprocess.run([sys.executable, "-c", _RUN, *map(str, args)], capture_output=True,
                       text=True, env={"PYTHONPATH": str(code_root), "PATH": "/usr/bin:/bin"},
                       check=False, cwd=code_root)
    rss = [int(line.split()[1]) for line in r.stderr.splitlines() if line.startswith("MAXRSS")]
    return r.stdout.strip(), rss[0] * 1024 if rss else None, r.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old-ref", default="1bf7e44")
    ap.add_argument("--planes", type=int, default=50)
    args = ap.parse_args()
    from fijibridge._core.tiff import write_tiff

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = tmp / "old"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.old_ref, "fijibridge"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        rng = np.random.default_rng(0)
        stack = tmp / "stack.tif"
        data = rng.normal(100, 20, (args.planes, 1024, 1024)).astype(np.float32)
        write_tiff(stack, data)
        del data
        size = stack.stat().st_size
        cmd = ("threshold", stack, "--stack", "--method", "all", "--json")
        out = {"file_bytes": size, "planes": args.planes, "shape_yx": [1024, 1024],
               "dtype": "float32", "old_ref": args.old_ref, "command": "fijibridge threshold "
               "STACK --stack --method all --json", "rss_note": "peak RSS of the whole process "
               "(VmHWM), python + numpy baseline included; baseline = '--version'"}
        for name, root in (("old", old), ("new", ROOT)):
            _, base, _ = _run(root, "--version")
            text, peak, err = _run(root, *cmd)
            if peak is None or not text:
                raise RuntimeError(f"{name}: {err[-500:]}")
            out[name] = {"peak_rss_bytes": peak, "baseline_rss_bytes": base,
                         "peak_over_file": round(peak / size, 3),
                         "above_baseline_over_file": round((peak - base) / size, 3),
                         "thresholds": json.loads(text)}
        out["identical_thresholds"] = out["old"]["thresholds"] == out["new"]["thresholds"]
        out["old_over_new_peak"] = round(out["old"]["peak_rss_bytes"] / out["new"]["peak_rss_bytes"], 2)
    for side in ("old", "new"):
        out[side].pop("thresholds") if out["identical_thresholds"] else None
    dest = ROOT / "benchmarks" / "results" / "threshold_memory.json"
    dest.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
