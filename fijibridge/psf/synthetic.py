"""PSF Generator's synthetic "Lateral/Axial" PSFs: a 2D lateral function whose size
changes with z by an axial function (tensor-product models, no optics).

The lateral size is set from the Rayleigh-like FWHM ``0.5 · λ / NA``: the
Gaussian's sigma is ``FWHM / 2.35482005`` (in pixels), the other lateral functions
use that same number as their size.  The axial function gives a factor per plane
that multiplies that size (``Linear``: 1 at the focal plane, 2 at the defocused
plane; ``Parabolic``: 2 at the defocused plane; ``Exponential``: 0.5 there;
``Constant``: 1), except for ``Oriented-Gaussian`` and ``Double-Helix``, where PSF
Generator uses the factor as a rotation angle in radians.  Each plane is scaled to
a sum of 1, then the volume to a maximum of 1.

``centred=True`` (default here) centres the PSF at ``(n - 1) / 2`` along y and x
and measures ``focus_nm`` / ``defocus_nm`` from the centre plane ``(nz - 1) / 2``.
``centred=False`` is exactly PSF Generator 1.1.1.2 (``DefocusPlanePSF.java``):
lateral centre at ``n / 2`` (half a pixel off for even sizes) and z positions
measured from the first plane, so its default ``focus_nm=0`` puts the focus on
plane 0; configuration files read by :func:`fijibridge.psf.read_psfgen_config`
use this mode.

References
----------
.. [1] H. Kirshner, F. Aguet, D. Sage, M. Unser, "3-D PSF fitting for fluorescence
   microscopy: implementation and localization application", Journal of Microscopy
   249(1):13-25, 2013. :doi:`10.1111/j.1365-2818.2012.03675.x`
"""

from __future__ import annotations

import numpy as np

from .._core.options import check_choice
from . import _common

__all__ = ["lateral_axial", "gaussian", "LATERAL_FUNCTIONS", "AXIAL_FUNCTIONS"]

#: Lateral functions, with PSF Generator's short names.
LATERAL_FUNCTIONS = ("Gaussian", "Lorentz", "Cardinale-Sine", "Cosine", "Circular-Pupil",
                     "Astigmatism", "Oriented-Gaussian", "Double-Helix")
#: Axial functions, PSF Generator's names.
AXIAL_FUNCTIONS = ("Linear", "Exponential", "Parabolic", "Constant")

_FWHM_TO_SIGMA = 2.35482005  # 2 sqrt(2 ln 2), the constant of the plugin


def _axial_factor(axial: str, z: np.ndarray, zdefocus: float, zfocal: float) -> np.ndarray:
    """``ZFunction.getDefocusFactor``: z, zdefocus, zfocal in planes."""
    za = np.abs(z - zfocal)
    span = zdefocus - zfocal
    if axial == "Exponential":
        return np.exp(-za * 0.69314718056 / span)
    if axial == "Parabolic":
        return 1.0 + za * za / (span * span)
    if axial == "Linear":
        return 1.0 + za / abs(span)
    return np.ones_like(za)


def _lateral(name: str, x: np.ndarray, y: np.ndarray, radius: float, factor: float) -> np.ndarray:
    """The lateral functions of ``psf.defocusplane.lateral``; x, y, radius in pixels."""
    if name == "Gaussian":
        return np.exp(-(x * x + y * y) / (factor * factor * radius * radius * 2.0))
    if name == "Lorentz":
        k = (np.sqrt(0.5) / (factor * radius)) ** 2
        return 1.0 / (1.0 + (x * x + y * y) * k)
    if name == "Cardinale-Sine":
        r = np.pi * np.sqrt(x * x + y * y) / (radius * factor)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(r <= 10e-6, 1.0, np.sin(r) / r)
    if name == "Cosine":
        size = radius * factor
        if size < 1e-7:
            return np.zeros_like(x)
        return np.maximum(0.0, np.cos(np.sqrt(x * x + y * y) / size * np.pi * 0.5))
    if name == "Circular-Pupil":
        size = radius * factor
        return (x * x + y * y < size * size).astype(np.float64)
    if name == "Astigmatism":
        sigma = 0.8493218 * radius
        dy = factor * 1.5 - 1.0
        dx = 1.0 / dy
        return np.exp(-x * x / (dx * dx * sigma * sigma * 2.0) - y * y / (dy * dy * sigma * sigma * 2.0))
    cosa, sina = np.cos(factor), np.sin(factor)
    u = x * cosa + y * sina
    v = -x * sina + y * cosa
    if name == "Oriented-Gaussian":
        elongation = 2.0
        return np.exp(-(u * u / (radius * radius * elongation) + v * v * elongation / (radius * radius)))
    # Double-Helix
    sigma = 0.25 * radius
    k = 1.0 / (sigma * sigma * 2.0)
    return (np.exp(-((u - radius * 0.5) ** 2 + v * v) * k)
            + np.exp(-((u + radius * 0.5) ** 2 + v * v) * k))


