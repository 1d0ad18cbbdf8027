"""Every torch path on CUDA gives the CPU's results (marked ``gpu``; skipped without CUDA).

Paths: native deconvolution (every DL2 algorithm, 2D/3D, block-wise), U-Net inference 2D
and 3D (+ the shipped ``nuclei2d`` end to end), U-Net training steps (a step loop and the
real ``train()``), GAN generation (2D tiles, 3D tiles) and pix2pix / Vox2Vox / CycleGAN
training steps, and ``device="auto"`` choosing the GPU.

Tolerances, and why:

- TF32 is switched off for the comparisons (``_exact_float32``): with it (PyTorch's
  default for cuDNN convolutions) Ampere/Hopper GPUs round convolution inputs to 10
  mantissa bits, ~1e-3 relative, which is a speed choice, not a bug.
- Deconvolution: relative L2 ≤ 1e-4 — the bound the native engine keeps against DL2 itself
  (``tests/deconv/test_parity.py``); cuFFT and pocketfft differ by float32 rounding only
  (~1e-7 per transform), and 20 iterations stay far below it.
- Network forward passes: max |Δ| ≤ 1e-4 on probabilities/outputs in [-1, 1] (float32
  sums in different orders, ~1e-6 measured-class effects).
- Training: the first step's losses (identical weights and batch) to rel 1e-4; after
  a few Adam steps rel 1e-2: Adam's first updates are ±lr whatever the gradient's size,
  so a weight whose gradient is ~0 may step the other way on the other device.
- Labels after watershed: ≥ 99.9 % of pixels equal and the same object count ± 1
  (a probability on the threshold may round either way).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

CUDA = "cuda"


@pytest.fixture(autouse=True)
def _exact_float32():
    """Full float32 on the GPU for CPU comparisons (TF32 off), restored afterwards."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


# ---------------------------------------------------------------- device choice ----------

def test_auto_chooses_cuda_and_cuda_n_checks_the_index():
    from fijibridge._core.execution import Execution, resolve_device

    assert resolve_device("auto") == "cuda"
    assert Execution().resolve().device == "cuda"
    assert resolve_device("cuda:0") == "cuda:0"
    n = torch.cuda.device_count()
    with pytest.raises(ValueError, match=f"has {n} CUDA device"):
        resolve_device(f"cuda:{n}")


# ---------------------------------------------------------------- deconvolution ----------

def _volume(ndim):
    rng = np.random.default_rng(0)
    shape = (20, 40, 36) if ndim == 3 else (48, 40)
    gt = np.zeros(shape, np.float32)
    idx = tuple(rng.integers(0, s, 30) for s in shape)
    gt[idx] = 100
    grids = np.mgrid[tuple(slice(-3, 4) for _ in shape)]
    psf = np.exp(-sum(g.astype(np.float32) ** 2 for g in grids) / 3.0).astype(np.float32)
    from fijibridge.deconv import deconvolve

    img = deconvolve(gt, psf, algorithm="CONV", device="cpu") + 1
    img += rng.random(shape, dtype=np.float32)
    return img, psf


#: parameters under which each algorithm is stable on ``_volume`` (DL2's defaults make TM,
#: ICTM and RLTV diverge there); a float32-rounding perturbation of the input (2e-7 relative)
#: moves each result by ≤ 3.2e-6 relative on the CPU (NIF; the others ≤ 1.1e-6), so 1e-4
#: between devices has a 30x margin. On the CPU most algorithms run on the numpy back-end,
#: which computes the direct methods' transforms in float64: NIF there is 2.2e-5–2.8e-5 from
#: torch's float32 transforms (measured on the CPU), the others ≤ 5.2e-6
_STABLE = {"NIF": {}, "RIF": {"reg": 0.01}, "TRIF": {"reg": 0.01}, "CONV": {},
           "TM": {"num_iter": 10, "step": 1, "reg": 0.001},
           "ICTM": {"num_iter": 10, "step": 1, "reg": 0.001},
           "RLTV": {"num_iter": 10, "reg": 1e-4},
           # DL2's Haar is unstable on these sizes (see fijibridge.deconv._haar)
           "ISTA": {"num_iter": 10, "haar": "orthonormal"},
           "FISTA": {"num_iter": 10, "haar": "orthonormal"}}


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("algorithm", ["NIF", "RIF", "TRIF", "RL", "RLTV", "LW", "NNLS", "BVLS",
                                       "VC", "TM", "ICTM", "ISTA", "FISTA", "CONV"])
def test_deconvolution_cuda_equals_cpu(algorithm, ndim):
    from fijibridge.deconv import deconvolve

    img, psf = _volume(ndim)
    kw = _STABLE.get(algorithm, {"num_iter": 10})
    # the divergence guard stays on: a diverging run would compare noise, not the engine
    cpu = deconvolve(img, psf, algorithm=algorithm, device="cpu", **kw)
    gpu = deconvolve(img, psf, algorithm=algorithm, device=CUDA, **kw)
    assert gpu.dtype == np.float32 and gpu.shape == img.shape
    assert _rel(gpu, cpu) <= 1e-4


