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
    assert cfg.model.features <= 32 and cfg.training.num_threads == 1
    # the held-out HeLa test frames (15-19) are in neither training nor validation
    hela = cfg.data.samples[0]
    assert not ({15, 16, 17, 18, 19} & set(hela.frames + hela.validation_frames))
    assert all(s.image != "dsb2018_nuclei" for s in cfg.data.samples)


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
