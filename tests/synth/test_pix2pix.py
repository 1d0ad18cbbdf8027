"""pix2pix: shapes, training steps, config-file training, checkpoints/resume, tiling,
bad input, and the shipped ``models/pix2pix_nuclei2d``."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fijibridge import ModelError  # noqa: E402
from fijibridge._core.tiff import write_tiff  # noqa: E402
from fijibridge.synth import nuclei, simulate_microscope  # noqa: E402
from fijibridge.synth.gan.config import parse_config  # noqa: E402
from fijibridge.synth.gan.inference import generate_tiled  # noqa: E402
from fijibridge.synth.gan.networks import build_network  # noqa: E402
from fijibridge.synth.gan.pix2pix import PatchDiscriminator, Pix2Pix, UNetGenerator  # noqa: E402
from fijibridge.synth.gan.training import load_generator, train  # noqa: E402


def _pairs(n=4, shape=(64, 64)):
    masks, images = [], []
    for seed in range(n):
        ph = nuclei(shape, n_nuclei=3, radius_um=2.0, rng=seed)
        img = simulate_microscope(ph.image, spacing=ph.spacing, psf_model="gaussian",
                                  bit_depth=16, rng=seed)
        masks.append(ph.labels.astype(np.uint16))
        images.append(np.asarray(img, np.uint16))
    return np.stack(masks), np.stack(images)


@pytest.fixture(scope="module")
def pair_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("pairs")
    masks, images = _pairs()
    write_tiff(d / "images.tif", images)
    write_tiff(d / "masks.tif", masks)
    return d


def _cfg(d, out, **training):
    t = {"steps": 4, "batch_size": 2, "checkpoint_every": 2, "sample_every": 2, "log_every": 1,
         "num_threads": 1}
    t.update(training)
    return {"model": "pix2pix", "seed": 3,
            "data": {"images": str(d / "images.tif"), "masks": str(d / "masks.tif"),
                     "patch_size": [32, 32]},
            "network": {"features": 4, "depth": 3},
            "training": t, "output": {"dir": str(out)}}


def test_shapes_and_bad_input():
    g = UNetGenerator(1, 1, features=8, depth=3)
    x = torch.zeros(2, 1, 32, 32)
    assert g(x).shape == (2, 1, 32, 32)
    d = PatchDiscriminator(2, features=8)
    assert d(x, x).shape[:2] == (2, 1)
    with pytest.raises(ValueError, match="multiples of 8"):
        g(torch.zeros(1, 1, 30, 32))
    with pytest.raises(ValueError, match="depth must be >= 2"):
        UNetGenerator(depth=1)
    with pytest.raises(ValueError, match="spatial_dims must be 2 or 3"):
        UNetGenerator(spatial_dims=4)
    with pytest.raises(ValueError, match="unknown norm 'btach'.*Did you mean 'batch'"):
        UNetGenerator(norm="btach")
    with pytest.raises(ValueError, match="expects a 4D tensor"):
        g(torch.zeros(1, 1, 8, 32, 32))


def test_build_network_roundtrip():
    g = UNetGenerator(1, 1, features=4, depth=3, norm="batch")
    g2 = build_network(g.config)
    g2.load_state_dict(g.state_dict())
    assert g2.config == g.config


def test_few_training_steps_reduce_l1():
    torch.manual_seed(0)
    masks, images = [], []
    for seed in range(4):
        ph = nuclei((32, 32), n_nuclei=2, radius_um=2.0, rng=seed)
        img = simulate_microscope(ph.image, spacing=ph.spacing, psf_model="gaussian",
                                  bit_depth=None, rng=seed)
        img = (img - img.min()) / (img.max() - img.min()) * 2 - 1
        masks.append(ph.class_mask.astype(np.float32) * 2 - 1)
        images.append(img)
    cond = torch.from_numpy(np.stack(masks)[:, None])
    target = torch.from_numpy(np.stack(images)[:, None].astype(np.float32))
    model = Pix2Pix(features=8, depth=3, lr=2e-3)
    losses = [model.train_step(cond, target) for _ in range(10)]
    assert all(np.isfinite([lo.generator_l1, lo.generator_adv, lo.discriminator]).all()
               for lo in losses)
    assert losses[-1].generator_l1 < losses[0].generator_l1
    with pytest.raises(ValueError, match="same N, H and W"):
        model.train_step(cond, target[:, :, :16])


def test_config_training_writes_outputs(pair_files, tmp_path):
    r = train(parse_config(_cfg(pair_files, tmp_path / "run")))
    assert r.steps == 4 and r.stopped == "steps"
    for name in ("last.pt", "generator.pt", "config.yml", "losses.csv", "loss_curve.png",
                 "samples/step_000002.png", "samples/step_000004.png"):
        assert (tmp_path / "run" / name).is_file(), name
    assert (tmp_path / "run" / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    net, meta = load_generator(tmp_path / "run" / "generator.pt", kind="pix2pix")
    assert meta["intensity"]["dtype"] == "uint16" and not net.training


def test_resume_reproduces_uninterrupted_run(pair_files, tmp_path):
    train(parse_config(_cfg(pair_files, tmp_path / "a")))
    train(parse_config(_cfg(pair_files, tmp_path / "b")), max_steps=2)
    r = train(parse_config(_cfg(pair_files, tmp_path / "b")), resume=True)
    assert r.steps == 4
    ga, _ = load_generator(tmp_path / "a" / "generator.pt")
    gb, _ = load_generator(tmp_path / "b" / "generator.pt")
    for (k, va), vb in zip(ga.state_dict().items(), gb.state_dict().values()):
        assert torch.equal(va, vb), k
    # resuming with another architecture is refused
    bad = _cfg(pair_files, tmp_path / "b")
    bad["network"]["features"] = 8
    with pytest.raises(ModelError, match="cannot resume"):
        train(parse_config(bad), resume=True)


def test_tiled_generation_equals_whole_image_in_interior():
    torch.manual_seed(0)
    g = UNetGenerator(1, 1, features=4, depth=3, norm="batch", dropout=True)
    # make the batch-norm running statistics non-trivial
    g.train()
    with torch.no_grad():
        for _ in range(3):
            g(torch.randn(2, 1, 64, 64))
    g.eval()
    mask = np.zeros((160, 224), np.uint8)
    mask[30:60, 40:90] = 1
    mask[100:140, 150:200] = 1
    x = (mask.astype(np.float32) * 2 - 1)[None]
    whole = generate_tiled(x, g, tile=256)  # one tile covers it
    tiled = generate_tiled(x, g, tile=64, overlap=0.5)
    # far from the image border, tiles and whole image see the same input; blending
    # ramps tile edges (where zero padding differs) down; 0.02 = 1 % of the [-1, 1] range
    interior = (slice(None), slice(24, -24), slice(24, -24))
    assert np.abs(tiled[interior] - whole[interior]).max() < 0.02
    assert tiled.shape == whole.shape == x.shape


def test_bad_inputs(pair_files, tmp_path):
    cfg = _cfg(pair_files, tmp_path / "x")
    cfg["data"]["patch_sise"] = [32, 32]
    with pytest.raises(ValueError, match=r"unknown key 'patch_sise' in section 'data'; "
                                         r"allowed: images, masks.*Did you mean 'patch_size'"):
        parse_config(cfg)
    cfg = _cfg(pair_files, tmp_path / "x")
    cfg["trainig"] = {}
    with pytest.raises(ValueError, match="unknown key 'trainig' in the top level.*training"):
        parse_config(cfg)
    # mask/image shape mismatch
    masks, images = _pairs(2)
    write_tiff(tmp_path / "m.tif", masks[:, :32])
    write_tiff(tmp_path / "i.tif", images)
    cfg = _cfg(tmp_path, tmp_path / "x")
    cfg["data"].update(images=str(tmp_path / "i.tif"), masks=str(tmp_path / "m.tif"))
    with pytest.raises(ValueError, match=r"has shape \(64, 64\) but its mask .* \(32, 64\)"):
        train(parse_config(cfg))
    # all-background mask
    write_tiff(tmp_path / "m.tif", np.zeros_like(masks))
    with pytest.raises(ValueError, match="all background"):
        train(parse_config(cfg))
    # a checkpoint that is not a GAN generator
    torch.save({"format": "fijibridge-segment/1", "state_dict": {}}, tmp_path / "seg.pt")
    with pytest.raises(ModelError, match="not a fijibridge GAN checkpoint"):
        load_generator(tmp_path / "seg.pt")
