"""The numba loops (``fijibridge[fast]``) compute the numpy kernels' float32 arithmetic: RLTV's
total-variation factor bit for bit (same differences, DL2's edges, epsilon where the gradient
vanishes, NaN kept, no fused multiply-adds), the Fourier-domain closed form bit for bit but
for numpy's complex product, which may use FMA. Both paths are run here (skipped without
numba, where the rest of the suite runs the numpy path)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from fijibridge._core.execution import Execution
from fijibridge.deconv import _engine_numpy as npe
from fijibridge.deconv import _numba, deconvolve

numba = pytest.importorskip("numba")


@pytest.fixture(autouse=True)
def _compiled_always(monkeypatch):
    """The loops however short the work (by default they are used only where they pay)."""
    monkeypatch.setenv("FIJIBRIDGE_NUMBA", "1")


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
        monkeypatch.setattr(_numba, "tv_block", lambda *a: None)
        plain = deconvolve(im, ps, **kw)
        monkeypatch.undo()
        compiled = deconvolve(im, ps, **kw)
        np.testing.assert_array_equal(compiled, plain)
        assert not np.allclose(compiled, im)


class _OPS:  # what _closed_step reads of the back-end's _Ops
    shape, threads = (6, 10, 9), 1


def test_numba_switch_and_when_the_loops_pay(monkeypatch):
    """``FIJIBRIDGE_NUMBA``: 0 never, 1 always (an error without numba), unset where numba is
    loaded already or the expected saving exceeds its start-up (START_SECONDS)."""
    import importlib.util

    import numba.np.arraymath  # noqa: F401  (numba's numpy support: "loaded already")

    import fijibridge.deconv as deconv_pkg

    big = 2 * _numba.START_SECONDS / _numba.SAVED_PER_VOXEL["tv"]  # voxel-iterations
    monkeypatch.setenv("FIJIBRIDGE_NUMBA", "0")
    assert _numba.tv_block(big, 1) is None and _numba.landweber_closed(1e12, 1) is None
    monkeypatch.setenv("FIJIBRIDGE_NUMBA", "yes")
    with pytest.raises(ValueError, match="FIJIBRIDGE_NUMBA must be 0 or 1"):
        _numba.tv_block(big, 1)
    monkeypatch.setenv("FIJIBRIDGE_NUMBA", "")
    assert _numba.tv_block(10.0, 1) is not None  # numba is loaded in this process already
    def fresh(m):  # as in a fresh process: numba's loops and numpy support not loaded
        m.delitem(sys.modules, "numba.np.arraymath", raising=False)
        m.setattr(_numba, "_started", False)
        m.setattr(_numba, "_forgone", 0.0)

    with monkeypatch.context() as m:
        fresh(m)
        assert _numba.tv_block(10.0, 1) is None
        fresh(m)
        assert _numba.tv_block(big / 2, 2) is None  # two threads save half as much
        fresh(m)
        assert _numba.tv_block(big, 1) is not None
        fresh(m)
        assert _numba.landweber_closed(64 * 256 * 256, 2) is None  # runs once: ~8 ms saved
        fresh(m)
        assert _numba.haar_loops(64 * 256 * 256 * 20, 2) is None  # FISTA 20: ~0.2 s saved
        fresh(m)
        assert _numba.haar_loops(64 * 256 * 256 * 200, 2) is not None
    with monkeypatch.context() as m:  # not installed
        m.setattr(importlib.util, "find_spec", lambda name, *a: None)
        assert _numba.tv_block(big, 1) is None
        m.setitem(sys.modules, "numba", None)
        m.delitem(sys.modules, "fijibridge.deconv._numba_kernels")
        m.delattr(deconv_pkg, "_numba_kernels")
        m.setenv("FIJIBRIDGE_NUMBA", "1")
        with pytest.raises(ImportError, match=r"fijibridge\[fast\]"):
            _numba.landweber_closed(1.0, 1)
    assert _numba.tv_block(big, 1) is not None


def test_a_batch_of_short_runs_starts_numba_once_the_forgone_savings_pay_for_it(monkeypatch):
    """Unset ``FIJIBRIDGE_NUMBA`` in a fresh process: runs too short to pay numba's start on
    their own keep the numpy path, and add up what the loops would have saved them; the run
    that brings that sum to START_SECONDS starts numba (and later ones use it)."""
    import numba.np.arraymath  # noqa: F401  (so that it is there to take away)

    monkeypatch.setenv("FIJIBRIDGE_NUMBA", "")
    monkeypatch.delitem(sys.modules, "numba.np.arraymath")
    monkeypatch.setattr(_numba, "_forgone", 0.0)
    monkeypatch.setattr(_numba, "_started", False)
    per_run = _numba.START_SECONDS / 3.5 / _numba.SAVED_PER_VOXEL["tv"]  # 2/7 of the start
    runs = [_numba.tv_block(per_run, 1) for _ in range(3)]  # 6/7 of the start forgone
    assert runs == [None, None, None]
    assert _numba._forgone == pytest.approx(_numba.START_SECONDS * 3 / 3.5)
    assert _numba.haar_loops(1.0, 1) is None  # ~nothing saved: still the numpy path
    assert _numba.tv_block(per_run, 1) is not None  # 8/7: numba pays for itself now
    assert _numba._started
    assert _numba.landweber_closed(1.0, 1) is not None  # loaded: used by every run after


def test_loops_that_cannot_be_set_up_fall_back_to_numpy(monkeypatch, caplog):
    """numba installed but its loops failing to load (e.g. no writable cache folder): the
    numpy path with a warning by default, once; a clear error when they were asked for."""
    import fijibridge.deconv as deconv_pkg

    monkeypatch.delattr(deconv_pkg, "_numba_kernels", raising=False)
    monkeypatch.delitem(sys.modules, "fijibridge.deconv._numba_kernels", raising=False)
    real_import = __import__

    def importer(name, globals=None, locals=None, fromlist=(), level=0):
        if level == 1 and "_numba_kernels" in (fromlist or ()):
            raise RuntimeError("cannot cache function 'tv_block': no locator available")
        return real_import(name, globals, locals, fromlist, level)
    monkeypatch.setattr("builtins.__import__", importer)
    monkeypatch.setattr(_numba, "_FAILED", None)
    with pytest.raises(RuntimeError, match="NUMBA_CACHE_DIR"):
        _numba.tv_block(1e12, 1)  # FIJIBRIDGE_NUMBA=1 (this module's fixture)
    monkeypatch.setenv("FIJIBRIDGE_NUMBA", "")
    with caplog.at_level("WARNING", logger="fijibridge.deconv._numba"):
        assert _numba.tv_block(1e12, 1) is None
        assert _numba.haar_loops(1e12, 1) is None  # not tried again
    assert len([r for r in caplog.records if "numpy path is used" in r.message]) == 1


def test_a_short_rltv_does_not_start_numba(tmp_path, case_b):
    """By default a short run keeps the numpy path: numba's ~0.55 s start would cost more than
    its loops save."""
    import subprocess

    import tifffile

    tifffile.imwrite(tmp_path / "im.tif", case_b["image"])
    tifffile.imwrite(tmp_path / "psf.tif", case_b["psf"])
    code = ("import sys, tifffile\n"
            "from fijibridge.deconv import deconvolve\n"
            f"im = tifffile.imread({str(tmp_path / 'im.tif')!r})\n"
            f"psf = tifffile.imread({str(tmp_path / 'psf.tif')!r})\n"
            "deconvolve(im, psf, algorithm='RLTV', params=[3, 0.01])\n"
            "deconvolve(im, psf, algorithm='ICTM', params=[3, 1.0, 0.001])\n"
            "deconvolve(im, psf, algorithm='FISTA', params=[3, 1.0, 0.01, 3], haar='orthonormal')\n"
            "print('numba' in sys.modules)\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != "FIJIBRIDGE_NUMBA"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=300, check=True)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("name, params", [("LW", {"step": 1.0}), ("ICTM", {"step": 0.8, "reg": 0.01})])
@pytest.mark.parametrize("m", [1, 2, 21, 64])
def test_compiled_closed_form_is_the_numpy_kernel_with_a_plain_complex_product(name, params, m):
    """The compiled closed form is the numpy kernel's float32 arithmetic bit for bit, except
    that numpy's complex product G·Y may use FMA (CPU-dependent): the reference here is the
    numpy kernel's operations with that product written out as two products and a sum."""
    rng = np.random.default_rng(m)
    shape = (6, 10, 9)
    H = ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * 0.6).astype(np.complex64)
    Y = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    L = (rng.random(shape) * 40).astype(np.float32) if name == "ICTM" else None
    g = np.float32(params["step"])
    hr, hi = H.real.copy(), H.imag.copy()
    A = hr * hr
    A += hi * hi
    A *= -g
    A += np.float32(1.0)
    if L is not None:
        A += (np.float32(-(params["reg"] * params["step"])) * L) * L
    gr, gi = hr * g, -hi * g
    xr = gr * Y.real - gi * Y.imag
    xi = gr * Y.imag + gi * Y.real
    with np.errstate(over="ignore", invalid="ignore"):  # |A| > 1 somewhere: inf, as DL2's
        S = npe.geometric_sum(A, m)
    out = H.copy()[:, 2:7]  # a strided piece, as the column pieces are
    step = npe._closed_step(_OPS, name, params, m, npe._terms_kernel(name, params))
    step(out, Y[:, 2:7], None if L is None else L[:, 2:7])
    with np.errstate(invalid="ignore"):
        xr, xi = xr * S, xi * S
    assert np.isfinite(xr).mean() > 0.5
    np.testing.assert_array_equal(out.real, xr[:, 2:7])
    np.testing.assert_array_equal(out.imag, xi[:, 2:7])
    full = H.copy()
    step(full[0], Y[0], None if L is None else L[0])  # a 2D slab
    np.testing.assert_array_equal(full[0].real, xr[0])


