"""Faster U-Net inference: BatchNorm folding, channels-last, the whole-image window, the
unused distance transform, and the optional ONNX Runtime / OpenVINO back-ends.

The back-end tests run with and without ``fijibridge[fast]``: those that need
onnxruntime/onnx or openvino skip when they are missing, and the "missing" path is
checked by hiding the installed package from the import machinery (``_hidden``), the
only way to have it absent here.

Tolerances: folding is exact in real arithmetic; float32 sums in another order differ by
~1e-6 relative, so logits (|x| ≲ 30) are compared at 1e-4.  Labels from the whole-image
window differ from the 256² tiles' only near tile seams and image borders: the F1
against the ground truth stays within 0.002 (the target of issue #20).
"""

from __future__ import annotations

import importlib.util
import json
import logging

import numpy as np
import pytest
import torch

from fijibridge.segment.backends import (
    available_backends,
    compiled_cache_dir,
    fold_batchnorm,
    inference_predictor,
    resolve_backend,
)
from fijibridge.segment.inference import auto_window, predict, probabilities_to_labels
from fijibridge.segment.networks import ResUNet, UNet

torch.set_num_threads(1)

HAVE = {b: b in available_backends() for b in ("onnx", "openvino")}
needs = {b: pytest.mark.skipif(not HAVE[b], reason=f"backend {b!r} not installed "
                               "(pip install 'fijibridge[fast]')") for b in HAVE}


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("FIJIBRIDGE_CACHE", str(tmp_path / "compiled"))


def _trained_like(cls, spatial_dims):
    """A network whose BatchNorms have non-trivial running statistics and affine terms
    (a fresh one has mean 0, var 1, γ 1, β 0, which would make folding trivial)."""
    torch.manual_seed(0)
    net = cls(spatial_dims, 1, head="boundary", depth=3, features=8)
    for m in net.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            with torch.no_grad():
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net.eval()


@pytest.mark.parametrize("cls", [UNet, ResUNet])
@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_folding_batchnorm_keeps_the_outputs(cls, spatial_dims):
    net = _trained_like(cls, spatial_dims)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    folded = fold_batchnorm(net)
    bn = (torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)
    assert not any(isinstance(m, bn) for m in folded.modules())
    assert sum(isinstance(m, bn) for m in net.modules()) == 2 * (2 * 3 - 1)  # untouched
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    x = torch.randn((2, 1) + ((8, 16, 16) if spatial_dims == 3 else (32, 24)))
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net(x), rtol=1e-4, atol=1e-4)


def test_folding_leaves_instance_and_group_norms():
    net = UNet(2, 1, head="boundary", depth=2, features=8, norm="group").eval()
    folded = fold_batchnorm(net)
    assert sum(isinstance(m, torch.nn.GroupNorm) for m in folded.modules()) == 6
    x = torch.randn(1, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), net(x))
    with pytest.raises(TypeError, match="nn.Module"):
        fold_batchnorm(lambda t: t)


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_torch_predictor_channels_last_equals_the_plain_network(spatial_dims):
    net = _trained_like(UNet, spatial_dims)
    fast = inference_predictor(net, device="cpu", backend="torch")
    plain = inference_predictor(net, device="cpu", backend="torch", optimize=False)
    assert fast.backend == plain.backend == "torch" and plain._run is net
    x = torch.randn((1, 1) + ((8, 24, 16) if spatial_dims == 3 else (40, 24)))
    with torch.no_grad():
        torch.testing.assert_close(fast(x), net(x), rtol=1e-4, atol=1e-4)
    assert fast(x).is_contiguous()


def test_auto_window_whole_image_with_border_or_largest_window_that_fits():
    roi, border = auto_window((1024, 1024), size_multiple=8, features=16, max_memory=4 << 30)
    assert roi == (1088, 1088) and border == (32, 32)  # 32-px reflected border each side
    roi, border = auto_window((64, 256, 256), size_multiple=8, features=16, max_memory=4 << 30)
    assert roi == (80, 288, 288) and border == (8, 16, 16)  # 3D: 16 px; z: 1/8 of 64
    roi, border = auto_window((61, 57), size_multiple=8, features=16, max_memory=4 << 30)
    assert roi == (256, 256) and border == (8, 8)  # padded to 256 as the old tiles were
    roi, border = auto_window((6, 61, 57), size_multiple=4, features=16, max_memory=4 << 30)
    assert roi == (16, 256, 256) and border == (4, 7, 7)  # Z: its border only
    # over budget: halve the longest axis until it fits
    roi, _ = auto_window((1024, 1024), size_multiple=8, features=16,
                         max_memory=7 * 16 * 4 * 600 * 600)
    assert roi == (544, 544)
    with pytest.raises(ValueError, match="border"):
        auto_window((64, 64), border=(1, 2, 3))


