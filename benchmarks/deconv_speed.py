"""Speed and memory of native deconvolution (issue 3 "Speed and memory", issue 20 point 5).

Workload: a 256×256×64 float32 stack of spheres blurred by a 64×64×32 Gaussian-like PSF with
Poisson noise. Measured in one run (best of ``--repeat``, the compared timings interleaved so
that a load spike hits both alike), reported as ratios:

* whole command ``fijibridge deconvolve`` RL 50 (a new Python process: start, imports, TIFF
  read/write included) vs ``skimage.restoration.richardson_lucy`` (same iterations) run the
  same way, process to process: a new Python process that imports it, reads the same TIFFs
  and writes its result (``skimage_process``) — target ≥ 8×. Its time inside a process
  (``skimage_richardson_lucy``, the call alone) is recorded beside it, with the ratio of the
  command to it (a stricter comparison: skimage's start and I/O left out);
* the 50 RL iterations of the backend the command uses (numpy + pocketfft on the CPU) vs the
  time of their FFTs (the OTF's + 100 rfftn + 100 irfftn of that size, same library, threads
  and allocator settings) — target ≤ 1.1×; the torch backend's ratio is reported beside it;
* RLTV, LW, ICTM and FISTA (``--other-iter`` iterations, on the backend ``deconvolve`` uses
  on the CPU: numpy + pocketfft, torch not imported) each vs the FFTs it
  computes with the same library (RLTV: 1 + 4 per iteration; LW/ICTM: 3, since their
  iterations run in the Fourier domain; FISTA: 3 + 2 per iteration, in float64 as DL2's
  wavelet algorithms) — target ≤ 1.3× each; each also with numba's compiled
  loops (``fijibridge[fast]``, in a process that has loaded numba: ``numba`` in their entry);
* the other algorithms' commands, process to process, on the back-end ``deconvolve``
  chooses vs ``--backend torch`` (time and peak RSS), for reference;
* peak memory of the command — target ≤ 250 MB. Method: the child's peak resident set size
  (``getrusage(RUSAGE_CHILDREN).ru_maxrss`` = Linux VmHWM), i.e. the whole process including
  the Python interpreter and its libraries; beside it the peak of a process that only imports
  what the command imports (the baseline) and of one that imports torch.

CPU time (user + system) is recorded beside wall time: on a shared machine it is far less
sensitive to other jobs. The machine's load average at the start and end is recorded: with a
load above the core count the threads compete with other jobs and every timing is noisy.

Writes benchmarks/results/deconv_speed.json.  ``python benchmarks/deconv_speed.py``
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _timing import cpu_model, timings

HERE = Path(__file__).resolve().parent
log = logging.getLogger("deconv_speed")


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


def _checked_child(cmd, env, what):
    """:func:`_child` that stops the benchmark when ``cmd`` fails; (wall, CPU, peak MB)."""
    wall, cpu, mb, rc = _child(cmd, env)
    if rc != 0:
        raise SystemExit(f"{what} failed (rc {rc})")
    return wall, cpu, mb


#: a batch of short runs in one process (a pipeline's deconvolution step over a folder): by
#: default numba's loops start once the savings the numpy path forwent would have paid for
#: their start (fijibridge/deconv/_numba.py); FIJIBRIDGE_NUMBA=0 is the numpy path throughout
BATCH_SCRIPT = """\
import sys, time

import tifffile
from fijibridge.deconv import deconvolve

image, psf = tifffile.imread(sys.argv[1]), tifffile.imread(sys.argv[2])
times = []
for _ in range(int(sys.argv[4])):
    t = time.perf_counter()
    deconvolve(image, psf, algorithm=sys.argv[3].split()[0],
               params=[int(v) if v.isdigit() else float(v) for v in sys.argv[3].split()[1:]])
    times.append(time.perf_counter() - t)
print("numba" in sys.modules, *times)
"""

#: the peer, process to process: what a user of scikit-image runs for the same job
SKIMAGE_SCRIPT = """\
import sys

import numpy as np
import tifffile
from skimage.restoration import richardson_lucy

