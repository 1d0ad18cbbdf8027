"""Hostile and broken model/checkpoint files given to every entry point that reads one.

The malicious payload is real: a ``.pt`` whose unpickling runs ``os.system`` to
create a marker file (``test_payload_is_live`` proves it does when loaded the unsafe
way).  Each command-line entry point runs in a subprocess (``python3 -m
fijibridge.cli.main``) and must exit non-zero with one line on stderr naming the
file, no traceback, no advice to load with ``weights_only=False``, and no marker.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from fijibridge._core.errors import ModelError  # noqa: E402
from fijibridge._core.modelfile import load_model_file  # noqa: E402
from fijibridge._core.tiff import write_tiff  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


class _Payload:
    """Unpickling this calls os.system(command)."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _poison(path: Path, marker: Path, *, fmt="fijibridge-gan/1", raw=False) -> Path:
    """A file that creates ``marker`` when unpickled: torch zip (default) or raw pickle."""
    obj = {"format": fmt, "role": "generator", "kind": "pix2pix",
           "state_dict": {}, "evil": _Payload(f"touch {marker}")}
    path.parent.mkdir(parents=True, exist_ok=True)
    if raw:
        path.write_bytes(pickle.dumps(obj))
    else:
        torch.save(obj, path)
    return path


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "fijibridge.cli.main", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def _assert_refused(proc, file: Path, marker: Path | None = None):
    err = proc.stderr.strip()
    assert proc.returncode != 0, (proc.returncode, proc.stdout, err)
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err and "weights_only" not in err, err
    assert str(file) in err, err
    if marker is not None:
        assert not marker.exists(), "the payload ran"


def test_payload_is_live(tmp_path):
    """Guard: the payload does run code when loaded the unsafe way (so the tests below
    would see it)."""
    marker = tmp_path / "ran"
    f = _poison(tmp_path / "m.pt", marker)
    torch.load(f, weights_only=False)
    assert marker.exists()


@pytest.fixture(scope="module")
def mask_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("masks")
    m = np.zeros((64, 64), np.uint16)
    m[20:40, 20:40] = 1
    write_tiff(d / "m.tif", m)
    return d


def test_generate_refuses_poisoned_model(tmp_path, mask_dir):
    marker = tmp_path / "MARKER"
    for raw in (False, True):
        f = _poison(tmp_path / f"evil_{raw}.pt", marker, raw=raw)
        proc = _cli("generate", "--model", f, "--masks", mask_dir, "-o", tmp_path / "out",
                    cwd=tmp_path)
        _assert_refused(proc, f, marker)
        assert "could run code" in proc.stderr and "posix.system" in proc.stderr, proc.stderr
    assert not (tmp_path / "out").exists()


def test_train_pix2pix_resume_refuses_poisoned_last_pt(tmp_path, mask_dir):
    rng = np.random.default_rng(0)
    m = np.zeros((2, 64, 64), np.uint16)
    m[:, 16:40, 20:44] = 1
    write_tiff(tmp_path / "masks.tif", m)
    write_tiff(tmp_path / "images.tif", rng.integers(0, 4000, (2, 64, 64)).astype(np.uint16))
    (tmp_path / "train.yml").write_text(
        "model: pix2pix\nseed: 1\n"
        "data: {images: images.tif, masks: masks.tif, patch_size: [32, 32]}\n"
        "network: {features: 4, depth: 3}\n"
        "training: {steps: 2, batch_size: 2, num_threads: 1}\n"
        "output: {dir: run}\n")
    marker = tmp_path / "MARKER"
    last = _poison(tmp_path / "run" / "last.pt", marker)
    proc = _cli("train", "pix2pix", "train.yml", "--resume", cwd=tmp_path)
    _assert_refused(proc, last, marker)


def test_segment_refuses_poisoned_model(tmp_path, mask_dir):
    marker = tmp_path / "MARKER"
    img = tmp_path / "img.tif"
    write_tiff(img, np.random.default_rng(0).random((64, 64), dtype=np.float32))
    f = _poison(tmp_path / "evil.pt", marker, fmt="fijibridge.segment.checkpoint/1")
    proc = _cli("segment", img, "--model", f, "-o", tmp_path / "labels.tif", cwd=tmp_path)
    _assert_refused(proc, f, marker)
    assert not (tmp_path / "labels.tif").exists()


def test_train_unet_resume_refuses_poisoned_last_pt(tmp_path):
    (tmp_path / "train.yml").write_text(
        "model: {depth: 2, features: 4, head: boundary}\n"
        "data: {synthetic: {count: 2, validation_count: 1, shape: [64, 64], seed: 3}}\n"
        "augment: {patch_size: [32, 32], p_elastic: 0.0}\n"
        "training: {batch_size: 2, max_steps: 2, steps_per_epoch: 1, progress: false}\n"
        "output: {dir: run}\n")
    marker = tmp_path / "MARKER"
    last = _poison(tmp_path / "run" / "last.pt", marker, fmt="fijibridge.segment.checkpoint/1")
    proc = _cli("train", "unet", "train.yml", "--resume", cwd=tmp_path)
    _assert_refused(proc, last, marker)


