"""The options every command shares: -o/--output-dir, --quiet, --channel, --device.

Inputs are real multi-channel files: an OME-TIFF with named channels written here
(checked through read_image), and the real Nikon ND2 sample of tests/io (fetched by
its helper; skipped without the registry, failed under CI).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fijibridge import Image, read_image, write_image
from fijibridge.cli._common import add_common_options, parse_device
from fijibridge.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def _io_helpers():
    """tests/io/conftest.py, loaded as a module: its sample fetcher is reused here."""
    spec = importlib.util.spec_from_file_location("_io_conftest", ROOT / "tests/io/conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def two_channels(tmp_path):
    """cells.ome.tif: C=2 (DAPI, Mito) × Z=4 × 40 × 44, 0.3 / 0.1 / 0.1 µm."""
    rng = np.random.default_rng(7)
    data = rng.integers(100, 200, (2, 4, 40, 44)).astype(np.uint16)
    data[1, :, 10:20, 12:30] += 2000  # a bright object in Mito only
    path = write_image(tmp_path / "cells.ome.tif",
                       Image(data, axes="CZYX", spacing=(0.3, 0.1, 0.1), channels=("DAPI", "Mito")))
    assert read_image(path).channels == ("DAPI", "Mito")
    return path, data


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "fijibridge.cli.main", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_threshold_channel_by_name_and_index_into_output_dir(two_channels, tmp_path, capsys):
    from fijibridge.segment.thresholds import thresholds

    path, data = two_channels
    assert main(["threshold", str(path), "--channel", "Mito", "--method", "Otsu",
                 "--dark", "-o", str(tmp_path / "by_name")]) == 0
    (lo, up), = thresholds(data[1], methods=("Otsu",), dark=True).values()
    assert capsys.readouterr().out.split() == ["Otsu", f"{lo:.17g}", f"{up:.17g}"]
    mask = read_image(tmp_path / "by_name" / "cells_mask.tif")
    assert mask.axes == "ZYX" and mask.spacing == pytest.approx((0.3, 0.1, 0.1))
    np.testing.assert_array_equal(mask.data, ((data[1] >= lo) & (data[1] <= up)) * 255)
    # index 1 is the same channel; -o naming a file writes exactly that file
    assert main(["threshold", str(path), "--channel", "1", "--method", "Otsu", "--dark",
                 "-o", str(tmp_path / "m.tif")]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "m.tif").data, mask.data)


def test_unknown_channel_is_one_line_listing_the_names(two_channels, tmp_path):
    path, _ = two_channels
    r = _cli("threshold", path, "--channel", "Golgi", cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Golgi" in r.stderr and "'DAPI'" in r.stderr and "'Mito'" in r.stderr


def test_multichannel_without_channel_says_how_to_choose(two_channels, tmp_path, capsys):
    path, _ = two_channels
    assert main(["filter", str(path), "--gaussian", "0.2", "-o", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert "--channel" in err and "'Mito'" in err
    assert not (tmp_path / "f" / "cells_filtered.tif").exists()


def test_filter_channel_quiet_and_output_dir(two_channels, tmp_path):
    from fijibridge.filters import gaussian

    path, data = two_channels
    loud = _cli("filter", path, "--gaussian", "0.2", "--channel", "DAPI", "-o", "out",
                cwd=tmp_path)
    assert loud.returncode == 0, loud.stderr
    assert loud.stdout.strip() == str(Path("out") / "cells_filtered.tif")
    quiet = _cli("filter", path, "--gaussian", "0.2", "--channel", "DAPI", "-o", "q", "--quiet",
                 cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == ""
    got = read_image(tmp_path / "q" / "cells_filtered.tif")
    assert got.spacing == pytest.approx((0.3, 0.1, 0.1)) and got.calibrated
    np.testing.assert_allclose(got.data, gaussian(data[0], sigma_um=0.2, spacing=(0.3, 0.1, 0.1)),
                               rtol=1e-6)


def test_quiet_silences_warnings(tmp_path):
    import tifffile

    labels = np.zeros((20, 20), np.uint16)
    labels[5:10, 5:10] = 1
    tifffile.imwrite(tmp_path / "lab.tif", labels)  # no calibration: features warns
    loud = _cli("features", "lab.tif", "-o", "t", cwd=tmp_path)
    assert loud.returncode == 0 and "no calibration" in loud.stderr
    quiet = _cli("features", "lab.tif", "-o", "t2", "--quiet", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert (tmp_path / "t2" / "lab_features.csv").is_file()


def test_features_intensity_of_one_named_channel(two_channels, tmp_path):
    import pandas as pd

    path, data = two_channels
    labels = np.zeros(data.shape[1:], np.uint16)
    labels[:, 10:20, 12:30] = 1
    write_image(tmp_path / "lab.tif", Image(labels, axes="ZYX", spacing=(0.3, 0.1, 0.1)))
    assert main(["features", str(tmp_path / "lab.tif"), "--image", str(path), "--channel",
                 "Mito", "-o", str(tmp_path / "out")]) == 0
    table = pd.read_csv(tmp_path / "out" / "lab_features.csv")
    mean = [c for c in table.columns if "mean" in c and "intensity" in c]
    assert mean and table.loc[0, mean[0]] == pytest.approx(data[1][labels == 1].mean())


def test_real_nd2_channel_names_select_and_unknown_lists_them(tmp_path):
    helpers = _io_helpers()
    helpers.need("nd2")
    try:
        nd2 = helpers.sample_path("cluster.nd2")
    except Exception as e:  # noqa: BLE001 - no registry here: the helper's policy decides
        helpers._unavailable(f"cluster.nd2 unavailable: {e}")
    r = _cli("threshold", nd2, "--channel", "Mito", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "'5-FAM/pH 9.0'" in r.stderr and "'FM 4-64/2% CHAPS'" in r.stderr
    # the named channel is selected: what is left is T×Z×Y×X, which threshold refuses by axes
    r = _cli("threshold", nd2, "--channel", "FM 4-64/2% CHAPS", cwd=tmp_path)
    assert r.returncode == 2 and "'TZYX'" in r.stderr and "(3, 10, 31, 38)" in r.stderr


def test_every_command_has_quiet_and_writers_have_output_dir():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))

    def leaves(p):
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield p
        for a in subs:
            for child in a.choices.values():
                yield from leaves(child)

    for name, p in sub.choices.items():
        for leaf in leaves(p):
            assert "--quiet" in leaf._option_string_actions, leaf.prog
    writers = ["threshold", "psf", "features", "macro", "filter", "run", "deconvolve",
               "generate", "segment", "train"]
    for name in writers:
        opts = sub.choices[name]._option_string_actions
        assert "-o" in opts and "--output-dir" in opts, name
        assert opts["-o"] is opts["--output-dir"], name  # one option, two spellings
    for name in ("threshold", "filter", "features"):
        assert "--channel" in sub.choices[name]._option_string_actions, name


@pytest.mark.parametrize("text", ["auto", "cpu", "cuda", "cuda:1", "mps", "CUDA:0"])
def test_device_names_accepted(text):
    assert parse_device(text) == text.lower()


def test_device_rejects_others_with_the_allowed_set(capsys):
    parser = add_common_options(argparse.ArgumentParser(prog="x"), device=True)
    assert parser.parse_args([]).device == "auto"
    with pytest.raises(SystemExit):
        parser.parse_args(["--device", "gpu"])
    assert "auto, cpu, cuda, cuda:N or mps" in capsys.readouterr().err


def test_deconvolve_output_dir_names_the_file_after_the_image(tmp_path):
    """``deconvolve -o DIR`` writes DIR/<image>_deconv.tif, calibration kept."""
    import subprocess
    import sys

    import numpy as np

    from fijibridge import read_tiff, write_tiff

    rng = np.random.default_rng(0)
    img = rng.poisson(50, (8, 32, 32)).astype(np.float32)
    psf = np.zeros((5, 9, 9), np.float32)
    psf[2, 4, 4] = 1
    write_tiff(tmp_path / "cells.tif", img, spacing=(0.3, 0.1, 0.1))
    write_tiff(tmp_path / "psf.tif", psf, spacing=(0.3, 0.1, 0.1))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "fijibridge.cli.main", "deconvolve",
                        str(tmp_path / "cells.tif"), "--psf", str(tmp_path / "psf.tif"),
                        "--algorithm", "RL 3", "--output-dir", str(out), "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got = read_tiff(out / "cells_deconv.tif")
    assert got.data.shape == img.shape
    np.testing.assert_allclose(got.spacing, (0.3, 0.1, 0.1), rtol=1e-6)


def test_deconvolve_checks_psf_spacing_and_keeps_uncalibrated(tmp_path):
    """``deconvolve``: a PSF sampled at another voxel size than the image stops the command
    naming both (no output), ``--resample-psf`` resamples it; an uncalibrated image gives
    an uncalibrated output (not 1 µm voxels) and a warning naming the file."""
    import subprocess
    import sys

    import numpy as np
    import tifffile

    from fijibridge import read_image, write_tiff

    rng = np.random.default_rng(0)
    img = rng.poisson(50, (8, 32, 32)).astype(np.float32)
    psf = np.zeros((5, 9, 9), np.float32)
    psf[2, 4, 4] = 1
    write_tiff(tmp_path / "cells.tif", img, spacing=(0.3, 0.1, 0.1))
    write_tiff(tmp_path / "psf.tif", psf, spacing=(0.3, 0.05, 0.05))
    tifffile.imwrite(tmp_path / "plain.tif", img, photometric="minisblack")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "fijibridge.cli.main", "deconvolve", *args,
                               "--algorithm", "RL 2"], capture_output=True, text=True,
                              timeout=300)

    out = tmp_path / "o.tif"
    r = run(str(tmp_path / "cells.tif"), "--psf", str(tmp_path / "psf.tif"), "-o", str(out))
    assert r.returncode != 0 and not out.exists()
    assert "sampled at 0.3 × 0.05 × 0.05 µm but the image" in r.stderr
    assert "0.3 × 0.1 × 0.1 µm" in r.stderr and "Traceback" not in r.stderr
    r = run(str(tmp_path / "cells.tif"), "--psf", str(tmp_path / "psf.tif"), "-o", str(out),
            "--resample-psf")
    assert r.returncode == 0, r.stderr
    assert read_image(out).spacing == pytest.approx((0.3, 0.1, 0.1))
    out2 = tmp_path / "o2.tif"
    r = run(str(tmp_path / "plain.tif"), "--psf", str(tmp_path / "psf.tif"), "-o", str(out2))
    assert r.returncode == 0, r.stderr
    assert "plain.tif states no pixel size" in r.stderr
    assert read_image(out2).calibrated is False