image, psf = tifffile.imread(sys.argv[1]), tifffile.imread(sys.argv[2])
out = richardson_lucy(image, psf, num_iter=int(sys.argv[3]), clip=False)
tifffile.imwrite(sys.argv[4], out.astype(np.float32))
"""


def _numpy_iterations(image, h, num_iter, threads):
    """In-process: the numpy backend's RL iterations (OTF included) vs the FFTs they compute
    (the OTF's + 4 per iteration; same pocketfft, same workers)."""
    import fijibridge.deconv._engine as engine
    import fijibridge.deconv._engine_numpy as npe

    ops = npe._Ops(image.shape, threads)

    def rl():
        ctrl = engine._Controller(None, image, name="RL", num_iter=num_iter, constraint="no",
                                  residu=None, epsilon=1e-6, monitor=None,
                                  image_shape=image.shape, max_growth=engine.MAX_GROWTH, ops=ops)
        return npe.RUNNERS["RL"](ops, image, h, {}, 1e-6, ctrl)

    def ffts():
        ops.fwd(h)
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
            U = fft.fwd(ht)
            for _ in range(2 * num_iter):
                fft.fwd(x, out=U)
                fft.inv(U, out=x)
    return rl, ffts


#: the other iterative algorithms measured against their own FFTs: DL2 parameters (as in the
#: reference cases), constraint, and how many transforms they compute (n = iterations)
OTHERS = {
    "RLTV": ({"reg": 0.01}, "no", lambda n: (1 + 2 * n, 2 * n)),
    "LW": ({"step": 1.0}, "no", lambda n: (2, 1)),
    "ICTM": ({"step": 1.0, "reg": 0.001}, "nonnegativity", lambda n: (2, 1)),
    "FISTA": ({"step": 1.0, "reg": 0.01, "scales": 3}, "no", lambda n: (2 + n, 1 + n)),
}


def _other_algorithm(name, image, h, num_iter, threads):
    """(run, ffts, transforms, backend) for ``name`` on the backend ``deconvolve`` uses on the
    CPU (numpy + pocketfft; torch where an algorithm has no numpy runner); ``ffts`` computes
    the same number of forward and inverse full-volume transforms with the same library, precision (float64 for the wavelet algorithms, as DL2)
    and grid (full complex where DL2's Laplacian is not Hermitian), under the same allocator
    settings."""
    import fijibridge.deconv._engine as engine
    from fijibridge.deconv._engine_numpy import recycled_heap
    from fijibridge.deconv._prepare import working_laplacian
    from fijibridge.deconv._registry import lookup_algorithm

    spec = lookup_algorithm(name)
    extra, constraint, count = OTHERS[name]
    params = {"num_iter": num_iter, **extra}
    n_fwd, n_inv = count(num_iter)
    full = name in engine.USES_LAPLACIAN and working_laplacian(image.shape)[1]
    backend = engine.choose_backend(name, "cpu")

    def run():
        return engine.run(spec, params, image, h, image_shape=image.shape, constraint=constraint,
                          residu=None, epsilon=1e-6, monitor=None, device="cpu",
                          max_growth=engine.MAX_GROWTH, haar="dl2", backend=backend,
                          threads=threads)

    if backend == "numpy":
        import fijibridge.deconv._engine_numpy as npe

        ops = npe._Ops(image.shape, threads)  # its pool's threads end with the process
        sp = npe._Spectral(ops, full, precise=spec.wavelets)
        largest = int(np.prod(image.shape)) * 8  # as run_numpy sets the heap

        def ffts():
            with recycled_heap(largest):
                first = sp.fwd(image)  # held through the run, as the runners hold the OTF
                for _ in range(n_fwd - 1 - n_inv):
                    sp.fwd(image)
                for _ in range(n_inv):  # each inverse consumes its spectrum, as the runners do
                    sp.inv(sp.fwd(image), consume=True)
                del first
        return run, ffts, (n_fwd, n_inv), backend

    import torch

    fft = engine._FFT(torch, image.shape, full, precise=spec.wavelets)
    yt = torch.as_tensor(image)
    largest = engine.torch_array_bytes(spec, image.shape)

    def ffts():  # the allocator as engine.run sets it on the CPU (recycled heap)
        with torch.no_grad(), recycled_heap(largest):
            X = fft.fwd(yt)
            for _ in range(n_fwd - 1):
                X = fft.fwd(yt)
            for _ in range(n_inv):
                fft.inv(X)
    return run, ffts, (n_fwd, n_inv), backend


def _batch(args, tmp, env):
    """:data:`BATCH_SCRIPT` (``--batch`` RLTV runs in one process) by default and with
    ``FIJIBRIDGE_NUMBA=0``, process to process, interleaved, best of ``--repeat`` (at most 2):
    what the default policy makes of numba in a batch of runs each too short to pay its start."""
    script = tmp / "batch.py"
    script.write_text(BATCH_SCRIPT)
    text = f"RLTV {args.other_iter} {OTHERS['RLTV'][0]['reg']}"
    cmd = [sys.executable, str(script), str(tmp / "image.tif"), str(tmp / "psf.tif"), text,
           str(args.batch)]
    envs = {"default": {k: v for k, v in env.items() if k != "FIJIBRIDGE_NUMBA"},
            "numpy_only": dict(env, FIJIBRIDGE_NUMBA="0")}
    best = {}
    for _ in range(min(args.repeat, 2)):
        for key, e in envs.items():
            t = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True, text=True, env=e, check=True)
            wall = time.perf_counter() - t
            used, *times = out.stdout.split()
            if key not in best or wall < best[key]["process_seconds"]:
                best[key] = {"process_seconds": round(wall, 2), "numba_loaded": used == "True",
                             "per_image_seconds": [round(float(v), 2) for v in times]}
    log.info("batch of %d %s: %s", args.batch, text, best)
    return {"images": args.batch, "algorithm": text, **best,
            "numpy_only_over_default": round(best["numpy_only"]["process_seconds"]
                                             / best["default"]["process_seconds"], 3),
            "note": "one Python process deconvolving the same image --batch times (deconvolve, "
                    "PSF preparation included); default: numba's loops start once the savings "
                    "forgone would have paid for their start (the first images keep the numpy "
                    "path); numpy_only: FIJIBRIDGE_NUMBA=0"}


