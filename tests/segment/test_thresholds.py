"""ImageJ auto-threshold parity.

Three layers:

* ``test_stored_reference_*``: values printed by the real ImageJ 1.53t (Debian's
  ``imagej``) for the arrays in ``data/imagej_threshold_cases.npz`` and for the real
  samples, stored in ``data/imagej_threshold_reference.json``; no Java needed.
  Comparison is exact (``==`` on the float pairs): ImageJ's values are printed with 17
  significant digits, which round-trips a double.
* ``test_parity_with_imagej``: the same arrays through the live ImageJ via the bridge
  (``imagej`` fixture); one macro per image runs all 16 methods x dark x stack.
* bad input and helpers.

The synthetic arrays are stored with each plane's pixels sorted: thresholds depend on
histograms only, and sorted planes compress to a fraction of the size.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fijibridge.segment.thresholds import (
    ALL_METHODS,
    imagej_histogram,
    threshold,
    threshold_bin,
    threshold_mask,
    thresholds,
)

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((DATA / "imagej_threshold_reference.json").read_text())["results"]
with np.load(DATA / "imagej_threshold_cases.npz") as _npz:
    CASES = {k: _npz[k] for k in _npz.files}
REAL = {"real_dsb2018_nuclei": ("dsb2018_nuclei", None, None),
        "real_dsb2018_nuclei_f32": ("dsb2018_nuclei", np.float32, 3.0),
        "real_dsb2018_nuclei_u8": ("dsb2018_nuclei", np.uint8, None),
        "real_hela": ("hela", None, None),
        "real_hela_f32": ("hela", np.float32, 3.0),
        "real_nuclei3d": ("nuclei3d", None, None),
        "real_nuclei3d_f32": ("nuclei3d", np.float32, 3.0)}


def _real_image(name):
    from fijibridge.data import SampleMissingError, load_sample

    sample, dtype, divisor = REAL[name]
    try:
        a = load_sample(sample).data
    except SampleMissingError as e:
        pytest.skip(str(e))
    if sample == "hela":
        a = a[:3]
    if dtype is np.float32:
        a = a.astype(np.float32) / divisor
    elif dtype is np.uint8:
        a = (a.astype(np.float64) / a.max() * 255).astype(np.uint8)
    return a


def _compare(image, rows):
    """Rows (method, dark, stack, lower, upper) that we do not reproduce exactly."""
    got = {}
    for dark in (0, 1):
        for stack in (0, 1):
            if stack and image.ndim == 2:
                continue
            for m, v in thresholds(image, dark=bool(dark), stack=bool(stack)).items():
                got[m, dark, stack] = v
    return [(m, d, s, (lo, up), got[m, d, s]) for m, d, s, lo, up in rows
            if got[m, d, s] != (lo, up)]


def test_threshold_equals_thresholds():
    image = CASES["syn3d_u16"]
    for stack in (False, True):
        many = thresholds(image, dark=True, stack=stack)
        assert all(threshold(image, method=m, dark=True, stack=stack) == many[m]
                   for m in ("Otsu", "Huang", "Triangle"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_stored_reference_synthetic_and_edge_cases(name):
    assert _compare(CASES[name], REFERENCE[name]) == []


@pytest.mark.parametrize("name", sorted(REAL))
def test_stored_reference_real_images(name):
    assert _compare(_real_image(name), REFERENCE[name]) == []


def test_reference_covers_every_method_dtype_and_stack():
    rows = [r for v in REFERENCE.values() for r in v]
    assert {r[0] for r in rows} == set(ALL_METHODS)
    assert {r[1] for r in rows} == {0, 1} and {r[2] for r in rows} == {0, 1}
    assert {CASES[k].dtype.name for k in CASES} == {"uint8", "uint16", "float32"}
    assert len(rows) >= 1800


# --------------------------------------------------------------- live ImageJ
_PARITY_MACRO = """
methods = split("Default,Huang,Intermodes,IsoData,Li,MaxEntropy,Mean,MinError,Minimum,Moments,Otsu,Percentile,RenyiEntropy,Shanbhag,Triangle,Yen", ",");
n = nSlices;
for (m=0; m<methods.length; m++) for (d=0; d<2; d++) for (s=0; s<2; s++) {
  if (s==1 && n==1) continue;
  opt = methods[m];
  if (d==1) opt = opt + " dark";
  if (s==1) opt = opt + " stack";
  setAutoThreshold(opt);
  getThreshold(lower, upper);
  print("T|" + methods[m] + "|" + d + "|" + s + "|" + String.format("%.17g", lower) + "|" + String.format("%.17g", upper));
}
"""
_PARITY_NAMES = sorted(CASES) + ["real_dsb2018_nuclei", "real_dsb2018_nuclei_f32",
                                 "real_nuclei3d"]


@pytest.mark.imagej
@pytest.mark.parametrize("name", _PARITY_NAMES)
def test_parity_with_imagej(imagej, name):
    image = CASES[name] if name in CASES else _real_image(name)
    result = imagej.run_macro(_PARITY_MACRO, images={"case": image})
    rows = []
    for line in result.log.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 6 and parts[0] == "T":
            rows.append([parts[1], int(parts[2]), int(parts[3]), float(parts[4]),
                         float(parts[5])])
    expected = 32 if image.ndim == 2 else 64
    assert len(rows) == expected, result.log
    assert _compare(image, rows) == []


# --------------------------------------------------------------- behaviour
def test_doc_example_two_valued_8bit():
    image = np.array([[10, 10, 200], [10, 200, 200]], dtype=np.uint8)
    assert threshold(image, method="Otsu", dark=True) == (200.0, 255.0)  # last maximum
    assert threshold(image, method="otsu") == (0.0, 199.0)  # case-insensitive


def test_mask_is_inclusive_range():
    image = np.array([[10, 10, 200], [10, 200, 200]], dtype=np.uint8)
    mask = threshold_mask(image, method="Otsu", dark=True)
    np.testing.assert_array_equal(mask, image > 10)


def test_mask_of_unthresholded_image_is_empty():
    image = np.zeros((4, 5), np.float32)
    assert threshold(image, method="Otsu") == (-1.0, -1.0)
    assert not threshold_mask(image, method="Otsu").any()


def test_plane_selects_the_slice_imagej_would_use():
    stack = np.stack([np.full((8, 8), 3, np.uint8), np.arange(64, dtype=np.uint8).reshape(8, 8)])
    assert threshold(stack, method="Mean") == threshold(stack[0], method="Mean")
    assert threshold(stack, method="Mean", plane=1) == threshold(stack[1], method="Mean")


def test_full_16bit_matches_imagej_153t_which_ignores_the_keyword():
    image = CASES["syn_u16"]
    for method in ("Otsu", "Li"):
        assert (threshold(image, method=method, full_16bit=True)
                == threshold(image, method=method))


def test_threshold_bin_and_histogram():
    hist, vmin, vmax = imagej_histogram(CASES["syn_u8"])
    assert (vmin, vmax) == (0.0, 255.0) and hist.sum() == CASES["syn_u8"].size
    t = threshold_bin(hist, method="Otsu")
    assert threshold(CASES["syn_u8"], method="Otsu") == (0.0, float(t))
    with pytest.raises(ValueError, match="256 bins"):
        threshold_bin(np.ones(10, int))
    with pytest.raises(ValueError, match="empty"):
        threshold_bin(np.zeros(256, int))


def test_unknown_method_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'Otsu'"):
        threshold(CASES["syn_u8"], method="Otsuu")


@pytest.mark.parametrize("image, exc, text", [
    (np.zeros((4, 4), bool), TypeError, "boolean"),
    (np.zeros((4, 4), np.float64), TypeError, "float32"),
    (np.zeros((2, 2, 4, 4), np.uint8), ValueError, "2D"),
    (np.zeros((0, 4), np.uint8), ValueError, "empty"),
    (np.full((4, 4), np.nan, np.float32), ValueError, "NaN"),
])
def test_bad_images_raise_clear_errors(image, exc, text):
    with pytest.raises(exc, match=text):
        threshold(image, method="Otsu")


def test_bad_plane_and_flags():
    stack = np.zeros((2, 4, 4), np.uint8)
    with pytest.raises(ValueError, match="plane"):
        threshold(stack, plane=2)
    with pytest.raises(TypeError, match="dark"):
        threshold(stack, dark="yes")


def test_cli_json_all_and_mask(tmp_path, capsys):
    from fijibridge._core.tiff import read_tiff, write_tiff
    from fijibridge.cli.main import main

    image = CASES["syn_u16"]
    src = write_tiff(tmp_path / "img.tif", image)
    out = tmp_path / "mask.tif"
    assert main(["threshold", str(src), "--method", "all", "--dark", "--json",
                 "-o", str(out)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert list(got) == list(ALL_METHODS)
    assert {m: tuple(v) for m, v in got.items()} == thresholds(image, dark=True)
    mask = read_tiff(out).data
    lo, up = got["Default"]
    np.testing.assert_array_equal(mask == 255, (image >= lo) & (image <= up))
    assert main(["threshold", str(src), "--method", "Otsuu"]) == 2
    assert "Did you mean 'Otsu'" in capsys.readouterr().err
