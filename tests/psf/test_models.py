"""Properties of the PSF models: centring, symmetry, normalisation, 2D planes, geometry.

Tolerances: symmetric quantities are compared to 1e-6 (float32 output, max 1);
analytic Gaussian values to 1e-6; identities between code paths exactly or 1e-7.
"""

from __future__ import annotations

import numpy as np
import pytest

from fijibridge.psf import (
    LATERAL_FUNCTIONS,
    born_wolf,
    gaussian,
    generate_psf,
    gibson_lanni,
    lateral_axial,
    richards_wolf,
)

OPTICS = {
    "BW": (born_wolf, dict(na=1.4, wavelength_nm=610, ni=1.518)),
    "GL": (gibson_lanni, dict(na=1.4, wavelength_nm=610, ni=1.518, ns=1.33, particle_z_nm=0)),
    "RW": (richards_wolf, dict(na=1.3, wavelength_nm=560, ni=1.518)),
}


@pytest.mark.parametrize("model", sorted(OPTICS))
@pytest.mark.parametrize("shape", [(9, 17, 17), (8, 16, 16), (7, 12, 15)])
def test_centred_symmetric_max_one(model, shape):
    func, params = OPTICS[model]
    psf = func(shape, spacing=(0.2, 0.08, 0.08), **params)
    assert psf.shape == shape and psf.dtype == np.float32
    assert psf.max() == pytest.approx(1.0) and psf.min() >= 0
    # lateral mirror symmetry about (n-1)/2
    np.testing.assert_allclose(psf, psf[:, ::-1, :], atol=1e-6)
    np.testing.assert_allclose(psf, psf[:, :, ::-1], atol=1e-6)
    # peak on the centre voxel(s)
    z, y, x = np.unravel_index(psf.argmax(), psf.shape)
    assert abs(y - (shape[1] - 1) / 2) <= 0.5 and abs(x - (shape[2] - 1) / 2) <= 0.5
    if model != "GL":  # BW and RW are symmetric about the focal plane
        np.testing.assert_allclose(psf, psf[::-1], atol=1e-6)
        assert abs(z - (shape[0] - 1) / 2) <= 0.5


def test_gibson_lanni_depth_breaks_axial_symmetry():
    deep = gibson_lanni((16, 16, 16), spacing=(0.25, 0.1, 0.1), na=1.4, ni=1.518, ns=1.33,
                        particle_z_nm=2000)
    assert np.abs(deep - deep[::-1]).max() > 0.05
    # ti_um only offsets ti and ti0 together: no effect on the result
    other = gibson_lanni((16, 16, 16), spacing=(0.25, 0.1, 0.1), na=1.4, ni=1.518, ns=1.33,
                         particle_z_nm=2000, ti_um=170)
    np.testing.assert_array_equal(deep, other)


@pytest.mark.parametrize("model", sorted(OPTICS))
def test_sum_normalisation(model):
    func, params = OPTICS[model]
    by_max = func((5, 11, 11), **params, dtype=np.float64)
    by_sum = func((5, 11, 11), **params, normalize="sum", dtype=np.float64)
    assert by_sum.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(by_sum / by_sum.max(), by_max, atol=1e-12)


@pytest.mark.parametrize("model", sorted(OPTICS))
def test_2d_is_the_focal_plane(model):
    func, params = OPTICS[model]
    vol = func((7, 15, 15), spacing=(0.3, 0.1, 0.1), **params, dtype=np.float64)
    plane = func((15, 15), spacing=(0.1, 0.1), **params, dtype=np.float64)
    assert plane.shape == (15, 15)
    centre = vol[3] / vol[3].max()
    np.testing.assert_allclose(plane, centre, atol=1e-7)


def test_born_wolf_focal_plane_is_airy_pattern():
    """In focus, Born & Wolf is the Airy pattern (2 J1(v)/v)² with v = 2π NA r / λ."""
    from scipy.special import j1

    na, lam, dx = 1.2, 520.0, 0.02
    plane = born_wolf((1, 41), spacing=(dx, dx), na=na, wavelength_nm=lam, ni=1.33,
                      accuracy="Best", dtype=np.float64)[0]
    r = np.abs(np.arange(41) - 20) * dx * 1e3  # nm
    v = 2 * np.pi * na * r / lam
    with np.errstate(invalid="ignore", divide="ignore"):
        airy = np.where(v == 0, 1.0, (2 * j1(v) / v) ** 2)
    np.testing.assert_allclose(plane, airy, atol=2e-3)  # 10 % stopping rule, Best level