def _counting(net):
    calls = []

    def run(batch):
        calls.append(tuple(batch.shape))
        return net(batch)

    for attr in ("spatial_dims", "in_channels", "head", "size_multiple", "config"):
        setattr(run, attr, getattr(net, attr))
    return run, calls


def test_predict_runs_one_window_when_it_fits_and_tiles_when_not():
    net = _trained_like(UNet, 2)
    img = np.random.default_rng(0).random((300, 420)).astype(np.float32)
    run, calls = _counting(net)
    whole = predict(img, run, device="cpu")
    assert calls == [(1, 1, 364, 484)]  # a 32-px border each side, to multiples of 4
    calls.clear()
    tiled = predict(img, run, device="cpu", max_memory=7 * 8 * 4 * 256 * 256)
    assert len(calls) > 1 and all(c[2] * c[3] <= 256 * 256 for c in calls)
    assert tiled.shape == whole.shape == (3, 300, 420)
    np.testing.assert_allclose(tiled.sum(0), 1, atol=1e-5)
    # the windows see the same pixels away from the seams
    assert np.mean(np.abs(tiled - whole) < 0.05) > 0.9


@pytest.fixture(scope="module")
def dsb():
    from fijibridge.data import load_sample

    try:
        return load_sample("dsb2018_nuclei").data, load_sample("dsb2018_nuclei_mask").data
    except FileNotFoundError:
        pytest.skip("sample data not fetched (python -m fijibridge.data fetch)")


@pytest.fixture(scope="module")
def nuclei2d():
    from fijibridge.segment.models import load_model

    return load_model("nuclei2d", device="cpu")


def _labels(image, net, ckpt, **kw):
    p = predict(image, net, preprocessing=ckpt["preprocessing"], device="cpu", **kw)
    return p, probabilities_to_labels(p, head="boundary", **ckpt["postprocessing"])


def test_whole_image_window_keeps_the_f1_of_the_tiles_on_the_dsb_image(dsb, nuclei2d):
    from fijibridge.segment.metrics import match_instances

    image, truth = dsb
    net, ckpt = nuclei2d
    _, before = _labels(image, net, ckpt, roi_size=256, optimize=False, backend="torch")
    _, after = _labels(image, net, ckpt, backend="torch")
    f1_before = match_instances(truth, before, thresh=0.5)["f1"]
    f1_after = match_instances(truth, after, thresh=0.5)["f1"]
    assert f1_before > 0.8
    assert abs(f1_after - f1_before) <= 0.002
    # and the same objects: almost every pixel agrees on foreground
    assert np.mean((before > 0) == (after > 0)) > 0.995


