"""pix2pix smoke test: shapes and a few CPU training steps on phantom pairs."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fijibridge.synth import nuclei, simulate_microscope  # noqa: E402
from fijibridge.synth.gan.pix2pix import PatchDiscriminator, Pix2Pix, UNetGenerator  # noqa: E402


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
