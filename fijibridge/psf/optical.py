"""Optical (diffraction) PSF models of PSF Generator: Born & Wolf, Gibson & Lanni, Richards & Wolf.

Each function computes, plane by plane, the intensity on a radial grid by the same
stopping-rule Simpson integration as PSF Generator 1.1.1.2 (see
:mod:`fijibridge.psf._simpson`), spreads it on the pixel grid by linear
interpolation in the radius, centred at ``(n - 1) / 2`` along y and x, with the
focal plane at ``(nz - 1) / 2`` along z, and scales the volume to a maximum of 1.

Units: ``spacing`` is in micrometres ``(z, y, x)`` (PSF Generator's configuration
files use nanometres, ``ResAxial`` / ``ResLateral``); ``wavelength_nm`` in nm;
``ti_um`` in µm; ``particle_z_nm`` in nm.

Differences from PSF Generator, on purpose: any y/x pixel sizes (PSF Generator has
one lateral size; with equal sizes the results are identical), sizes smaller than
its minimum (nz ≥ 3, ny, nx ≥ 4) and 2D output (``shape=(ny, nx)`` gives the focal
plane).

References
----------
.. [1] H. Kirshner, F. Aguet, D. Sage, M. Unser, "3-D PSF fitting for fluorescence
   microscopy: implementation and localization application", Journal of Microscopy
   249(1):13-25, 2013. :doi:`10.1111/j.1365-2818.2012.03675.x`
.. [2] M. Born, E. Wolf, *Principles of Optics*, 7th ed., Cambridge University Press,
   1999. :doi:`10.1017/CBO9781139644181`
.. [3] S. F. Gibson, F. Lanni, "Experimental test of an analytical model of aberration
   in an oil-immersion objective lens used in three-dimensional light microscopy",
   J. Opt. Soc. Am. A 8(10):1601-1613, 1991. :doi:`10.1364/JOSAA.8.001601`
.. [4] B. Richards, E. Wolf, "Electromagnetic diffraction in optical systems II.
   Structure of the image field in an aplanatic system", Proc. R. Soc. Lond. A
   253:358-379, 1959. :doi:`10.1098/rspa.1959.0200`
"""

from __future__ import annotations

import logging

import numpy as np

from .._core.options import check_choice, check_positive
from . import _common
from ._simpson import adaptive_simpson

__all__ = ["born_wolf", "gibson_lanni", "richards_wolf", "DEFAULT_SPACING"]

log = logging.getLogger(__name__)

#: PSF Generator's default voxel size: 250 nm axial, 100 nm lateral, in µm (z, y, x).
DEFAULT_SPACING = (0.25, 0.1, 0.1)

# K (consecutive converged refinements) per accuracy Good/Better/Best, from the
# plugin's KirchhoffDiffractionSimpson constructors.
_K_BW_RW = (5, 7, 9)
_K_GL = (4, 5, 6)
# Radial oversampling (samples per pixel) of each model in the plugin.
_OVERSAMPLING = {"BW": 1, "GL": 2, "RW": 2}


def _setup(shape, spacing, *, model, max_memory):
    """The integration samples of ``model``'s PSF on ``shape``: the axial offset (m) and
    the radius (m) of every (plane, radius) pair, flattened plane by plane, and the
    geometry that :func:`_finish` needs to put them back on the pixel grid."""
    oversampling = _OVERSAMPLING[model]
    shape = _common.check_shape(shape)
    two_d = len(shape) == 2
    if spacing is None:
        spacing = DEFAULT_SPACING[-len(shape):]
    (nz, ny, nx), (dz, dy, dx) = _common.grid(shape, spacing)
    unit = min(dy, dx)  # µm per radial unit; equals PSF Generator's ResLateral
    n_radial = _common.radial_samples(ny, nx, oversampling)
    rho_max = np.hypot((ny - 1) / 2.0 * dy / unit, (nx - 1) / 2.0 * dx / unit)
    n_radial = max(n_radial, int(np.floor(rho_max * oversampling)) + 2)
    _common.check_memory((nz, ny, nx), model=model, max_memory=max_memory, n_radial=n_radial)
    radii_m = np.arange(n_radial) / oversampling * unit * 1e-6
    offsets_m = _common.axial_offsets(nz) * dz * 1e-6
    geometry = dict(two_d=two_d, nz=nz, ny=ny, nx=nx, step_y=dy / unit, step_x=dx / unit,
                    oversampling=oversampling)
    return np.repeat(offsets_m, radii_m.size), np.tile(radii_m, nz), geometry


