"""CycleGAN (2D, 3D): shapes, image pool, training steps, phantom-mask domain, resume."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fijibridge._core.tiff import write_tiff  # noqa: E402
from fijibridge.synth import golgi, simulate_microscope  # noqa: E402
from fijibridge.synth.gan.config import parse_config  # noqa: E402
from fijibridge.synth.gan.cyclegan import CycleGAN, ImagePool  # noqa: E402
from fijibridge.synth.gan.networks import ResNetGenerator  # noqa: E402
from fijibridge.synth.gan.training import load_generator, train  # noqa: E402


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_resnet_generator_shapes(spatial_dims):
    g = ResNetGenerator(1, 2, spatial_dims=spatial_dims, features=4, n_blocks=1)
    shape = (1, 1) + (8,) * (spatial_dims == 3) + (16, 16)
    assert g(torch.zeros(shape)).shape == (1, 2) + shape[2:]
    with pytest.raises(ValueError, match="multiples of 4"):
        g(torch.zeros(shape[:-1] + (18,)))


def test_image_pool():
    pool = ImagePool(2, rng=0)
    a = torch.zeros(2, 1, 4, 4)
    assert torch.equal(pool.query(a), a) and len(pool.images) == 2
    b = torch.ones(8, 1, 4, 4)
    out = pool.query(b)
    assert out.shape == b.shape and (out == 0).any()  # some old images came back
    assert torch.equal(ImagePool(0).query(b), b)


def test_training_steps_reduce_cycle_loss():
    torch.manual_seed(0)
    ph = golgi((32, 32), n_nuclei=2, radius_um=2.0, spacing=0.25, rng=0)
    img = simulate_microscope(ph.image, spacing=ph.spacing, psf_model="gaussian",
                              bit_depth=None, rng=0)
    a = torch.from_numpy(((img - img.min()) / np.ptp(img) * 2 - 1)[None, None].astype(np.float32))
    b = torch.from_numpy((ph.class_mask / 2.0 * 2 - 1)[None, None].astype(np.float32))
    m = CycleGAN(features=4, n_blocks=1, disc_layers=2, lr=2e-3, rng=0)
    losses = [m.train_step(a, b) for _ in range(8)]
    assert all(np.isfinite(list(lo.as_dict().values())).all() for lo in losses)
    assert losses[-1].cycle < losses[0].cycle
    with pytest.raises(ValueError, match="identity_weight > 0 needs"):
        CycleGAN(1, 2)


def test_unsupervised_segmentation_config_with_phantom_masks_and_resume(tmp_path):
    imgs = []
    for seed in range(2):
        ph = golgi((48, 48), n_nuclei=2, radius_um=2.0, spacing=0.25, rng=seed)
        imgs.append(np.asarray(simulate_microscope(ph.image, spacing=ph.spacing,
                                                   psf_model="gaussian", bit_depth=16, rng=seed),
                               np.uint16))
    write_tiff(tmp_path / "real.tif", np.stack(imgs))
    cfg = {"model": "cyclegan", "seed": 1, "direction": "image_to_mask",
           "data": {"images": "real.tif", "masks": "phantom:golgi", "mask_classes": 2,
                    "patch_size": [32, 32], "phantom_count": 2, "phantom_shape": [48, 48]},
           "network": {"features": 4, "n_blocks": 1, "disc_layers": 2},
           "loss": {"pool_size": 3},
           "training": {"steps": 4, "batch_size": 2, "checkpoint_every": 2, "num_threads": 1},
           "output": {"dir": "a"}}
    train(parse_config(cfg, base_dir=tmp_path))
    cfg["output"]["dir"] = "b"
    train(parse_config(cfg, base_dir=tmp_path), max_steps=2)
    train(parse_config(cfg, base_dir=tmp_path), resume=True)
    ga, meta = load_generator(tmp_path / "a" / "generator.pt", kind="cyclegan")
    gb, _ = load_generator(tmp_path / "b" / "generator.pt")
    assert meta["direction"] == "image_to_mask" and ga.config["name"] == "ResNetGenerator"
    for (k, va), vb in zip(ga.state_dict().items(), gb.state_dict().values()):
        assert torch.equal(va, vb), k
    cfg["data"]["masks"] = "phantom:golgy"
    with pytest.raises(ValueError, match="unknown phantom mask kind 'golgy'.*'golgi'"):
        parse_config(cfg, base_dir=tmp_path)
    cfg.update(model="pix2pix")
    cfg["data"]["masks"] = "phantom:golgi"
    with pytest.raises(ValueError, match="serve CycleGAN only"):
        parse_config(cfg, base_dir=tmp_path)


def test_pool_size_zero_trains():
    """pool_size=0 (no history of fakes) used to hand the discriminators the generators'
    graph, and the second backward pass crashed."""
    torch.manual_seed(0)
    a = torch.rand(2, 1, 16, 16) * 2 - 1
    b = torch.rand(2, 1, 16, 16) * 2 - 1
    m = CycleGAN(features=4, n_blocks=1, disc_layers=2, pool_size=0, rng=0)
    losses = [m.train_step(a, b) for _ in range(2)]
    assert all(np.isfinite(list(lo.as_dict().values())).all() for lo in losses)
