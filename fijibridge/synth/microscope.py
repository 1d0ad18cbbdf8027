"""Image formation: PSF blur, background, Poisson–Gaussian noise, gain, bit depth.

The model of a camera (or point detector) image ``y`` of a fluorophore density
``f`` is

.. math::

    y = \\mathrm{clip}\\big(\\mathrm{round}(g\\,\\mathcal{P}(\\phi\\,(h * f) + b)
        + o + \\mathcal{N}(0, \\sigma_r^2)),\\ 0,\\ 2^{B}-1\\big)

with ``h`` the PSF (sum 1, so blurring conserves the flux), ``φ`` the photons per
unit density (``photons``), ``b`` the background photons per voxel, ``P`` Poisson
sampling, ``g`` the gain (ADU per photo-electron), ``o`` the offset and ``σ_r`` the
read noise (ADU), ``B`` the bit depth.  Convolution is an FFT product (real FFTs of
``scipy.fft`` at fast lengths, float32).

PSFs
----
``make_psf`` builds a PSF from the optics.  ``model="gaussian"`` is the separable
Gaussian approximation of Zhang et al. (2007); ``model="born_wolf"`` (and ``"auto"``, the
same) takes the Born & Wolf model of :mod:`fijibridge.psf`.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from .._core.options import check_choice, check_positive, check_spacing
from ._base import as_rng

log = logging.getLogger(__name__)

__all__ = ["psf_sigma", "gaussian_psf", "make_psf", "convolve_psf", "simulate_microscope"]

PSF_MODELS = ("auto", "gaussian", "born_wolf")
MODES = ("widefield", "confocal")


def psf_sigma(*, na: float, wavelength_um: float, refractive_index: float = 1.518,
              mode: str = "widefield") -> tuple[float, float]:
    """Standard deviations ``(sigma_z, sigma_xy)`` in µm of the Gaussian PSF.

    Paraxial Gaussian approximation of Zhang et al. [1]_ (their Table 2):

    * widefield: ``sigma_xy = sqrt(2) / (k * NA) ≈ 0.225 λ/NA`` and
      ``sigma_z = 2 sqrt(6) n / (k * NA²) ≈ 0.780 n λ / NA²``, with ``k = 2π/λ``
      the emission wave number and ``n`` the immersion refractive index;
    * confocal (pinhole closed, excitation ≈ emission wavelength): both divided by
      ``sqrt(2)``, since the PSF is then the square of the widefield one.

    Parameters
    ----------
    na : float
        Numerical aperture; must be below ``refractive_index``.
    wavelength_um : float
        Emission wavelength in µm (0.52 for GFP).
    refractive_index : float
        Immersion medium (1.518 oil, 1.333 water, 1.0 air).
    mode : {'widefield', 'confocal'}

    References
    ----------
    .. [1] Zhang B, Zerubia J, Olivo-Marin J-C (2007) Gaussian approximations of
       fluorescence microscope point-spread function models. Appl Opt
       46:1819–1829. doi:10.1364/AO.46.001819

    Examples
    --------
    >>> sz, sxy = psf_sigma(na=1.4, wavelength_um=0.52)
    >>> round(sxy, 4), round(sz, 3)
    (0.0836, 0.314)
    """
    na = check_positive("na", na)
    wavelength_um = check_positive("wavelength_um", wavelength_um)
    refractive_index = check_positive("refractive_index", refractive_index)
    mode = check_choice("mode", mode, MODES)
    if na >= refractive_index:
        raise ValueError(f"na must be smaller than refractive_index ({refractive_index}); got {na}")
    if wavelength_um > 10:
        raise ValueError(f"wavelength_um is in micrometres (0.52 for GFP); got {wavelength_um} "
                         "(nanometres? divide by 1000)")
    k = 2 * math.pi / wavelength_um
    s_xy = math.sqrt(2) / (k * na)
    s_z = 2 * math.sqrt(6) * refractive_index / (k * na ** 2)
    if mode == "confocal":
        s_xy /= math.sqrt(2)
        s_z /= math.sqrt(2)
    return s_z, s_xy


def gaussian_psf(*, spacing, sigma_um, shape=None, truncate: float = 4.0) -> np.ndarray:
    """Separable Gaussian PSF integrated over each voxel, normalised to sum 1.

    Parameters
    ----------
    spacing : sequence of float
        Voxel size in µm, ``(z, y, x)`` or ``(y, x)``; sets the PSF's ndim.
    sigma_um : float or sequence of float
        Standard deviation per axis in µm (a pair ``(sigma_z, sigma_xy)`` is expanded
        for 3D); see :func:`psf_sigma`.
    shape : sequence of int, optional
        Odd size per axis; default covers ``±truncate`` sigma.
    truncate : float

    Returns
    -------
    ndarray of float64
        Centred at ``shape // 2``.  Integrating over the voxel (differences of the
        error function) keeps sub-voxel sigmas exact in flux.
    """
    from scipy.special import erf

    ndim = len(spacing) if spacing is not None and not np.isscalar(spacing) else None
    if ndim is None:
        raise TypeError("spacing must be a sequence of 2 or 3 voxel sizes (µm); got "
                        f"{spacing!r}")
    spacing = check_spacing(spacing, ndim)
    sig = np.atleast_1d(np.asarray(sigma_um, dtype=np.float64))
    if sig.size == 1:
        sig = np.repeat(sig, ndim)
    elif sig.size == 2 and ndim == 3:
        sig = np.array([sig[0], sig[1], sig[1]])
    if sig.size != ndim or not np.all(np.isfinite(sig)) or np.any(sig <= 0):
        raise ValueError(f"sigma_um must be positive, one value or one per axis ({ndim}); "
                         f"got {sigma_um!r}")
    if shape is None:
        shape = [2 * int(math.ceil(truncate * s / d)) + 1 for s, d in zip(sig, spacing)]
    shape = tuple(int(n) for n in shape)
    if len(shape) != ndim or any(n < 1 or n % 2 == 0 for n in shape):
        raise ValueError(f"shape must have {ndim} odd positive sizes; got {shape!r}")
    psf = np.ones((1,) * ndim)
    for ax, (n, s, d) in enumerate(zip(shape, sig, spacing)):
        edges = (np.arange(n + 1) - n / 2) * d  # voxel edges, centre voxel around 0
        cdf = 0.5 * (1 + erf(edges / (math.sqrt(2) * s)))
        w = np.diff(cdf)
        psf = psf * w.reshape([-1 if k == ax else 1 for k in range(ndim)])
    return psf / psf.sum()


def make_psf(*, spacing, na: float = 1.4, wavelength_um: float = 0.52,
             refractive_index: float = 1.518, model: str = "auto", mode: str = "widefield",
             shape=None) -> np.ndarray:
    """PSF for the given optics, sampled at ``spacing`` and normalised to sum 1.

    Parameters
    ----------
    spacing : sequence of float
        Voxel size in µm, ``(z, y, x)`` or ``(y, x)``.  For 2D the PSF is the
        in-focus plane.
    na, wavelength_um, refractive_index, mode
        Optics, see :func:`psf_sigma`.
    model : {'auto', 'gaussian', 'born_wolf'}
        ``'born_wolf'`` (and ``'auto'``, kept as its alias) uses
        :func:`fijibridge.psf.born_wolf`.
    shape : sequence of int, optional
        Odd PSF size; default covers ±4 sigma of the Gaussian approximation
        (±6 sigma for Born & Wolf, whose rings and axial cone reach further; pass a
        larger shape for widefield 3D work where the out-of-focus light matters).

    Returns
    -------
    ndarray of float64
    """
    from .._core.errors import FijiBridgeError

    model = check_choice("model", model, PSF_MODELS)
    ndim = len(spacing) if spacing is not None and not np.isscalar(spacing) else 0
    if ndim not in (2, 3):
        raise ValueError(f"spacing must have 2 (y, x) or 3 (z, y, x) values; got {spacing!r}")
    spacing = check_spacing(spacing, ndim)
    s_z, s_xy = psf_sigma(na=na, wavelength_um=wavelength_um,
                          refractive_index=refractive_index, mode=mode)
    sigmas = (s_z, s_xy, s_xy)[-ndim:]
    if model in ("auto", "born_wolf"):
        from ..psf.optical import born_wolf

        if mode != "widefield":
            log.info("Born & Wolf is a widefield model; squaring it for mode=%r", mode)
        if shape is None:  # Airy rings and the axial cone reach further: ±6 sigma
            shp = [2 * int(math.ceil(6 * sg / d)) + 1 for sg, d in zip(sigmas, spacing)]
        else:
            shp = [int(n) for n in shape]
        psf = np.asarray(born_wolf(tuple(shp), spacing=spacing, na=na, ni=refractive_index,
                                   wavelength_nm=wavelength_um * 1e3), dtype=np.float64)
        if mode == "confocal":
            psf = psf ** 2
        if ndim == 2 and psf.ndim == 3 and psf.shape[0] == 1:
            psf = psf[0]
        if psf.ndim != ndim or not np.all(np.isfinite(psf)) or psf.sum() <= 0:
            raise FijiBridgeError(f"the Born & Wolf PSF is unusable (shape {psf.shape}); use "
                                  "model='gaussian'")
        log.info("PSF: Born & Wolf (fijibridge.psf.born_wolf), shape %s", psf.shape)
        return psf / psf.sum()
    return gaussian_psf(spacing=spacing, sigma_um=sigmas, shape=shape)


def convolve_psf(image, *, psf, boundary: str = "zero", workers: int | None = None) -> np.ndarray:
    """Convolve ``image`` with ``psf`` by FFT, same shape, float32.

    Equivalent to ``scipy.signal.fftconvolve(image, psf, mode="same")`` for
    ``boundary="zero"`` (the PSF is normalised by the caller; a PSF of sum 1 keeps
    the total flux of an object away from the border).  ``boundary="reflect"``
    mirrors the image at its border first, as if the specimen went on.

    Parameters
    ----------
    image : ndarray
        2D or 3D.
    psf : ndarray
        Same ndim, any size; its centre is ``(shape - 1) // 2``.
    boundary : {'zero', 'reflect'}
    workers : int, optional
        Threads of ``scipy.fft`` (default 1).
    """
    from scipy import fft

    image = np.asarray(image)
    psf = np.asarray(psf)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be 2D or 3D; got ndim={image.ndim}")
    if psf.ndim != image.ndim:
        raise ValueError(f"psf must have the image's ndim ({image.ndim}); got psf.ndim={psf.ndim}")
    if image.size == 0 or psf.size == 0:
        raise ValueError("image and psf must not be empty")
    boundary = check_choice("boundary", boundary, ("zero", "reflect"))
    img = image.astype(np.float32, copy=False)
    k = np.asarray(psf.shape)
    c = (k - 1) // 2
    if boundary == "reflect":
        pad = [(int(kk - 1 - cc), int(cc)) for kk, cc in zip(k, c)]
        pad = [(min(a, n - 1), min(b, n - 1)) for (a, b), n in zip(pad, img.shape)]
        img = np.pad(img, pad, mode="symmetric")
        lo = np.asarray([a for a, _ in pad])
    else:
        lo = np.zeros(img.ndim, dtype=int)
    full = np.asarray(img.shape) + k - 1
    fshape = [fft.next_fast_len(int(n), real=True) for n in full]
    otf = fft.rfftn(psf.astype(np.float32), s=fshape, workers=workers)
    spec = fft.rfftn(img, s=fshape, workers=workers)
    spec *= otf
    out = fft.irfftn(spec, s=fshape, workers=workers)
    start = c + lo
    sl = tuple(slice(int(s), int(s) + n) for s, n in zip(start, image.shape))
    return np.ascontiguousarray(out[sl], dtype=np.float32)


def simulate_microscope(image, *, spacing, psf=None, na: float = 1.4,
                        wavelength_um: float = 0.52, refractive_index: float = 1.518,
                        psf_model: str = "auto", mode: str = "widefield",
                        photons: float = 200.0, background: float = 10.0,
                        gain: float = 1.0, offset: float = 100.0, read_noise: float = 2.0,
                        bit_depth: int | None = 16, z_step: int = 1, poisson: bool = True,
                        boundary: str = "zero", rng=None) -> np.ndarray:
    """Simulate a fluorescence microscope image of a ground-truth density.

    Parameters
    ----------
    image : ndarray
        Fluorophore density, 2D ``(y, x)`` or 3D ``(z, y, x)``, >= 0 (e.g.
        ``Phantom.image``).
    spacing : sequence of float
        Voxel size of ``image`` in µm; the PSF is sampled on it (anisotropic z is
        fine).
    psf : ndarray, optional
        PSF sampled at ``spacing`` (normalised here to sum 1).  Default: built by
        :func:`make_psf` from ``na``, ``wavelength_um``, ``refractive_index``,
        ``psf_model`` and ``mode``.
    na, wavelength_um, refractive_index, psf_model, mode
        Optics, used when ``psf`` is None.
    photons : float
        Expected photons per voxel at density 1 (before blur).
    background : float
        Expected background photons per voxel (autofluorescence, stray light).
    gain : float
        ADU per photo-electron.
    offset : float
        Camera offset (ADU).
    read_noise : float
        Standard deviation of Gaussian read noise (ADU).
    bit_depth : {8, 16, None}
        Round and clip to ``[0, 2**bit_depth - 1]`` and return uint8/uint16;
        ``None`` returns float32 without rounding or clipping.
    z_step : int
        Keep every ``z_step``-th plane after blurring (z undersampling of a 3D
        acquisition; the output's z spacing is ``spacing[0] * z_step``).
    poisson : bool
        Draw shot noise (``False``: the expected photon count, for noise-free
        references).
    boundary : {'zero', 'reflect'}
        See :func:`convolve_psf`.
    rng : int or numpy.random.Generator, optional

    Returns
    -------
    ndarray
        uint8, uint16 or float32; shape of ``image`` with z divided by ``z_step``
        (rounded up).

    References
    ----------
    .. [1] Foi A, Trimeche M, Katkovnik V, Egiazarian K (2008) Practical
       Poissonian-Gaussian noise modeling and fitting for single-image raw-data.
       IEEE Trans Image Process 17:1737–1754. doi:10.1109/TIP.2008.2001399
    .. [2] Zhang B, Zerubia J, Olivo-Marin J-C (2007) Appl Opt 46:1819–1829.
       doi:10.1364/AO.46.001819

    Examples
    --------
    >>> img = np.zeros((32, 32), np.float32); img[16, 16] = 1
    >>> out = simulate_microscope(img, spacing=(0.1, 0.1), rng=0)
    >>> out.dtype.name, out.shape
    ('uint16', (32, 32))
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be 2D (y, x) or 3D (z, y, x); got ndim={image.ndim}")
    if image.size == 0:
        raise ValueError("image is empty")
    if not np.issubdtype(image.dtype, np.number) or np.iscomplexobj(image):
        raise TypeError(f"image must be real-valued; got dtype {image.dtype}")
    if not np.all(np.isfinite(image)) or float(image.min()) < 0:
        raise ValueError("image must be a density: finite and >= 0 everywhere")
    spacing = check_spacing(spacing, image.ndim)
    photons = check_positive("photons", photons)
    background = check_positive("background", background, allow_zero=True)
    gain = check_positive("gain", gain)
    offset = check_positive("offset", offset, allow_zero=True)
    read_noise = check_positive("read_noise", read_noise, allow_zero=True)
    z_step = check_positive("z_step", z_step, integer=True)
    if z_step != 1 and image.ndim != 3:
        raise ValueError(f"z_step applies to 3D images; got z_step={z_step} for a 2D image")
    if bit_depth not in (8, 16, None):
        raise ValueError(f"bit_depth must be 8, 16 or None (float32); got {bit_depth!r}")
    rng = as_rng(rng)
    if psf is None:
        psf = make_psf(spacing=spacing, na=na, wavelength_um=wavelength_um,
                       refractive_index=refractive_index, model=psf_model, mode=mode)
    else:
        psf = np.asarray(psf, dtype=np.float64)
        if psf.ndim != image.ndim:
            raise ValueError(f"psf must have the image's ndim ({image.ndim}); got {psf.ndim}")
        if not np.all(np.isfinite(psf)) or psf.min() < 0 or psf.sum() <= 0:
            raise ValueError("psf must be finite, >= 0 and not all zero")
        psf = psf / psf.sum()
    blurred = convolve_psf(image, psf=psf, boundary=boundary)
    if z_step > 1:
        blurred = blurred[::z_step]
    np.maximum(blurred, 0, out=blurred)  # FFT round-off
    expected = blurred * np.float32(photons) + np.float32(background)
    if poisson:
        counts = rng.poisson(expected).astype(np.float32)
    else:
        counts = expected
    out = counts * np.float32(gain) + np.float32(offset)
    if read_noise > 0:
        out += rng.normal(0.0, read_noise, size=out.shape).astype(np.float32)
    if bit_depth is None:
        return out.astype(np.float32, copy=False)
    top = 2 ** bit_depth - 1
    clipped = float(np.mean(out > top))
    if clipped > 0.001:
        log.warning("%.2f %% of voxels saturate at %d (bit_depth=%d); lower photons or gain",
                    100 * clipped, top, bit_depth)
    out = np.clip(np.rint(out), 0, top)
    return out.astype(np.uint8 if bit_depth == 8 else np.uint16)