def test_anisotropic_pixels_equal_isotropic_when_equal():
    a = born_wolf((5, 12, 12), spacing=(0.2, 0.1, 0.1))
    b = born_wolf((5, 12, 24), spacing=(0.2, 0.1, 0.05))
    # x pixel half as big: every second column of b (shifted centre) is not on a's grid,
    # but the central row profile must be symmetric and the peak value shared
    assert b.shape == (5, 12, 24)
    np.testing.assert_allclose(b, b[:, :, ::-1], atol=1e-6)
    assert a[2].max() == pytest.approx(b[2].max(), abs=1e-3)


def test_gaussian_focal_plane_sigma():
    na, lam, dx = 1.0, 500.0, 0.05
    sigma_px = 0.5 * lam / na / 2.35482005 / (dx * 1e3)
    psf = gaussian((5, 31, 31), spacing=(0.2, dx, dx), na=na, wavelength_nm=lam,
                   dtype=np.float64)
    y = np.arange(31) - 15
    expected = np.exp(-(y[:, None] ** 2 + y[None, :] ** 2) / (2 * sigma_px ** 2))
    np.testing.assert_allclose(psf[2] / psf[2].max(), expected, atol=1e-6)
    assert [int(i) for i in np.unravel_index(psf.argmax(), psf.shape)] == [2, 15, 15]
    # Linear axial: factor 1 + |z - focus| / (defocus - focus); plane 4 is 400 nm
    # from the focus and defocus_nm=100, so sigma is 5 times larger there
    wide = psf[4] / psf[4].max()
    np.testing.assert_allclose(wide, expected ** (1 / 25), atol=1e-6)


def test_gaussian_psfgenerator_geometry():
    """centred=False is the plugin's geometry: lateral centre n/2, z from plane 0."""
    psf = gaussian((6, 16, 16), spacing=(0.25, 0.1, 0.1), centred=False)
    assert [int(i) for i in np.unravel_index(psf.argmax(), psf.shape)] == [0, 8, 8]


@pytest.mark.parametrize("lateral", LATERAL_FUNCTIONS)
def test_lateral_axial_models_run(lateral):
    psf = lateral_axial((5, 16, 16), lateral=lateral, spacing=(0.2, 0.05, 0.05))
    assert psf.shape == (5, 16, 16) and np.isfinite(psf).all()
    assert psf.max() == pytest.approx(1.0)
    same = generate_psf(lateral, (5, 16, 16), spacing=(0.2, 0.05, 0.05))
    np.testing.assert_array_equal(psf, same)


def test_generate_psf_names():
    a = generate_psf("born-wolf", (3, 8, 8))
    b = generate_psf("BW", (3, 8, 8))
    np.testing.assert_array_equal(a, b)


def test_import_is_light():
    """``import fijibridge.psf`` loads neither torch, jpype nor scipy (scipy loads in calls)."""
    import subprocess
    import sys

    code = ("import sys, fijibridge, fijibridge.psf; "
            "print([m for m in ('torch', 'jpype', 'scipy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_doctests():
    import doctest

    import fijibridge.psf.config
    import fijibridge.psf.synthetic
    import fijibridge.psf.measured
    import fijibridge.psf.optical

    for module in (fijibridge.psf.optical, fijibridge.psf.synthetic,
                   fijibridge.psf.measured, fijibridge.psf.config):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(na=1.6, ni=1.5), ValueError, ["na must be <= ni", "1.6"]),
    (dict(na=-1), ValueError, ["na", "> 0"]),
    (dict(wavelength_nm=0), ValueError, ["wavelength_nm"]),
    (dict(accuracy="Bset"), ValueError, ["Did you mean 'Best'"]),
    (dict(accuracy=5), ValueError, ["accuracy"]),
    (dict(normalize="mean"), ValueError, ["normalize", "max, sum"]),
    (dict(spacing=(0.1, 0.1)), ValueError, ["spacing", "3 values"]),
    (dict(dtype=np.int32), TypeError, ["dtype"]),
])
def test_bad_arguments(kwargs, error, words):
    with pytest.raises(error) as info:
        born_wolf((3, 8, 8), **kwargs)
    for word in words:
        assert word in str(info.value)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"shape\[1\] \(y\) must be > 0"):
        born_wolf((3, 0, 8))
    with pytest.raises(TypeError, match="integer"):
        born_wolf((3, 8.5, 8))
    with pytest.raises(ValueError, match="2 values"):
        born_wolf((8,))
    with pytest.raises(TypeError, match="sequence"):
        born_wolf(8)
    with pytest.raises(ValueError, match="Did you mean 'BW'"):
        generate_psf("BWX", (3, 8, 8))
    with pytest.raises(TypeError, match="Did you mean 'ni'"):
        generate_psf("BW", (3, 8, 8), nii=1.5)
    with pytest.raises(ValueError, match="defocus_nm must differ"):
        gaussian((3, 8, 8), focus_nm=100, defocus_nm=100)
