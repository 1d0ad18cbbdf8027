"""Speed and memory of native Richardson-Lucy (issue 3, "Speed and memory").

Workload: RL, 50 iterations, on a 256×256×64 float32 stack of spheres blurred by a 64×64×32
Gaussian-like PSF with Poisson noise. Measured in one run (best of ``--repeat``), reported as
ratios:

* whole command ``fijibridge deconvolve`` (a new Python process: start, imports, TIFF
  read/write included) vs ``skimage.restoration.richardson_lucy`` (same iterations) — target ≥ 6×;
* the 50 RL iterations of the backend the command uses (numpy + scipy.fft on the CPU) vs the
  time of their 200 FFTs (100 rfftn + 100 irfftn of that size, same library and threads),
  measured interleaved — target ≤ 1.3×; the torch backend's ratio is reported beside it;
* peak memory of the command — target ≤ 300 MB. Method: the child's peak resident set size
  (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` = Linux VmHWM), i.e. the whole process including
  the Python interpreter and its libraries; beside it the peak of a process that only imports
  what the command imports (the baseline) and of one that imports torch.

The machine's load average at the start and end is recorded: on a shared machine with a load
above the core count the threads compete with other jobs and every timing is noisy.

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
from _timing import best_of, timings

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


def _child(cmd, env):
    """Run ``cmd`` in a fresh process via a tiny wrapper; return (wall seconds, CPU seconds
    (user + system), peak RSS MB, rc)."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "rc = subprocess.call(sys.argv[1:]); dt = time.perf_counter() - t; "
               "r = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "print(dt, r.ru_utime + r.ru_stime, r.ru_maxrss / 1024, rc)")
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True,
                         env=env, check=True)
    dt, cpu, mb, rc = out.stdout.split()[-4:]
    return float(dt), float(cpu), float(mb), int(rc)


def _numpy_iterations(image, h, num_iter, threads):
    """In-process: the numpy backend's RL iterations (OTF included) vs their 4 FFTs per iteration
    (same scipy.fft, same workers). Returns (rl_seconds, fft_seconds)."""
    import fijibridge.deconv._engine as engine
    import fijibridge.deconv._engine_numpy as npe

    ops = npe._Ops(image.shape, threads)

    def rl():
        ctrl = engine._Controller(None, image, name="RL", num_iter=num_iter, constraint="no",
                                  residu=None, epsilon=1e-6, monitor=None,
                                  image_shape=image.shape, max_growth=engine.MAX_GROWTH, ops=ops)
        return npe._run_rl(ops, image, h, {}, 1e-6, ctrl)

    def ffts():
        x = image
        for _ in range(2 * num_iter):
            x = ops.inv(ops.fwd(x))
        return x
    return rl, ffts, ops