def test_deconvolution_dl2_reference_case_on_cuda(reference_dir_or_skip):
    """A DL2 reference case on CUDA: within the parity bound of DL2's own output."""
    import json

    import tifffile

    from fijibridge.deconv import run_dl2_text

    ref = reference_dir_or_skip
    manifest = json.loads((ref / "manifest.json").read_text())
    for name in ("A_RL20", "A_LW20", "A_TM20"):
        case = next(c for c in manifest["dl2"] if c["name"] == name)
        out, _ = run_dl2_text(case["command"].split(" -out ")[0], cwd=ref, device=CUDA)
        expected = tifffile.imread(ref / case["output"])
        assert _rel(out, expected) < 1e-4, name


@pytest.fixture
def reference_dir_or_skip():
    import os
    from pathlib import Path

    for p in (os.environ.get("FIJIBRIDGE_REFERENCE"), Path(__file__).parents[1] / "../shared/reference"):
        if p and (Path(p) / "manifest.json").is_file():
            return Path(p)
    pytest.skip("DL2 reference outputs not found (set FIJIBRIDGE_REFERENCE)")


def test_blockwise_deconvolution_cuda_equals_cpu():
    from fijibridge._core.execution import Execution
    from fijibridge.deconv import deconvolve

    img, psf = _volume(3)
    cpu = deconvolve(img, psf, algorithm="RL", num_iter=10,
                     execution=Execution(device="cpu", memory=600_000))
    gpu = deconvolve(img, psf, algorithm="RL", num_iter=10,
                     execution=Execution(device=CUDA, memory=600_000))
    assert _rel(gpu, cpu) <= 1e-4


def test_cuda_runs_on_the_torch_backend():
    from fijibridge.deconv._engine import choose_backend

    assert choose_backend("RL", CUDA) == "torch"
    with pytest.raises(ValueError, match="CPU only"):
        choose_backend("RL", CUDA, "numpy")


# ---------------------------------------------------------------- U-Net ------------------

def _unet(spatial_dims, head="boundary"):
    from fijibridge.segment.networks import UNet

    torch.manual_seed(0)
    net = UNet(spatial_dims, 1, depth=3, features=8, head=head)
    # a few random BatchNorm statistics, so that eval() mode is not the identity
    for m in net.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.8, 1.2)
    return net.eval()


@pytest.mark.parametrize("spatial_dims, shape, roi", [(2, (150, 170), 64),
                                                      (3, (24, 70, 60), (16, 32, 32))])
def test_unet_inference_cuda_equals_cpu(spatial_dims, shape, roi):
    from fijibridge.segment.inference import predict

    img = np.random.default_rng(1).random(shape, dtype=np.float32)
    net = _unet(spatial_dims)
    cpu = predict(img, net, roi_size=roi, device="cpu")
    gpu = predict(img, net, roi_size=roi, device=CUDA)
    assert next(net.parameters()).device.type == "cuda"  # predict moved it
    assert cpu.shape == gpu.shape == (3,) + shape
    assert float(np.abs(cpu - gpu).max()) <= 1e-4


def test_shipped_model_segments_alike_on_cuda():
    from fijibridge.segment.inference import segment
    from fijibridge.synth import nuclei, simulate_microscope

    ph = nuclei((256, 256), n_nuclei=25, radius_um=3.0, rng=2)
    img = simulate_microscope(ph.image, spacing=ph.spacing, psf_model="gaussian", bit_depth=16,
                              rng=2)
    cpu = segment(img, model="nuclei2d", device="cpu")
    gpu = segment(img, model="nuclei2d", device=CUDA)
    assert abs(int(cpu.max()) - int(gpu.max())) <= 1
    assert np.mean((cpu > 0) == (gpu > 0)) >= 0.999


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_unet_training_steps_cuda_equal_cpu(spatial_dims):
    from fijibridge.segment.losses import CombinedLoss

    shape = (32, 32) if spatial_dims == 2 else (16, 32, 32)
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.random((2, 1) + shape, dtype=np.float32))
    y = torch.from_numpy(rng.integers(0, 3, (2,) + shape).astype(np.int64))
    losses = {}
    for dev in ("cpu", CUDA):
        net = _unet(spatial_dims).train().to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        loss_fn = CombinedLoss({"ce": 1.0, "dice": 1.0})
        seq = []
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(x.to(dev)), y.to(dev))
            loss.backward()
            opt.step()
            seq.append(loss.item())
        losses[dev] = seq
    assert losses[CUDA][0] == pytest.approx(losses["cpu"][0], rel=1e-4)
    assert losses[CUDA] == pytest.approx(losses["cpu"], rel=1e-2)


