"""The Image type and unit conversion (numpy only)."""

from __future__ import annotations

import numpy as np
import pytest

from fijibridge import Image
from fijibridge.io._units import length_to_um, time_to_s


@pytest.mark.parametrize("value, unit, um", [
    (65.5, "nm", 0.0655), (0.25, "µm", 0.25), (0.25, "\\u00B5m", 0.25), (0.25, "micron", 0.25),
    (1.5, "mm", 1500.0), (20.0, "Å", 0.002), (1e-7, "m", 0.1), (2.0, "cm", 2e4),
    (0.3, "um", 0.3), (1.0, "pixel", None), (0.0, "µm", None), (None, "µm", None)])
def test_length_to_um(value, unit, um):
    got = length_to_um(value, unit)
    assert got == (pytest.approx(um, rel=1e-12) if um is not None else None)


def test_time_to_s():
    assert time_to_s(250, "ms") == pytest.approx(0.25)
    assert time_to_s(2, "min") == 120.0
    assert time_to_s(None) is None


def test_image_checks_and_spacing_um():
    img = Image(np.zeros((2, 3, 4, 5), np.uint8), axes="CZYX", spacing=(0.5, 0.1, 0.1),
                spacing_known=(False, True, True), channels=("a", "b"))
    assert img.spacing_um == {"z": None, "y": 0.1, "x": 0.1}
    assert img.spatial_ndim == 3 and img.calibrated
    with pytest.raises(ValueError, match="order TCZYX"):
        Image(np.zeros((3, 2, 4, 5)), axes="ZCYX")
    with pytest.raises(ValueError, match="spacing must be 2"):
        Image(np.zeros((4, 5)), axes="YX", spacing=(1, 1, 1))
    with pytest.raises(ValueError, match="channels names 1"):
        Image(np.zeros((2, 4, 5)), axes="CYX", channels=("a",))
    plain = Image(np.zeros((4, 5)), axes="YX")
    assert plain.calibrated is False and plain.spacing_um == {"z": None, "y": None, "x": None}


def test_channel_selection_and_errors():
    data = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    img = Image(data, axes="CZYX", spacing=(0.5, 0.1, 0.1), channels=("DAPI", "Mito"))
    mito = img.channel("Mito")
    assert mito.axes == "ZYX" and mito.channels == ("Mito",)
    np.testing.assert_array_equal(mito.data, data[1])
    np.testing.assert_array_equal(img.channel(0).data, data[0])
    np.testing.assert_array_equal(img.channel("1").data, data[1])
    with pytest.raises(ValueError, match="present: 0: 'DAPI', 1: 'Mito'"):
        img.channel("Actin")
    with pytest.raises(ValueError, match=r"0\.\.1"):
        img.channel(2)
    with pytest.raises(TypeError):
        img.channel(1.0)


def test_to_ndarray_reorders_explicitly():
    data = np.arange(2 * 3 * 4 * 5 * 6).reshape(2, 3, 4, 5, 6)
    img = Image(data, axes="TCZYX", spacing=(1, 1, 1))
    np.testing.assert_array_equal(img.to_ndarray("TZCYX"), data.transpose(0, 2, 1, 3, 4))
    np.testing.assert_array_equal(img.to_ndarray("ZYXCT"), data.transpose(2, 3, 4, 1, 0))
    single = img.channel(0)
    assert single.to_ndarray("TCZYX").shape == (2, 1, 4, 5, 6)
    with pytest.raises(ValueError, match="cannot drop axis 'T' of length 2"):
        img.to_ndarray("CZYX")
    squeezed = Image(data[:1, :, :1], axes="TCZYX", spacing=(0.3, 0.1, 0.1)).squeeze()
    assert squeezed.axes == "CYX" and squeezed.spacing == (0.1, 0.1)
    assert img.plane(t=1, c=2, z=3).tolist() == data[1, 2, 3].tolist()
