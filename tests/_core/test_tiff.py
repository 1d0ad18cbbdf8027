"""ImageJ TIFF in and out: calibration kept, exact pixels, clean errors, atomic writes."""

import os
import stat

import numpy as np
import pytest
import tifffile

from fijibridge import ImageFormatError, read_tiff, write_tiff


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("axes, shape", [("YX", (5, 7)), ("ZYX", (3, 5, 7)), ("CYX", (2, 5, 7)),
                                         ("ZCYX", (3, 2, 5, 7)), ("TZCYX", (2, 3, 2, 5, 7))])
def test_round_trip(tmp_path, dtype, axes, shape):
    rng = np.random.default_rng(1)
    data = (rng.random(shape) * 200).astype(dtype)
    spacing = (0.4, 0.05, 0.1) if "Z" in axes else (0.05, 0.1)
    write_tiff(tmp_path / "a.tif", data, spacing=spacing, axes=axes)
    img = read_tiff(tmp_path / "a.tif")
    assert img.axes == axes and img.data.dtype == dtype
    np.testing.assert_array_equal(img.data, data)
    assert img.spacing == pytest.approx(spacing) and img.calibrated


def test_imagej_reads_what_we_write(tmp_path):
    """The metadata is ImageJ's hyperstack format (checked with tifffile's ImageJ parser)."""
    write_tiff(tmp_path / "h.tif", np.zeros((2, 3, 4, 4), np.uint16), axes="ZCYX",
               spacing=(0.5, 0.2, 0.2))
    with tifffile.TiffFile(tmp_path / "h.tif") as tif:
        meta = tif.imagej_metadata
    assert meta["slices"] == 2 and meta["channels"] == 3 and meta["spacing"] == 0.5
    assert meta["unit"] in ("micron", "\\u00B5m", "µm")


def test_uncalibrated_file_says_so(tmp_path):
    tifffile.imwrite(tmp_path / "plain.tif", np.zeros((4, 4), np.uint8))
    img = read_tiff(tmp_path / "plain.tif")
    assert img.spacing == (1.0, 1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.int8, bool])
def test_unsupported_dtype_is_a_type_error_and_writes_nothing(tmp_path, dtype):
    with pytest.raises(TypeError, match="uint8, uint16 or float32"):
        write_tiff(tmp_path / "x.tif", np.zeros((4, 4), dtype))
    assert list(tmp_path.iterdir()) == []


def test_truncated_and_corrupt_files(tmp_path):
    good = tmp_path / "good.tif"
    write_tiff(good, np.ones((4, 32, 32), np.float32))
    data = good.read_bytes()
    (tmp_path / "trunc.tif").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.tif").write_bytes(b"this is not a tiff at all")
    with pytest.raises(ImageFormatError, match="truncated|corrupt"):
        read_tiff(tmp_path / "trunc.tif")
    with pytest.raises(ImageFormatError, match="not a TIFF|corrupt"):
        read_tiff(tmp_path / "junk.tif")
    with pytest.raises(FileNotFoundError, match="nothere"):
        read_tiff(tmp_path / "nothere.tif")


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "keep.tif"
    write_tiff(target, np.full((4, 4), 7, np.uint8))
    before = target.read_bytes()
    with pytest.raises(ValueError):
        write_tiff(target, np.zeros((4, 4), np.uint8), spacing=(0, 1))
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tif"]


def test_written_files_have_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_tiff(tmp_path / "p.tif", np.zeros((2, 2), np.uint8))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