def _finish(intensity: np.ndarray, geometry: dict, *, normalize, dtype) -> np.ndarray:
    """Radial intensities of :func:`_setup`'s samples -> the PSF on the pixel grid."""
    h = intensity.reshape(geometry["nz"], -1)
    planes = _common.radial_to_planes(h, geometry["ny"], geometry["nx"],
                                      step_y=geometry["step_y"], step_x=geometry["step_x"],
                                      oversampling=geometry["oversampling"])
    return _common.finish(planes, normalize=normalize, dtype=dtype, two_d=geometry["two_d"])


def born_wolf(shape, *, spacing=None, na: float = 1.4, wavelength_nm: float = 610.0,
              ni: float = 1.5, accuracy="Good", normalize: str = "max",
              dtype=np.float32, max_memory=None) -> np.ndarray:
    """Born & Wolf scalar PSF (particle in focus, imaging plane defocused), as PSF Generator.

    Parameters
    ----------
    shape : sequence of int
        Size in voxels, ``(nz, ny, nx)``, or ``(ny, nx)`` for the focal plane only.
    spacing : sequence of float, optional
        Voxel size in µm, ``(z, y, x)`` (or ``(y, x)``). Default ``(0.25, 0.1, 0.1)``,
        PSF Generator's defaults (ResAxial 250 nm, ResLateral 100 nm).
    na : float
        Numerical aperture, ``0 < na <= ni``.
    wavelength_nm : float
        Emission wavelength in vacuum, nm.
    ni : float
        Refractive index of the immersion medium.
    accuracy : {"Good", "Better", "Best"} or {0, 1, 2}
        PSF Generator's accuracy level: the number of consecutive refinements within
        10 % (5, 7, 9) needed to stop the integration.
    normalize : {"max", "sum"}
        Scale to a maximum of 1 (PSF Generator) or to a sum of 1 (deconvolution).
    dtype : float dtype
        Output dtype (PSF Generator writes float32).
    max_memory : int, optional
        Memory budget in bytes, checked against this model's estimate *before* anything is
        allocated (``ValueError`` naming the shape, the bytes and the budget); default: the
        memory available now.

    Returns
    -------
    ndarray, shape ``shape``
        Intensity PSF centred at ``(n - 1) / 2`` along every axis.

    References
    ----------
    .. [1] M. Born, E. Wolf, *Principles of Optics*, 7th ed., 1999.
       :doi:`10.1017/CBO9781139644181`
    .. [2] H. Kirshner et al., J. Microsc. 249(1):13-25, 2013.
       :doi:`10.1111/j.1365-2818.2012.03675.x`

    Examples
    --------
    >>> psf = born_wolf((16, 32, 32), spacing=(0.25, 0.1, 0.1), na=1.4,
    ...                 wavelength_nm=610, ni=1.518)
    >>> psf.shape, float(psf.max())
    ((16, 32, 32), 1.0)
    >>> bool(np.allclose(psf, psf[::-1, ::-1, ::-1], atol=1e-6))  # centred at (n-1)/2
    True
    """
    from scipy.special import j0

    na, wavelength_nm = _common.check_optics(na=na, wavelength_nm=wavelength_nm, ni=ni)
    ni = float(ni)
    k_cons = _K_BW_RW[_common.check_accuracy(accuracy)]
    d_all, r_all, geometry = _setup(shape, spacing, model="BW", max_memory=max_memory)
    k0 = 2.0 * np.pi / (wavelength_nm * 1e-9)

    def integrand(rho, index):
        bessel = j0(k0 * na * r_all[index, None] * rho)
        phase = k0 * na * na * d_all[index, None] * rho * rho / (2.0 * ni)
        return (bessel * rho * np.exp(-1j * phase))[None]

    h = adaptive_simpson(integrand, d_all.size, upper=1.0, k_consecutive=k_cons)
    return _finish(h, geometry, normalize=normalize, dtype=dtype)


