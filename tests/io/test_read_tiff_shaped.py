"""Plain (non-ImageJ, non-OME) TIFFs written by tifffile with its 'shaped' metadata."""

from __future__ import annotations

import numpy as np
import tifffile

from fijibridge import read_image


def test_shaped_4d_stack_reads_as_time_then_depth(tmp_path):
    """A 4-D stack (e.g. the Cell Tracking Challenge's 3D time-lapses) has two unnamed
    plane axes: read as T, Z (numpy's usual order), never a failure on a second 'Z'."""
    data = np.arange(5 * 7 * 8 * 9, dtype=np.uint16).reshape(5, 7, 8, 9)
    tifffile.imwrite(tmp_path / "s.tif", data, photometric="minisblack")
    img = read_image(tmp_path / "s.tif")
    assert img.axes == "TZYX" and img.shape == (5, 7, 8, 9) and not img.calibrated
    np.testing.assert_array_equal(img.to_ndarray(), data)


def test_shaped_3d_stack_reads_as_depth(tmp_path):
    data = np.zeros((7, 8, 9), np.uint8)
    tifffile.imwrite(tmp_path / "s.tif", data, photometric="minisblack")
    assert read_image(tmp_path / "s.tif").axes == "ZYX"