@pytest.mark.parametrize("shape", [(8, 12, 10), (12, 10)])
def test_compiled_closed_form_computes_the_laplacian_from_its_terms_bit_for_bit(shape):
    """TM/ICTM: the compiled loop given DL2's Laplacian as its separable terms (computed as it
    goes) gives the same bits as given the Laplacian's array, for a 3D piece of columns (as
    the plane runner cuts them) and a 2D slab of rows."""
    from fijibridge.deconv._prepare import laplacian_even_half

    class Ops:
        threads = 1
    Ops.shape = shape
    params = {"step": 0.8, "reg": 0.01}
    half = shape[:-1] + (shape[-1] // 2 + 1,)
    rng = np.random.default_rng(3)
    H = ((rng.standard_normal(half) + 1j * rng.standard_normal(half)) * 0.6).astype(np.complex64)
    Y = (rng.standard_normal(half) + 1j * rng.standard_normal(half)).astype(np.complex64)
    step = npe._closed_step(Ops, "ICTM", params, 21, npe._terms_kernel("ICTM", params))
    assert step.terms  # numba's loop (this module's fixture)
    lap_rows, full = npe._laplacian_rows(shape)
    assert not full
    pieces = ([(None, slice(3, 7))] if len(shape) == 3 else []) + [(np.arange(2, 5), None)]
    for r, columns in pieces:
        array = lap_rows(r, columns)
        where = (slice(None), columns) if r is None else (slice(r[0], r[-1] + 1),)
        np.testing.assert_array_equal(array, laplacian_even_half(shape)[where])
        a, b = H.copy(), H.copy()
        step(a[where], Y[where], array)
        step(b[where], Y[where], lap_rows(r, columns, axes=True))
        assert not np.array_equal(a, H) and np.isfinite(a).mean() > 0.5
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("algorithm, params", [("LW", [12, 1.0]), ("NNLS", [12, 1.0]),
                                               ("TM", [12, 1.0, 0.001]),
                                               ("ICTM", [12, 1.0, 0.001])])
def test_fourier_closed_form_with_and_without_numba(case_a, case_b, monkeypatch, algorithm,
                                                    params):
    """End to end (3D by planes, odd sizes on whole arrays, a 2D plane): within 1e-6 of the
    numpy kernels (the FMA in numpy's complex product), and both within 1e-5 of torch."""
    for im, ps in ((case_a["image"], case_a["psf"]), (case_b["image"], case_b["psf"]),
                   (case_b["image"][13], case_b["psf"][13])):
        kw = dict(algorithm=algorithm, params=params)
        monkeypatch.setattr(_numba, "landweber_closed", lambda *a: None)
        plain = deconvolve(im, ps, execution=Execution(backend="numpy"), **kw)
        monkeypatch.undo()
        compiled = deconvolve(im, ps, execution=Execution(backend="numpy"), **kw)
        ref = deconvolve(im, ps, execution=Execution(backend="torch"), **kw)
        assert not np.allclose(compiled, im, rtol=1e-2)
        assert _rel(compiled, plain) < 1e-6 and _rel(compiled, ref) < 1e-5


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("shape", [(16, 40, 48), (9, 33, 31), (1, 50, 45), (40, 36)])
@pytest.mark.parametrize("mode", ["dl2", "orthonormal"])
def test_compiled_haar_shrinkage_is_the_numpy_one_bit_for_bit(shape, mode):
    """The Haar pairs and the thresholding as compiled loops: the same values as numpy's
    (odd sizes, a 2D image, NaN, ±inf and exact zeros included), on 1 and 3 threads."""
    from fijibridge.deconv._haar_numpy import Shrinkage

    rng = np.random.default_rng(len(shape) + shape[-1])
    z0 = rng.standard_normal(shape).astype(np.float32)
    z0.flat[5], z0.flat[17], z0.flat[23], z0.flat[40:60] = np.nan, np.inf, -np.inf, 0.0
    outs = []
    for threads in (1, 3):
        ops = npe._Ops(shape, threads)
        try:
            for loops in (_numba.haar_loops(1e12, threads), (None, None)):
                sh = Shrinkage(shape, 3, mode,
                               lambda fn, parts, _ops=ops: npe._in_runs(_ops, fn, parts), *loops)
                with np.errstate(invalid="ignore", over="ignore"):
                    outs.append(sh(z0.copy(), 0.3).copy())
        finally:
            ops.close()
    for out in outs[1:]:
        np.testing.assert_array_equal(out, outs[0])
    assert np.isfinite(outs[0]).mean() > 0.5 and not np.array_equal(outs[0], z0)


@pytest.mark.parametrize("algorithm", ["ISTA", "FISTA"])
def test_wavelet_algorithms_with_and_without_numba_are_identical(case_a, monkeypatch, algorithm):
    im, ps = case_a["image"], case_a["psf"]
    kw = dict(algorithm=algorithm, params=[8, 1, 0.01, 3], execution=Execution(backend="numpy"))
    monkeypatch.setattr(_numba, "haar_loops", lambda *a: None)
    plain = deconvolve(im, ps, **kw)
    monkeypatch.undo()
    monkeypatch.setenv("FIJIBRIDGE_NUMBA", "1")
    compiled = deconvolve(im, ps, **kw)
    np.testing.assert_array_equal(compiled, plain)
    assert not np.allclose(compiled, im, rtol=1e-2)
