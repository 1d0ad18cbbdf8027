"""Sliding-window inference and post-processing to instance labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fijibridge._core.execution import torch_device
from fijibridge.segment.inference import (
    predict,
    probabilities_to_labels,
    sliding_window_inference,
)
from fijibridge.segment.networks import UNet

torch.set_num_threads(1)


class _PointwiseNet(nn.Module):
    """Identity-like network: a fixed 1×1 convolution (no spatial context), so every
    window agrees exactly with whole-image inference wherever windows overlap."""

    def __init__(self, spatial_dims):
        super().__init__()
        conv = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
        self.conv = conv(1, 2, 1)
        with torch.no_grad():
            self.conv.weight[:] = torch.tensor([2.0, -1.0]).view(2, 1, *([1] * spatial_dims))
            self.conv.bias[:] = torch.tensor([0.5, 0.0])

    def forward(self, x):
        return self.conv(x)


@pytest.mark.parametrize("mode", ["gaussian", "linear", "constant"])
@pytest.mark.parametrize("shape,roi", [((1, 1, 70, 45), 32), ((2, 1, 20, 30, 17), (8, 16, 16)),
                                       ((1, 1, 10, 12), 32)])
def test_sliding_window_equals_whole_image(mode, shape, roi):
    torch.manual_seed(0)
    x = torch.randn(shape)
    net = _PointwiseNet(len(shape) - 2)
    with torch.no_grad():
        whole = net(x)
    out = sliding_window_inference(x, roi, net, overlap=0.3, mode=mode, sw_batch_size=3)
    assert out.shape == whole.shape
    torch.testing.assert_close(out, whole, rtol=1e-5, atol=1e-5)


def test_any_callable_and_any_size_with_a_unet():
    net = UNet(2, 1, 3, depth=3, features=4).eval()
    x = torch.randn(1, 1, 37, 53)  # not a multiple of 4: windows are padded
    out = sliding_window_inference(x, 24, net, overlap=0.5)  # roi rounded up to 24
    assert out.shape == (1, 3, 37, 53) and torch.isfinite(out).all()
    out2 = sliding_window_inference(x, 16, lambda t: t * 3, overlap=0.25)
    torch.testing.assert_close(out2, x * 3)


def test_predict_probabilities_sum_to_one_and_checks_input():
    net = UNet(2, 1, head="boundary", depth=2, features=4).eval()
    img = np.random.default_rng(0).uniform(0, 100, (40, 30))
    p = predict(img, net, roi_size=32)
    assert p.shape == (3, 40, 30)
    np.testing.assert_allclose(p.sum(0), 1, rtol=1e-5)
    with pytest.raises(ValueError, match="the model is 2D.*3 spatial"):
        predict(np.zeros((4, 40, 30)), net)
    with pytest.raises(ValueError, match="takes 1 channel"):
        predict(np.zeros((2, 40, 30)), net, channel_axis=0)
    bad = img.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        predict(bad, net)


def test_boundary_probabilities_to_touching_instances():
    # two touching discs; boundary class along the contact line
    yy, xx = np.mgrid[0:40, 0:60]
    a = (yy - 20) ** 2 + (xx - 20) ** 2 < 12 ** 2
    b = (yy - 20) ** 2 + (xx - 41) ** 2 < 12 ** 2
    fg = a | b
    boundary = fg & (np.abs(xx - 30.5) < 2)
    interior = fg & ~boundary
    probs = np.stack([~fg, interior, boundary]).astype(np.float32)
    labels = probabilities_to_labels(probs, head="boundary")
    assert labels.max() == 2
    assert (labels > 0).sum() == fg.sum()  # the watershed fills the boundary pixels too
    assert len(np.unique(labels[a & ~boundary])) == 1
    # 3D works the same way
    labels3 = probabilities_to_labels(np.repeat(probs[:, None], 4, axis=1), head="boundary")
    assert labels3.shape == (4, 40, 60) and labels3.max() == 2


def test_binary_logits_postprocessing_splits_by_distance():
    yy, xx = np.mgrid[0:40, 0:70]
    fg = ((yy - 20) ** 2 + (xx - 20) ** 2 < 14 ** 2) | ((yy - 20) ** 2 + (xx - 47) ** 2 < 14 ** 2)
    labels = probabilities_to_labels(fg[None].astype(np.float32), head="logits")
    assert labels.max() == 2


def test_device_checks():
    assert torch_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="Did you mean 'cuda'"):
        torch_device("cdua")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            torch_device("cuda")
        with pytest.raises(ValueError, match="CUDA is not available"):
            predict(np.ones((16, 16), np.float32), UNet(2, 1, 3, depth=2, features=4,
                                                         head="boundary"),
                    device="cuda")


def test_bad_sliding_window_arguments():
    x = torch.zeros(1, 1, 8, 8)
    with pytest.raises(ValueError, match="overlap must be in"):
        sliding_window_inference(x, 4, lambda t: t, overlap=1.0)
    with pytest.raises(ValueError, match="Did you mean 'gaussian'"):
        sliding_window_inference(x, 4, lambda t: t, mode="gauss")
    with pytest.raises(TypeError, match="callable"):
        sliding_window_inference(x, 4, None)
    with pytest.raises(ValueError, match="predictor must return"):
        sliding_window_inference(x, 4, lambda t: t[..., :2])


def test_test_time_augmentation_averages_the_eight_flips_and_rotations():
    torch.manual_seed(0)
    net = UNet(2, 1, head="boundary", depth=2, features=4).eval()
    img = np.random.default_rng(1).uniform(0, 100, (40, 28))
    expected = np.zeros((3, 40, 28))
    for k in range(4):
        for flip in (False, True):
            t = np.rot90(img, k)
            t = t[:, ::-1] if flip else t
            p = predict(np.ascontiguousarray(t), net, roi_size=32)
            p = p[:, :, ::-1] if flip else p
            expected += np.rot90(p, -k, axes=(1, 2)) / 8
    got = predict(img, net, roi_size=32, tta=True)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not np.allclose(got, predict(img, net, roi_size=32), atol=1e-3)  # it does something
    np.testing.assert_allclose(got.sum(0), 1, rtol=1e-5)
    # 3D: in-plane only, shape kept (non-square planes included)
    net3 = UNet(3, 1, head="boundary", depth=2, features=4).eval()
    p3 = predict(np.random.default_rng(2).uniform(0, 1, (8, 20, 12)), net3, roi_size=16, tta=True)
    assert p3.shape == (3, 8, 20, 12)
