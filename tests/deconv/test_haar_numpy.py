"""The numpy back-end's Haar shrinkage (ISTA/FISTA) against the torch one
(:mod:`fijibridge.deconv._haar`): DL2's form bit for bit, on dyadic and odd sizes, 2D and 3D,
one to four scales, whole and in small blocks on a thread pool; the orthonormal form within
float32 rounding and an exact inverse; and the float64 multiplication that stands for DL2's
division by √2, checked on every finite float32."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from fijibridge.deconv import _haar, _haar_numpy
from fijibridge.deconv._haar_numpy import Shrinkage

SHAPES = [(32, 64, 64), (27, 52, 60), (1, 30, 31), (5, 7, 9), (40, 33), (16, 16)]


@pytest.fixture(scope="module")
def pool():
    with ThreadPoolExecutor(3) as p:
        yield lambda fn, parts: list(p.map(fn, parts))


def _sequential(fn, parts):
    return [fn(p) for p in parts]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scales", [1, 2, 3, 4])
def test_dl2_shrinkage_is_torchs_bit_for_bit(shape, scales, pool, monkeypatch):
    rng = np.random.default_rng(sum(shape) + scales)
    z = rng.normal(size=shape).astype(np.float32)
    ref = _haar.shrinkage(torch, torch.from_numpy(z.copy()), 0.3, scales, "dl2").numpy()
    out = Shrinkage(shape, scales, "dl2", _sequential)(z.copy(), 0.3)
    np.testing.assert_array_equal(out, ref)
    monkeypatch.setattr(_haar_numpy, "_BLOCK_BYTES", 256)  # many small work items
    out = Shrinkage(shape, scales, "dl2", pool)(z.copy(), 0.3)
    np.testing.assert_array_equal(out, ref)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scales", [1, 3])
def test_orthonormal_shrinkage_matches_torch_and_inverts(shape, scales, pool):
    rng = np.random.default_rng(7)
    z = rng.normal(size=shape).astype(np.float32)
    ref = _haar.shrinkage(torch, torch.from_numpy(z.copy()), 0.3, scales, "orthonormal").numpy()
    out = Shrinkage(shape, scales, "orthonormal", pool)(z.copy(), 0.3)
    np.testing.assert_allclose(out, ref, rtol=0, atol=2e-6)
    assert not np.allclose(out, z, atol=1e-2)  # the threshold did act
    # no threshold: synthesis inverts analysis on any size
    same = Shrinkage(shape, scales, "orthonormal", pool)(z.copy(), 0.0)
    np.testing.assert_allclose(same, z, rtol=0, atol=2e-6)


def test_dl2_threshold_maps_nan_to_zero_and_keeps_inf(pool):
    """As DL2's ``thresholdSoft`` (and the torch twin): NaN >= t is false, so NaN becomes 0."""
    z = np.zeros((4, 8, 8), np.float32)
    z[0, 0, 0] = np.nan
    out = Shrinkage(z.shape, 1, "dl2", pool)(z.copy(), 0.1)
    ref = _haar.shrinkage(torch, torch.from_numpy(z.copy()), 0.1, 1, "dl2").numpy()
    np.testing.assert_array_equal(out, ref)
    assert np.isfinite(out).all()
    z[0, 0, 0] = np.inf
    out = Shrinkage(z.shape, 1, "dl2", pool)(z.copy(), 0.1)
    ref = _haar.shrinkage(torch, torch.from_numpy(z.copy()), 0.1, 1, "dl2").numpy()
    np.testing.assert_array_equal(out, ref)
    assert np.isinf(out).any()


def test_scales_zero_leaves_the_array():
    z = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert Shrinkage(z.shape, 0, "dl2", _sequential)(z.copy(), 5.0).tolist() == z.tolist()


def test_times_inverse_sqrt2_rounds_as_dls_division_for_every_float32():
    """``(float)(s * (1/q))`` == ``(float)(s / q)``, q = Math.sqrt(2), for every finite
    positive float32 ``s`` (2^31 - 2^23 values, subnormals included; both are odd in ``s``).
    The backbone of the numpy Haar's exactness: a multiplication is 1.6× cheaper."""
    q, r = math.sqrt(2.0), _haar_numpy._R
    assert r == 1.0 / q and r != math.sqrt(0.5)
    n = 1 << 24
    a, b = np.empty(n, np.float32), np.empty(n, np.float32)
    end = 0x7F800000  # +inf's bit pattern: every finite positive float32 lies below it
    checked = 0
    for start in range(0, end, n):
        s = np.arange(start, min(start + n, end), dtype=np.uint32).view(np.float32)
        k = s.size
        np.divide(s, q, out=a[:k], dtype=np.float64)
        np.multiply(s, r, out=b[:k], dtype=np.float64)
        assert np.array_equal(a[:k].view(np.uint32), b[:k].view(np.uint32)), start
        checked += k
    assert checked == end