def test_split_instances_with_a_relief_computes_no_distance_transform_spy(monkeypatch):
    """A spy on scipy's distance transform (the call is what is tested)."""
    from scipy import ndimage as ndi

    from fijibridge.segment.instances import split_instances

    calls = []
    real = ndi.distance_transform_edt
    monkeypatch.setattr(ndi, "distance_transform_edt",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    yy, xx = np.mgrid[:40, :60]
    two = ((yy - 20) ** 2 + (xx - 18) ** 2 < 100) | ((yy - 20) ** 2 + (xx - 38) ** 2 < 100)
    markers = np.zeros(two.shape, np.int32)
    markers[20, 18], markers[20, 38] = 1, 2
    relief = -np.hypot(yy - 20, np.minimum(np.abs(xx - 18), np.abs(xx - 38)))
    with_relief = split_instances(two, method="marker", markers=markers, image=-relief)
    assert calls == [] and with_relief.max() == 2
    without = split_instances(two, method="marker", markers=markers)
    assert calls == [1] and without.max() == 2


def test_backend_names_are_checked_and_auto_is_logged(caplog):
    with pytest.raises(ValueError, match="allowed: auto, torch, onnx, openvino. Did you mean 'onnx'"):
        resolve_backend("onxx")
    with caplog.at_level(logging.INFO, logger="fijibridge.segment.backends"):
        chosen = resolve_backend("auto", "cpu")
    assert chosen == (next((b for b in ("openvino", "onnx") if HAVE[b]), "torch"))
    assert f"backend 'auto' -> {chosen!r}" in caplog.text
    assert resolve_backend("auto", "cuda") == "torch"
    with pytest.raises(ValueError, match="CPU only"):
        resolve_backend("onnx", "cuda")
    with pytest.raises(ValueError, match="needs a torch.nn.Module"):
        inference_predictor(lambda t: t, backend="onnx")


@pytest.fixture
def _hidden(monkeypatch):
    """Make the fast back-ends' packages look absent (they may be installed here)."""
    real = importlib.util.find_spec

    def find_spec(name, *a, **k):
        if name.split(".")[0] in ("onnxruntime", "onnx", "openvino"):
            return None
        return real(name, *a, **k)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_without_fast_packages_auto_is_torch_and_explicit_requests_say_how_to_install_hidden(
        _hidden):
    assert available_backends() == ("torch",)
    assert resolve_backend("auto", "cpu") == "torch"
    for b in ("onnx", "openvino"):
        with pytest.raises(ValueError, match=r'pip install "fijibridge\[fast\]"'):
            resolve_backend(b, "cpu")
    net = _trained_like(UNet, 2)
    assert inference_predictor(net, device="cpu").backend == "torch"


@pytest.mark.parametrize("backend", [pytest.param("onnx", marks=needs["onnx"]),
                                     pytest.param("openvino", marks=needs["openvino"])])
@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_exported_backend_equals_torch_and_is_cached_as_data(backend, spatial_dims, monkeypatch):
    net = _trained_like(UNet, spatial_dims)
    x = torch.randn((1, 1) + ((8, 24, 16) if spatial_dims == 3 else (40, 24)))
    run = inference_predictor(net, device="cpu", backend=backend)
    assert run.backend == backend and run.device == "cpu"
    with torch.no_grad():
        torch.testing.assert_close(run(x), net(x), rtol=1e-4, atol=1e-4)
    files = sorted(p.name for p in compiled_cache_dir().rglob("*") if p.is_file())
    assert files and all(f.endswith((".onnx", ".xml", ".bin")) for f in files), files
    # a second predictor reads the file: no export, no conversion
    monkeypatch.setattr(torch.onnx, "export", _refuse)
    if backend == "openvino":
        import openvino

        monkeypatch.setattr(openvino, "convert_model", _refuse)
    again = inference_predictor(net, device="cpu", backend=backend)
    torch.testing.assert_close(again(x), run(x))
    # changed weights: another key, so an export (refused here) and never the old file
    with torch.no_grad():
        net.out.bias.add_(1.0)
    with pytest.raises(RuntimeError, match="export refused"):
        inference_predictor(net, device="cpu", backend=backend)


def _refuse(*a, **k):
    raise RuntimeError("export refused: the cached file should have been used")


@pytest.mark.parametrize("backend", [pytest.param("onnx", marks=needs["onnx"]),
                                     pytest.param("openvino", marks=needs["openvino"])])
def test_exported_backend_segments_the_dsb_image_as_torch_does(backend, dsb, nuclei2d):
    image, _ = dsb
    net, ckpt = nuclei2d
    p_torch, lab_torch = _labels(image, net, ckpt, backend="torch")
    p_fast, lab_fast = _labels(image, net, ckpt, backend=backend)
    assert np.abs(p_fast - p_torch).max() <= 1e-4
    assert lab_fast.max() == lab_torch.max()
    assert np.count_nonzero(lab_fast != lab_torch) <= 10  # a probability on the threshold


def test_segment_step_and_cli_record_the_backend(dsb, tmp_path, capsys):
    import tifffile

    from fijibridge.cli.main import main
    from fijibridge.segment.steps import segment as segment_step

    image, _ = dsb
    crop = image[:128, :128]
    out = segment_step(image=crop, backend="torch")
    assert out["inference"] == {"model": "nuclei2d", "device": "cpu", "backend": "torch"}
    assert out["labels"].shape == crop.shape and out["labels"].max() > 0
    src = tmp_path / "crop.tif"
    tifffile.imwrite(src, crop)
    assert main(["segment", str(src), "--output-dir", str(tmp_path), "--device", "cpu",
                 "--backend", "torch", "--json", "--no-overlay"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary[0]["backend"] == "torch" and summary[0]["device"] == "cpu"
    assert main(["segment", str(src), "--output-dir", str(tmp_path / "b"), "--device", "cpu",
                 "--json", "--no-overlay"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["backend"] == resolve_backend("auto", "cpu")


def test_pipeline_run_json_records_the_backend_that_ran(tmp_path):
    """run.json says which back-end and device each segment step ran on."""
    from fijibridge.pipeline import load_pipeline, run_pipeline

    p = tmp_path / "p.yml"
    p.write_text("version: 1\nname: t\nitems: {source: gen}\nsteps:\n"
                 "  - id: gen\n    synth: {kind: nuclei, n: 1, ndim: 2, seed: 1}\n"
                 "    outputs: [image]\n"
                 "  - id: seg\n    segment: {model: nuclei2d, device: cpu, backend: torch}\n"
                 "    inputs: {image: gen.image}\n")
    run_pipeline(load_pipeline(p), output_dir=tmp_path / "out", progress=False)
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["timings"]["steps"]["seg"]["ran_on"] == {"device": ["cpu"], "backend": ["torch"]}