def gibson_lanni(shape, *, spacing=None, na: float = 1.4, wavelength_nm: float = 610.0,
                 ni: float = 1.5, ns: float = 1.33, ti_um: float = 150.0,
                 particle_z_nm: float = 2000.0, accuracy="Good", normalize: str = "max",
                 dtype=np.float32, max_memory=None) -> np.ndarray:
    """Gibson & Lanni scalar PSF with a particle at depth in the sample, as PSF Generator.

    The optical path difference is that of PSF Generator: the sample layer
    (``ns``, particle at ``particle_z_nm`` below the coverslip) plus the change of
    immersion thickness ``ti - ti0`` that focuses plane by plane
    (``ti - ti0 = (z - (nz-1)/2) · spacing_z``); the coverslip is taken as its design
    value, so it adds no aberration.  ``ti_um`` is therefore only a constant offset
    and does not change the result (it is kept for PSF Generator's parameter set).

    Parameters
    ----------
    shape : sequence of int
        ``(nz, ny, nx)`` or ``(ny, nx)`` (the plane at ``ti = ti0``), voxels.
    spacing : sequence of float, optional
        Voxel size in µm, ``(z, y, x)``. Default ``(0.25, 0.1, 0.1)``.
    na : float
        Numerical aperture, ``0 < na <= ni``.  Rays beyond ``ns`` (total internal
        reflection at the coverslip/sample interface) are cut: the pupil is
        integrated up to ``min(1, ns / na)``.
    wavelength_nm : float
        Emission wavelength in vacuum, nm.
    ni, ns : float
        Refractive indices of the immersion medium and of the sample.
    ti_um : float
        Working distance ``ti0`` (immersion layer thickness, design value), µm.
    particle_z_nm : float
        Axial position of the particle below the coverslip, nm (PSF Generator's
        ``ZPos``); 0 gives an aberration-free, symmetric PSF.
    accuracy : {"Good", "Better", "Best"} or {0, 1, 2}
        Integration stopping rule (4, 5, 6 consecutive refinements within 10 %).
    normalize, dtype, max_memory
        As in :func:`born_wolf`.

    Returns
    -------
    ndarray, shape ``shape``
        Intensity PSF, the plane ``ti = ti0`` at ``(nz - 1) / 2``; with
        ``particle_z_nm != 0`` it is not symmetric in z.

    References
    ----------
    .. [1] S. F. Gibson, F. Lanni, J. Opt. Soc. Am. A 8(10):1601-1613, 1991.
       :doi:`10.1364/JOSAA.8.001601`
    .. [2] H. Kirshner et al., J. Microsc. 249(1):13-25, 2013.
       :doi:`10.1111/j.1365-2818.2012.03675.x`

    Examples
    --------
    >>> psf = gibson_lanni((8, 16, 16), spacing=(0.25, 0.1, 0.1), na=1.4, ni=1.518,
    ...                    ns=1.33, particle_z_nm=0)
    >>> psf.shape
    (8, 16, 16)
    """
    from scipy.special import j0

    na, wavelength_nm = _common.check_optics(na=na, wavelength_nm=wavelength_nm, ni=ni, ns=ns)
    ni, ns = float(ni), float(ns)
    check_positive("ti_um", ti_um, allow_zero=True)
    if isinstance(particle_z_nm, bool) or not np.isfinite(particle_z_nm):
        raise ValueError(f"particle_z_nm must be a finite number (nm); got {particle_z_nm!r}")
    zp = float(particle_z_nm) * 1e-9
    k_cons = _K_GL[_common.check_accuracy(accuracy)]
    d_all, r_all, geometry = _setup(shape, spacing, model="GL", max_memory=max_memory)
    k0 = 2.0 * np.pi / (wavelength_nm * 1e-9)

    def integrand(rho, index):
        bessel = j0(k0 * na * r_all[index, None] * rho)
        opd = (ns * zp * np.sqrt(1.0 - (na * rho / ns) ** 2)
               + ni * d_all[index, None] * np.sqrt(1.0 - (na * rho / ni) ** 2))
        return (bessel * rho * np.exp(1j * k0 * opd))[None]

    h = adaptive_simpson(integrand, d_all.size, upper=min(1.0, ns / na), k_consecutive=k_cons)
    return _finish(h, geometry, normalize=normalize, dtype=dtype)


