"""Channels picked by name in pipelines; a PSF per image at that image's spacing; a PSF
whose spacing differs from the image's is refused (or resampled when asked)."""

from __future__ import annotations

import json

import numpy as np

from fijibridge import read_image
from fijibridge._core.image import Image
from fijibridge.io import write_image
from fijibridge.pipeline import load_pipeline, run_pipeline
from fijibridge.psf.resample import resample_psf, same_spacing

ZYX_A = (0.3, 0.1, 0.1)
ZYX_B = (0.5, 0.2, 0.2)


def _stack(path, spacing, *, names=("DAPI", "MitoTracker"), calibrated=True):
    rng = np.random.default_rng(0)
    data = np.zeros((2, 12, 32, 32), np.float32)
    data[0, 4:8, 10:20, 10:20] = 100
    data[1, 6, 5:27, 16] = 80
    data += rng.random(data.shape, dtype=np.float32)
    img = Image(data, "CZYX", spacing if calibrated else (1.0, 1.0, 1.0),
                channels=names, calibrated=calibrated)
    write_image(path, img)
    return path


def _out(folder, name, output):
    """The file a step wrote for item ``name`` (``.tif``, or ``.ome.tif`` with channel names)."""
    (path,) = folder.glob(f"{name}.{output}.*tif")
    return path


def _pipeline(tmp_path, steps: str, config: str = "  channel: MitoTracker\n"):
    p = tmp_path / "p.yml"
    p.write_text("version: 1\nname: t\nconfig:\n" + config + "steps:\n" + steps)
    return load_pipeline(p)


PSF_STEPS = ("  - id: mito\n    channel: {name: \"${channel}\"}\n    inputs: {image: input.image}\n"
             "  - id: psf\n    psf: {wavelength_um: 0.6}\n    inputs: {image: mito.image}\n"
             "  - id: dec\n    deconvolve: {num_iter: 2}\n"
             "    inputs: {image: mito.image, psf: psf.psf}\n")


