"""``fijibridge deconvolve``: DeconvolutionLab2's algorithms, natively or in ImageJ/Fiji.

Two forms::

    fijibridge deconvolve IMAGE --psf PSF --algorithm "RL 50" [--pad "E2 E2"] [--apo "HANN HANN"]
        [--norm 1|no] [--constraint nonnegativity] [--engine native|imagej|fiji]
        [--device auto|cpu|cuda|cuda:N|mps] [--backend auto|numpy|torch] -o OUT.tif
    fijibridge deconvolve --dl2 "-image file a.tif -psf file p.tif -algorithm RL 50" -o OUT.tif

File paths are relative to the working directory; IMAGE and PSF may be in any format
``fijibridge.read_image`` reads. The output is an ImageJ TIFF (float32) with the input's
calibration (uncalibrated stays uncalibrated), written atomically: on any error no
output file is left.  When both the image and the PSF state their voxel size and they
differ, the command stops naming both, unless ``--resample-psf`` (the PSF is then
resampled to the image's voxel size).
"""

from __future__ import annotations

import logging

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def add_parser(subparsers):
    p = subparsers.add_parser(
        "deconvolve", help="deconvolve a stack (DeconvolutionLab2 algorithms)",
        description=__doc__.split("\n\n")[0] + " Algorithms: NIF RIF TRIF RL RLTV LW NNLS BVLS "
        "VC TM ICTM ISTA FISTA (+ CONV SIM).")
    p.add_argument("image", nargs="?", help="input image (TIFF); not with --dl2")
    p.add_argument("--psf", help="PSF (TIFF)")
    p.add_argument("--resample-psf", action="store_true",
                   help="resample the PSF to the image's voxel size when their calibrations "
                        "differ (default: stop with an error naming both)")
    p.add_argument("--algorithm", help='algorithm and its DL2 parameters, e.g. "RL 50", '
                   '"TM 20 1 0.001", "FISTA 20 1 0.01 3"')
    p.add_argument("--dl2", metavar="TEXT", help="DeconvolutionLab2 option text (instead of "
                   "IMAGE/--psf/--algorithm …)")
    p.add_argument("--pad", help='DL2 padding "XY Z", e.g. "E2 E2" (NO X2 E2 X2X3 X2X3X5)')
    p.add_argument("--apo", help='DL2 apodization "XY Z", e.g. "HANN HANN" '
                   "(NO HANN HAMMING COS TUKEY WELCH)")
    p.add_argument("--norm", help="normalise the PSF to this sum, or 'no' (default 1)")
    p.add_argument("--constraint", help="no | nonnegativity | clipped")
    p.add_argument("--residu", type=float, help="stop when the relative change is below this")
    p.add_argument("--epsilon", type=float, help="division guard (default 1e-6)")
    p.add_argument("--reference", help="ground truth (TIFF) for PSNR/SNR statistics")
    p.add_argument("--engine", default="native", choices=("native", "imagej", "fiji"),
                   help="native (default) or the real DeconvolutionLab2 plugin in ImageJ/Fiji")
    p.add_argument("--device", default="auto",
                   help="auto (default: CUDA if available, then MPS, else CPU), cpu, cuda, "
                   "cuda:N or mps; a device that is absent is an error")
    p.add_argument("--backend", default="auto", choices=("auto", "numpy", "torch"),
                   help="native engine's back-end: auto (default: numpy + pocketfft on the "
                   "CPU, torch on a GPU), numpy, or torch (same results within float32 "
                   "rounding)")
    p.add_argument("--haar", default="dl2", choices=("dl2", "orthonormal"),
                   help="ISTA/FISTA wavelet shrinkage: DL2's (identical results) or corrected")
    p.add_argument("--max-growth", type=float, default=None,
                   help="divergence guard: max ||x||/||image|| (default 100; 0 disables)")
    p.add_argument("--max-memory", type=float, default=None,
                   help="memory budget in MB for the deconvolution's arrays, the volume's own copies "
                   "included: above it the volume is processed block-wise, and a budget below "
                   "the copies is refused (default 1024)")
    p.add_argument("--stats", metavar="CSV", help="write per-iteration statistics (CSV)")
    p.add_argument("--plot", metavar="PNG", help="write a convergence plot (PNG)")
    p.add_argument("--progress", action="store_true",
                   help="show the iterations' progress (the default; --quiet turns it off)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads (default: the cores available to this process)")
    p.add_argument("-o", "--output-dir", "--output", dest="output", required=True,
                   metavar="DIR|OUT.tif",
                   help="output folder (writes IMAGE_deconv.tif there) or output ImageJ TIFF")
    p.set_defaults(func=run)
    return p