#: ``bessel_j2`` choices of :func:`richards_wolf`.
J2_FORMULAS = ("psfgenerator", "exact")


def richards_wolf(shape, *, spacing=None, na: float = 1.4, wavelength_nm: float = 610.0,
                  ni: float = 1.5, accuracy="Good", bessel_j2: str = "psfgenerator",
                  normalize: str = "max", dtype=np.float32, max_memory=None) -> np.ndarray:
    """Richards & Wolf vectorial PSF (unpolarised, aplanatic lens), as PSF Generator.

    Intensity ``|I0|² + 2|I1|² + |I2|²`` of the three diffraction integrals over the
    aperture angle ``θ ∈ [0, asin(na / ni)]`` with apodisation ``sqrt(cos θ)``.

    Parameters
    ----------
    shape, spacing, na, wavelength_nm, ni
        As in :func:`born_wolf`: voxels, µm ``(z, y, x)``, immersion index ``ni``.
    accuracy : {"Good", "Better", "Best"} or {0, 1, 2}
        Integration stopping rule (5, 7, 9 consecutive refinements within 10 %).
    bessel_j2 : {"psfgenerator", "exact"}
        How ``J2`` is computed.  PSF Generator 1.1.1.2 uses ``J2(x) = 2 J1(x)/x + J0(x)``
        (``richardswolf/KirchhoffDiffractionSimpson.java``), but the recurrence is
        ``J2(x) = 2 J1(x)/x - J0(x)``: a sign error in the plugin that changes the
        PSF by up to ~1 % of its maximum (0.0088 on the reference case
        ``rw_48x48x24``).  ``"psfgenerator"`` (default) reproduces the plugin's
        numbers; ``"exact"`` uses the correct Bessel function.
    normalize, dtype, max_memory
        As in :func:`born_wolf`.

    Returns
    -------
    ndarray, shape ``shape``
        Intensity ``|I0|² + 2|I1|² + |I2|²``, centred at ``(n - 1) / 2`` along every axis.

    References
    ----------
    .. [1] B. Richards, E. Wolf, Proc. R. Soc. Lond. A 253:358-379, 1959.
       :doi:`10.1098/rspa.1959.0200`
    .. [2] H. Kirshner et al., J. Microsc. 249(1):13-25, 2013.
       :doi:`10.1111/j.1365-2818.2012.03675.x`

    Examples
    --------
    >>> psf = richards_wolf((8, 16, 16), na=1.3, ni=1.518, wavelength_nm=560)
    >>> psf.shape
    (8, 16, 16)
    """
    from scipy.special import j0, j1

    na, wavelength_nm = _common.check_optics(na=na, wavelength_nm=wavelength_nm, ni=ni)
    ni = float(ni)
    exact = check_choice("bessel_j2", bessel_j2, J2_FORMULAS) == "exact"
    k_cons = _K_BW_RW[_common.check_accuracy(accuracy)]
    d_all, r_all, geometry = _setup(shape, spacing, model="RW", max_memory=max_memory)
    kt = 2.0 * np.pi * ni / (wavelength_nm * 1e-9)

    def integrand(theta, index):
        sin_t, cos_t = np.sin(theta), np.cos(theta)
        apod = np.sqrt(cos_t) * sin_t
        x = kt * sin_t * r_all[index, None]
        bj0, bj1 = j0(x), j1(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            bj2 = 2.0 * bj1 / x + (-bj0 if exact else bj0)
        bj2 = np.where(x == 0.0, 0.0, bj2)
        wave = np.exp(1j * kt * d_all[index, None] * cos_t)
        return np.stack([apod * (1.0 + cos_t) * bj0 * wave,
                         apod * sin_t * bj1 * wave,
                         apod * (1.0 - cos_t) * bj2 * wave])

    h = adaptive_simpson(integrand, d_all.size, upper=float(np.arcsin(na / ni)),
                         k_consecutive=k_cons, weights=(1.0, 2.0, 1.0))
    return _finish(h, geometry, normalize=normalize, dtype=dtype)