def test_psf_per_image_at_each_files_spacing_and_channel_by_name(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _stack(src / "a.ome.tif", ZYX_A)
    _stack(src / "b.ome.tif", ZYX_B)
    spec = _pipeline(tmp_path, PSF_STEPS)
    assert spec.step("psf").per == "image"   # an image input makes it per item
    out = tmp_path / "out"
    summary = run_pipeline(spec, output_dir=out, inputs=[str(src)], progress=False)
    assert summary.ok, summary.failures
    for name, sp in (("a", ZYX_A), ("b", ZYX_B)):
        psf = read_image(_out(out / "psf", name, "psf"))
        assert psf.axes == "ZYX" and psf.calibrated
        np.testing.assert_allclose(psf.spacing, sp, rtol=1e-5)
        ch = read_image(_out(out / "mito", name, "image"))
        assert ch.channels == ("MitoTracker",) and ch.axes == "ZYX"
        assert ch.to_ndarray()[6, 5:27, 16].min() > 50      # the mito channel, not DAPI
        dec = read_image(_out(out / "dec", name, "image"))
        np.testing.assert_allclose(dec.spacing, sp, rtol=1e-5)
    # a coarser spacing gives a PSF with fewer voxels per µm: narrower in voxels
    pa = read_image(_out(out / "psf", "a", "psf")).to_ndarray()
    pb = read_image(_out(out / "psf", "b", "psf")).to_ndarray()
    assert (pa > pa.max() / 2).sum() > (pb > pb.max() / 2).sum()


def test_channel_name_not_in_file_lists_the_names_present(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _stack(src / "a.ome.tif", ZYX_A)
    spec = _pipeline(tmp_path, PSF_STEPS, config="  channel: Mito\n")
    summary = run_pipeline(spec, output_dir=tmp_path / "out", inputs=[str(src)], progress=False)
    (failure,) = [f for f in summary.failures if f["step"] == "mito"]
    assert "'Mito'" in failure["error"] and "'DAPI'" in failure["error"] \
        and "'MitoTracker'" in failure["error"]


def test_channel_by_index_from_set(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _stack(src / "a.ome.tif", ZYX_A)
    p = tmp_path / "p.yml"
    p.write_text("version: 1\nname: t\nconfig:\n  channel: 0\nsteps:\n" + PSF_STEPS)
    spec = load_pipeline(p, overrides={"channel": 1})     # as --set channel=1
    out = tmp_path / "out"
    summary = run_pipeline(spec, output_dir=out, inputs=[str(src)], progress=False)
    assert summary.ok, summary.failures
    ch = read_image(_out(out / "mito", "a", "image"))
    assert ch.channels == ("MitoTracker",)


def test_uncalibrated_image_gets_no_psf_at_one_micron(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _stack(src / "a.tif", ZYX_A, calibrated=False)
    spec = _pipeline(tmp_path, PSF_STEPS.replace('"${channel}"', "1"))
    summary = run_pipeline(spec, output_dir=tmp_path / "out", inputs=[str(src)], progress=False)
    (failure,) = [f for f in summary.failures if f["step"] == "psf"]
    assert "states no physical pixel size" in failure["error"] and "spacing" in failure["error"]


MISMATCH = ("  - id: mito\n    channel: {name: 1}\n    inputs: {image: input.image}\n"
            "  - id: psf\n    psf: {spacing: [0.2, 0.05, 0.05]}\n"
            "  - id: dec\n    deconvolve: {num_iter: 2%s}\n"
            "    inputs: {image: mito.image, psf: psf.psf}\n")


def test_psf_spacing_mismatch_names_both_spacings(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _stack(src / "a.ome.tif", ZYX_A)
    spec = _pipeline(tmp_path, MISMATCH % "")
    summary = run_pipeline(spec, output_dir=tmp_path / "out", inputs=[str(src)], progress=False)
    (failure,) = [f for f in summary.failures if f["step"] == "dec"]
    assert "0.2 × 0.05 × 0.05 µm" in failure["error"], failure
    assert "0.3 × 0.1 × 0.1 µm" in failure["error"] and "resample_psf" in failure["error"]


def test_psf_spacing_mismatch_resampled_when_asked(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    _stack(src / "a.ome.tif", ZYX_A)
    spec = _pipeline(tmp_path, MISMATCH % ", resample_psf: true")
    out = tmp_path / "out"
    summary = run_pipeline(spec, output_dir=out, inputs=[str(src)], progress=False)
    assert summary.ok, summary.failures
    run = json.loads((out / "run.json").read_text())
    assert run["steps"]["dec"]["params"]["resample_psf"] is True


def test_resample_psf_keeps_centre_width_in_um_and_sum():
    from fijibridge.synth import make_psf

    fine = make_psf(spacing=(0.1, 0.05, 0.05), na=1.4, wavelength_um=0.5)
    coarse = make_psf(spacing=(0.2, 0.1, 0.1), na=1.4, wavelength_um=0.5)
    r = resample_psf(fine, (0.1, 0.05, 0.05), (0.2, 0.1, 0.1))
    assert abs(r.sum() - 1) < 1e-5
    c = tuple(n // 2 for n in r.shape)
    assert np.unravel_index(np.argmax(r), r.shape) == c
    # the lateral profile through the centre matches the PSF rendered at the coarse spacing
    cc = tuple(n // 2 for n in coarse.shape)
    prof_r = r[c[0], c[1], c[2] - 3:c[2] + 4] / r[c]
    prof_c = coarse[cc[0], cc[1], cc[2] - 3:cc[2] + 4] / coarse[cc]
    np.testing.assert_allclose(prof_r, prof_c, atol=0.05)
    assert same_spacing((0.3, 0.1), (0.30001, 0.1)) and not same_spacing((0.3, 0.1), (0.31, 0.1))