def _torch_iterations(image, h, num_iter, threads):
    import torch

    import fijibridge.deconv._engine as engine

    torch.set_num_threads(threads)
    yt, ht = torch.as_tensor(image), torch.as_tensor(h)
    fft = engine._FFT(torch, image.shape, False)

    def rl():
        with torch.no_grad():
            ctrl = engine._Controller(torch, yt, name="RL", num_iter=num_iter, constraint="no",
                                      residu=None, epsilon=1e-6, monitor=None,
                                      image_shape=image.shape, max_growth=engine.MAX_GROWTH)
            return engine._run_rl(torch, fft, yt, ht, {}, 1e-6, ctrl)

    def ffts():
        with torch.no_grad():
            x = yt.clone()
            U = fft.fwd(x)
            for _ in range(2 * num_iter):
                fft.fwd(x, out=U)
                fft.inv(U, out=x)
    return rl, ffts


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ncores = len(os.sched_getaffinity(0))
    ap.add_argument("--threads", type=int, default=ncores, help=f"CPU threads (default {ncores})")
    ap.add_argument("--num-iter", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3, help="best of N for every timing (default 3)")
    ap.add_argument("--skimage-repeat", type=int, default=2, help="best of N for skimage (default 2)")
    ap.add_argument("--no-torch", action="store_true",
                    help="skip the in-process torch backend timings (reference only)")
    ap.add_argument("--out", default=str(HERE / "results" / "deconv_speed.json"))
    args = ap.parse_args()
    load_start = os.getloadavg()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    env["PYTHONPATH"] = str(HERE.parent) + os.pathsep + env.get("PYTHONPATH", "")
    image, psf = make_data()
    import scipy

    result = {"machine": {"platform": platform.platform(), "cores": ncores,
                          "threads": args.threads, "numpy": np.__version__,
                          "scipy": scipy.__version__, "loadavg_start": load_start,
                          "note": "loadavg is the 1/5/15-minute run-queue length; above the "
                                  "core count other jobs share the CPU and all timings are noisy"},
              "workload": {"image": list(image.shape), "psf": list(psf.shape),
                           "num_iter": args.num_iter, "algorithm": "RL", "repeat": args.repeat}}
    from fijibridge import write_tiff

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_tiff(tmp / "image.tif", image)
        write_tiff(tmp / "psf.tif", psf)
        cmd = [sys.executable, "-m", "fijibridge.cli.main", "deconvolve", str(tmp / "image.tif"),
               "--psf", str(tmp / "psf.tif"), "--algorithm", f"RL {args.num_iter}",
               "-o", str(tmp / "out.tif"), "--threads", str(args.threads)]
        runs = []
        for _ in range(args.repeat):
            t_one, cpu_one, mb_one, rc = _child(cmd, env)
            if rc != 0:
                raise SystemExit(f"fijibridge deconvolve failed (rc {rc})")
            runs.append((t_one, cpu_one, mb_one))
        t_cmd = min(r[0] for r in runs)
        cpu_cmd = min(r[1] for r in runs)
        peak_mb = max(r[2] for r in runs)
        # what the command imports before it touches data (numpy path: no torch)
        imports = ("import numpy, tifffile, scipy.fft, fijibridge.cli.main, fijibridge.cli.deconvolve, "
                   "fijibridge.deconv.core, fijibridge.deconv._engine_numpy")
        starts = [_child([sys.executable, "-c", imports], env) for _ in range(args.repeat)]
        t_start, base_mb = min(r[0] for r in starts), max(r[2] for r in starts)
        _, _, torch_mb, _ = _child([sys.executable, "-c", "import torch, numpy, tifffile"], env)
        ours = __import__("tifffile").imread(tmp / "out.tif")

    # skimage, same run
    from skimage.restoration import richardson_lucy

    sk_cpu = []

    def skimage_rl():
        c = time.process_time()
        r = richardson_lucy(image, psf, num_iter=args.num_iter, clip=False)
        sk_cpu.append(time.process_time() - c)
        return r

    sk_times, sk = timings(skimage_rl, args.skimage_repeat)
    t_sk = min(sk_times)

    # RL iterations vs their four FFTs (in-process, same threads, same FFT library)
    from fijibridge.deconv._prepare import prepare_psf

    h = prepare_psf(psf, image.shape, 1.0)
    rl, ffts, rl_ops = _numpy_iterations(image, h, args.num_iter, args.threads)
    try:
        # interleaved so that a load spike hits both alike
        t_rl_all, t_fft_all = [], []
        for _ in range(args.repeat):
            t_rl_all.append(best_of(rl, 1)[0])
            t_fft_all.append(best_of(ffts, 1)[0])
    finally:
        rl_ops.close()
    t_rl, t_fft = min(t_rl_all), min(t_fft_all)
    torch_part = None
    if not args.no_torch:
        import torch

        trl, tffts = _torch_iterations(image, h, args.num_iter, args.threads)
        trl()  # warm-up
        a, b = [], []
        for _ in range(args.repeat):
            a.append(best_of(trl, 1)[0])
            b.append(best_of(tffts, 1)[0])
        torch_part = {"torch": torch.__version__, "rl_iterations": round(min(a), 3),
                      f"{4 * args.num_iter}_ffts": round(min(b), 3),
                      "rl_over_ffts": round(min(a) / min(b), 3),
                      "numpy_ffts_over_torch_ffts": round(t_fft / min(b), 3),
                      "note": "torch backend (used for device='cuda' and the other algorithms), "
                              "for reference; the command runs RL on numpy/scipy.fft"}
    rel = float(np.linalg.norm(ours.astype(np.float64) - sk) / np.linalg.norm(sk))
    result["seconds"] = {"fijibridge_command": round(t_cmd, 3),
                         "fijibridge_command_runs": [round(r[0], 3) for r in runs],
                         "command_start_imports_only": round(t_start, 3),
                         "skimage_richardson_lucy": round(t_sk, 3),
                         "skimage_runs": [round(t, 3) for t in sk_times],
                         "rl_iterations_in_process": round(t_rl, 3),
                         f"{4 * args.num_iter}_ffts": round(t_fft, 3),
                         "rl_iterations_runs": [round(t, 3) for t in t_rl_all],
                         "ffts_runs": [round(t, 3) for t in t_fft_all]}
    result["cpu_seconds"] = {"fijibridge_command": round(cpu_cmd, 3),
                             "fijibridge_command_runs": [round(r[1], 3) for r in runs],
                             "skimage_richardson_lucy": round(min(sk_cpu), 3),
                             "note": "user + system CPU time: far less sensitive to other jobs "
                                     "than wall time; the command's threads add theirs up"}
    result["ratios"] = {"skimage_over_command": round(t_sk / t_cmd, 2),
                        "rl_over_ffts": round(t_rl / t_fft, 3),
                        "skimage_cpu_over_command_cpu": round(min(sk_cpu) / cpu_cmd, 2)}
    result["memory_mb"] = {"command_peak_rss": round(peak_mb, 1),
                           "import_only_baseline_rss": round(base_mb, 1),
                           "deconvolution_increment": round(peak_mb - base_mb, 1),
                           "import_torch_numpy_tifffile_rss": round(torch_mb, 1),
                           "method": "getrusage(RUSAGE_CHILDREN).ru_maxrss of the child process "
                                     "(Linux VmHWM, whole process), max over the runs; baseline = "
                                     "a process importing what the command imports, no data"}
    if torch_part is not None:
        result["torch_backend"] = torch_part
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
