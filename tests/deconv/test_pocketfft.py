"""The numpy back-end's transforms: scipy's pocketfft called directly, bit-identical to
``scipy.fft``, with the public front end as a logged fallback."""

import logging

import numpy as np
import pytest
import scipy.fft

from fijibridge.deconv import _pocketfft


@pytest.fixture
def direct():
    t = _pocketfft._load_compiled()
    assert t is not None, "scipy's pypocketfft should load from its file here"
    return t


@pytest.fixture
def public():
    return _pocketfft._Public()


SHAPES = [(6, 10, 8), (5, 9, 7), (1, 12, 15), (33,)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_real_transforms_bit_identical_to_scipy_fft(direct, public, shape, dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    axes = tuple(range(x.ndim))
    for t in (direct, public):
        X = t.r2c(x, axes)
        assert np.array_equal(X, scipy.fft.rfftn(x))
        kept = X.copy()
        back = t.c2r(X, axes, shape[-1])
        assert np.array_equal(X, kept), "c2r must leave its input as it is"
        assert np.array_equal(back, scipy.fft.irfftn(kept, s=shape))
        assert back.dtype == dtype
        np.testing.assert_allclose(back, x, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-12)
    if x.ndim == 3:  # planes (the last two axes) written into a caller's array
        for t in (direct, public):
            out = np.empty(X.shape, X.dtype)
            t.r2c(x, (1, 2), out=out)
            assert np.array_equal(out, scipy.fft.rfft2(x))
            back = t.c2r(out, (1, 2), shape[-1])
            assert np.array_equal(back, scipy.fft.irfft2(out, s=shape[1:]))


@pytest.mark.parametrize("shape", SHAPES)
def test_complex_transforms_in_place_on_strided_columns(direct, public, shape):
    """The Z transform of RL's column pieces: in place on a strided view of the spectrum,
    as scipy.fft computes it on a copy."""
    rng = np.random.default_rng(1)
    B = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    cols = (slice(None), slice(1, 4)) if B.ndim > 1 else (slice(2, 20),)
    expected_f = scipy.fft.fft(B[cols], axis=0)
    expected_i = scipy.fft.ifft(expected_f, axis=0)
    for t in (direct, public):
        A = B.copy()
        view = A[cols]
        out = t.c2c(view, (0,), forward=True, out=view)
        assert np.shares_memory(out, A)
        assert np.array_equal(A[cols], expected_f)
        t.c2c(view, (0,), forward=False, out=view)
        assert np.array_equal(A[cols], expected_i)
        rest = np.ones(A.shape, bool)
        rest[cols] = False
        assert np.array_equal(A[rest], B[rest]), "only the view is transformed"


def test_real_input_to_complex_transform(direct, public):
    """fftn of real input (DL2's non-Hermitian Laplacian needs the full spectrum)."""
    x = np.random.default_rng(2).standard_normal((5, 6, 7))
    for t in (direct, public):
        X = t.c2c(x, (0, 1, 2), forward=True)
        assert np.array_equal(X, scipy.fft.fftn(x))
        assert np.array_equal(t.c2c(X.copy(), (0, 1, 2), forward=False, out=None),
                              scipy.fft.ifftn(X))


def test_threads_give_the_same_result(direct):
    x = np.random.default_rng(3).standard_normal((16, 32, 30)).astype(np.float32)
    X1, X2 = direct.r2c(x, (0, 1, 2), threads=1), direct.r2c(x, (0, 1, 2), threads=2)
    assert np.array_equal(X1, X2)
    assert np.array_equal(direct.c2r(X1, (0, 1, 2), 30, threads=1),
                          direct.c2r(X1, (0, 1, 2), 30, threads=2))


def test_choice_by_environment(monkeypatch):
    monkeypatch.setattr(_pocketfft, "_TRANSFORMS", None)
    monkeypatch.setenv("FIJIBRIDGE_FFT", "scipy")
    assert _pocketfft.transforms().source == "scipy.fft"
    monkeypatch.setattr(_pocketfft, "_TRANSFORMS", None)
    monkeypatch.setenv("FIJIBRIDGE_FFT", "pocketfft")
    assert _pocketfft.transforms().source == "pypocketfft"
    monkeypatch.setattr(_pocketfft, "_TRANSFORMS", None)
    monkeypatch.setenv("FIJIBRIDGE_FFT", "fftw")
    with pytest.raises(ValueError,
                       match="FIJIBRIDGE_FFT must be 'pocketfft' or 'scipy', got 'fftw'"):
        _pocketfft.transforms()


def test_fallback_when_the_file_is_missing(monkeypatch, caplog):
    monkeypatch.setattr(_pocketfft.importlib.machinery, "EXTENSION_SUFFIXES", [".nowhere"])
    with caplog.at_level(logging.INFO, logger="fijibridge.deconv._pocketfft"):
        assert _pocketfft._load_compiled() is None
    assert "no pypocketfft extension in" in caplog.text and "using scipy.fft" in caplog.text
    monkeypatch.setattr(_pocketfft, "_TRANSFORMS", None)
    monkeypatch.delenv("FIJIBRIDGE_FFT", raising=False)
    assert _pocketfft.transforms().source == "scipy.fft"


def test_fallback_when_the_check_transform_fails(monkeypatch, caplog):
    """A scipy whose private module takes other arguments: refused by the check transform."""

    class Swapped(_pocketfft._Direct):
        def r2c(self, a, axes, *, out=None, threads=1):  # forward flag flipped
            return self._m.r2c(a, axes, False, 0, out, threads)

    monkeypatch.setattr(_pocketfft, "_Direct", Swapped)
    with caplog.at_level(logging.INFO, logger="fijibridge.deconv._pocketfft"):
        assert _pocketfft._load_compiled() is None
    assert "did not pass the check transform" in caplog.text
    assert "gave unexpected values" in caplog.text
