"""``deconvolve``: DeconvolutionLab2's algorithms, natively, with DL2's exact conventions.

What is computed is a :class:`~fijibridge.deconv.options.DeconvOptions`; where and with what
resources it runs is an :class:`~fijibridge._core.execution.Execution` (device, threads,
memory budget, progress, rng, back-end). A volume over the memory budget is handed to the
block-wise strategy of :mod:`fijibridge.deconv.tiling` together with the per-block solver.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import numpy as np

from .._core.execution import DEFAULT_MEMORY, Execution, as_execution
from . import _engine
from ._prepare import apodize, crop_image, pad_image, prepare_psf
from .options import MAX_GROWTH, DeconvOptions, make_options, parse_dl2
from .tiling import memory_estimate, run_blockwise, whole_volume_bytes

__all__ = ["deconvolve", "deconvolve_options", "deconvolve_tiled", "run_dl2_text",
           "check_inputs", "memory_estimate", "DEFAULT_MAX_MEMORY"]

log = logging.getLogger(__name__)

#: default working-memory budget (bytes) above which :func:`deconvolve` works block-wise
DEFAULT_MAX_MEMORY = DEFAULT_MEMORY


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
               epsilon: float = 1e-6, haar: str = "dl2", max_growth: float | None = MAX_GROWTH,
               device: str | None = None, callback=None, reference=None, monitor=None,
               execution: Execution | None = None):
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
    haar : {"dl2", "orthonormal"}
        ISTA/FISTA wavelet shrinkage: DL2's (default, identical results) or the corrected
        orthonormal one (see :mod:`fijibridge.deconv._haar`).
    max_growth : float or None
        Divergence guard: raise :class:`~fijibridge.DivergenceError` when the estimate turns
        NaN/inf or its L2 norm exceeds ``max_growth`` × that of the image.
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}, optional
        Shortcut for ``execution.device`` (default ``"auto"``: CUDA if available, then MPS,
        else the CPU; see :func:`~fijibridge._core.execution.resolve_device`).
    callback : callable, optional
        ``callback(stats, estimate)`` after each iteration; return ``False`` to stop.
    reference : array, optional
        Ground truth for PSNR/SNR statistics.
    monitor : Monitor, optional
        Receives the per-iteration statistics (created automatically for ``callback`` /
        ``reference`` / ``progress``).
    execution : Execution, optional
        Run-time resources (:class:`~fijibridge._core.execution.Execution`):

        - ``memory`` (bytes, default 1 GiB): a larger volume is deconvolved block-wise
          (:mod:`fijibridge.deconv.tiling`), with the whole-volume copies that block-wise run
          keeps (:func:`~fijibridge.deconv.tiling.whole_volume_bytes`) counted in the budget;
          a budget below those copies raises ``ValueError``; ``None``: never tile.
        - ``threads``: CPU threads for this call (``None``: the numpy back-end uses the cores
          available to the process; torch keeps its setting); torch's setting is restored.
        - ``backend`` ``{"auto", "numpy", "torch"}``: ``"auto"``: every algorithm runs on
          numpy + scipy's pocketfft on the CPU (faster there, torch not imported), on torch on
          a GPU; ``"numpy"`` with a GPU device is an error. The back-ends differ by FFT rounding only (the direct methods' transforms
          are float64 on numpy: NIF, which amplifies rounding through 1/H, up to ~3e-5).
        - ``progress``: a progress bar (``True``) or ``progress(iteration, num_iter)``.
        - ``rng``: seed or Generator for the noise of ``SIM``.

    Returns
    -------
    ndarray, float32, shape of ``image``

    Raises
    ------
    ValueError, TypeError
        Bad arguments, or a requested device that is absent (the message names the parameter and the allowed values).
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
    options = make_options(algorithm=algorithm, num_iter=num_iter, reg=reg, step=step,
                           scales=scales, params=params, pad=pad, apo=apo, norm=norm,
                           constraint=constraint, residu=residu, epsilon=epsilon, haar=haar,
                           max_growth=max_growth)
    return deconvolve_options(options, image, psf, device=device, callback=callback,
                              reference=reference, monitor=monitor, execution=execution)


def _make_monitor(options, ex, monitor, callback, reference):
    from .monitor import Monitor

    progress = ex.progress
    if callable(progress):
        report, total, user = progress, options.resolved.get("num_iter", 0), callback

        def callback(stats, estimate):  # noqa: F811 - wraps the user's callback
            report(stats.iteration, total)
            return None if user is None else user(stats, estimate)
        progress = False
    if monitor is None and (callback is not None or reference is not None or progress):
        return Monitor(reference=reference, callback=callback, progress=bool(progress))
    if monitor is not None:
        if reference is not None and monitor.reference is None:
            monitor.reference = reference.astype(np.float64)
            monitor.stats = True
        if callback is not None and monitor.callback is None:
            monitor.callback = callback
            monitor.stats = True
    return monitor


def deconvolve_options(options: DeconvOptions, image, psf, *, device=None, callback=None,
                       reference=None, monitor=None, execution: Execution | None = None):
    """:func:`deconvolve` driven by a :class:`DeconvOptions` (e.g. from :func:`parse_dl2`).

    The device is resolved once here (``"auto"`` decided and logged); a volume whose working
    arrays exceed ``execution.memory`` goes to :func:`fijibridge.deconv.tiling.run_blockwise`
    with this module's per-block solver.
    """
    ex = as_execution(execution, device=device).resolve()
    spec = options.spec
    _engine.choose_backend(spec.name, ex.device, ex.backend)  # checks backend before any work
    image_arr = np.asarray(image)
    working = options.pad.padded_shape(image_arr.shape) if options.pad is not None else image_arr.shape
    image_arr, psf_arr = check_inputs(image_arr, psf, working_shape=working)
    if reference is not None:
        reference = np.asarray(reference, dtype=np.float32)
        if reference.shape != image_arr.shape:
            raise ValueError(f"reference must have the image's shape {image_arr.shape}; got "
                             f"{reference.shape}")
    monitor = _make_monitor(options, ex, monitor, callback, reference)
    max_memory = ex.memory
    if max_memory is not None and memory_estimate(working, spec.name) > max_memory:
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
        return _blockwise(options, image_arr, psf_arr, ex, max_memory=int(max_memory - fixed))
    return _solve(options, image_arr, psf_arr, ex, monitor)


def _solve(options: DeconvOptions, image_arr, psf_arr, ex: Execution, monitor):
    """One piece: pad, apodize, normalise the PSF, iterate, crop (DL2's order)."""
    spec = options.spec
    params = options.resolved
    eps = options.epsilon if options.epsilon is not None else 1e-6
    y = pad_image(image_arr, options.pad)
    apodize(y, options.apo)
    norm = 1.0 if options.norm is None else options.norm
    h = prepare_psf(psf_arr, y.shape, norm)
    constraint = options.effective_constraint
    x = _engine.run(spec, params, y, h, image_shape=image_arr.shape, constraint=constraint,
                    residu=options.residu, epsilon=eps, monitor=monitor, device=ex.device,
                    max_growth=options.max_growth, haar=options.haar, rng=ex.rng,
                    backend=ex.backend, threads=ex.threads)
    del h
    x = np.ascontiguousarray(crop_image(x, image_arr.shape), dtype=np.float32)
    # DL2 Controller.finish: the constraint acts once more on the cropped result
    if constraint == "nonnegativity":
        np.maximum(x, 0, out=x)
    elif constraint == "clipped":
        np.clip(x, float(y.min()), float(y.max()), out=x)
    return x


def _blockwise(options, image_arr, psf_arr, ex, *, max_memory, block_shape=None, overlap=None):
    """Pad and apodize the whole volume once, then let the tiling strategy run ``_solve`` on
    each block (without padding or apodization of its own, and without a monitor)."""
    y = pad_image(image_arr, options.pad)
    apodize(y, options.apo)
    inner = dataclasses.replace(options, pad=None, apo=None, image=None, psf=None,
                                reference=None, extra={})
    block_ex = dataclasses.replace(ex, memory=None)

    def solve(block):
        block, psf_b = check_inputs(block, psf_arr)
        return _solve(inner, block, psf_b, block_ex, None)

    out = run_blockwise(y, psf_arr.shape, solve, max_memory=max_memory,
                        algorithm=options.algorithm, block_shape=block_shape, overlap=overlap)
    return np.ascontiguousarray(crop_image(out, image_arr.shape))


def deconvolve_tiled(image, psf, *, options: DeconvOptions | None = None, block_shape=None,
                     overlap=None, execution: Execution | None = None, device=None, **kwargs):
    """Deconvolve ``image`` block by block (see :mod:`fijibridge.deconv.tiling`); the
    algorithm as :func:`deconvolve`'s keywords (``algorithm=``, ``num_iter=`` …) or
    ``options=``.

    Parameters
    ----------
    block_shape : tuple of int, optional
        Core size of a block; default: the largest whose working arrays fit
        ``execution.memory`` (default 1 GiB).
    overlap : tuple of int, optional
        Margin per side and axis; default: the PSF's shape (a full PSF width per side).
    """
    if options is None:
        options = make_options(**kwargs)
    elif kwargs:
        raise ValueError(f"give either options= or algorithm keywords, not both: {sorted(kwargs)}")
    ex = as_execution(execution, device=device).resolve()
    _engine.choose_backend(options.algorithm, ex.device, ex.backend)
    image = np.asarray(image, dtype=np.float32)
    working = options.pad.padded_shape(image.shape) if options.pad is not None else image.shape
    image, psf = check_inputs(image, psf, working_shape=working)
    max_memory = DEFAULT_MAX_MEMORY if ex.memory is None else int(ex.memory)
    return _blockwise(options, image, psf, ex, max_memory=max_memory, block_shape=block_shape,
                      overlap=overlap)


def _resolve_path(path: str, cwd) -> Path:
    p = Path(path)
    if not p.is_absolute():
        p = Path(cwd or os.getcwd()) / p
    return p


_KEEP = object()


def run_dl2_text(text_or_options, *, cwd=None, device=None, monitor=None, max_growth=_KEEP,
                 haar=_KEEP, execution: Execution | None = None):
    """Run DL2 command text natively: read ``-image``/``-psf``/``-reference`` files (relative to
    ``cwd``), deconvolve, and return ``(result, TiffImage of the input)``.

    ``max_growth`` and ``haar``, when given, override the options' (see :class:`DeconvOptions`).

    Examples
    --------
    >>> run_dl2_text("-image file a.tif -psf file p.tif -algorithm RL 50")  # doctest: +SKIP
    """
    from .._core.tiff import read_tiff

    options = parse_dl2(text_or_options) if isinstance(text_or_options, str) else text_or_options
    over = {k: v for k, v in (("max_growth", max_growth), ("haar", haar)) if v is not _KEEP}
    if over:
        options = dataclasses.replace(options, **over)
    if options.image is None or options.psf is None:
        raise ValueError("DL2 text needs '-image file PATH' and '-psf file PATH'")
    img = read_tiff(_resolve_path(options.image, cwd))
    psf = read_tiff(_resolve_path(options.psf, cwd))
    ref = read_tiff(_resolve_path(options.reference, cwd)).data if options.reference else None
    data = _squeeze_stack(img.data, "image")
    result = deconvolve_options(options, data, _squeeze_stack(psf.data, "psf"), device=device,
                                reference=None if ref is None else _squeeze_stack(ref, "reference"),
                                monitor=monitor, execution=execution)
    return result, img


def _squeeze_stack(a, name):
    """A 3D array is (z, y, x) whatever the TIFF calls its first axis (ImageJ 'CYX' stacks)."""
    a = np.asarray(a)
    if a.ndim > 3:
        a = np.squeeze(a)
    if a.ndim not in (2, 3):
        raise ValueError(f"{name} must be a 2D image or a 3D stack; got shape {a.shape}")
    return a