def lateral_axial(shape, *, spacing=None, na: float = 1.4, wavelength_nm: float = 610.0,
                  lateral: str = "Gaussian", axial: str = "Linear", focus_nm: float = 0.0,
                  defocus_nm: float = 100.0, centred: bool = True, normalize: str = "max",
                  dtype=np.float32, max_memory=None) -> np.ndarray:
    """Synthetic PSF: a lateral function scaled plane by plane by an axial function.

    Parameters
    ----------
    shape : sequence of int
        ``(nz, ny, nx)`` or ``(ny, nx)`` (one plane, at the focus), voxels.
    spacing : sequence of float, optional
        Voxel size in µm, ``(z, y, x)``. Default ``(0.25, 0.1, 0.1)``.
    na : float
        Numerical aperture (sets the lateral size with the wavelength).
    wavelength_nm : float
        Wavelength, nm.
    lateral : str
        One of :data:`LATERAL_FUNCTIONS`.
    axial : str
        One of :data:`AXIAL_FUNCTIONS`.
    focus_nm : float
        z of the focal plane, nm (see ``centred`` for the origin).
    defocus_nm : float
        z of the "defocused plane" where the axial factor reaches its reference
        value (2 for Linear/Parabolic, 0.5 for Exponential), nm; must differ from
        ``focus_nm`` unless ``axial="Constant"``.
    centred : bool
        True: centre at ``(n-1)/2`` and z measured from the centre plane.  False:
        PSF Generator's own geometry (centre ``n/2``, z from plane 0).
    normalize, dtype, max_memory
        As in :func:`~fijibridge.psf.born_wolf`.

    Returns
    -------
    ndarray, shape ``shape``
        Each plane is the lateral function normalised to a sum of 1, then the volume is
        scaled as ``normalize`` says.

    References
    ----------
    .. [1] PSF Generator, Biomedical Imaging Group, EPFL.
       https://bigwww.epfl.ch/algorithms/psfgenerator/
       (the synthetic models are described there, not in a paper)

    Examples
    --------
    >>> psf = lateral_axial((9, 33, 33), spacing=(0.2, 0.05, 0.05), lateral="Lorentz")
    >>> [int(i) for i in np.unravel_index(psf.argmax(), psf.shape)]
    [4, 16, 16]
    """
    na, wavelength_nm = _common.check_optics(na=na, wavelength_nm=wavelength_nm)
    lateral = check_choice("lateral", lateral, LATERAL_FUNCTIONS)
    axial = check_choice("axial", axial, AXIAL_FUNCTIONS)
    for name, value in (("focus_nm", focus_nm), ("defocus_nm", defocus_nm)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value):
            raise TypeError(f"{name} must be a finite number (nm); got {value!r}")
    if axial != "Constant" and defocus_nm == focus_nm:
        raise ValueError(f"defocus_nm must differ from focus_nm for axial={axial!r} (the "
                         f"axial factor is scaled by their distance); got both {focus_nm!r}")
    shape = _common.check_shape(shape)
    two_d = len(shape) == 2
    if spacing is None:
        spacing = (0.25, 0.1, 0.1)[-len(shape):]
    (nz, ny, nx), (dz, dy, dx) = _common.grid(shape, spacing)
    _common.check_memory((nz, ny, nx), model=str(lateral), max_memory=max_memory)
    unit = min(dy, dx)
    radius = 0.5 * wavelength_nm / na / _FWHM_TO_SIGMA / (unit * 1e3)  # pixels
    if centred:
        yc, xc = (ny - 1) / 2.0, (nx - 1) / 2.0
        z = _common.axial_offsets(nz)
    else:
        yc, xc = ny * 0.5, nx * 0.5
        z = np.arange(nz, dtype=np.float64)
    if two_d:
        z = np.array([focus_nm / (dz * 1e3)])
    factors = _axial_factor(axial, z, defocus_nm / (dz * 1e3), focus_nm / (dz * 1e3))
    y = ((np.arange(ny) - yc) * dy / unit)[:, None]
    x = ((np.arange(nx) - xc) * dx / unit)[None, :]
    planes = np.empty((nz, ny, nx))
    for i, factor in enumerate(factors):
        plane = np.broadcast_to(_lateral(lateral, x, y, radius, float(factor)), (ny, nx))
        total = plane.sum()
        if not np.isfinite(total) or total == 0:
            raise ValueError(f"the {lateral} lateral function is zero or not finite on plane "
                             f"{i} (size {radius * factor:.3g} pixels); check na, "
                             f"wavelength_nm, spacing, focus_nm and defocus_nm")
        planes[i] = plane / total
    return _common.finish(planes, normalize=normalize, dtype=dtype, two_d=two_d)


def gaussian(shape, *, spacing=None, na: float = 1.4, wavelength_nm: float = 610.0,
             axial: str = "Linear", focus_nm: float = 0.0, defocus_nm: float = 100.0,
             centred: bool = True, normalize: str = "max", dtype=np.float32, max_memory=None) -> np.ndarray:
    """Gaussian PSF of PSF Generator: sigma ``0.5 λ / NA / 2.35482`` at the focus.

    Same parameters as :func:`lateral_axial` with ``lateral="Gaussian"``.  With the
    default ``axial="Linear"`` sigma grows linearly with the distance from the focal
    plane and is twice as large at ``defocus_nm``.

    See Also
    --------
    lateral_axial : the same with any of PSF Generator's lateral functions.

    Examples
    --------
    >>> psf = gaussian((5, 15, 15), spacing=(0.2, 0.1, 0.1), na=1.0, wavelength_nm=500)
    >>> float(psf.max()), psf.shape
    (1.0, (5, 15, 15))
    """
    return lateral_axial(shape, spacing=spacing, na=na, wavelength_nm=wavelength_nm,
                         lateral="Gaussian", axial=axial, focus_nm=focus_nm,
                         defocus_nm=defocus_nm, centred=centred, normalize=normalize,
                         dtype=dtype, max_memory=max_memory)
