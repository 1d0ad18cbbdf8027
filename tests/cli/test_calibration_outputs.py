"""Commands that write images keep "uncalibrated" as it is: an input that states no pixel
size never comes out as a 1 µm-per-pixel ("micron") file (issue #16, calibration flows)."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from fijibridge import read_image
from fijibridge.cli.main import main
from fijibridge.data import load_sample


@pytest.mark.parametrize("calibrated", [False, True])
def test_segment_labels_keep_the_input_calibration(tmp_path, calibrated):
    img = np.asarray(load_sample("dsb2018_nuclei").data[:96, :96])
    path = tmp_path / "n.tif"
    if calibrated:
        tifffile.imwrite(path, img, imagej=True, resolution=(1 / 0.3, 1 / 0.3),
                         metadata={"unit": "micron"})
    else:
        tifffile.imwrite(path, img)  # tifffile's default 1/1 resolution, no unit
    assert main(["segment", str(path), "--no-overlay", "--output-dir", str(tmp_path / "o")]) == 0
    labels = read_image(tmp_path / "o" / "n_labels.tif")
    assert labels.calibrated is calibrated
    if calibrated:
        assert labels.spacing == pytest.approx((0.3, 0.3))


@pytest.mark.parametrize("command", [["threshold", "--method", "Otsu"], ["filter", "--gaussian", "1.0"]])
def test_threshold_and_filter_outputs_stay_uncalibrated(tmp_path, command):
    img = np.asarray(load_sample("dsb2018_nuclei").data[:64, :64])
    tifffile.imwrite(tmp_path / "n.tif", img)
    out = tmp_path / "o"
    assert main([command[0], str(tmp_path / "n.tif"), *command[1:], "-o", str(out)]) == 0
    (written,) = [p for p in out.rglob("*.tif")]
    assert read_image(written).calibrated is False