def _interleaved(a, b, repeat):
    """Best wall and CPU seconds of ``a`` and of ``b``, run alternately ``repeat`` times."""
    wall, cpu = {"a": [], "b": []}, {"a": [], "b": []}
    for _ in range(repeat):
        for k, fn in (("a", a), ("b", b)):
            t, c = time.perf_counter(), time.process_time()
            fn()
            wall[k].append(time.perf_counter() - t)
            cpu[k].append(time.process_time() - c)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ncores = len(os.sched_getaffinity(0))
    ap.add_argument("--threads", type=int, default=ncores, help=f"CPU threads (default {ncores})")
    ap.add_argument("--num-iter", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3, help="best of N for every timing (default 3)")
    ap.add_argument("--skimage-repeat", type=int, default=2, help="best of N for skimage (default 2)")
    ap.add_argument("--no-torch", action="store_true",
                    help="skip the in-process torch backend timings (and the other algorithms)")
    ap.add_argument("--algorithms", nargs="*", default=list(OTHERS), choices=list(OTHERS),
                    help="other algorithms measured against their FFTs (default: all)")
    ap.add_argument("--other-iter", type=int, default=20,
                    help="iterations of the other algorithms (default 20, as the DL2 cases)")
    ap.add_argument("--other-threads", type=int, default=None,
                    help="torch threads for the other algorithms and their FFTs (default "
                         "--threads; 1 on a machine whose load exceeds its cores, where "
                         "torch's OpenMP threads spin in every element-wise operation)")
    ap.add_argument("--batch", type=int, default=10,
                    help="images in the batch-of-short-runs measurement (RLTV --other-iter "
                         "each, one process; 0: skip)")
    ap.add_argument("--out", default=str(HERE / "results" / "deconv_speed.json"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    load_start = os.getloadavg()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    env["PYTHONPATH"] = str(HERE.parent) + os.pathsep + env.get("PYTHONPATH", "")
    # the command as installed: pip compiles a package's bytecode when it installs it (as it
    # did scikit-image's); run from a checkout with PYTHONDONTWRITEBYTECODE set, every
    # process would first compile ~45 of fijibridge's modules (~50 ms here)
    compileall.compile_dir(str(HERE.parent / "fijibridge"), quiet=1)
    image, psf = make_data()
    import scipy

    from fijibridge.deconv._pocketfft import transforms

    result = {"machine": {"platform": platform.platform(), "cpu": cpu_model(), "cores": ncores,
                          "threads": args.threads, "numpy": np.__version__,
                          "scipy": scipy.__version__, "fft": transforms().source,
                          "loadavg_start": load_start,
                          "note": "loadavg is the 1/5/15-minute run-queue length; above the "
                                  "core count other jobs share the CPU and all timings are noisy"},
              "workload": {"image": list(image.shape), "psf": list(psf.shape),
                           "num_iter": args.num_iter, "algorithm": "RL", "repeat": args.repeat,
                           "other_algorithms_num_iter": args.other_iter,
                           "command_bytecode": "fijibridge's modules compiled before the timed "
                                               "runs, as pip install compiles them"}}
    from fijibridge import write_tiff

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_tiff(tmp / "image.tif", image)
        write_tiff(tmp / "psf.tif", psf)
        cmd = [sys.executable, "-m", "fijibridge.cli.main", "deconvolve", str(tmp / "image.tif"),
               "--psf", str(tmp / "psf.tif"), "--algorithm", f"RL {args.num_iter}",
               "-o", str(tmp / "out.tif"), "--threads", str(args.threads)]
        # skimage process to process: its own Python process, imports, TIFF read and write
        script = tmp / "skimage_rl.py"
        script.write_text(SKIMAGE_SCRIPT)
        sk_cmd = [sys.executable, str(script), str(tmp / "image.tif"), str(tmp / "psf.tif"),
                  str(args.num_iter), str(tmp / "skimage_out.tif")]
        runs, sk_runs = [], []
        # interleaved, so that a load spike hits both alike
        for i in range(max(args.repeat, args.skimage_repeat)):
            if i < args.repeat:
                runs.append(_checked_child(cmd, env, "fijibridge deconvolve"))
            if i < args.skimage_repeat:
                sk_runs.append(_checked_child(sk_cmd, env, "the skimage process"))
        t_cmd = min(r[0] for r in runs)
        cpu_cmd = min(r[1] for r in runs)
        peak_mb = max(r[2] for r in runs)
        # what the command imports before it touches data (numpy path: no torch)
        imports = ("import numpy, tifffile, fijibridge.cli.main, fijibridge.cli.deconvolve, "
                   "fijibridge.deconv.core, fijibridge.deconv._engine_numpy; "
                   "fijibridge.deconv._pocketfft.transforms()")
        starts = [_child([sys.executable, "-c", imports], env) for _ in range(args.repeat)]
        t_start, base_mb = min(r[0] for r in starts), max(r[2] for r in starts)
        _, _, torch_mb, _ = _child([sys.executable, "-c", "import torch, numpy, tifffile"], env)
        ours = __import__("tifffile").imread(tmp / "out.tif")
        # the other algorithms' commands on the back-end deconvolve chooses vs torch's
        commands = {}
        for name in args.algorithms:
            text = f"{name} {args.other_iter} {' '.join(map(str, OTHERS[name][0].values()))}"
            base = cmd[:cmd.index("--algorithm")] + ["--algorithm", text, "-o",
                                                     str(tmp / f"{name}.tif"), "--threads",
                                                     str(args.threads), "--quiet"]
            if OTHERS[name][1] != "no":
                base += ["--constraint", OTHERS[name][1]]
            runs_by = {"auto": []} if args.no_torch else {"auto": [], "torch": []}
            for _ in range(args.repeat):
                for backend in runs_by:
                    runs_by[backend].append(_checked_child(base + ["--backend", backend], env,
                                                           f"deconvolve {text}"))
            commands[name] = {"algorithm": text,
                              **{f"{b}_seconds": round(min(r[0] for r in v), 3)
                                 for b, v in runs_by.items()},
                              **{f"{b}_peak_rss_mb": round(max(r[2] for r in v), 1)
                                 for b, v in runs_by.items()}}
            log.info("deconvolve %s: %s", text, commands[name])
        t_sk_proc = min(r[0] for r in sk_runs)
        cpu_sk_proc = min(r[1] for r in sk_runs)
        batch = _batch(args, tmp, env) if args.batch and importlib.util.find_spec("numba") else None

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

    # RL iterations vs their FFTs (in-process, same threads, FFT library and allocator)
    import fijibridge.deconv._engine_numpy as npe
    from fijibridge.deconv._prepare import prepare_psf

    h = prepare_psf(psf, image.shape, 1.0)
    rl, ffts, rl_ops = _numpy_iterations(image, h, args.num_iter, args.threads)
    spectrum_bytes = image.shape[0] * image.shape[1] * (image.shape[2] // 2 + 1) * 8
    try:
        with npe.recycled_heap(spectrum_bytes):  # as run_numpy does, for both
            rl()  # warm-up (plans, heap)
            wall, cpu = _interleaved(rl, ffts, args.repeat)
    finally:
        rl_ops.close()
    t_rl_all, t_fft_all = wall["a"], wall["b"]
    t_rl, t_fft = min(t_rl_all), min(t_fft_all)
    cpu_rl, cpu_fft = min(cpu["a"]), min(cpu["b"])
    torch_part = None
    others = {}
    if not args.no_torch:
        import torch

        torch.set_num_threads(args.threads)
        trl, tffts = _torch_iterations(image, h, args.num_iter, args.threads)
        trl()  # warm-up
        tw, _ = _interleaved(trl, tffts, args.repeat)
        a, b = tw["a"], tw["b"]
        torch_part = {"torch": torch.__version__, "rl_iterations": round(min(a), 3),
                      "ffts": round(min(b), 3),
                      "rl_over_ffts": round(min(a) / min(b), 3),
                      "numpy_ffts_over_torch_ffts": round(t_fft / min(b), 3),
                      "note": "torch backend (used for device='cuda'), "
                              "for reference; the command runs RL on numpy/pocketfft"}
        for name in args.algorithms:
            other_threads = args.other_threads or args.threads
            torch.set_num_threads(other_threads)
            run, offts, (n_fwd, n_inv), backend = _other_algorithm(name, image, h,
                                                                   args.other_iter, other_threads)
            # numba's loops (fijibridge[fast]) where they apply, in a process that has loaded
            # numba (its ~0.55 s start is left out: by default a run uses them only where
            # they save more than that; fijibridge/deconv/_numba.py)
            compiled = None
            if importlib.util.find_spec("numba"):
                os.environ["FIJIBRIDGE_NUMBA"] = "1"
                try:
                    run()  # warm-up: loads numba and its loops
                    slow = name in ("RLTV", "FISTA")
                    w, _ = _interleaved(run, offts, max(args.repeat, 3 if slow else 37))
                finally:
                    os.environ["FIJIBRIDGE_NUMBA"] = "0"
                compiled = {"seconds": round(min(w["a"]), 3), "fft_seconds": round(min(w["b"]), 3),
                            "over_ffts": round(min(w["a"]) / min(w["b"]), 3),
                            "over_ffts_median_of_pairs": round(float(np.median(
                                np.divide(w["a"], w["b"]))), 3),
                            "note": "FIJIBRIDGE_NUMBA=1 in a process with numba loaded; the "
                                    "entry above is the numpy path (FIJIBRIDGE_NUMBA=0)"}
            os.environ["FIJIBRIDGE_NUMBA"] = "0"
            t = time.perf_counter()
            run()  # warm-up
            # a run of well under a second is at the mercy of a scheduler tick: repeat a
            # short one until ~2 s of it are measured (at most 40 times)
            reps = max(args.repeat, min(40, int(2.0 / max(time.perf_counter() - t, 0.05))))
            w, c = _interleaved(run, offts, reps)
            os.environ.pop("FIJIBRIDGE_NUMBA")
            others[name] = {"num_iter": args.other_iter, "threads": other_threads, "repeat": reps,
                            "backend": backend,
                            "transforms": {"forward": n_fwd,
                                                                        "inverse": n_inv},
                            "seconds": round(min(w["a"]), 3),
                            "fft_seconds": round(min(w["b"]), 3),
                            "over_ffts": round(min(w["a"]) / min(w["b"]), 3),
                            "over_ffts_median_of_pairs": round(float(np.median(
                                np.divide(w["a"], w["b"]))), 3),
                            "cpu_over_fft_cpu": round(min(c["a"]) / min(c["b"]), 3),
                            "runs": [round(t, 3) for t in w["a"]],
                            "fft_runs": [round(t, 3) for t in w["b"]]}
            if compiled is not None:
                others[name]["numba"] = compiled
            log.info("%s: %.3f s vs its FFTs %.3f s%s", name, min(w["a"]), min(w["b"]),
                     "" if compiled is None else
                     f" (numba {compiled['seconds']:.3f} s, {compiled['over_ffts']:.3f}x)")
    rel = float(np.linalg.norm(ours.astype(np.float64) - sk) / np.linalg.norm(sk))
    result["seconds"] = {"fijibridge_command": round(t_cmd, 3),
                         "fijibridge_command_runs": [round(r[0], 3) for r in runs],
                         "command_start_imports_only": round(t_start, 3),
                         "skimage_process": round(t_sk_proc, 3),
                         "skimage_process_runs": [round(r[0], 3) for r in sk_runs],
                         "skimage_richardson_lucy": round(t_sk, 3),
                         "skimage_runs": [round(t, 3) for t in sk_times],
                         "rl_iterations_in_process": round(t_rl, 3),
                         f"{1 + 4 * args.num_iter}_ffts": round(t_fft, 3),
                         "rl_iterations_runs": [round(t, 3) for t in t_rl_all],
                         "ffts_runs": [round(t, 3) for t in t_fft_all]}
    result["cpu_seconds"] = {"fijibridge_command": round(cpu_cmd, 3),
                             "fijibridge_command_runs": [round(r[1], 3) for r in runs],
                             "skimage_process": round(cpu_sk_proc, 3),
                             "skimage_richardson_lucy": round(min(sk_cpu), 3),
                             "note": "user + system CPU time: far less sensitive to other jobs "
                                     "than wall time; the command's threads add theirs up"}
    result["ratios"] = {"skimage_process_over_command": round(t_sk_proc / t_cmd, 2),
                        "skimage_call_over_command": round(t_sk / t_cmd, 2),
                        "rl_over_ffts": round(t_rl / t_fft, 3),
                        "rl_cpu_over_ffts_cpu": round(cpu_rl / cpu_fft, 3),
                        "skimage_process_cpu_over_command_cpu": round(cpu_sk_proc / cpu_cmd, 2)}
    result["memory_mb"] = {"command_peak_rss": round(peak_mb, 1),
                           "import_only_baseline_rss": round(base_mb, 1),
                           "deconvolution_increment": round(peak_mb - base_mb, 1),
                           "import_torch_numpy_tifffile_rss": round(torch_mb, 1),
                           "method": "getrusage(RUSAGE_CHILDREN).ru_maxrss of the child process "
                                     "(Linux VmHWM, whole process), max over the runs; baseline = "
                                     "a process importing what the command imports, no data"}
    if torch_part is not None:
        result["torch_backend"] = torch_part
    if others:
        result["other_algorithms"] = others
    if commands:
        result["other_commands"] = {
            **commands,
            "note": "process to process, best of --repeat (peak RSS: max); auto = the back-end "
                    "deconvolve chooses on the CPU (numpy for every DL2 algorithm), torch = "
                    "--backend torch"}
    if batch is not None:
        result["batch_of_short_runs"] = batch
    result["targets"] = {"skimage_process_over_command>=8": t_sk_proc / t_cmd >= 8,
                         "rl_over_ffts<=1.1": t_rl / t_fft <= 1.1,
                         "command_peak_rss<=250MB": peak_mb <= 250}
    for name, o in others.items():
        result["targets"][f"{name}_over_ffts<=1.3"] = o["over_ffts"] <= 1.3
        if "numba" in o:  # fijibridge[fast]: what a long run or a batch uses by default
            result["targets"][f"{name}_over_ffts<=1.3_with_fast"] = o["numba"]["over_ffts"] <= 1.3
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
