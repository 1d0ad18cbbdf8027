"""Training from a config: validation, a tiny run that learns, resume, checkpoints."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from fijibridge._core.errors import ModelError
from fijibridge.segment.models import load_model, load_weights, read_checkpoint
from fijibridge.segment.networks import ResUNet, UNet
from fijibridge.segment.training import load_config, parse_config, train


def _tiny(out_dir, **training):
    return {
        "model": {"depth": 2, "features": 4, "head": "boundary"},
        "data": {"synthetic": {"count": 4, "validation_count": 1, "shape": [64, 64], "seed": 3}},
        "augment": {"patch_size": [32, 32], "p_elastic": 0.0},
        "training": {"batch_size": 4, "max_steps": 30, "steps_per_epoch": 10, "lr": 0.01,
                     "lr_schedule": "none", "progress": False, "early_stopping_patience": None,
                     **training},
        "output": {"dir": str(out_dir)},
    }


def test_tiny_run_lowers_loss_and_writes_outputs(tmp_path):
    result = train(_tiny(tmp_path / "run"))
    losses = result.history["train_loss"]
    assert result.steps == 30 and len(losses) == 3
    assert losses[-1] < losses[0]
    for name in ("best.pt", "last.pt", "history.json", "curves.png", "config.json"):
        assert (tmp_path / "run" / name).is_file(), name
    assert json.loads((tmp_path / "run" / "history.json").read_text())["step"] == [10, 20, 30]
    net, ckpt = load_model(tmp_path / "run" / "best.pt")
    assert net.config["features"] == 4 and ckpt["preprocessing"]["normalize"] == "percentile"
    # post-processing thresholds were chosen on the validation image and stored
    chosen = ckpt["calibration"]["chosen"]
    assert ckpt["postprocessing"]["seed_threshold"] == chosen["seed_threshold"]


def test_resume_continues_exactly(tmp_path):
    straight = train(_tiny(tmp_path / "a", max_steps=20))
    first = train(_tiny(tmp_path / "b", max_steps=10))
    assert first.steps == 10
    resumed = train(_tiny(tmp_path / "b", max_steps=20), resume=True)
    assert resumed.steps == 20 and resumed.history["step"] == [10, 20]
    a = read_checkpoint(tmp_path / "a" / "last.pt")["state_dict"]
    b = read_checkpoint(tmp_path / "b" / "last.pt")["state_dict"]
    for k in a:  # fixed seeds + saved random states: bit-identical to the straight run
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)


def test_resume_without_checkpoint_is_an_error(tmp_path):
    with pytest.raises(ModelError, match="cannot resume"):
        train(_tiny(tmp_path / "none"), resume=True)


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    train(_tiny(tmp_path / "run", max_steps=10))
    other = ResUNet(2, 1, head="boundary", depth=2, features=4)
    with pytest.raises(ModelError, match="another architecture.*name: checkpoint 'UNet' vs model 'ResUNet'"):
        load_weights(other, tmp_path / "run" / "best.pt")
    wider = UNet(2, 1, head="boundary", depth=2, features=8)
    with pytest.raises(ModelError, match="features: checkpoint 4 vs model 8"):
        load_weights(wider, tmp_path / "run" / "best.pt")


def test_unknown_keys_name_the_key_and_allowed_ones():
    with pytest.raises(ValueError, match=r"unknown key 'batchsize' in section 'training'.*"
                                         r"allowed: batch_size.*Did you mean 'batch_size'"):
        parse_config({"training": {"batchsize": 4}})
    with pytest.raises(ValueError, match="unknown key 'modle' in the top level.*Did you mean 'model'"):
        parse_config({"modle": {}})
    with pytest.raises(ValueError, match="unknown key 'frame' in section 'data.samples'"):
        parse_config({"data": {"samples": [{"image": "hela", "labels": "hela_mask", "frame": [0]}]}})
    with pytest.raises(ValueError, match="Did you mean 'dice'"):
        parse_config({"loss": {"dise": 1.0}})
    with pytest.raises(ValueError, match="training.lr"):
        parse_config({"training": {"lr": -1}})


def test_yaml_config_paths_are_relative_to_the_file(tmp_path):
    cfg_file = tmp_path / "cfg" / "train.yml"
    cfg_file.parent.mkdir()
    cfg_file.write_text(yaml.safe_dump({"output": {"dir": "out"}}))
    cfg = load_config(cfg_file)
    assert cfg.path(cfg.output.dir) == (tmp_path / "cfg" / "out").resolve()
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yml")


def test_shipped_config_is_valid():
    from fijibridge.segment.models import models_dir

    cfg = load_config(models_dir() / "nuclei2d" / "train.yml")
    # at most the 2 cores of the shared build machine
    assert cfg.model.features <= 32 and cfg.training.num_threads <= 2
    # the held-out test frames (HeLa 15-19, CHO 16-19) are in neither training nor validation
    held_out = {"hela": {15, 16, 17, 18, 19}, "cho": {16, 17, 18, 19}}
    for s in cfg.data.samples:
        assert not (held_out.get(s.image, set()) & set(s.frames + s.validation_frames)), s.image
    # the unseen test images are never used
    assert all(s.image not in ("dsb2018_nuclei", "nuclei3d") for s in cfg.data.samples)
    if cfg.training.init_from:  # a fine-tuned model: its starting weights are shipped too
        assert cfg.path(cfg.training.init_from).is_file()


def test_no_training_data_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no training data"):
        train({"output": {"dir": str(tmp_path)}, "data": {"synthetic": {"count": 0}}})


def test_patch_size_must_match_dims(tmp_path):
    cfg = _tiny(tmp_path)
    cfg["model"]["spatial_dims"] = 3
    with pytest.raises(ValueError, match="patch_size"):
        train(cfg)


def test_early_stopping_when_validation_stops_improving(tmp_path):
    # lr ~ 0 and instance norm (no running statistics): the validation F1 cannot change,
    # so after the first epoch no epoch improves and training stops after `patience`
    cfg = _tiny(tmp_path / "run", lr=1e-12, max_steps=100, steps_per_epoch=5,
                early_stopping_patience=2)
    cfg["model"]["norm"] = "instance"
    result = train(cfg)
    assert result.stopped == "early_stopping"
    assert result.steps == 15


def test_init_from_starts_at_the_given_weights(tmp_path):
    first = train(_tiny(tmp_path / "a", max_steps=10))
    cfg = _tiny(tmp_path / "b", max_steps=1, lr=1e-12, init_from=str(first.best_checkpoint))
    second = train(cfg)
    a = read_checkpoint(first.best_checkpoint)["state_dict"]
    b = read_checkpoint(second.last_checkpoint)["state_dict"]
    for k in a:  # one step at lr ~0 from the first run's weights
        if a[k].is_floating_point() and "running" not in k:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)


def test_init_from_another_architecture_is_refused(tmp_path):
    first = train(_tiny(tmp_path / "a", max_steps=10))
    cfg = _tiny(tmp_path / "b", max_steps=1, init_from=str(first.best_checkpoint))
    cfg["model"]["features"] = 8
    with pytest.raises(ModelError):
        train(cfg)


def test_planes_and_scale_of_a_tzyx_sample(tmp_path):
    import numpy as np

    from fijibridge._core.tiff import write_tiff
    from fijibridge.segment.training import _load_pairs

    img = np.zeros((3, 2, 40, 40), np.float32)
    lab = np.zeros((3, 2, 40, 40), np.uint16)
    img[:, :, 10:30, 10:30] = 1.0
    lab[:, :, 10:30, 10:30] = 1
    write_tiff(tmp_path / "img.tif", img)
    write_tiff(tmp_path / "lab.tif", lab)
    base = {"image": "img.tif", "labels": "lab.tif", "frames": [0, 1], "validation_frames": [2]}
    cfg = parse_config({"data": {"samples": [{**base, "planes": [0, 1], "scale": 0.5}]}},
                       base_dir=tmp_path)
    (_, _, pairs, val), = _load_pairs(cfg)
    assert len(pairs) == 4 and len(val) == 2
    assert pairs[0][0].shape == (20, 20) and pairs[0][1].max() == 1
    with pytest.raises(ValueError, match="planes"):
        _load_pairs(parse_config({"data": {"samples": [base]}}, base_dir=tmp_path))
