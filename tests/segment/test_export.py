"""TorchScript and bioimage.io export."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import yaml

from fijibridge._core.errors import ModelError
from fijibridge.segment.export import export_bioimageio, export_torchscript, validate_bioimageio
from fijibridge.segment.models import save_checkpoint
from fijibridge.segment.networks import ResUNet, UNet

torch.set_num_threads(1)


@pytest.mark.parametrize("net", [UNet(2, 1, head="boundary", depth=3, features=4),
                                 ResUNet(3, 2, 4, depth=2, features=4, norm="instance"),
                                 UNet(2, 1, head="distance", depth=2, features=4)],
                         ids=["unet2d-boundary", "resunet3d-logits", "unet2d-distance"])
def test_torchscript_round_trip(tmp_path, net):
    net.eval()
    path = export_torchscript(net, tmp_path / "m.pt")  # check=True compares outputs
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; deepImageJ needs it
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = torch.jit.load(str(path))
    x = torch.randn((1, net.in_channels) + (16,) * net.spatial_dims)
    y = loaded(x)
    assert y.shape[1] == net.out_channels
    if net.head == "boundary":
        torch.testing.assert_close(y.sum(1), torch.ones_like(y[:, 0]))


def test_bioimageio_package_validates(tmp_path):
    torch.manual_seed(0)
    net = UNet(2, 1, head="boundary", depth=3, features=4).eval()
    ckpt_path = save_checkpoint(tmp_path / "ckpt.pt", net)
    img = np.random.default_rng(0).uniform(0, 200, (100, 90)).astype(np.float32)
    rdf = export_bioimageio(ckpt_path, tmp_path / "pkg", test_image=img, test_size=64)
    ok, report = validate_bioimageio(rdf)
    assert ok, report
    assert "test tensors reproduced" in report
    data = yaml.safe_load(rdf.read_text())
    for f in ("weights_torchscript.pt", "test_input.npy", "test_output.npy", "cover.png",
              "README.md", "rdf.yaml"):
        assert (tmp_path / "pkg" / f).is_file(), f
    assert data["inputs"][0]["preprocessing"][0]["id"] == "scale_range"
    assert np.load(tmp_path / "pkg" / "test_output.npy").shape == (1, 3, 64, 64)
    # tampering with the weights is caught
    (tmp_path / "pkg" / "test_output.npy").write_bytes(b"broken")
    ok, _ = validate_bioimageio(rdf, run_test=False)
    assert not ok


def test_bioimageio_refuses_3d(tmp_path):
    with pytest.raises(ValueError, match="2D single-channel"):
        export_bioimageio(UNet(3, 1, depth=2, features=4), tmp_path, test_image=np.zeros((8, 8)))


def test_missing_and_corrupt_model_files(tmp_path):
    with pytest.raises(ModelError, match="not a file"):
        export_torchscript(tmp_path / "nothing.pt", tmp_path / "out.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="corrupt"):
        export_torchscript(bad, tmp_path / "out.pt")