def test_unet_train_function_on_cuda(tmp_path):
    """The real ``train()`` on CUDA: same loss curve as on the CPU (rel 1e-2, see top),
    checkpoints readable on the CPU, torch's thread setting restored."""
    from fijibridge.segment.models import load_model
    from fijibridge.segment.training import train

    def cfg(out):
        return {"model": {"depth": 2, "features": 4, "head": "boundary"},
                "data": {"synthetic": {"count": 4, "validation_count": 1, "shape": [64, 64],
                                       "seed": 3}},
                "augment": {"patch_size": [32, 32], "p_elastic": 0.0},
                "training": {"batch_size": 4, "max_steps": 6, "steps_per_epoch": 3, "lr": 0.01,
                             "lr_schedule": "none", "progress": False, "num_threads": 1,
                             "early_stopping_patience": None,
                             "calibrate_postprocessing": False},
                "output": {"dir": str(out)}}

    threads = torch.get_num_threads()
    cpu = train(cfg(tmp_path / "cpu"), device="cpu")
    gpu = train(cfg(tmp_path / "gpu"), device=CUDA)
    assert torch.get_num_threads() == threads
    # 6 Adam steps at lr 0.01: ±lr first updates of ~0-gradient weights (see top), so 5e-2
    assert gpu.history["train_loss"] == pytest.approx(cpu.history["train_loss"], rel=5e-2)
    net, _ = load_model(gpu.best_checkpoint, device="cpu")
    assert next(net.parameters()).device.type == "cpu"


# ---------------------------------------------------------------- GANs -------------------

def _batch(spatial_dims, n=2):
    shape = (32, 32) if spatial_dims == 2 else (16, 16, 16)
    rng = np.random.default_rng(4)
    a = torch.from_numpy(rng.random((n, 1) + shape, dtype=np.float32) * 2 - 1)
    b = torch.from_numpy(rng.random((n, 1) + shape, dtype=np.float32) * 2 - 1)
    return a, b


def _gan(kind):
    from fijibridge.synth.gan.cyclegan import CycleGAN
    from fijibridge.synth.gan.pix2pix import Pix2Pix, Vox2Vox

    torch.manual_seed(0)
    # no dropout: CPU and CUDA random streams differ
    if kind == "pix2pix":
        return Pix2Pix(features=8, depth=3, dropout=False, disc_layers=2)
    if kind == "vox2vox":
        return Vox2Vox(features=4, depth=2, dropout=False, disc_layers=2, dice_weight=1.0)
    return CycleGAN(spatial_dims=2, features=8, n_blocks=2, disc_layers=2, pool_size=0, rng=0)


_PRE_UPDATE = {"pix2pix": ("generator_l1", "discriminator"),
               "vox2vox": ("generator_l1", "discriminator", "generator_dice"),
               "cyclegan": ("generator_adv", "cycle", "identity", "discriminator_a",
                            "discriminator_b")}


@pytest.mark.parametrize("kind", ["pix2pix", "vox2vox", "cyclegan"])
def test_gan_training_steps_cuda_equal_cpu(kind):
    a, b = _batch(3 if kind == "vox2vox" else 2)
    runs = {}
    for dev in ("cpu", CUDA):
        model = _gan(kind).to(dev)
        runs[dev] = [model.train_step(a.to(dev), b.to(dev)).as_dict() for _ in range(3)]
    first_cpu, first_gpu = runs["cpu"][0], runs[CUDA][0]
    # losses of the first step computed before any weight moved: equal to float32 rounding
    # (pix2pix's generator_adv comes after the discriminator's first update)
    for key in _PRE_UPDATE[kind]:
        assert first_gpu[key] == pytest.approx(first_cpu[key], rel=1e-4, abs=1e-6), key
    for step_cpu, step_gpu in zip(runs["cpu"], runs[CUDA]):
        for key in step_cpu:
            assert step_gpu[key] == pytest.approx(step_cpu[key], rel=1e-2, abs=1e-4), key


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_gan_generation_cuda_equals_cpu(spatial_dims):
    from fijibridge.synth.gan.inference import generate_tiled
    from fijibridge.synth.gan.networks import UNetGenerator

    torch.manual_seed(0)
    g = UNetGenerator(1, 1, spatial_dims=spatial_dims, features=4, depth=2, norm="batch",
                      dropout=False).eval()
    shape = (1, 70, 90) if spatial_dims == 2 else (1, 20, 40, 36)
    x = np.random.default_rng(5).random(shape, dtype=np.float32) * 2 - 1
    tile = 32 if spatial_dims == 2 else (16, 16, 16)
    cpu = generate_tiled(x, g, tile=tile, device="cpu")
    gpu = generate_tiled(x, g, tile=tile, device=CUDA)
    assert float(np.abs(cpu - gpu).max()) <= 1e-4
    # device=None runs where the generator is (now CUDA) and gives the same
    again = generate_tiled(x, g, tile=tile)
    assert float(np.abs(again - gpu).max()) <= 1e-5
