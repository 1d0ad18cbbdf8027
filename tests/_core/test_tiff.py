"""ImageJ TIFF in and out: calibration kept, exact pixels, clean errors, atomic writes."""

import os
import stat

import numpy as np
import pytest
import tifffile

from fijibridge import Image, ImageFormatError, TiffImage, read_image, read_tiff, write_tiff


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("axes, shape", [("YX", (5, 7)), ("ZYX", (3, 5, 7)), ("CYX", (2, 5, 7)),
                                         ("CZYX", (2, 3, 5, 7)), ("TCZYX", (2, 2, 3, 5, 7))])
def test_round_trip(tmp_path, dtype, axes, shape):
    rng = np.random.default_rng(1)
    data = (rng.random(shape) * 200).astype(dtype)
    spacing = (0.4, 0.05, 0.1) if "Z" in axes else (0.05, 0.1)
    write_tiff(tmp_path / "a.tif", data, spacing=spacing, axes=axes)
    img = read_tiff(tmp_path / "a.tif")
    assert img.axes == axes and img.data.dtype == dtype
    np.testing.assert_array_equal(img.data, data)
    assert img.spacing == pytest.approx(spacing) and img.calibrated


def test_read_tiff_is_the_image_read_image_returns(tmp_path):
    write_tiff(tmp_path / "a.tif", np.ones((2, 3, 4, 5), np.uint8), axes="CZYX",
               spacing=(0.5, 0.1, 0.2), channels=["DAPI", "Mito"])
    img, ref = read_tiff(tmp_path / "a.tif"), read_image(tmp_path / "a.tif")
    assert type(img) is Image and isinstance(img, TiffImage)
    assert (img.axes, img.spacing, img.channels, img.calibrated) == \
        (ref.axes, ref.spacing, ref.channels, ref.calibrated) == \
        ("CZYX", (0.5, 0.1, 0.2), ("DAPI", "Mito"), True)


def test_imagej_order_hyperstack_reads_back_as_czyx(tmp_path):
    """A ZCYX hyperstack written in ImageJ's order by tifffile comes back CZYX, transposed."""
    data = np.arange(3 * 2 * 4 * 5, dtype=np.uint16).reshape(3, 2, 4, 5)  # Z C Y X
    tifffile.imwrite(tmp_path / "ij.tif", data, imagej=True, resolution=(10.0, 10.0),
                     metadata={"axes": "ZCYX", "unit": "micron", "spacing": 0.3})
    img = read_tiff(tmp_path / "ij.tif")
    assert img.axes == "CZYX" and img.shape == (2, 3, 4, 5)
    np.testing.assert_array_equal(img.data, data.transpose(1, 0, 2, 3))
    assert img.data[1, 2, 0, 0] == data[2, 1, 0, 0]
    assert img.spacing == pytest.approx((0.3, 0.1, 0.1)) and img.calibrated


def test_write_tiff_takes_an_image_with_channel_names(tmp_path):
    data = np.random.default_rng(0).integers(0, 999, (2, 3, 4, 5)).astype(np.uint16)
    img = Image(data, axes="CZYX", spacing=(0.25, 0.065, 0.065), channels=("DAPI", "Mito"))
    write_tiff(tmp_path / "i.tif", img)
    with tifffile.TiffFile(tmp_path / "i.tif") as tif:  # ImageJ's own order and slice labels
        meta = tif.imagej_metadata
        raw = tif.asarray()
    assert meta["channels"] == 2 and meta["slices"] == 3
    assert meta["Labels"] == ["DAPI", "Mito"] * 3
    np.testing.assert_array_equal(raw, data.transpose(1, 0, 2, 3))
    back = read_tiff(tmp_path / "i.tif")
    assert back.channels == ("DAPI", "Mito") and back.spacing == pytest.approx(img.spacing)
    np.testing.assert_array_equal(back.channel("Mito").data, data[1])


def test_explicit_imagej_axes_are_reordered(tmp_path):
    data = np.random.default_rng(0).integers(0, 9, (3, 2, 4, 5)).astype(np.uint8)
    write_tiff(tmp_path / "z.tif", data, axes="ZCYX")
    np.testing.assert_array_equal(read_tiff(tmp_path / "z.tif").data, data.transpose(1, 0, 2, 3))


def test_old_tiffimage_call_builds_an_image():
    img = TiffImage(np.zeros((3, 2, 4, 4), np.uint8), "ZCYX", (0.5, 0.1, 0.1), "micron")
    assert type(img) is Image and img.axes == "CZYX" and img.shape == (2, 3, 4, 4)
    assert not TiffImage(np.zeros((4, 4), np.uint8), "YX", (1, 1), "pixel").calibrated


def test_imagej_reads_what_we_write(tmp_path):
    """The metadata is ImageJ's hyperstack format (checked with tifffile's ImageJ parser)."""
    write_tiff(tmp_path / "h.tif", np.zeros((3, 2, 4, 4), np.uint16), axes="CZYX",
               spacing=(0.5, 0.2, 0.2))
    with tifffile.TiffFile(tmp_path / "h.tif") as tif:
        meta = tif.imagej_metadata
    assert meta["slices"] == 2 and meta["channels"] == 3 and meta["spacing"] == 0.5
    assert meta["unit"] in ("micron", "\\u00B5m", "µm")


def test_uncalibrated_file_says_so(tmp_path):
    tifffile.imwrite(tmp_path / "plain.tif", np.zeros((4, 4), np.uint8))
    img = read_tiff(tmp_path / "plain.tif")
    assert img.spacing == (1.0, 1.0)
    assert not img.calibrated and img.spacing_um == {"z": None, "y": None, "x": None}


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
