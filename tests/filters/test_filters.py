"""Filters with sizes in µm: Gaussian, median, CLAHE, tubeness/Sato/Frangi; and the
spacing and argument handling of subtract_background (its ImageJ parity is in
test_background_parity.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from fijibridge.filters import (
    clahe,
    ellipsoid_footprint,
    frangi,
    gaussian,
    median,
    sato,
    subtract_background,
    tubeness,
)

RNG = np.random.default_rng(16)


def _noise(shape, dtype=np.float32):
    a = RNG.gamma(2.0, 20.0, shape)
    return a.astype(dtype) if dtype != np.uint8 else np.clip(a, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- gaussian


@pytest.mark.parametrize("shape, spacing", [((40, 50), (0.2, 0.1)),
                                            ((9, 30, 32), (0.3, 0.1, 0.1))])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_gaussian_equals_scipy_with_sigma_over_spacing(shape, spacing, dtype):
    image = _noise(shape, dtype)
    got = gaussian(image, sigma_um=0.45, spacing=spacing)
    want = ndi.gaussian_filter(image.astype(np.float32), 0.45 / np.asarray(spacing),
                               mode="nearest")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_gaussian_per_axis_sigma_and_default_spacing():
    image = _noise((20, 20))
    np.testing.assert_array_equal(gaussian(image, sigma_um=(1.0, 2.0)),
                                  ndi.gaussian_filter(image, (1.0, 2.0), mode="nearest"))


# ----------------------------------------------------------------------------- median


def test_ellipsoid_footprint_is_round_in_micrometres():
    fp = ellipsoid_footprint(0.3, (0.3, 0.1, 0.1), 3)
    assert fp.shape == (3, 7, 7)
    assert fp[1, 3].all() and fp[1, :, 3].all()  # full 0.3 µm along y and x
    assert fp[0, 3, 3] and not fp[0, 3, 4]  # one plane away: only the axis voxel


def test_median_equals_scipy_with_the_ellipsoid_and_removes_hot_pixels():
    image = _noise((7, 30, 30), np.uint16)
    image[3, 15, 15] = 60000
    got = median(image, radius_um=0.3, spacing=(0.3, 0.1, 0.1))
    want = ndi.median_filter(image, footprint=ellipsoid_footprint(0.3, (0.3, 0.1, 0.1), 3),
                             mode="nearest")
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.uint16 and got[3, 15, 15] < 1000


# ----------------------------------------------------------------------------- clahe


def test_clahe_kernel_in_micrometres_matches_skimage_in_pixels():
    from skimage.exposure import equalize_adapthist

    image = _noise((64, 96))
    got = clahe(image, kernel_um=(1.6, 3.2), spacing=(0.1, 0.2))  # 16 x 16 pixels
    a = image.astype(np.float64)
    scaled = (a - a.min()) / (a.max() - a.min())
    want = equalize_adapthist(scaled, kernel_size=(16, 16), clip_limit=0.01)
    np.testing.assert_allclose(got, want.astype(np.float32), atol=1e-6)


def test_clahe_3d_and_constant_image():
    from skimage.exposure import equalize_adapthist

    image = _noise((8, 32, 32))
    out = clahe(image, kernel_um=2.0, spacing=(0.5, 0.25, 0.25))  # 4 x 8 x 8 voxels
    a = image.astype(np.float64)
    want = equalize_adapthist((a - a.min()) / (a.max() - a.min()), kernel_size=(4, 8, 8),
                              clip_limit=0.01)
    assert out.shape == (8, 32, 32)
    np.testing.assert_allclose(out, want.astype(np.float32), atol=1e-6)
    assert not clahe(np.full((16, 16), 7, np.uint8)).any()


# ----------------------------------------------------------------------------- ridges


def _tube(dz: float, r: float = 0.3) -> np.ndarray:
    """A bright Gaussian-profile tube along x (radius ``r`` µm) centred at z = y = 1.5 µm,
    sampled at 0.1 µm in y and x and ``dz`` µm in z."""
    z = np.arange(0, 3.0 + 1e-9, dz)
    y = np.arange(31) * 0.1
    x = np.arange(16) * 0.1
    zz, yy, _ = np.meshgrid(z, y, x, indexing="ij")
    return np.exp(-((zz - 1.5) ** 2 + (yy - 1.5) ** 2) / (2 * r * r)).astype(np.float32)


RIDGES = [(tubeness, "sigma_um"), (sato, "sigmas_um"), (frangi, "sigmas_um")]


@pytest.mark.parametrize("func, key", RIDGES, ids=[f.__name__ for f, _ in RIDGES])
def test_ridge_response_invariant_to_anisotropic_sampling(func, key):
    """Same tube at 0.1^3 µm and at 0.3 x 0.1 x 0.1 µm; compared at the shared voxels
    (every third isotropic plane).  Tolerance 2 % of the peak: with sigma 0.4 µm the
    Gaussian is 1.33 planes wide in z, and its sampled derivatives differ from the
    isotropic ones by 0.6 % (tubeness, Sato) and 0.04 % (Frangi) here."""
    iso = func(_tube(0.1), spacing=(0.1, 0.1, 0.1), **{key: 0.4})[::3]
    ani = func(_tube(0.3), spacing=(0.3, 0.1, 0.1), **{key: 0.4})
    assert ani.shape == iso.shape == (11, 31, 16)
    assert np.abs(ani - iso).max() < 0.02 * iso.max()
    # the response peaks on the centreline (z = 1.5 µm -> plane 5, y = 1.5 µm -> row 15)
    for out in (iso, ani):
        assert np.unravel_index(out[:, :, 8].argmax(), (11, 31)) == (5, 15)


def test_pixel_sigma_wrapping_would_not_be_invariant():
    """What the µm handling is for: skimage's sato with one sigma in pixels on the
    anisotropic stack (the naive wrap) differs from the isotropic response by far more
    than the 2 % above."""
    from skimage.filters import sato as sk_sato

    iso = sato(_tube(0.1), sigmas_um=0.4, spacing=(0.1, 0.1, 0.1))[::3]
    naive = 0.1 ** 2 * sk_sato(_tube(0.3), sigmas=[4.0], black_ridges=False) / 0.01
    assert np.abs(naive - iso).max() > 0.2 * iso.max()


def test_tubeness_peak_value_is_scale_normalised():
    """Gaussian tube of radius r, sigma s: sigma^2 * |d2/dy2| at the centre is
    s^2 * r^2 / (r^2 + s^2)^2 = 0.25 for r = s = 0.3 µm, whatever the voxel size."""
    for dz in (0.1, 0.3):
        t = tubeness(_tube(dz), sigma_um=0.3, spacing=(dz, 0.1, 0.1))
        assert t.max() == pytest.approx(0.25, rel=0.06)


@pytest.mark.parametrize("ndim", [2, 3])
def test_sato_frangi_with_unit_spacing_equal_skimage(ndim):
    from skimage.filters import frangi as sk_frangi
    from skimage.filters import sato as sk_sato

    image = ndi.gaussian_filter(_noise((24, 28) if ndim == 2 else (10, 24, 28)), 1.0)
    np.testing.assert_allclose(sato(image, sigmas_um=(1.0, 2.0)),
                               sk_sato(image, sigmas=(1.0, 2.0), black_ridges=False),
                               rtol=1e-4, atol=1e-4 * float(np.abs(image).max()))
    np.testing.assert_allclose(frangi(image, sigmas_um=(1.0, 2.0)),
                               sk_frangi(image, sigmas=(1.0, 2.0), black_ridges=False),
                               rtol=1e-4, atol=1e-5)


def test_tubeness_2d_and_dark_ridges():
    yy, xx = np.mgrid[:40, :40] * 0.1
    line = np.exp(-(yy - 2.0) ** 2 / (2 * 0.2 ** 2)).astype(np.float32)
    t = tubeness(line, sigma_um=0.2, spacing=(0.1, 0.1))
    assert int(t[:, 20].argmax()) == 20 and t.min() >= 0
    assert sato(1 - line, sigmas_um=0.2, spacing=0.1, black_ridges=True)[:, 20].argmax() == 20


# ----------------------------------------------------------------------------- subtract_background


def test_subtract_background_radius_in_micrometres():
    image = _noise((64, 70), np.uint16)
    np.testing.assert_array_equal(
        subtract_background(image, radius_um=2.5, spacing=(0.1, 0.1)),
        subtract_background(image, radius_um=25))
    stack = np.stack([image, image[::-1]])
    out = subtract_background(stack, radius_um=2.5, spacing=(0.5, 0.1, 0.1), paraboloid=True)
    np.testing.assert_array_equal(out[1], subtract_background(image[::-1], radius_um=25,
                                                              paraboloid=True))


@pytest.mark.parametrize("kwargs, exc, text", [
    (dict(image=np.zeros((8, 8), np.float64)), TypeError, "float32"),
    (dict(image=np.zeros((2, 2, 8, 8), np.uint8)), ValueError, "2D"),
    (dict(image=np.zeros((8, 8), np.uint8), spacing=(0.1, 0.2)), ValueError, "square pixels"),
    (dict(image=np.zeros((8, 8), np.uint8), radius_um=0), ValueError, "radius_um"),
    (dict(image=np.zeros((8, 8), np.uint8), radius_um=150), ValueError, "too small"),
    (dict(image=np.zeros((2, 8), np.uint8)), ValueError, "3 x 3"),
])
def test_subtract_background_bad_input(kwargs, exc, text):
    kwargs = {"radius_um": 5.0, **kwargs}
    with pytest.raises(exc, match=text):
        subtract_background(kwargs.pop("image"), **kwargs)


@pytest.mark.parametrize("call", [
    lambda: gaussian(np.zeros((4, 4)), sigma_um=-1),
    lambda: gaussian(np.zeros((4, 4)), sigma_um=(1, 2, 3)),
    lambda: median(np.zeros((4, 4), bool), radius_um=1),
    lambda: tubeness(np.zeros((4, 4)), sigma_um=0),
    lambda: sato(np.zeros((4, 4, 4, 4)), sigmas_um=1),
    lambda: gaussian(np.zeros((4, 4)), sigma_um=1, spacing=(1, 0)),
])
def test_bad_filter_arguments_raise(call):
    with pytest.raises((ValueError, TypeError)):
        call()