def _options(args):
    from ..deconv.options import DeconvOptions, parse_dl2, split_cli_algorithm

    if args.dl2:
        clash = [n for n in ("image", "psf", "algorithm") if getattr(args, n)]
        if clash:
            raise ValueError(f"--dl2 gives the whole DL2 text; do not add {', '.join(clash)}")
        opts = parse_dl2(args.dl2)
        if opts.image is None or opts.psf is None:
            raise ValueError("--dl2 text needs '-image file PATH' and '-psf file PATH'")
        # explicit command-line options override the text
        overrides = {}
    else:
        missing = [n for n, v in (("IMAGE", args.image), ("--psf", args.psf),
                                  ("--algorithm", args.algorithm)) if not v]
        if missing:
            raise ValueError(f"missing {', '.join(missing)} (or give --dl2 TEXT)")
        name, params = split_cli_algorithm(args.algorithm)
        opts = DeconvOptions(name, params, image=args.image, psf=args.psf,
                             reference=args.reference)
        overrides = {}
    if args.pad is not None:
        overrides["pad"] = args.pad
    if args.apo is not None:
        overrides["apo"] = args.apo
    if args.norm is not None:
        overrides["norm"] = 0.0 if args.norm.strip().lower() == "no" else _number("--norm", args.norm)
    if args.constraint is not None:
        overrides["constraint"] = args.constraint
    if args.residu is not None:
        overrides["residu"] = args.residu
    if args.epsilon is not None:
        overrides["epsilon"] = args.epsilon
    if args.reference is not None:
        overrides["reference"] = args.reference
    if overrides:
        opts = DeconvOptions(**{**opts.__dict__, **overrides})
    return opts


def _number(name, text):
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number or 'no'; got {text!r}") from None


def _calibration(img, path, ndim):
    """Voxel size (z, y, x) of the image ``img`` read from ``path``; ImageJ stacks read as
    'CYX' keep their z spacing."""
    spacing = tuple(img.spacing)
    if ndim == 3 and len(spacing) == 2 and str(path).lower().endswith((".tif", ".tiff")):
        import tifffile

        with tifffile.TiffFile(path) as tif:
            z = (tif.imagej_metadata or {}).get("spacing", 1.0)
        spacing = (float(z),) + spacing
    elif ndim == 3 and len(spacing) == 2:
        spacing = (1.0,) + spacing
    return spacing


def _check_psf_spacing(image_img, image_path, psf_img, psf_path, ndim, psf, *, resample):
    """The PSF's pixels, resampled to the image's voxel size when ``resample``; an error
    naming both voxel sizes when both files state theirs and they differ."""
    if not (image_img.calibrated and psf_img.calibrated):
        return psf
    from ..psf.resample import resample_psf, same_spacing

    img_sp = _calibration(image_img, image_path, ndim)
    psf_sp = _calibration(psf_img, psf_path, psf.ndim)
    if len(img_sp) != len(psf_sp) or same_spacing(img_sp, psf_sp):
        return psf
    fmt = " × ".join
    if not resample:
        raise ValueError(f"the PSF {str(psf_path)!r} is sampled at "
                         f"{fmt(f'{v:g}' for v in psf_sp)} µm but the image "
                         f"{str(image_path)!r} at {fmt(f'{v:g}' for v in img_sp)} µm; render "
                         "the PSF at the image's voxel size (fijibridge psf --spacing "
                         f"{' '.join(f'{v:g}' for v in img_sp)} ...) or add --resample-psf")
    log.info("resampling the PSF from %s to %s µm", psf_sp, img_sp)
    return resample_psf(psf, psf_sp, img_sp)