def test_classify_predict_refuses_poisoned_model(tmp_path):
    marker = tmp_path / "MARKER"
    table = tmp_path / "t.csv"
    table.write_text("area,mean\n1.0,2.0\n3.0,4.0\n")
    for raw in (False, True):
        f = _poison(tmp_path / f"evil_{raw}.skops", marker, raw=raw)
        proc = _cli("classify", "predict", f, table, "-o", tmp_path / "pred.csv", cwd=tmp_path)
        _assert_refused(proc, f, marker)
    assert not (tmp_path / "pred.csv").exists()


# ---------------------------------------------------------------- broken files, library level

def _broken_files(tmp_path: Path) -> dict:
    good = tmp_path / "good.pt"
    torch.save({"format": "x", "w": torch.zeros(1000)}, good)
    data = good.read_bytes()
    files = {
        "empty": (tmp_path / "empty.pt", b""),
        "truncated zip": (tmp_path / "trunc.pt", data[: len(data) // 2]),
        "text": (tmp_path / "text.pt", b"hello, I am not a model\n"),
        "tiff": (tmp_path / "img.pt", b"II*\x00" + bytes(100)),
        "truncated pickle": (tmp_path / "raw.pt", pickle.dumps({"a": 1})[:5]),
    }
    for path, content in files.values():
        path.write_bytes(content)
    folder = tmp_path / "folder.pt"
    folder.mkdir()
    return {**{k: p for k, (p, _) in files.items()}, "folder": folder,
            "missing": tmp_path / "missing.pt"}


@pytest.mark.parametrize("kind", ["empty", "truncated zip", "text", "tiff", "truncated pickle",
                                  "folder", "missing"])
def test_broken_file_is_one_line_model_error(tmp_path, kind):
    f = _broken_files(tmp_path)[kind]
    with pytest.raises(ModelError, match="is not a fijibridge") as e:
        load_model_file(f, what="model file")
    msg = str(e.value)
    assert "\n" not in msg and str(f) in msg and "weights_only" not in msg
    assert e.value.__cause__ is None  # torch's multi-line message is not chained in


def test_library_loaders_refuse_payload(tmp_path):
    from fijibridge.classify import load_model as load_classifier
    from fijibridge.segment.models import load_model, read_checkpoint
    from fijibridge.synth.gan.training import load_generator

    marker = tmp_path / "MARKER"
    for loader, fmt in ((load_generator, "fijibridge-gan/1"),
                        (read_checkpoint, "fijibridge.segment.checkpoint/1"),
                        (load_model, "fijibridge.segment.checkpoint/1"),
                        (load_classifier, "x")):
        f = _poison(tmp_path / f"{loader.__name__}.pt", marker, fmt=fmt)
        with pytest.raises(ModelError) as e:
            loader(f)
        assert "\n" not in str(e.value) and str(f) in str(e.value)
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["empty", "truncated zip", "text", "folder"])
def test_cli_broken_model_is_one_line(tmp_path, mask_dir, kind):
    f = _broken_files(tmp_path)[kind]
    proc = _cli("generate", "--model", f, "--masks", mask_dir, "-o", tmp_path / "out",
                cwd=tmp_path)
    if kind == "folder":  # a folder means "the model.pt inside"
        assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1
        assert "Traceback" not in proc.stderr
    else:
        _assert_refused(proc, f)


def test_shipped_models_load_with_the_safe_loader():
    for rel in ("pix2pix_nuclei2d/model.pt", "nuclei2d/model.pt", "nuclei2d/v1/model.pt"):
        state = load_model_file(ROOT / "models" / rel)
        assert isinstance(state, dict) and "state_dict" in state, rel


def test_written_checkpoints_hold_only_plain_values(tmp_path):
    """What fijibridge writes is read back by the safe loader (numpy scalars, paths and
    sets made plain)."""
    from fijibridge._core.modelfile import plain

    value = {"a": np.float32(1.5), "b": np.int64(3), "p": tmp_path, "s": {2, 1},
             "t": (1, np.arange(2)), "x": torch.ones(2)}
    torch.save(plain(value), tmp_path / "c.pt")
    back = load_model_file(tmp_path / "c.pt")
    assert back["a"] == 1.5 and back["b"] == 3 and back["p"] == str(tmp_path)
    assert back["s"] == [1, 2] and back["t"] == (1, [0, 1]) and torch.equal(back["x"], value["x"])
