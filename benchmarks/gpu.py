"""GPU benchmark (issue 20 point 2): the torch paths on one device, written to JSON.

Sections, each measured on ``--device`` (default ``auto``: CUDA if available, then MPS, else the
CPU) in one run:

* ``rl``: Richardson-Lucy, 50 iterations on a 128×1024×1024 float32 volume (``--small``:
  10 iterations on 32×128×128) through the native engine's torch runner, against the time of
  the FFTs it needs (the OTF's + 2 rfftn + 2 irfftn per iteration, same size, library and
  device: the cuFFT bound on CUDA), measured interleaved. Targets on an H100-class GPU:
  ≤ 2 s and ≤ 1.2× the bound.
* ``dl2_parity``: every DeconvolutionLab2 reference case (``--small``: the ``A_`` cases, one
  per algorithm) run on the device; relative L2 error against DL2's own output with the
  tolerances of ``tests/deconv/test_parity.py``: 1e-4, ``A_FISTA20`` 5e-4 (DL2's
  threshold-sign defect, documented there), ``B_FISTA20`` must stop with DivergenceError.
* ``unet_inference``: the shipped ``nuclei2d`` on a 1024×1024 image (``predict``: network +
  sliding window, no post-processing) and a 3D U-Net of the same width on 64×256×256
  (``--small``: 256×256 and 16×64×64). Target on an H100-class GPU: 2D ≤ 50 ms.
* ``training``: steps per second of U-Net (2D, batch 8 of 256², CE + Dice), pix2pix (2D,
  batch 4 of 256²) and Vox2Vox (3D, batch 1 of 64³) (``--small``: tiny sizes).
* ``memory``: peak memory of each section: ``torch.cuda.max_memory_allocated`` on CUDA; on the
  CPU the process's peak resident set size (``ru_maxrss``, monotone: the peak so far).

The JSON is written after every section (``complete`` stays false until the end), so a run
cut short by a time limit keeps what it measured; a section that fails is recorded under
``errors``, the others still run, and the script then exits with status 1.

GPU timings synchronise the device before reading the clock. ``--device cpu --small`` runs in
the test suite (``tests/test_benchmarks_gpu.py``) to keep the script working without a GPU.

``python benchmarks/gpu.py [--device cuda] [--small] [--out FILE]``
(default FILE: benchmarks/results/gpu_<device type>.json)
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
log = logging.getLogger("gpu_benchmark")

#: relative L2 tolerance against DL2 per case (tests/deconv/test_parity.py)
TOLERANCE = 1e-4
DEVIATIONS = {"A_FISTA20": 5e-4}
DIVERGES = {"B_FISTA20"}


class _Clock:
    """Wall-clock timing that waits for the device (CUDA kernels run asynchronously)."""

    def __init__(self, torch, device):
        self.torch = torch
        self.cuda = device.startswith("cuda")

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    def time(self, fn):
        self.sync()
        t = time.perf_counter()
        out = fn()
        self.sync()
        return time.perf_counter() - t, out


class _Memory:
    """Peak memory of a section: CUDA's allocator peak, else the process's peak RSS."""

    def __init__(self, torch, device):
        self.torch = torch
        self.cuda = device.startswith("cuda")

    def reset(self):
        if self.cuda:
            self.torch.cuda.reset_peak_memory_stats()

    def peak(self) -> dict:
        if self.cuda:
            return {"peak_mb": round(self.torch.cuda.max_memory_allocated() / 2**20, 1),
                    "kind": "torch.cuda.max_memory_allocated"}
        return {"peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "kind": "peak RSS of the process so far (ru_maxrss)"}


def _best(clock, fn, repeat):
    times = []
    for _ in range(repeat):
        times.append(clock.time(fn)[0])
    return min(times), times


def bench_rl(torch, device, clock, memory, *, shape, num_iter, repeat):
    import fijibridge.deconv._engine as engine
    from fijibridge.deconv._registry import lookup_algorithm

    rng = np.random.default_rng(0)
    y = (rng.random(shape, dtype=np.float32) * 50 + 10).astype(np.float32)
    pz, py, px = (np.minimum(np.arange(n), n - np.arange(n)).astype(np.float32) for n in shape)
    h = np.exp(-(pz[:, None, None] ** 2) / 8 - (py[None, :, None] ** 2 + px[None, None, :] ** 2) / 4)
    h = (h / h.sum()).astype(np.float32)  # origin at voxel 0, as the engine expects
    spec = lookup_algorithm("RL")
    dev = torch.device(device)
    yt, ht = torch.as_tensor(y, device=dev), torch.as_tensor(h, device=dev)
    fft = engine._FFT(torch, shape, False)

    def rl():  # the engine's runner on device-resident arrays (no host transfers)
        with torch.no_grad():
            ctrl = engine._Controller(torch, yt, name="RL", num_iter=num_iter, constraint="no",
                                      residu=None, epsilon=1e-6, monitor=None, image_shape=shape,
                                      max_growth=engine.MAX_GROWTH)
            return engine._run_rl(torch, fft, yt, ht, {}, 1e-6, ctrl)

    def ffts():
        with torch.no_grad():
            x = yt.clone()
            U = fft.fwd(ht)
            for _ in range(2 * num_iter):
                fft.fwd(x, out=U)
                fft.inv(U, out=x)

    def whole():  # what deconvolve() adds: host -> device -> host
        return engine.run(spec, {"num_iter": num_iter}, y, h, image_shape=shape, constraint="no",
                          residu=None, epsilon=1e-6, monitor=None, device=device,
                          max_growth=engine.MAX_GROWTH, haar="dl2", backend="torch")

    rl()  # warm-up: cuFFT plans, kernels
    memory.reset()
    t_rl, t_ff = [], []
    for _ in range(repeat):
        t_rl.append(clock.time(rl)[0])
        t_ff.append(clock.time(ffts)[0])
    peak = memory.peak()
    t_whole, _ = _best(clock, whole, 1)
    return {"shape": list(shape), "num_iter": num_iter, "transforms": 1 + 4 * num_iter,
            "seconds": round(min(t_rl), 4), "fft_bound_seconds": round(min(t_ff), 4),
            "over_fft_bound": round(min(t_rl) / min(t_ff), 3),
            "with_host_transfers_seconds": round(t_whole, 4),
            "runs": [round(t, 4) for t in t_rl], "fft_runs": [round(t, 4) for t in t_ff],
            "memory": peak}


def bench_parity(torch, device, clock, reference: Path, *, small: bool):
    import tifffile

    from fijibridge import DivergenceError
    from fijibridge.deconv import run_dl2_text

    manifest = json.loads((reference / "manifest.json").read_text())
    cases = manifest["dl2"]
    if small:  # one case per algorithm
        seen, chosen = set(), []
        for c in cases:
            algo = c["command"].split("-algorithm")[1].split()[0]
            if c["name"].startswith("A_") and algo not in seen:
                seen.add(algo)
                chosen.append(c)
        cases = chosen
    out = {}
    for c in cases:
        name = c["name"]
        entry = {"algorithm": c["command"].split("-algorithm")[1].strip()}
        try:
            dt, (res, _) = clock.time(lambda: run_dl2_text(c["command"], cwd=reference,
                                                           device=device))
        except DivergenceError as e:
            entry.update({"diverged": True, "expected": name in DIVERGES, "ok": name in DIVERGES,
                          "error": str(e).splitlines()[0][:200]})
            out[name] = entry
            continue
        ref = tifffile.imread(reference / c["output"]).astype(np.float64)
        rel = float(np.linalg.norm(res.astype(np.float64) - ref) / np.linalg.norm(ref))
        tol = DEVIATIONS.get(name, TOLERANCE)
        entry.update({"rel_l2": rel, "tolerance": tol, "ok": rel <= tol and name not in DIVERGES,
                      "seconds": round(dt, 4)})
        out[name] = entry
    return out


def bench_inference(torch, device, clock, memory, *, small: bool, repeat: int):
    from fijibridge.segment.inference import predict
    from fijibridge.segment.models import load_model
    from fijibridge.segment.networks import UNet

    rng = np.random.default_rng(1)
    net2d, state = load_model("nuclei2d", device=device)
    arch = dict(state["architecture"])
    shape2d = (256, 256) if small else (1024, 1024)
    img2d = rng.random(shape2d, dtype=np.float32)
    result = {}
    with torch.no_grad():
        f2 = lambda: predict(img2d, net2d, roi_size=256, device=device)  # noqa: E731
        f2()
        memory.reset()
        best, runs = _best(clock, f2, repeat)
        result["unet2d_nuclei2d"] = {"shape": list(shape2d), "roi": 256, "seconds": round(best, 4),
                                     "runs": [round(t, 4) for t in runs], "memory": memory.peak()}
        torch.manual_seed(0)
        net3d = UNet(3, arch["in_channels"], depth=arch["depth"], features=arch["features"],
                     norm=arch["norm"], head=arch["head"]).to(device).eval()
        shape3d = (16, 64, 64) if small else (64, 256, 256)
        roi3d = (16, 64, 64) if small else (64, 128, 128)
        img3d = rng.random(shape3d, dtype=np.float32)
        f3 = lambda: predict(img3d, net3d, roi_size=roi3d, device=device)  # noqa: E731
        f3()
        memory.reset()
        best, runs = _best(clock, f3, repeat)
        result["unet3d"] = {"shape": list(shape3d), "roi": list(roi3d), "seconds": round(best, 4),
                            "runs": [round(t, 4) for t in runs], "memory": memory.peak(),
                            "network": "UNet(3, 1) as wide as nuclei2d, random weights"}
    result["nuclei2d_architecture"] = arch
    return result


def bench_training(torch, device, clock, memory, *, small: bool, steps: int):
    from fijibridge.segment.losses import CombinedLoss
    from fijibridge.segment.networks import UNet
    from fijibridge.synth.gan.pix2pix import Pix2Pix, Vox2Vox

    dev = torch.device(device)
    gen = torch.Generator().manual_seed(0)
    out = {}

    def rate(step, warm=2):
        for _ in range(warm):
            step()
        memory.reset()
        dt, _ = clock.time(lambda: [step() for _ in range(steps)])
        return {"steps_per_second": round(steps / dt, 3), "steps": steps, "seconds": round(dt, 4),
                "memory": memory.peak()}

    # U-Net (segmentation), CE + Dice as the shipped training config
    b, s = (2, (64, 64)) if small else (8, (256, 256))
    torch.manual_seed(0)
    net = UNet(2, 1, depth=3 if small else 4, features=8 if small else 32,
               head="boundary").to(dev).train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = CombinedLoss({"ce": 1.0, "dice": 1.0})
    x = torch.rand((b, 1) + s, generator=gen).to(dev)
    y = torch.randint(0, 3, (b,) + s, generator=gen).to(dev)

    def unet_step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
    out["unet2d"] = {"batch": b, "patch": list(s), **rate(unet_step)}

    for name, cls, b, s, kw in (
            ("pix2pix", Pix2Pix, 1 if small else 4, (32, 32) if small else (256, 256),
             {"features": 8, "depth": 3, "disc_layers": 2} if small else {}),
            ("vox2vox", Vox2Vox, 1, (16, 16, 16) if small else (64, 64, 64),
             {"features": 4, "depth": 2, "disc_layers": 2} if small
             else {"features": 16, "depth": 4})):
        torch.manual_seed(0)
        model = cls(dropout=False, **kw).to(dev)
        a = (torch.rand((b, 1) + s, generator=gen) * 2 - 1).to(dev)
        t = (torch.rand((b, 1) + s, generator=gen) * 2 - 1).to(dev)
        out[name] = {"batch": b, "patch": list(s), **rate(lambda: model.train_step(a, t))}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    ap.add_argument("--small", action="store_true", help="small sizes (the CPU test run)")
    ap.add_argument("--out", default=None, help="JSON file (default benchmarks/results/gpu_<type>.json)")
    ap.add_argument("--repeat", type=int, default=None, help="best of N (default 3; --small 1)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--reference", default=os.environ.get("FIJIBRIDGE_REFERENCE",
                                                          str(REPO.parent / "shared" / "reference")),
                    help="DL2 reference cases (manifest.json)")
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["rl", "dl2_parity", "unet_inference", "training"],
                    help="sections to leave out")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import torch

    from fijibridge._core.execution import resolve_device

    device = resolve_device(args.device)  # an absent device is an error, not a fallback
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    repeat = args.repeat or (1 if args.small else 3)
    clock, memory = _Clock(torch, device), _Memory(torch, device)
    t0 = time.perf_counter()
    result = {"machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "torch": torch.__version__, "device": device,
                          "device_name": (torch.cuda.get_device_name(torch.device(device))
                                          if device.startswith("cuda") else platform.processor()
                                          or "cpu"),
                          "cuda": torch.version.cuda, "torch_threads": torch.get_num_threads(),
                          "cores": len(os.sched_getaffinity(0)),
                          "loadavg_start": os.getloadavg()},
              "settings": {"small": args.small, "repeat": repeat}}
    if device.startswith("cuda"):  # full float32 (TF32 off): the parity numbers compare to DL2
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        result["settings"]["tf32"] = False
    out = Path(args.out) if args.out else HERE / "results" / f"gpu_{device.split(':')[0]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    from fijibridge._core.atomic import atomic_write_text

    def save(complete: bool):
        result["complete"] = complete
        result["seconds_total"] = round(time.perf_counter() - t0, 2)
        atomic_write_text(out, json.dumps(result, indent=1))

    sections = {
        "rl": lambda: bench_rl(torch, device, clock, memory,
                               shape=(32, 128, 128) if args.small else (128, 1024, 1024),
                               num_iter=10 if args.small else 50, repeat=repeat),
        "dl2_parity": lambda: bench_parity(torch, device, clock, Path(args.reference),
                                           small=args.small),
        "unet_inference": lambda: bench_inference(torch, device, clock, memory,
                                                  small=args.small, repeat=repeat),
        "training": lambda: bench_training(torch, device, clock, memory, small=args.small,
                                           steps=3 if args.small else 20),
    }
    errors = {}
    for name, section in sections.items():
        if name in args.skip:
            continue
        log.info("%s ...", name)
        try:
            result[name] = section()
        except Exception as e:  # noqa: BLE001 - one section's failure must not lose the others
            log.exception("%s failed", name)
            errors[name] = f"{type(e).__name__}: {e}"
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
        save(complete=False)  # what is measured so far survives a timeout or a later failure
    if errors:
        result["errors"] = errors
    targets = {}
    if "rl" in result and not args.small:
        targets["rl50_1024x1024x128<=2s"] = result["rl"]["seconds"] <= 2.0
        targets["rl_over_fft_bound<=1.2"] = result["rl"]["over_fft_bound"] <= 1.2
    if "unet_inference" in result and not args.small:
        targets["unet2d_1024<=50ms"] = result["unet_inference"]["unet2d_nuclei2d"]["seconds"] <= 0.05
    if "dl2_parity" in result:
        targets["dl2_parity_all_within_tolerance"] = all(e["ok"] for e in result["dl2_parity"].values())
    result["targets"] = targets
    result["targets_note"] = ("the speed targets are for an H100-class GPU at full size; "
                              "--small and CPU runs check that everything runs and agrees")
    result["machine"]["loadavg_end"] = os.getloadavg()
    save(complete=True)
    log.info("wrote %s (%.1f s)", out, result["seconds_total"])
    if errors:
        raise SystemExit(f"sections failed: {', '.join(errors)} (their errors are in {out})")
    return result


if __name__ == "__main__":
    main()
