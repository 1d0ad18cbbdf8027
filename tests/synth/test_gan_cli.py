"""``fijibridge generate`` and the GAN trainers' command-line glue; the shipped
``models/pix2pix_nuclei2d``."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fijibridge import ModelError  # noqa: E402
from fijibridge._core.tiff import read_tiff, write_tiff  # noqa: E402
from fijibridge.cli.main import main  # noqa: E402
from fijibridge.synth import nuclei, simulate_microscope  # noqa: E402
from fijibridge.synth.gan.cli import gan_trainers, run_train  # noqa: E402
from fijibridge.synth.gan.training import load_generator, models_dir  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny pix2pix trained for 2 steps through the command-line glue."""
    d = tmp_path_factory.mktemp("gan")
    labels, images = [], []
    for seed in range(2):
        ph = nuclei((64, 64), n_nuclei=3, radius_um=2.0, rng=seed)
        images.append(np.asarray(simulate_microscope(ph.image, spacing=ph.spacing,
                                                     psf_model="gaussian", rng=seed), np.uint16))
        labels.append(ph.labels.astype(np.uint16))
    write_tiff(d / "images.tif", np.stack(images))
    write_tiff(d / "masks.tif", np.stack(labels))
    (d / "train.yml").write_text(
        "data: {images: images.tif, masks: masks.tif, patch_size: [32, 32]}\n"
        "network: {features: 4, depth: 3}\n"
        "training: {steps: 2, batch_size: 2, num_threads: 1}\n"
        "output: {dir: run}\n")
    args = types.SimpleNamespace(config=str(d / "train.yml"), resume=False, max_steps=None,
                                 device=None)
    assert run_train("pix2pix", args) == 0
    return d, labels


def test_trainer_table():
    t = gan_trainers()
    assert sorted(t) == ["cyclegan", "pix2pix", "vox2vox"]
    assert all(callable(f) and isinstance(h, str) for f, h in t.values())


def test_run_train_checks_model_kind(trained, tmp_path):
    d, _ = trained
    args = types.SimpleNamespace(config=str(d / "train.yml"), resume=False, max_steps=1,
                                 device=None)
    (tmp_path / "bad.yml").write_text("model: cyclegan\n" + (d / "train.yml").read_text())
    with pytest.raises(ValueError, match="trains model 'cyclegan' but 'pix2pix' was asked"):
        run_train("pix2pix", types.SimpleNamespace(**{**vars(args), "config": str(tmp_path / "bad.yml")}))


def test_generate_cli(trained, tmp_path, capsys):
    d, labels = trained
    masks = tmp_path / "masks"
    write_tiff(masks / "a.tif", np.pad(labels[0], ((0, 40), (0, 90))))  # 104 x 154
    write_tiff(masks / "stack.tif", np.stack(labels), axes="ZYX")
    rc = main(["generate", "--model", str(d / "run" / "generator.pt"), "--masks", str(masks),
               "-o", str(tmp_path / "out"), "--tile", "64"])
    assert rc == 0
    written = json.loads(capsys.readouterr().out)["written"]
    assert len(written) == 2
    a = read_tiff(tmp_path / "out" / "a.tif")
    assert a.data.shape == (104, 154) and a.data.dtype == np.uint16
    assert read_tiff(tmp_path / "out" / "stack.tif").data.shape == (2, 64, 64)
    assert not any(p.name.startswith(".") for p in (tmp_path / "out").iterdir())


def test_generate_cli_bad_input(trained, tmp_path, capsys):
    d, labels = trained
    gen = str(d / "run" / "generator.pt")
    masks = tmp_path / "m"
    write_tiff(masks / "empty.tif", np.zeros((64, 64), np.uint16))
    rc = main(["generate", "--model", gen, "--masks", str(masks), "-o", str(tmp_path / "o")])
    assert rc == 2 and "all background" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written when a mask is bad
    rc = main(["generate", "--model", gen, "--masks", str(tmp_path / "none"), "-o",
               str(tmp_path / "o")])
    assert rc == 1 and "no mask folder" in capsys.readouterr().err
    # a training checkpoint, and a non-GAN checkpoint, are refused
    with pytest.raises(ModelError, match="training checkpoint, not an exported generator"):
        load_generator(d / "run" / "last.pt")
    torch.save({"format": "fijibridge-unet/1", "model": {}}, tmp_path / "unet.pt")
    rc = main(["generate", "--model", str(tmp_path / "unet.pt"), "--masks", str(masks), "-o",
               str(tmp_path / "o")])
    assert rc == 1 and "not a fijibridge GAN checkpoint" in capsys.readouterr().err


def test_shipped_model_beats_untrained_generator_on_held_out_frame():
    from skimage.metrics import structural_similarity

    from fijibridge.data import load_sample
    from fijibridge.synth.gan.data import IntensityScale
    from fijibridge.synth.gan.inference import generate_from_mask
    from fijibridge.synth.gan.networks import build_network

    path = models_dir() / "pix2pix_nuclei2d" / "model.pt"
    assert path.stat().st_size < 20e6
    net, meta = load_generator("pix2pix_nuclei2d")
    assert meta["kind"] == "pix2pix" and 18 not in meta["config"]["data"]["indices"]
    # frame 18 was held out from training; a 256 x 256 crop with several nuclei
    sl = (slice(200, 456), slice(400, 656))
    real = load_sample("hela").data[18][sl]
    mask = load_sample("hela_mask").data[18][sl]
    torch.manual_seed(0)
    untrained = build_network(meta["network"]).eval()
    scale = IntensityScale(**meta["intensity"])
    ssim = {}
    for name, g in (("trained", net), ("untrained", untrained)):
        out = generate_from_mask(mask, g, meta, tile=256)
        ssim[name] = structural_similarity(scale.to_unit(real), scale.to_unit(out), data_range=2)
    assert ssim["trained"] > ssim["untrained"] + 0.2, ssim
