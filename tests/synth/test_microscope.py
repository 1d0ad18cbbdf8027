"""Microscope model: PSF, flux, noise statistics, bit depth, z undersampling."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy.signal import fftconvolve

from fijibridge.synth.microscope import (convolve_psf, gaussian_psf, make_psf, psf_sigma,
                                         simulate_microscope)


def test_psf_sigma_formula():
    sz, sxy = psf_sigma(na=1.4, wavelength_um=0.52, refractive_index=1.518)
    k = 2 * np.pi / 0.52
    assert sxy == pytest.approx(np.sqrt(2) / (k * 1.4))
    assert sz == pytest.approx(2 * np.sqrt(6) * 1.518 / (k * 1.4 ** 2))
    cz, cxy = psf_sigma(na=1.4, wavelength_um=0.52, mode="confocal")
    assert cxy == pytest.approx(sxy / np.sqrt(2))
    with pytest.raises(ValueError, match="refractive_index"):
        psf_sigma(na=1.6, wavelength_um=0.52, refractive_index=1.518)
    with pytest.raises(ValueError, match="nanometres"):
        psf_sigma(na=1.4, wavelength_um=520)
    with pytest.raises(ValueError, match="Did you mean 'confocal'"):
        psf_sigma(na=1.4, wavelength_um=0.52, mode="confocl")


@pytest.mark.parametrize("spacing", [(0.1, 0.1), (0.3, 0.1, 0.1)])
def test_gaussian_psf_sum_centre_and_width(spacing):
    psf = gaussian_psf(spacing=spacing, sigma_um=0.2)
    assert psf.sum() == pytest.approx(1.0)
    assert np.unravel_index(psf.argmax(), psf.shape) == tuple(n // 2 for n in psf.shape)
    assert all(n % 2 == 1 for n in psf.shape)
    # second moment along x equals sigma^2 + voxel^2 / 12 (box integration)
    x = (np.arange(psf.shape[-1]) - psf.shape[-1] // 2) * spacing[-1]
    px = psf.sum(axis=tuple(range(psf.ndim - 1)))
    assert np.sqrt((px * x ** 2).sum()) == pytest.approx(np.sqrt(0.04 + 0.01 / 12), rel=0.01)


def test_make_psf_models():
    g = make_psf(spacing=(0.2, 0.1, 0.1), model="gaussian")
    assert g.ndim == 3 and g.sum() == pytest.approx(1)
    # 'auto' uses fijibridge.psf's Born & Wolf when present, else the Gaussian
    a = make_psf(spacing=(0.1, 0.1), model="auto")
    assert a.ndim == 2 and a.sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="Did you mean 'gaussian'"):
        make_psf(spacing=(0.1, 0.1), model="gauss")
    with pytest.raises(ValueError, match="2 \\(y, x\\) or 3"):
        make_psf(spacing=(0.1,))


def test_convolution_matches_fftconvolve_and_conserves_flux():
    rng = np.random.default_rng(0)
    img = np.zeros((20, 48, 40), np.float32)
    img[6:14, 14:34, 12:28] = rng.random((8, 20, 16))
    psf = gaussian_psf(spacing=(0.3, 0.1, 0.1), sigma_um=(0.3, 0.1))
    out = convolve_psf(img, psf=psf)
    ref = fftconvolve(img.astype(np.float64), psf, mode="same")
    np.testing.assert_allclose(out, ref, atol=1e-5 * img.max())
    assert out.sum() == pytest.approx(img.sum(), rel=1e-5)
    # asymmetric (even-sized) kernel: same centring as fftconvolve
    k = rng.random((3, 4, 5))
    np.testing.assert_allclose(convolve_psf(img, psf=k), fftconvolve(img, k, mode="same"),
                               rtol=1e-4, atol=1e-4)
    refl = convolve_psf(np.ones((16, 16), np.float32), psf=gaussian_psf(spacing=(0.1, 0.1),
                        sigma_um=0.2), boundary="reflect")
    np.testing.assert_allclose(refl, 1.0, atol=1e-5)


def test_flux_conserved_in_simulation_without_noise():
    img = np.zeros((64, 64), np.float32)
    img[24:40, 20:44] = 1.0
    out = simulate_microscope(img, spacing=(0.1, 0.1), psf_model="gaussian", photons=50,
                              background=0, offset=0, read_noise=0, poisson=False,
                              bit_depth=None)
    assert out.dtype == np.float32
    assert out.sum() == pytest.approx(50 * img.sum(), rel=1e-5)


def test_poisson_variance_equals_mean_at_gain_one():
    img = np.full((200, 200), 1.0, np.float32)
    out = simulate_microscope(img, spacing=(0.1, 0.1), psf_model="gaussian", photons=100,
                              background=0, gain=1.0, offset=0, read_noise=0,
                              bit_depth=None, boundary="reflect", rng=1)
    inner = out[10:-10, 10:-10]
    assert inner.mean() == pytest.approx(100, rel=0.01)
    assert inner.var() / inner.mean() == pytest.approx(1.0, abs=0.04)
    # gain g multiplies the mean by g and the variance by g^2; read noise adds sigma^2
    out = simulate_microscope(img, spacing=(0.1, 0.1), psf_model="gaussian", photons=100,
                              background=0, gain=2.0, offset=100, read_noise=5.0,
                              bit_depth=None, boundary="reflect", rng=2)[10:-10, 10:-10]
    assert out.mean() == pytest.approx(2 * 100 + 100, rel=0.01)
    assert out.var() == pytest.approx(4 * 100 + 25, rel=0.05)


@pytest.mark.parametrize("bits, dtype", [(8, np.uint8), (16, np.uint16)])
def test_bit_depth_clipping(bits, dtype, caplog):
    img = np.zeros((32, 32), np.float32)
    img[:, 16:] = 1.0
    with caplog.at_level(logging.WARNING):
        out = simulate_microscope(img, spacing=(0.1, 0.1), psf_model="gaussian",
                                  photons=10.0 * 2 ** bits, offset=0, read_noise=0,
                                  bit_depth=bits, rng=0)
    assert out.dtype == dtype
    assert out.max() == 2 ** bits - 1
    assert out[:, 20:].min() == 2 ** bits - 1
    assert "saturate" in caplog.text


def test_z_undersampling_shape_and_reproducible():
    img = np.random.default_rng(0).random((17, 32, 32)).astype(np.float32)
    a = simulate_microscope(img, spacing=(0.2, 0.1, 0.1), z_step=3, rng=5)
    b = simulate_microscope(img, spacing=(0.2, 0.1, 0.1), z_step=3, rng=5)
    assert a.shape == (6, 32, 32)
    np.testing.assert_array_equal(a, b)
    # undersampling picks planes of the blurred stack (noise-free check)
    full = simulate_microscope(img, spacing=(0.2, 0.1, 0.1), poisson=False, read_noise=0,
                               bit_depth=None, psf_model="gaussian")
    sub = simulate_microscope(img, spacing=(0.2, 0.1, 0.1), poisson=False, read_noise=0,
                              bit_depth=None, psf_model="gaussian", z_step=3)
    np.testing.assert_allclose(sub, full[::3], rtol=1e-6)


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(image=np.zeros((4, 4, 4, 4))), ValueError, "2D \\(y, x\\) or 3D"),
    (dict(image=np.zeros((0, 8))), ValueError, "empty"),
    (dict(image=-np.ones((8, 8))), ValueError, ">= 0"),
    (dict(spacing=(0.1, 0.1, 0.1)), ValueError, "spacing must have 2 values"),
    (dict(bit_depth=12), ValueError, "bit_depth must be 8, 16 or None"),
    (dict(z_step=2), ValueError, "z_step applies to 3D"),
    (dict(photons=0), ValueError, "photons must be > 0"),
    (dict(psf=np.ones((3, 3, 3))), ValueError, "psf must have the image's ndim"),
    (dict(psf=np.zeros((3, 3))), ValueError, "not all zero"),
])
def test_bad_input(kwargs, err, match):
    args = dict(image=np.zeros((8, 8), np.float32), spacing=(0.1, 0.1))
    args.update(kwargs)
    image = args.pop("image")
    with pytest.raises(err, match=match):
        simulate_microscope(image, **args)


def test_all_background_image_gives_background_only():
    out = simulate_microscope(np.zeros((64, 64), np.float32), spacing=(0.1, 0.1), photons=100,
                              background=20, offset=100, read_noise=0, gain=1, rng=0,
                              bit_depth=None)
    assert out.mean() == pytest.approx(120, rel=0.02)
