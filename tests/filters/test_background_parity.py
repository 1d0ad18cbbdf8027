"""Subtract Background parity with the real ImageJ 1.53t (Debian's ``imagej``).

Real images: a 120 x 137 crop of the DSB 2018 nuclei image (stardist) and a
3 x 96 x 80 crop of flowdec's widefield neuron stack, each in 8, 16 and 32 bit.  One
macro per image duplicates it once per option set and runs ``Subtract Background...``
on each copy (``stack`` for the stacks); every copy is compared with
:func:`fijibridge.filters.subtract_background` on the same pixels.

Tolerance: none.  The comparison is bitwise (8/16 bit and 32 bit alike): the
implementation does ImageJ's float32 operations in ImageJ's order, so there is no
rounding difference to allow for (the brief allowed 1e-4 relative for 32 bit; it is
not needed).  The crops are not square so that the diagonal passes of the sliding
paraboloid and the shrink/enlarge of the rolling ball meet unequal edges.
"""

from __future__ import annotations

import numpy as np
import pytest

from fijibridge.filters import subtract_background

RADII = (5, 25, 50)
VARIANTS = ("", "light", "disable", "create", "light create disable")
OPTIONS = [f"rolling={r}{' sliding' if s else ''}{' ' + v if v else ''}"
           for r in RADII for s in (False, True) for v in VARIANTS]

_MACRO = """#@ String options
#@ String stack
opts = split(options, "|");
for (i = 0; i < opts.length; i++) {
  selectImage("case");
  run("Duplicate...", "title=r" + i + " duplicate");
  run("Subtract Background...", opts[i] + stack);
}
"""


def _kwargs(option: str) -> dict:
    words = option.split()
    return dict(radius_um=float(words[0].split("=")[1]), paraboloid="sliding" in words,
                light_background="light" in words, smoothing="disable" not in words,
                create_background="create" in words)


def _real(name: str, dtype) -> np.ndarray:
    from fijibridge.data import SampleMissingError, load_sample

    try:
        if name == "nuclei2d":
            a = load_sample("dsb2018_nuclei").data[:120, :137].astype(np.float32)
        else:
            a = load_sample("neuron").data[20:23, 60:156, 90:170].astype(np.float32)
    except SampleMissingError as e:
        pytest.skip(str(e))
    if dtype == np.float32:
        return a / 3  # non-integer values
    top = 255 if dtype == np.uint8 else 65535
    return np.round(a / a.max() * top * 0.9).astype(dtype)


@pytest.mark.imagej
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32], ids=["8bit", "16bit", "32bit"])
@pytest.mark.parametrize("name", ["nuclei2d", "neuron_stack"])
def test_subtract_background_equals_imagej_153t(imagej, name, dtype):
    image = _real(name, dtype)
    result = imagej.run_macro(_MACRO, images={"case": image},
                              args={"options": "|".join(OPTIONS),
                                    "stack": " stack" if image.ndim == 3 else ""})
    differ = []
    for i, option in enumerate(OPTIONS):
        got = result.images[f"r{i}"].data
        assert got.shape == image.shape and got.dtype == image.dtype, option
        ours = subtract_background(image, **_kwargs(option))
        if not np.array_equal(ours, got):
            n = int((ours != got).sum())
            dmax = float(np.abs(ours.astype(np.float64) - got).max())
            differ.append(f"{option}: {n} pixels differ, max |diff| {dmax:g}")
    assert differ == [], "\n".join(differ)


def test_option_matrix_covers_imagej_switches():
    assert len(OPTIONS) == 30
    assert {k for o in OPTIONS for k, v in _kwargs(o).items() if v is True} == {
        "paraboloid", "light_background", "smoothing", "create_background"}
