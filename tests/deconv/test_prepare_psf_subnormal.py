"""The working PSF holds no subnormal float32 values (they slow every transform of it and
move its spectrum by ~1e-38 at most)."""

from __future__ import annotations

import numpy as np

from fijibridge.deconv._prepare import prepare_psf


def test_subnormal_psf_values_become_zero_and_move_the_spectrum_by_1e_38_at_most():
    z, y, x = np.mgrid[-8:8, -16:16, -16:16].astype(np.float32)
    psf = np.exp(-(x * x + y * y + 4 * z * z) / 2.0).astype(np.float32)
    tiny = np.finfo(np.float32).tiny
    sub = (np.abs(psf) < tiny) & (psf != 0)
    assert sub.any()  # the far tail of a float32 Gaussian is subnormal
    h = prepare_psf(psf, (16, 48, 48), 1.0)
    assert not ((np.abs(h) < tiny) & (h != 0)).any()
    assert h.sum() == np.float32(h.sum()) and abs(float(h.sum()) - 1.0) < 1e-6
    # normal values are DL2's normalised ones, untouched
    flushed = psf.copy()
    flushed[sub] = 0
    np.testing.assert_array_equal(prepare_psf(flushed, (16, 48, 48), 1.0), h)
    # the spectrum: the subnormal tail (at most ~1e-38 × its count) moves spectrum values
    # (DC: 1) by the tail's own size only: exact zeros become ±1e-38, nothing else changes

    kept = prepare_psf(psf, (16, 48, 48), 1.0).astype(np.float64)
    tail = np.zeros_like(kept)
    tail.flat[: int(sub.sum())] = tiny  # an upper bound of what was removed, anywhere
    a = np.fft.rfftn(kept).astype(np.complex64)
    b = np.fft.rfftn(kept + tail).astype(np.complex64)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-36)
    assert np.array_equal(np.abs(a) > 1e-30, np.abs(b) > 1e-30)
    big = np.abs(a) > 1e-30
    np.testing.assert_array_equal(a[big].real, b[big].real)
