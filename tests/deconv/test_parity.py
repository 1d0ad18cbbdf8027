"""Parity with the real DeconvolutionLab2 2.1.2: every ``dl2`` case of the reference manifest.

Tolerance: relative L2 error ≤ 1e-4 (issue 3). Measured errors are 1e-7 … 1e-5 (float32
rounding; NIF amplifies it through 1/H). Two documented deviations, both where the plugin is
demonstrably wrong (see ``fijibridge/deconv/_haar.py``):

* ``A_FISTA20`` (1.9e-4): DL2's ``thresholdSoft`` maps ``v <= -t`` to ``v - t`` (sign error),
  a jump of 2t at -t. Wavelet coefficients within float rounding of -t fall on either side
  depending on the FFT's rounding order, and FISTA's momentum amplifies each flip. The
  difference is confined to a few 2x2x2 blocks (single finest-scale coefficients), and our
  own float32-FFT and float64-FFT runs differ from each other by the same order: no
  implementation that is not bit-identical to DL2's own FFT can do better.
* ``B_FISTA20``: DL2's Haar synthesis does not invert its analysis for 27 slices (levels
  27→13→6 vs 6→12→24), so the shrinkage is not a proximal step and FISTA diverges (PSNR falls
  from 24.5 dB to -25 dB, values ±7e4 on data in [0, 60], hence the negative mean). fijibridge
  stops it with DivergenceError; with the guard off it reproduces the blow-up; with
  ``haar="orthonormal"`` FISTA converges.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from fijibridge import DivergenceError
from fijibridge.deconv import Monitor, deconvolve, parse_dl2, run_dl2_text

# the same folder as the ``reference_dir`` fixture (tests/conftest.py), read at collection
REFERENCE = Path(os.environ.get("FIJIBRIDGE_REFERENCE",
                                Path(__file__).resolve().parents[2].parent / "shared" / "reference"))
_CASES = []
if (REFERENCE / "manifest.json").is_file():
    _CASES = [c["name"] for c in json.loads((REFERENCE / "manifest.json").read_text())["dl2"]]
DEVIATIONS = {"A_FISTA20", "B_FISTA20"}


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _case(manifest, name):
    return next(c for c in manifest["dl2"] if c["name"] == name)


def _with_backends(names):
    """Each case on the CPU's default backend; cases whose algorithm also has a numpy runner
    (all of them) once more on torch, which CUDA uses."""
    from fijibridge.deconv._engine_numpy import RUNNERS

    out = []
    for name in names:
        out.append((name, "auto"))
        algorithm = name.split("_")[1].rstrip("0123456789")
        if algorithm in RUNNERS:
            out.append((name, "torch"))
    return out or [("none", "auto")]


@pytest.mark.parametrize("name, backend", _with_backends([c for c in _CASES
                                                            if c not in DEVIATIONS]))
def test_dl2_case_within_1e_4(name, backend, manifest, reference_dir):
    import tifffile

    from fijibridge._core.execution import Execution

    case = _case(manifest, name)
    out, _ = run_dl2_text(case["command"], cwd=reference_dir,
                          execution=Execution(backend=backend))
    ref = tifffile.imread(reference_dir / case["output"])
    assert out.shape == ref.shape == tuple(case["shape_zyx"])
    assert out.dtype == np.float32
    assert _rel(out, ref) <= 1e-4


def test_a_fista20_deviation_is_rounding_at_dl2s_threshold_jump(manifest, reference_dir, case_a):
    import tifffile

    case = _case(manifest, "A_FISTA20")
    out, _ = run_dl2_text(case["command"], cwd=reference_dir)
    ref = tifffile.imread(reference_dir / case["output"]).astype(np.float64)
    err = _rel(out, ref)
    assert err <= 5e-4
    # confined to a few 2x2x2 blocks (single finest-scale Haar coefficients)
    bad = np.abs(out - ref) > 1e-3
    assert bad.sum() <= 8 * 40
    blocks = {tuple(i // 2 for i in idx) for idx in np.argwhere(bad)}
    assert len(blocks) * 8 == bad.sum()
    good = ~bad
    for axis in range(3):  # exclude the blocks' neighbourhood
        good &= ~np.roll(bad, 1, axis) & ~np.roll(bad, -1, axis)
    assert _rel(out[good], ref[good]) < 2e-5
    # the same operator with float32 FFTs instead of float64 ones (torch's runner, patched)
    # moves the result as much
    import fijibridge.deconv._engine as engine

    opts = parse_dl2(case["command"])
    y, h = case_a["image"], case_a["psf"]
    from fijibridge.deconv._prepare import prepare_psf

    h = prepare_psf(h, y.shape, 1.0)
    spec = opts.spec
    real_fft = engine._FFT
    try:
        engine._FFT = lambda torch, shape, full, precise=False: real_fft(torch, shape, full, False)
        x32 = engine.run(spec, opts.resolved, y.copy(), h, image_shape=y.shape, constraint="no",
                         residu=None, epsilon=1e-6, monitor=None, device="cpu", max_growth=None,
                         haar="dl2", backend="torch")
    finally:
        engine._FFT = real_fft
    assert _rel(x32, out) > 5e-5


def test_b_fista20_dl2_diverges_and_is_stopped(manifest, reference_dir, case_b):
    import tifffile

    case = _case(manifest, "B_FISTA20")
    with pytest.raises(DivergenceError, match="orthonormal"):
        run_dl2_text(case["command"], cwd=reference_dir)
    # guard off: the plugin's blow-up is reproduced (diagnosis confirmed)
    out, _ = run_dl2_text(case["command"], cwd=reference_dir, max_growth=None)
    ref = tifffile.imread(reference_dir / case["output"]).astype(np.float64)
    assert ref.mean() < 0 and out.mean() < 0
    assert np.abs(ref).max() > 1e4 and np.abs(out).max() > 1e4
    assert _rel(out, ref) < 1e-2
    # corrected shrinkage: converges, keeps the mean, better PSNR than the plugin's result
    m = Monitor(reference=case_b["gt"])
    fixed = deconvolve(case_b["image"], case_b["psf"], algorithm="FISTA", params=[20, 1, 0.01, 3],
                       haar="orthonormal", monitor=m)
    assert np.isfinite(fixed).all()
    assert abs(fixed.mean() - case_b["image"].mean()) < 1e-3
    psnr = [s.psnr for s in m.history]
    assert psnr[-1] > psnr[0] and min(np.diff(psnr)) > -1e-3


def test_orthonormal_haar_equals_dl2_on_dyadic_sizes_except_threshold(case_a):
    """On 64x64x32 the two transforms coincide; only DL2's threshold sign differs, so with a
    threshold of 0 the results must agree."""
    y, h = case_a["image"], case_a["psf"]
    a = deconvolve(y, h, algorithm="ISTA", params=[3, 1, 0, 3], haar="dl2")
    b = deconvolve(y, h, algorithm="ISTA", params=[3, 1, 0, 3], haar="orthonormal")
    assert _rel(a, b) < 1e-6
