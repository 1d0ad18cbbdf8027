"""RLTV's total-variation factor compiled with numba (``fijibridge[fast]``) is the numpy path's,
bit for bit: same differences, DL2's edges, epsilon where the gradient vanishes, NaN kept, and
no fused multiply-adds. Both paths are run here (skipped without numba, where the rest of the
suite runs the numpy path)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from fijibridge._core.execution import Execution
from fijibridge.deconv import _tv_numba, deconvolve
from fijibridge.deconv import _engine_numpy as npe

numba = pytest.importorskip("numba")


def _factor(shape, threads, compiled, seed=1):
    """The factor of a random estimate with the numba loop or the numpy ufuncs: a flat patch
    (|∇x| < epsilon), a NaN, and random DL2 edges (the previous iteration's buffers)."""
    rng = np.random.default_rng(seed)
    y = rng.random(shape, dtype=np.float32) + 0.1
    x = rng.random(shape, dtype=np.float32) + 0.1
    x[0, :3, :3] = 0.5
    if shape[0] > 2:
        x[2, 1, 1] = np.nan
    ops = npe._Ops(shape, threads)
    try:
        tv = npe._TV(ops, y, 0.01, 1e-6)
        assert tv.compiled is not None  # numba is installed: the compiled loop by default
        for edge in (tv.gx_last, tv.gy_last, tv.gz_last):
            edge[...] = rng.random(edge.shape, dtype=np.float32)
        if not compiled:
            tv.compiled = None
        out = tv.compute(x).copy()
        return out, tv.gz_last.copy()
    finally:
        ops.close()


@pytest.mark.parametrize("shape", [(16, 40, 48), (7, 30, 33), (1, 40, 50), (2, 5, 3)])
@pytest.mark.parametrize("threads", [1, 3])
def test_compiled_factor_is_the_numpy_factor_bit_for_bit(shape, threads):
    (a, za), (b, zb) = (_factor(shape, threads, compiled) for compiled in (True, False))
    np.testing.assert_array_equal(a, b)  # NaN where NaN
    np.testing.assert_array_equal(za, zb)
    assert np.isfinite(a).sum() >= a.size - 16 and not np.all(a == a.flat[0])
    if shape[0] > 2:
        assert np.isnan(a[2, 1, 1])  # the NaN reaches the factor (the controller catches it)


def test_rltv_with_and_without_numba_is_identical(case_b, monkeypatch):
    """End to end, 3D (planes runner) and 2D (whole arrays): the compiled factor changes
    nothing in the result."""
    img, psf = case_b["image"], case_b["psf"]
    for im, ps in ((img, psf), (img[13], psf[13])):
        kw = dict(algorithm="RLTV", params=[6, 0.01], execution=Execution(backend="numpy"))
        monkeypatch.setattr(_tv_numba, "tv_block", lambda: None)
        plain = deconvolve(im, ps, **kw)
        monkeypatch.undo()
        compiled = deconvolve(im, ps, **kw)
        np.testing.assert_array_equal(compiled, plain)
        assert not np.allclose(compiled, im)


def test_numba_switch(monkeypatch):
    _tv_numba.tv_block.cache_clear()
    try:
        monkeypatch.setenv("FIJIBRIDGE_NUMBA", "0")
        assert _tv_numba.tv_block() is None
        _tv_numba.tv_block.cache_clear()
        monkeypatch.setenv("FIJIBRIDGE_NUMBA", "yes")
        with pytest.raises(ValueError, match="FIJIBRIDGE_NUMBA must be 0 or 1"):
            _tv_numba.tv_block()
        monkeypatch.setenv("FIJIBRIDGE_NUMBA", "1")
        monkeypatch.setitem(sys.modules, "numba", None)  # as if not installed
        with pytest.raises(ImportError, match=r"fijibridge\[fast\]"):
            _tv_numba.tv_block()
        monkeypatch.setenv("FIJIBRIDGE_NUMBA", "")
        assert _tv_numba.tv_block() is None  # not installed, not asked for: the numpy path
    finally:
        monkeypatch.undo()
        _tv_numba.tv_block.cache_clear()
    assert _tv_numba.tv_block() is not None
