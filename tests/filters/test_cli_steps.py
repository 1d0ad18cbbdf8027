"""``fijibridge filter`` (real files, calibration kept) and the pipeline step adapters."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from fijibridge._core.tiff import read_tiff, write_tiff
from fijibridge.cli.main import main
from fijibridge.filters import gaussian, subtract_background, tubeness
from fijibridge.filters.steps import STEPS

RNG = np.random.default_rng(3)


@pytest.fixture()
def stack(tmp_path):
    image = RNG.integers(0, 4000, (4, 40, 44)).astype(np.uint16)
    path = tmp_path / "in.tif"
    write_tiff(path, image, spacing=(0.3, 0.1, 0.1))
    return path, image


def test_cli_subtract_background_keeps_calibration_and_uses_it(stack, tmp_path):
    path, image = stack
    out = tmp_path / "out.tif"
    assert main(["filter", str(path), "--subtract-background", "2.5", "--light",
                 "--paraboloid", "-o", str(out)]) == 0
    got = read_tiff(out)
    assert got.spacing == pytest.approx((0.3, 0.1, 0.1)) and got.axes == "ZYX"
    np.testing.assert_array_equal(got.data, subtract_background(
        image, radius_um=25, light_background=True, paraboloid=True))


@pytest.mark.parametrize("flag, value, func, kw", [
    ("--gaussian", "0.3", gaussian, {"sigma_um": 0.3}),
    ("--tubeness", "0.3", tubeness, {"sigma_um": 0.3}),
])
def test_cli_filters_in_micrometres(stack, tmp_path, flag, value, func, kw):
    path, image = stack
    out = tmp_path / "out.tif"
    assert main(["filter", str(path), flag, value, "-o", str(out)]) == 0
    np.testing.assert_allclose(read_tiff(out).data,
                               func(image, spacing=(0.3, 0.1, 0.1), **kw), rtol=1e-6)


def test_cli_bad_input_is_one_line_error(stack, tmp_path, capsys):
    path, _ = stack
    assert main(["filter", str(path), "--subtract-background", "0", "-o",
                 str(tmp_path / "o.tif")]) == 2
    assert "radius_um" in capsys.readouterr().err
    assert not (tmp_path / "o.tif").exists()


def test_steps_table_and_adapters():
    assert set(STEPS) == {"subtract_background", "gaussian", "median", "clahe", "tubeness",
                          "sato", "frangi"}
    image = RNG.random((3, 24, 24)).astype(np.float32)
    for name, info in STEPS.items():
        func, per, outputs = info.func, info.per, info.outputs
        params = inspect.signature(func).parameters
        assert per == "image" and outputs == ("image",)
        assert "image" in params and "spacing" in params
        assert all(p.kind is p.KEYWORD_ONLY for p in params.values())
        assert func(image=image, spacing=(0.5, 0.2, 0.2))["image"].shape == image.shape, name
    got = STEPS["gaussian"].func(image=image, spacing=(0.5, 0.2, 0.2), sigma_um=0.4)["image"]
    np.testing.assert_array_equal(got, gaussian(image, sigma_um=0.4, spacing=(0.5, 0.2, 0.2)))
