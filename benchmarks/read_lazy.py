"""Lazy reading of a ≥ 2 GB OME-TIFF and OME-Zarr: peak memory and speed of a max projection.

Writes a 2 GB uint16 Z stack (512 × 1400 × 1400) as OME-TIFF and OME-Zarr with
``fijibridge.write_image`` (streamed plane by plane from a dask array) into a
temporary folder, then in one fresh subprocess per case takes the max projection
over Z:

* ``fijibridge``: ``read_image(path)`` with the default memory budget lowered to 1 GB
  (so the file is read lazily, dask), ``.data.max(axis=0).compute()``; an OME-TIFF of
  uncompressed contiguous planes (what tifffile and ImageJ write) is read directly,
  in chunks of up to 16 planes × a band of rows (``fijibridge.io._common.lazy_contiguous``),
  other TIFFs through tifffile's zarr store;
* ``tifffile`` / ``zarr`` directly: the same projection over
  ``dask.array.from_zarr(tifffile.imread(path, aszarr=True))`` and
  ``dask.array.from_zarr(zarr.open(path/0))`` — what a user would write by hand.

Peak RSS is the subprocess's ``VmHWM`` (``/proc/self/status``): ``ru_maxrss`` keeps
the forking parent's peak across exec on Linux, which floored every case at this
script's own ~240 MB in earlier runs.  It includes Python, numpy and dask themselves:
``imports_peak_rss_mb`` is a subprocess that only imports what the fijibridge case
imports (``dask.array`` alone pulls in xarray, pandas and scipy.sparse when they are
installed).  Speed is ``baseline_s / fijibridge_s`` (≥ 0.9 wanted; above 1 means
fijibridge is faster), best of ``--repeat`` runs, files in the page cache for all
cases alike.
Results go to ``benchmarks/results/read_lazy.json``; the data are deleted afterwards.

    python benchmarks/read_lazy.py [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHAPE = (512, 1400, 1400)  # Z Y X, uint16: 2.007e9 bytes

CASES = {
    "fijibridge": """
import os; os.environ["FIJIBRIDGE_MAX_MEMORY"] = "1G"
from fijibridge import read_image
img = read_image(PATH)
assert img.is_lazy
out = img.data.max(axis=0).compute()
""",
    "tifffile": """
import tifffile, zarr, dask.array as da
arr = da.from_zarr(zarr.open(tifffile.imread(PATH, aszarr=True), mode="r"))
out = arr.max(axis=0).compute()
""",
    "imports": """
import numpy as np, dask.array, zarr, tifffile
from fijibridge import read_image
out = np.zeros(1)
""",
    "zarr": """
import zarr, dask.array as da
arr = da.from_zarr(zarr.open_array(PATH + "/0", mode="r"))
out = arr.max(axis=0).compute()
""",
}

RUNNER = """
import resource, time, json, sys
PATH = sys.argv[1]
t0 = time.perf_counter()
{body}
dt = time.perf_counter() - t0
def peak_mb():
    try:  # this process image's own high-water mark (ru_maxrss keeps the parent's across exec)
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({{"seconds": dt, "peak_rss_mb": peak_mb(),
                  "checksum": int(out.astype("uint64").sum()), "shape": list(out.shape)}}))
"""


def make_data(folder: Path) -> dict:
    import dask.array as da
    import numpy as np

    from fijibridge import Image, write_image

    def block(block_info=None):
        (z0, z1), (y0, y1), (x0, x1) = block_info[None]["array-location"]
        z = np.arange(z0, z1, dtype=np.uint32)[:, None, None]
        y = np.arange(y0, y1, dtype=np.uint32)[None, :, None]
        x = np.arange(x0, x1, dtype=np.uint32)[None, None, :]
        return ((z * 7 + y * 3 + x * 5) % 60000).astype(np.uint16)

    data = da.map_blocks(block, chunks=((1,) * SHAPE[0], (SHAPE[1],), (SHAPE[2],)),
                         dtype=np.uint16)
    image = Image(data, axes="ZYX", spacing=(0.25, 0.0655, 0.0655))
    paths = {}
    for name, fname in (("ome-tiff", "big.ome.tif"), ("ome-zarr", "big.zarr")):
        t0 = time.perf_counter()
        paths[name] = write_image(folder / fname, image)
        print(f"wrote {fname} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return paths


def run_case(case: str, path: Path) -> dict:
    code = RUNNER.format(body=CASES[case])
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{case} on {path}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="folder to write into and keep (default: a temp dir, "
                                       "deleted)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "read_lazy.json"))
    args = parser.parse_args(argv)
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fb-read-lazy-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        paths = make_data(folder)
        sizes = {k: sum(f.stat().st_size for f in ([p] if p.is_file() else p.rglob("*"))
                        if f.is_file()) for k, p in paths.items()}
        results = {}
        for fmt, baseline in (("ome-tiff", "tifffile"), ("ome-zarr", "zarr")):
            runs = {"fijibridge": [], baseline: []}
            for _ in range(args.repeat):  # alternate, so both see the same page cache
                for case in runs:
                    runs[case].append(run_case(case, paths[fmt]))
            best = {c: min(r["seconds"] for r in rs) for c, rs in runs.items()}
            peak = {c: max(r["peak_rss_mb"] for r in rs) for c, rs in runs.items()}
            same = len({r["checksum"] for rs in runs.values() for r in rs}) == 1
            results[fmt] = {
                "file_bytes": sizes[fmt],
                "fijibridge_s": round(best["fijibridge"], 3),
                f"{baseline}_s": round(best[baseline], 3),
                "speed_ratio": round(best[baseline] / best["fijibridge"], 3),
                "fijibridge_peak_rss_mb": round(peak["fijibridge"], 1),
                f"{baseline}_peak_rss_mb": round(peak[baseline], 1),
                "same_result": same,
                "peak_rss_ok": peak["fijibridge"] <= 300,
                "speed_ok": best[baseline] / best["fijibridge"] >= 0.9,
                "all_seconds": {c: [round(r["seconds"], 3) for r in rs] for c, rs in runs.items()},
            }
            print(fmt, json.dumps(results[fmt]), file=sys.stderr)
        imports = run_case("imports", paths["ome-tiff"])
        import dask
        import tifffile
        import zarr

        report = {
            "benchmark": "read_lazy",
            "shape_zyx": list(SHAPE), "dtype": "uint16",
            "data_bytes": int(np.prod(SHAPE)) * 2,
            "repeat": args.repeat,
            "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count(),
                        "platform": platform.platform()},
            "versions": {"tifffile": tifffile.__version__, "zarr": zarr.__version__,
                         "dask": dask.__version__, "numpy": np.__version__},
            "imports_peak_rss_mb": round(imports["peak_rss_mb"], 1),
            "results": results,
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
