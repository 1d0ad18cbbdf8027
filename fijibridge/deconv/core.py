"""``deconvolve``: DeconvolutionLab2's algorithms, natively, with DL2's exact conventions."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from . import _engine
from ._haar import HAAR_MODES
from ._prepare import apodize, crop_image, pad_image, prepare_psf
from ._registry import lookup_algorithm
from .options import DeconvOptions, parse_dl2

__all__ = ["deconvolve", "deconvolve_options", "run_dl2_text", "check_inputs",
           "memory_estimate", "DEFAULT_MAX_MEMORY"]

log = logging.getLogger(__name__)

#: default working-memory budget (bytes) above which :func:`deconvolve` works block-wise
DEFAULT_MAX_MEMORY = 1 << 30
#: float32-sized working arrays per voxel (complex half-spectra count as one), per algorithm
_ARRAYS_PER_VOXEL = {"NIF": 6, "RIF": 8, "TRIF": 6, "CONV": 5, "SIM": 6, "RL": 6.5, "RLTV": 13,
                     "LW": 7, "NNLS": 7, "BVLS": 7, "VC": 7, "TM": 8, "ICTM": 8, "ISTA": 11,
                     "FISTA": 13}


def memory_estimate(shape, algorithm: str = "RL") -> int:
    """Bytes of working arrays :func:`deconvolve` needs for a working grid of ``shape``
    (float32; torch's own runtime, ~100 MB, not included)."""
    spec = lookup_algorithm(algorithm)
    return int(4 * _ARRAYS_PER_VOXEL[spec.name] * float(np.prod(shape)))


def check_inputs(image, psf, *, working_shape=None):
    """Validate an image/PSF pair; return both as float32 arrays.

    Raises
    ------
    TypeError
        Not a real numeric array.
    ValueError
        Wrong dimensionality, NaN/inf, PSF negative, zero or negative sum, PSF larger than
        the (padded) image.
    """
    arrays = []
    for name, a in (("image", image), ("psf", psf)):
        a = np.asarray(a)
        if a.dtype.kind not in "uif" or a.dtype == bool:
            raise TypeError(f"{name} must be a real numeric array; got dtype {a.dtype}")
        if a.ndim not in (2, 3):
            raise ValueError(f"{name} must be 2D (y, x) or 3D (z, y, x); got shape {a.shape}")
        if min(a.shape) < 1:
            raise ValueError(f"{name} is empty: shape {a.shape}")
        a = a.astype(np.float32, copy=False)
        bad = ~np.isfinite(a)
        if bad.any():
            raise ValueError(f"{name} contains {int(bad.sum())} NaN/inf value(s); replace them "
                             f"first (e.g. numpy.nan_to_num)")
        arrays.append(a)
    image, psf = arrays
    if image.ndim != psf.ndim:
        raise ValueError(f"image and psf must have the same dimensionality; got a {image.ndim}D "
                         f"image {image.shape} and a {psf.ndim}D psf {psf.shape}"
                         + (" (take the PSF's central plane for a 2D image)" if psf.ndim == 3 else ""))
    if psf.min() < 0:
        raise ValueError(f"psf has negative values (min {float(psf.min()):.3g}); a PSF is an "
                         "intensity: subtract the background and clip at 0 (numpy.clip(psf, 0, None))")
    total = float(psf.sum(dtype=np.float64))
    if total <= 0:
        raise ValueError(f"psf sum must be > 0 to normalise it; got {total:g}")
    work = tuple(working_shape) if working_shape is not None else image.shape
    if any(p > w for p, w in zip(psf.shape, work)):
        raise ValueError(f"psf {psf.shape} is larger than the image {image.shape} (working grid "
                         f"{work}); crop the PSF or pad the image (pad='E2 E2')")
    return image, psf


def deconvolve(image, psf, *, algorithm: str = "RL", num_iter: int | None = None,
               reg: float | None = None, step: float | None = None, scales: int | None = None,
               params=None, pad=None, apo=None, norm: float | None = 1.0,
               constraint: str | None = None, residu: float | None = None,
               epsilon: float = 1e-6, device: str = "cpu", callback=None, reference=None,
               monitor=None, progress: bool = False, max_growth: float | None = _engine.MAX_GROWTH,
               haar: str = "dl2", max_memory: int | None = DEFAULT_MAX_MEMORY, rng=None,
               backend: str = "auto", threads: int | None = None):
    """Deconvolve ``image`` by ``psf`` with one of DeconvolutionLab2's algorithms.

    Results equal DeconvolutionLab2 2.1.2's to a relative L2 error below 1e-4 (measured on
    the reference cases in ``tests/deconv``): same padding, apodization, PSF normalisation
    and centring (voxel ``n // 2`` at the origin, periodic boundaries), iteration count,
    step sizes and stopping rules.

    Parameters
    ----------
    image : (P, M, N) or (M, N) array
        Blurred image; converted to float32.
    psf : array, same dimensionality, not larger than the (padded) image
        Point-spread function, any scale (normalised to sum ``norm``); its voxel ``n // 2``
        is its centre.
    algorithm : str
        ``NIF RIF TRIF RL RLTV LW NNLS BVLS VC TM ICTM ISTA FISTA`` (+ ``CONV``, ``SIM``
        utilities); DL2 aliases (``LW+``, ``SP`` …) accepted.
    num_iter, step, reg, scales : optional
        Algorithm parameters (DL2: iterations, γ, λ, wavelet scales); ``None`` = DL2's
        default (see :mod:`fijibridge.deconv._registry`).
    params : sequence, optional
        Positional parameters exactly as in DL2 text (``[20, 1, 0.001]`` for ``TM``); not
        together with the keywords.
    pad : str or Padding, optional
        DL2 padding, e.g. ``"E2 E2"`` (power of 2; as in DL2 the digits also add 2 voxels).
    apo : str or Apodization, optional
        DL2 apodization, e.g. ``"HANN HANN"``.
    norm : float or None
        Normalise the PSF to this sum; ``0`` or ``None`` = no normalisation (``-norm no``).
    constraint : {"no", "nonnegativity", "clipped"}, optional
        NNLS and BVLS impose theirs. As in DL2, Fourier-domain algorithms (LW, VC, TM …) apply
        it to the final estimate only.
    residu : float, optional
        Stop once the relative change between iterations is ≤ ``residu``.
    epsilon : float
        DL2's division guard.
    device : {"cpu", "cuda"}
    callback : callable, optional
        ``callback(stats, estimate)`` after each iteration; return ``False`` to stop.
    reference : array, optional
        Ground truth for PSNR/SNR statistics.
    monitor : Monitor, optional
        Receives the per-iteration statistics (created automatically for ``callback`` /
        ``reference`` / ``progress``).
    max_growth : float or None
        Divergence guard: raise :class:`~fijibridge.DivergenceError` when the estimate turns
        NaN/inf or its L2 norm exceeds ``max_growth`` × that of the image.
    haar : {"dl2", "orthonormal"}
        ISTA/FISTA wavelet shrinkage: DL2's (default, identical results) or the corrected
        orthonormal one (see :mod:`fijibridge.deconv._haar`).
    max_memory : int or None
        Working-memory budget in bytes; a larger volume is deconvolved block-wise
        (:func:`fijibridge.deconv.tiling.deconvolve_tiled`), with the whole-volume copies
        that block-wise run keeps (:func:`~fijibridge.deconv.tiling.whole_volume_bytes`)
        counted in the budget; a budget below those copies raises ``ValueError``.
        ``None``: never tile.
    rng : int or numpy Generator, optional
        Noise of ``SIM``.
    backend : {"auto", "numpy", "torch"}
        ``"auto"``: RL on the CPU runs on numpy + ``scipy.fft`` (faster than torch there, and
        torch is not imported), everything else on torch. ``"torch"`` forces torch;
        ``"numpy"`` is an error where numpy has no runner. The back-ends differ by FFT
        rounding only.
    threads : int, optional
        CPU threads for this call (``None``: the numpy backend uses the cores available to the
        process; torch keeps its setting, ``torch.set_num_threads``).

    Returns
    -------
    ndarray, float32, shape of ``image``

    Raises
    ------
    ValueError, TypeError
        Bad arguments (the message names the parameter and the allowed values).
    DivergenceError
        The iteration diverged.

    References
    ----------
    .. [1] D. Sage et al., "DeconvolutionLab2: An open-source software for deconvolution
       microscopy", Methods 115 (2017) 28-41. :doi:`10.1016/j.ymeth.2016.12.015`

    Examples
    --------
    >>> import numpy as np
    >>> from fijibridge.deconv import deconvolve
    >>> obj = np.zeros((16, 32, 32), np.float32); obj[8, 16, 16] = 100
    >>> psf = np.ones((3, 3, 3), np.float32)
    >>> blurred = deconvolve(obj, psf, algorithm="CONV")
    >>> out = deconvolve(blurred + 0.1, psf, algorithm="RL", num_iter=20)
    >>> out.shape, bool(out[8, 16, 16] > blurred[8, 16, 16])
    ((16, 32, 32), True)
    """
    spec = lookup_algorithm(algorithm)
    keywords = {"num_iter": num_iter, "step": step, "reg": reg, "scales": scales}
    given = {k: v for k, v in keywords.items() if v is not None}
    if params is not None and given:
        raise ValueError("give the algorithm parameters either as params=[...] or as keywords "
                         f"({', '.join(given)}), not both")
    if params is None:
        unknown = [k for k in given if k not in spec.params]
        if unknown:
            raise ValueError(f"algorithm {spec.name} has no parameter {unknown[0]!r}; its "
                             f"parameters: {', '.join(spec.params) or 'none'}")
        params = []
        for name, default in zip(spec.params, spec.defaults):
            params.append(given.get(name, default))
        # drop trailing defaults so that to_dl2() writes what the user gave
        while params and len(params) > 0 and spec.params[len(params) - 1] not in given:
            params.pop()
    norm_opt = 0.0 if norm is None else norm
    options = DeconvOptions(spec.name, tuple(params), pad=pad, apo=apo, norm=norm_opt,
                            constraint=constraint, residu=residu, epsilon=epsilon)
    return deconvolve_options(options, image, psf, device=device, callback=callback,
                              reference=reference, monitor=monitor, progress=progress,
                              max_growth=max_growth, haar=haar, max_memory=max_memory, rng=rng,
                              backend=backend, threads=threads)


def deconvolve_options(options: DeconvOptions, image, psf, *, device="cpu", callback=None,
                       reference=None, monitor=None, progress=False,
                       max_growth=_engine.MAX_GROWTH, haar="dl2",
                       max_memory=DEFAULT_MAX_MEMORY, rng=None, backend="auto", threads=None):
    """:func:`deconvolve` driven by a :class:`DeconvOptions` (e.g. from :func:`parse_dl2`)."""
    from .monitor import Monitor

    device = _engine.check_device(device)
    if haar not in HAAR_MODES:
        raise ValueError(f"haar must be one of {', '.join(HAAR_MODES)}; got {haar!r}")
    if max_growth is not None and not (isinstance(max_growth, (int, float)) and max_growth > 0):
        raise ValueError(f"max_growth must be a number > 0 or None; got {max_growth!r}")
    spec = options.spec
    _engine.choose_backend(spec.name, device, backend)  # checks backend before any work
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ValueError(f"threads must be an integer >= 1 or None; got {threads!r}")
    image_arr = np.asarray(image)
    working = options.pad.padded_shape(image_arr.shape) if options.pad is not None else image_arr.shape
    image_arr, psf_arr = check_inputs(image_arr, psf, working_shape=working)
    if reference is not None:
        reference = np.asarray(reference, dtype=np.float32)
        if reference.shape != image_arr.shape:
            raise ValueError(f"reference must have the image's shape {image_arr.shape}; got "
                             f"{reference.shape}")
    if monitor is None and (callback is not None or reference is not None or progress):
        monitor = Monitor(reference=reference, callback=callback, progress=progress)
    elif monitor is not None:
        if reference is not None and monitor.reference is None:
            monitor.reference = reference.astype(np.float64)
            monitor.stats = True
        if callback is not None and monitor.callback is None:
            monitor.callback = callback
            monitor.stats = True
    if max_memory is not None and (isinstance(max_memory, bool) or not max_memory > 0):
        raise ValueError(f"max_memory must be a number of bytes > 0 or None; got {max_memory!r}")
    if max_memory is not None and memory_estimate(working, spec.name) > max_memory:
        from .tiling import deconvolve_tiled, whole_volume_bytes

        # the budget covers everything this call allocates: the whole-volume copies the
        # block-wise run keeps (padded input, assembled output, cropped result) and one block
        fixed = whole_volume_bytes(image_arr.shape, working)
        log.info("%s: working grid %s needs ~%.0f MB > budget %.0f MB: deconvolving block-wise "
                 "(%.0f MB of it for the whole-volume copies)", spec.name, working,
                 memory_estimate(working, spec.name) / 2**20, max_memory / 2**20, fixed / 2**20)
        if fixed >= max_memory:
            raise ValueError(
                f"max_memory ({max_memory / 2**20:.4g} MB) is below the {fixed / 2**20:.4g} MB "
                f"that the volume's own copies need block-wise (working grid {tuple(working)}, "
                f"{spec.name} needs ~{memory_estimate(working, spec.name) / 2**20:.4g} MB in one "
                "piece): raise max_memory (--max-memory MB), or crop the image")
        return deconvolve_tiled(image_arr, psf_arr, options=options, device=device,
                                max_memory=max_memory - fixed, max_growth=max_growth, haar=haar,
                                rng=rng, backend=backend, threads=threads)
    params = options.resolved
    eps = options.epsilon if options.epsilon is not None else 1e-6
    y = pad_image(image_arr, options.pad)
    apodize(y, options.apo)
    norm = 1.0 if options.norm is None else options.norm
    h = prepare_psf(psf_arr, y.shape, norm)
    constraint = options.effective_constraint
    x = _engine.run(spec, params, y, h, image_shape=image_arr.shape, constraint=constraint,
                    residu=options.residu, epsilon=eps, monitor=monitor, device=device,
                    max_growth=max_growth, haar=haar, rng=rng, backend=backend, threads=threads)
    del h
    x = np.ascontiguousarray(crop_image(x, image_arr.shape), dtype=np.float32)
    # DL2 Controller.finish: the constraint acts once more on the cropped result
    if constraint == "nonnegativity":
        np.maximum(x, 0, out=x)
    elif constraint == "clipped":
        np.clip(x, float(y.min()), float(y.max()), out=x)
    return x


def _resolve_path(path: str, cwd) -> Path:
    p = Path(path)
    if not p.is_absolute():
        p = Path(cwd or os.getcwd()) / p
    return p


def run_dl2_text(text_or_options, *, cwd=None, device="cpu", monitor=None, progress=False,
                 max_growth=_engine.MAX_GROWTH, haar="dl2", max_memory=DEFAULT_MAX_MEMORY):
    """Run DL2 command text natively: read ``-image``/``-psf``/``-reference`` files (relative to
    ``cwd``), deconvolve, and return ``(result, TiffImage of the input)``.

    Examples
    --------
    >>> run_dl2_text("-image file a.tif -psf file p.tif -algorithm RL 50")  # doctest: +SKIP
    """
    from .._core.tiff import read_tiff

    options = parse_dl2(text_or_options) if isinstance(text_or_options, str) else text_or_options
    if options.image is None or options.psf is None:
        raise ValueError("DL2 text needs '-image file PATH' and '-psf file PATH'")
    img = read_tiff(_resolve_path(options.image, cwd))
    psf = read_tiff(_resolve_path(options.psf, cwd))
    ref = read_tiff(_resolve_path(options.reference, cwd)).data if options.reference else None
    data = _squeeze_stack(img.data, "image")
    result = deconvolve_options(options, data, _squeeze_stack(psf.data, "psf"), device=device,
                                reference=None if ref is None else _squeeze_stack(ref, "reference"),
                                monitor=monitor, progress=progress, max_growth=max_growth,
                                haar=haar, max_memory=max_memory)
    return result, img


def _squeeze_stack(a, name):
    """A 3D array is (z, y, x) whatever the TIFF calls its first axis (ImageJ 'CYX' stacks)."""
    a = np.asarray(a)
    if a.ndim > 3:
        a = np.squeeze(a)
    if a.ndim not in (2, 3):
        raise ValueError(f"{name} must be a 2D image or a 3D stack; got shape {a.shape}")
    return a
