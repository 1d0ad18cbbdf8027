"""Speed and memory of native Richardson-Lucy (issue 3, "Speed and memory").

Workload: RL, 50 iterations, on a 256×256×64 float32 stack of spheres blurred by a 64×64×32
Gaussian-like PSF with Poisson noise. Measured in one run, reported as ratios:

* whole command ``fijibridge deconvolve`` (a new Python process: start, imports, TIFF
  read/write included) vs ``skimage.restoration.richardson_lucy`` (same iterations) — target ≥ 6×;
* the 50 RL iterations vs the time of their 200 FFTs (100 rfftn + 100 irfftn of that size,
  same threads, preallocated outputs) — target ≤ 1.3×;
* peak memory of the command — target ≤ 300 MB. Method: the child's peak resident set size
  (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` = Linux VmHWM), i.e. the whole process including
  the Python interpreter and torch's libraries; the baseline of a process that only imports
  torch is reported beside it.

Writes benchmarks/results/deconv_speed.json.  ``python benchmarks/deconv_speed.py``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def make_data(rng=0):
    rng = np.random.default_rng(rng)
    shape = (64, 256, 256)
    zz, yy, xx = np.indices(shape, dtype=np.float32)
    obj = np.full(shape, 2.0, np.float32)
    for _ in range(60):
        c = rng.uniform((4, 16, 16), (60, 240, 240))
        r = rng.uniform(3, 10)
        obj[(zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 < r * r] += rng.uniform(20, 100)
    pz, py, px = np.indices((32, 64, 64), dtype=np.float32)
    psf = np.exp(-((px - 32) ** 2 + (py - 32) ** 2) / (2 * 2.0 ** 2) - (pz - 16) ** 2 / (2 * 4.0 ** 2))
    psf = (psf / psf.sum()).astype(np.float32)
    from scipy.signal import fftconvolve

    blurred = np.clip(fftconvolve(obj, psf, mode="same"), 0, None)
    image = rng.poisson(blurred).astype(np.float32)
    return image, psf


def _peak_child_mb(cmd, env):
    """Run ``cmd`` in a fresh process via a tiny wrapper; return (seconds, peak RSS MB, rc)."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "rc = subprocess.call(sys.argv[1:]); dt = time.perf_counter() - t; "
               "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, rc)")
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True,
                         env=env, check=True)
    dt, mb, rc = out.stdout.split()[-3:]
    return float(dt), float(mb), int(rc)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ncores = len(os.sched_getaffinity(0))
    ap.add_argument("--threads", type=int, default=ncores, help=f"torch threads (default {ncores})")
    ap.add_argument("--num-iter", type=int, default=50)
    ap.add_argument("--out", default=str(HERE / "results" / "deconv_speed.json"))
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), FIJIBRIDGE_TORCH_THREADS=str(args.threads))
    env["PYTHONPATH"] = str(HERE.parent) + os.pathsep + env.get("PYTHONPATH", "")
    image, psf = make_data()
    result = {"machine": {"platform": platform.platform(), "cores": ncores,
                          "threads": args.threads, "torch": torch.__version__,
                          "loadavg_start": os.getloadavg()},
              "workload": {"image": list(image.shape), "psf": list(psf.shape),
                           "num_iter": args.num_iter, "algorithm": "RL"}}
    from fijibridge import write_tiff

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_tiff(tmp / "image.tif", image)
        write_tiff(tmp / "psf.tif", psf)
        cmd = [sys.executable, "-m", "fijibridge.cli.main", "deconvolve", str(tmp / "image.tif"),
               "--psf", str(tmp / "psf.tif"), "--algorithm", f"RL {args.num_iter}",
               "-o", str(tmp / "out.tif"), "--threads", str(args.threads)]
        t_cmd, peak_mb, rc = _peak_child_mb(cmd, env)
        if rc != 0:
            raise SystemExit(f"fijibridge deconvolve failed (rc {rc})")
        _, base_mb, _ = _peak_child_mb([sys.executable, "-c", "import torch, numpy, tifffile"], env)
        ours = __import__("tifffile").imread(tmp / "out.tif")

    # skimage, same run
    from skimage.restoration import richardson_lucy

    t = time.perf_counter()
    sk = richardson_lucy(image, psf, num_iter=args.num_iter, clip=False)
    t_sk = time.perf_counter() - t

    # RL iterations vs their four FFTs (in-process, same threads)
    import fijibridge.deconv._engine as engine
    from fijibridge.deconv._prepare import prepare_psf
    from fijibridge.deconv._registry import ALGORITHMS

    h = prepare_psf(psf, image.shape, 1.0)
    yt, ht = torch.as_tensor(image), torch.as_tensor(h)
    fft = engine._FFT(torch, image.shape, False)
    with torch.no_grad():
        engine._run_rl(torch, fft, yt, ht, {}, 1e-6, engine._Controller(
            torch, yt, name="RL", num_iter=2, constraint="no", residu=None, epsilon=1e-6,
            monitor=None, image_shape=image.shape, max_growth=None))  # warm-up
        t = time.perf_counter()
        H = fft.fwd(ht)
        ctrl = engine._Controller(torch, yt, name="RL", num_iter=args.num_iter, constraint="no",
                                  residu=None, epsilon=1e-6, monitor=None,
                                  image_shape=image.shape, max_growth=engine.MAX_GROWTH)
        engine._run_rl(torch, fft, yt, ht, {}, 1e-6, ctrl)
        t_rl = time.perf_counter() - t
        x = yt.clone()
        U = torch.empty_like(H)
        t = time.perf_counter()
        for _ in range(2 * args.num_iter):
            fft.fwd(x, out=U)
            fft.inv(U, out=x)
        t_fft = time.perf_counter() - t
    rel = float(np.linalg.norm(ours.astype(np.float64) - sk) / np.linalg.norm(sk))
    result["seconds"] = {"fijibridge_command": round(t_cmd, 3), "skimage_richardson_lucy": round(t_sk, 3),
                         "rl_iterations_in_process": round(t_rl, 3),
                         f"{4 * args.num_iter}_ffts": round(t_fft, 3)}
    result["ratios"] = {"skimage_over_command": round(t_sk / t_cmd, 2),
                        "rl_over_ffts": round(t_rl / t_fft, 3)}
    result["memory_mb"] = {"command_peak_rss": round(peak_mb, 1),
                           "import_torch_baseline_rss": round(base_mb, 1),
                           "deconvolution_increment": round(peak_mb - base_mb, 1),
                           "method": "getrusage(RUSAGE_CHILDREN).ru_maxrss of the child process "
                                     "(Linux VmHWM, whole process)"}
    result["targets"] = {"skimage_over_command>=6": t_sk / t_cmd >= 6,
                         "rl_over_ffts<=1.3": t_rl / t_fft <= 1.3,
                         "command_peak_rss<=300MB": peak_mb <= 300}
    result["agreement"] = {"relative_l2_vs_skimage": rel,
                           "note": "skimage pads differently (fftconvolve 'same', no periodic wrap)"}
    result["machine"]["loadavg_end"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from fijibridge._core.atomic import atomic_write_text

    atomic_write_text(out, json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
