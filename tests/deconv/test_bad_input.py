"""Bad input: each a clear error naming the problem, and no output file left behind."""

from __future__ import annotations

import numpy as np
import pytest

from fijibridge.cli.main import main
from fijibridge.deconv import deconvolve


@pytest.fixture
def small():
    rng = np.random.default_rng(0)
    img = rng.random((8, 16, 16)).astype(np.float32) + 1
    psf = np.zeros((3, 5, 5), np.float32)
    psf[1, 2, 2] = 1
    psf[1, 1:4, 1:4] += 0.1
    return img, psf


@pytest.mark.parametrize("change, message", [
    (lambda i, p: (i, np.ones((9, 16, 16), np.float32)), "larger than the image"),
    (lambda i, p: (i, np.where(p > 0.5, np.nan, p)), "psf contains 1 NaN"),
    (lambda i, p: (i, p - 0.2), "negative values"),
    (lambda i, p: (i, np.zeros_like(p)), "sum must be > 0"),
    (lambda i, p: (np.where(i > 1.99, np.nan, i), p), "image contains"),
    (lambda i, p: (i[0], p), "same dimensionality; got a 2D image"),
    (lambda i, p: (i.astype(complex), p), "real numeric"),
    (lambda i, p: (i[None], p), "2D .* or 3D"),
])
def test_bad_arrays(small, change, message):
    img, psf = change(*small)
    with pytest.raises((ValueError, TypeError), match=message):
        deconvolve(img, psf, algorithm="RL", num_iter=2)


@pytest.mark.parametrize("kwargs, message", [
    ({"algorithm": "RLX"}, "Did you mean RL"),
    ({"algorithm": "RL", "reg": 0.1}, "no parameter 'reg'"),
    ({"algorithm": "RL", "num_iter": "abc"}, "must be a number"),
    ({"algorithm": "RL", "num_iter": -3}, "integer >= 0"),
    ({"algorithm": "RL", "params": [1, 2]}, "at most 1"),
    ({"algorithm": "RL", "device": "tpu"}, "device"),
    ({"algorithm": "FISTA", "haar": "db4"}, "haar must be one of"),
    ({"algorithm": "RL", "constraint": "positive"}, "constraint must be one of"),
    ({"algorithm": "RL", "pad": "E3 E3"}, "unknown padding"),
])
def test_bad_arguments(small, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        deconvolve(*small, **kwargs)


def test_psf_larger_than_image_fits_after_padding(small):
    img, _ = small
    big = np.ones((9, 5, 5), np.float32)
    out = deconvolve(img, big, algorithm="RL", num_iter=2, pad="X2 X2 2 2")
    assert out.shape == img.shape


def _write(path, arr):
    from fijibridge import write_tiff

    write_tiff(path, arr.astype(np.float32))
    return str(path)


@pytest.mark.parametrize("argv_tail, rc", [
    (["--algorithm", "RLX 3"], 2),
    (["--algorithm", "RL abc"], 2),
    (["--algorithm", "RL 3 4"], 2),
    (["--algorithm", "TM 50 1 0.1"], 1),
])
def test_cli_bad_input_leaves_no_output(tmp_path, small, argv_tail, rc, capsys):
    img, psf = small
    i = _write(tmp_path / "img.tif", img)
    p = _write(tmp_path / "psf.tif", psf)
    out = tmp_path / "out.tif"
    assert main(["deconvolve", i, "--psf", p, *argv_tail, "-o", str(out)]) == rc
    assert not out.exists()
    assert not [f for f in tmp_path.iterdir() if f.name.startswith(".out.tif")]
    assert "fijibridge deconvolve:" in capsys.readouterr().err


def test_cli_unreadable_files(tmp_path, small, capsys):
    img, psf = small
    i = _write(tmp_path / "img.tif", img)
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00garbage")
    out = tmp_path / "out.tif"
    assert main(["deconvolve", i, "--psf", str(broken), "--algorithm", "RL 2", "-o", str(out)]) == 1
    assert "ImageFormatError" in capsys.readouterr().err
    assert main(["deconvolve", str(tmp_path / "missing.tif"), "--psf", i, "--algorithm", "RL 2",
                 "-o", str(out)]) == 1
    assert "no image file" in capsys.readouterr().err
    big = _write(tmp_path / "big.tif", np.ones((9, 16, 16)))
    assert main(["deconvolve", i, "--psf", big, "--algorithm", "RL 2", "-o", str(out)]) == 2
    assert "larger than the image" in capsys.readouterr().err
    assert not out.exists()
