"""numpy ↔ ImagePlus with the real ImageJ: every dtype and dimensionality, exact."""

import numpy as np
import pytest

from fijibridge import Image, TiffImage

pytestmark = pytest.mark.imagej

SHAPES = {"YX": (7, 9), "ZYX": (3, 7, 9), "CYX": (2, 7, 9), "CZYX": (2, 3, 7, 9),
          "TCZYX": (2, 2, 3, 7, 9), "TYX": (4, 7, 9), "TZYX": (2, 3, 7, 9)}


def _random(shape, dtype, rng):
    if dtype == np.float32:
        return rng.normal(0, 1000, shape).astype(np.float32)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, endpoint=True, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("axes", list(SHAPES))
def test_round_trip_exact_with_calibration(imagej, dtype, axes):
    from fijibridge.bridge import imageplus_to_ndarray, ndarray_to_imageplus

    rng = np.random.default_rng(0)
    arr = _random(SHAPES[axes], dtype, rng)
    spacing = (0.75, 0.125, 0.25) if "Z" in axes else (0.125, 0.25)
    imp = ndarray_to_imageplus(arr, title="t", axes=axes, spacing=spacing)
    sizes = dict(zip(axes, arr.shape))
    assert list(imp.getDimensions()) == [sizes["X"], sizes["Y"], sizes.get("C", 1),
                                         sizes.get("Z", 1), sizes.get("T", 1)]
    assert int(imp.getBitDepth()) == {np.uint8: 8, np.uint16: 16, np.float32: 32}[dtype]
    cal = imp.getCalibration()
    assert (cal.pixelWidth, cal.pixelHeight) == (0.25, 0.125)
    back = imageplus_to_ndarray(imp)
    assert back.axes == axes
    assert back.data.dtype == dtype
    np.testing.assert_array_equal(back.data, arr)
    assert back.spacing == spacing
    assert back.calibrated


def test_hyperstack_plane_order_is_imagej_czt(imagej):
    """Slice n of the ImageJ stack is (c, z, t) with C fastest, as ImageJ documents."""
    from fijibridge.bridge import ndarray_to_imageplus

    arr = np.zeros((2, 3, 4, 5, 6), np.uint16)  # T Z C Y X
    for t in range(2):
        for z in range(3):
            for c in range(4):
                arr[t, z, c] = 100 * t + 10 * z + c
    imp = ndarray_to_imageplus(arr, axes="TZCYX")
    for t in range(2):
        for z in range(3):
            for c in range(4):
                index = int(imp.getStackIndex(c + 1, z + 1, t + 1))
                assert imp.getStack().getProcessor(index).get(0, 0) == 100 * t + 10 * z + c


def test_bool_becomes_imagej_mask(imagej):
    from fijibridge.bridge import imageplus_to_ndarray, ndarray_to_imageplus

    mask = np.zeros((5, 6), bool)
    mask[1:3, 2:5] = True
    back = imageplus_to_ndarray(ndarray_to_imageplus(mask))
    assert back.data.dtype == np.uint8
    np.testing.assert_array_equal(back.data, mask.astype(np.uint8) * 255)


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.float64, np.complex64])
def test_unsupported_dtype_is_a_clear_type_error(imagej, dtype):
    from fijibridge.bridge import ndarray_to_imageplus

    with pytest.raises(TypeError, match="uint8, uint16 or float32"):
        ndarray_to_imageplus(np.zeros((4, 4), dtype))


def test_bad_shapes(imagej):
    from fijibridge.bridge import ndarray_to_imageplus

    with pytest.raises(ValueError, match="2 to 5 dimensions"):
        ndarray_to_imageplus(np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="distinct letters"):
        ndarray_to_imageplus(np.zeros((2, 3, 4, 4), np.uint8), axes="CZXY")


def test_rgb_comes_back_as_three_channels(imagej):
    from scyjava import jimport

    from fijibridge.bridge import imageplus_to_ndarray

    cp = jimport("ij.process.ColorProcessor")(3, 2)
    cp.set(1, 0, (10 << 16) | (20 << 8) | 30)
    img = imageplus_to_ndarray(jimport("ij.ImagePlus")("rgb", cp))
    assert img.axes == "CYX" and img.data.shape == (3, 2, 3)
    assert tuple(img.data[:, 0, 1]) == (10, 20, 30)


def test_uncalibrated_tiff_reaches_imagej_in_pixels(imagej):
    from fijibridge.bridge import ndarray_to_imageplus

    img = TiffImage(data=np.zeros((4, 4), np.uint8), axes="YX", spacing=(1.0, 1.0),
                    unit="pixel", calibrated=False)
    assert str(ndarray_to_imageplus(img).getCalibration().getUnit()) == "pixel"


def test_czyx_image_reaches_imagej_in_its_plane_order_with_channel_names(imagej):
    """TCZYX → ImageJ's (c, z, t) planes explicitly; names as slice labels; and back."""
    from fijibridge.bridge import imageplus_to_ndarray, ndarray_to_imageplus

    data = np.zeros((2, 3, 4, 5), np.uint16)  # C Z Y X
    for c in range(2):
        for z in range(3):
            data[c, z] = 10 * z + c
    img = Image(data, axes="CZYX", spacing=(0.5, 0.1, 0.2), channels=("DAPI", "Mito"))
    imp = ndarray_to_imageplus(img, title="two")
    assert list(imp.getDimensions()) == [5, 4, 2, 3, 1]
    for c in range(2):
        for z in range(3):
            index = int(imp.getStackIndex(c + 1, z + 1, 1))
            assert imp.getStack().getProcessor(index).get(0, 0) == 10 * z + c
            assert str(imp.getStack().getSliceLabel(index)) == ("DAPI", "Mito")[c]
    back = imageplus_to_ndarray(imp)
    assert (back.axes, back.channels, back.spacing) == ("CZYX", ("DAPI", "Mito"), (0.5, 0.1, 0.2))
    np.testing.assert_array_equal(back.data, data)