def run(args) -> int:
    from pathlib import Path

    import numpy as np

    from .._core.tiff import write_tiff
    from ..deconv import core
    from ..io import read_image
    from ..deconv.monitor import Monitor

    opts = _options(args)
    if args.engine != "native":
        # the plugin runs its own engine: these would be ignored there, silently
        native_only = [name for name, given in (
            ("--device", args.device != "auto"), ("--backend", args.backend != "auto"),
            ("--threads", args.threads is not None), ("--haar", args.haar != "dl2"),
            ("--max-growth", args.max_growth is not None),
            ("--max-memory", args.max_memory is not None)) if given]
        if native_only:
            raise ValueError(f"{', '.join(native_only)} apply to the native engine only; the "
                             f"DeconvolutionLab2 plugin (--engine {args.engine}) runs its own: "
                             "drop them, or use --engine native")
    out = Path(args.output)
    if out.is_dir() or (not out.exists() and not out.suffix):
        out.mkdir(parents=True, exist_ok=True)  # a folder: named after the image
        out = out / f"{Path(opts.image).name.split('.')[0]}_deconv.tif"
    if out.suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(f"-o must name a folder or a .tif file; got {str(out)!r}")
    from .._core.outputs import check_not_input

    check_not_input({"-o": out, "--stats": args.stats, "--plot": args.plot},
                    {"IMAGE": opts.image, "--psf": opts.psf, "--reference": opts.reference})
    image_path = Path(opts.image)
    image_tiff = read_image(image_path, lazy=False)
    image = core._squeeze_stack(image_tiff.data, "image")
    psf_tiff = read_image(Path(opts.psf), lazy=False)
    psf = core._squeeze_stack(psf_tiff.data, "psf")
    psf = _check_psf_spacing(image_tiff, image_path, psf_tiff, Path(opts.psf), image.ndim, psf,
                             resample=args.resample_psf)
    if not image_tiff.calibrated:
        log.warning("%s states no pixel size: the PSF is taken as sampled like it and the "
                    "output is written uncalibrated; give the file its calibration (ImageJ: "
                    "Image > Properties) to keep µm", image_path)
    reference = (core._squeeze_stack(read_image(Path(opts.reference), lazy=False).data,
                                     "reference") if opts.reference else None)
    if args.engine == "native":
        from .._core.execution import Execution

        # torch is imported (by the engine) only where the algorithm runs on it: on the CPU
        # every algorithm runs on numpy/pocketfft, which saves ~1.2 s and ~160 MB per command
        execution = Execution(device=args.device, threads=args.threads, backend=args.backend,
                              memory=(core.DEFAULT_MAX_MEMORY if args.max_memory is None
                                      else int(args.max_memory * 2**20))).resolve()
        want_stats = bool(args.stats or args.plot or reference is not None)
        from ._common import is_quiet

        # iterations' progress on stderr (a bar on a terminal, a line every few seconds in
        # a log) unless --quiet; a monitor without statistics costs nothing per iteration
        show = not is_quiet(args)
        monitor = Monitor(reference=reference, progress=show, stats=want_stats) \
            if (want_stats or show) else None
        if args.max_growth is not None or args.haar != "dl2":
            from dataclasses import replace

            opts = replace(opts, haar=args.haar,
                           max_growth=opts.max_growth if args.max_growth is None
                           else (args.max_growth or None))
        result = core.deconvolve_options(opts, image, psf, monitor=monitor, execution=execution)
        if monitor is not None and monitor.history:
            if args.stats:
                monitor.save_csv(args.stats)
            if args.plot:
                monitor.plot(args.plot)
        elif args.stats or args.plot:
            log.warning("%s is not iterative: no per-iteration statistics to write", opts.algorithm)
    else:
        from ..deconv.dl2 import run_dl2

        try:
            from ..bridge import open_session
        except ImportError as e:
            from .._core.errors import EngineNotFoundError

            raise EngineNotFoundError(f"--engine {args.engine} needs fijibridge.bridge, which is "
                                      f"not available ({e}); use --engine native") from e
        session = open_session(engine=args.engine)
        result = run_dl2(image_path, Path(opts.psf), opts, session=session)
    spacing = _calibration(image_tiff, image_path, image.ndim)
    write_tiff(out, np.asarray(result, dtype=np.float32), spacing=spacing,
               axes="ZYX" if result.ndim == 3 else "YX",
               unit="micron" if image_tiff.calibrated else "pixel")
    log.info("wrote %s (%s, %s%s)", out, opts.algorithm_text(), args.engine,
             f", device {execution.device}" if args.engine == "native" else "")
    return 0
