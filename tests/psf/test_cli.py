"""``fijibridge psf`` through the real command dispatcher (``fijibridge.cli.main.main``)."""

from __future__ import annotations

import numpy as np
import pytest

from fijibridge._core.tiff import read_tiff
from fijibridge.cli.main import main


def test_config_round_trip(reference_dir, tmp_path):
    out = tmp_path / "psf.tif"
    assert main(["psf", "--config", str(reference_dir / "psfgen" / "gl_33x33x17.config"),
                 "-o", str(out)]) == 0
    image = read_tiff(out)
    ref = read_tiff(reference_dir / "psfgen" / "gl_33x33x17.tif").data
    assert image.data.dtype == np.float32 and image.axes == "ZYX"
    assert image.spacing == pytest.approx((0.3, 0.065, 0.065))  # ResAxial/ResLateral in µm
    assert np.abs(image.data - ref / ref.max()).max() <= 2e-3


def test_model_options(tmp_path):
    out = tmp_path / "bw.tif"
    assert main(["psf", "--model", "BW", "--na", "1.4", "--wavelength", "610", "--ni", "1.518",
                 "--shape", "8", "16", "16", "--spacing", "0.25", "0.1", "0.1",
                 "--normalize", "sum", "-o", str(out)]) == 0
    image = read_tiff(out)
    assert image.data.shape == (8, 16, 16)
    assert image.spacing == pytest.approx((0.25, 0.1, 0.1))
    assert image.data.sum() == pytest.approx(1.0, abs=1e-5)


def test_model_2d(tmp_path):
    out = tmp_path / "g.tif"
    assert main(["psf", "--model", "Gaussian", "--shape", "15", "15", "--spacing", "0.1", "0.1",
                 "-o", str(out)]) == 0
    assert read_tiff(out).data.shape == (15, 15)


@pytest.mark.parametrize("argv, words", [
    (["--model", "BWX", "--shape", "4", "8", "8"], ["Did you mean 'BW'"]),
    (["--model", "BW", "--na", "1.6", "--ni", "1.5", "--shape", "4", "8", "8"], ["na must be <= ni"]),
    (["--model", "BW", "--shape", "0", "8", "8"], ["shape[0]", "> 0"]),
    (["--model", "BW", "--shape", "4", "8", "8", "--spacing", "0.2", "-1", "0.1"], ["spacing"]),
    (["--model", "BW", "--ns", "1.4", "--shape", "4", "8", "8"], ["--ns", "does not apply"]),
    (["--model", "BW"], ["--shape"]),
    (["--model", "RW", "--accuracy", "Bset", "--shape", "4", "8", "8"], ["Did you mean 'Best'"]),
])
def test_bad_input_exit_2_and_no_file(tmp_path, capsys, argv, words):
    out = tmp_path / "bad.tif"
    assert main(["psf", *argv, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    for word in words:
        assert word in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_bad_config_file(tmp_path, capsys):
    config = tmp_path / "bad.config"
    config.write_text("PSF-shortname=BW\nNA=one\n")
    out = tmp_path / "bad.tif"
    assert main(["psf", "--config", str(config), "-o", str(out)]) == 2
    assert "'NA'" in capsys.readouterr().err
    assert not out.exists()
    assert main(["psf", "--config", str(tmp_path / "missing.config"), "-o", str(out)]) == 1
    assert main(["psf", "--config", str(config), "--na", "1.2", "-o", str(out)]) == 2


def test_render_psf_is_the_command_and_checks_option_names(tmp_path):
    """The library function the command calls: same file, and its own argument checks."""
    from fijibridge.psf.render import render_psf

    argv = ["--model", "BW", "--na", "1.4", "--shape", "4", "8", "8"]
    assert main(["psf", *argv, "-o", str(tmp_path / "cli.tif")]) == 0
    written = render_psf(tmp_path / "lib.tif", model="BW", shape=(4, 8, 8), options={"na": 1.4})
    assert written == tmp_path / "lib.tif"
    np.testing.assert_array_equal(read_tiff(written).data, read_tiff(tmp_path / "cli.tif").data)
    with pytest.raises(ValueError, match="Did you mean 'na'"):
        render_psf(tmp_path / "x.tif", model="BW", shape=(4, 8, 8), options={"nna": 1.4})
    assert not (tmp_path / "x.tif").exists()
