"""U-Net / residual U-Net: shapes in 2D and 3D, gradient flow, argument checks."""

from __future__ import annotations

import pytest
import torch

from fijibridge.segment.networks import HEADS, NORMS, ResUNet, UNet, build_network

torch.set_num_threads(1)


@pytest.mark.parametrize("cls", [UNet, ResUNet])
@pytest.mark.parametrize("spatial_dims,shape", [(2, (2, 1, 32, 48)), (3, (1, 1, 8, 16, 24))])
@pytest.mark.parametrize("head,channels", [("logits", 4), ("boundary", 3), ("distance", 2)])
def test_output_shape(cls, spatial_dims, shape, head, channels):
    net = cls(spatial_dims, 1, channels if head == "logits" else None, depth=3, features=4,
              head=head)
    out = net(torch.randn(shape))
    assert out.shape == (shape[0], channels) + shape[2:]
    assert net.size_multiple == 4


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("cls", [UNet, ResUNet])
def test_every_parameter_gets_gradient(cls, norm):
    torch.manual_seed(0)
    net = cls(2, 2, 3, depth=3, features=8, norm=norm, dropout=0.1)
    net(torch.randn(2, 2, 16, 16)).square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_multi_input_channels_and_depth_one():
    net = UNet(2, 3, 2, depth=1, features=4)
    assert net(torch.randn(1, 3, 5, 7)).shape == (1, 2, 5, 7)  # depth 1: any size


def test_residual_differs_from_plain():
    torch.manual_seed(0)
    a = UNet(2, 1, 1, depth=2, features=4)
    b = ResUNet(2, 1, 1, depth=2, features=4)
    assert sum(p.numel() for p in b.parameters()) > sum(p.numel() for p in a.parameters())


def test_config_rebuilds_same_architecture():
    net = ResUNet(3, 1, head="boundary", depth=2, features=4, norm="group", num_groups=2)
    again = build_network(net.config)
    assert type(again) is ResUNet and again.config == net.config
    again.load_state_dict(net.state_dict())


@pytest.mark.parametrize("kwargs,match", [
    ({"spatial_dims": 4}, "spatial_dims must be 2..3"),
    ({"norm": "batchnorm"}, "Did you mean 'batch'"),
    ({"head": "boundaries"}, "Did you mean 'boundary'"),
    ({"head": "boundary", "out_channels": 2}, "produces 3 channels"),
    ({"dropout": 1.5}, "dropout"),
    ({"depth": 0}, "depth must be 1..6"),
    ({"norm": "group", "features": 12, "num_groups": 8}, "divisible"),
])
def test_bad_arguments_fail_in_constructor(kwargs, match):
    with pytest.raises(ValueError, match=match):
        UNet(**kwargs)


def test_bad_argument_types():
    with pytest.raises(TypeError, match="features must be an integer"):
        UNet(features=8.5)


def test_wrong_input_dimensionality_channels_and_size():
    net = UNet(2, 1, 1, depth=3, features=4)
    with pytest.raises(ValueError, match="expects a 4D tensor"):
        net(torch.zeros(1, 1, 8, 16, 16))
    with pytest.raises(ValueError, match="expects 1 input channel"):
        net(torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="not a multiple of 4.*sliding_window_inference"):
        net(torch.zeros(1, 1, 18, 16))


def test_names_listed():
    assert set(HEADS) == {"logits", "boundary", "distance"}
