"""``fijibridge psf``: compute a PSF from a PSF Generator configuration or from options.

Examples::

    fijibridge psf --config bw.config -o psf.tif      # or -o DIR: DIR/psf.tif
    fijibridge psf --model BW --na 1.4 --wavelength 610 --ni 1.518 \\
        --shape 32 64 64 --spacing 0.25 0.1 0.1 -o psf.tif

The output is an ImageJ TIFF (float32, unless the configuration asks for 8 or 16
bits) with the voxel size as calibration, written atomically.
"""

from __future__ import annotations

import argparse
import logging

from ._common import add_common_options, output_file

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)

# option dest -> keyword of the model functions
_MODEL_OPTIONS = {
    "na": "na", "wavelength": "wavelength_nm", "ni": "ni", "ns": "ns", "ti": "ti_um",
    "particle_z": "particle_z_nm", "accuracy": "accuracy", "axial": "axial",
    "focus": "focus_nm", "defocus": "defocus_nm", "bessel_j2": "bessel_j2",
}


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "psf", help="compute a PSF (PSF Generator models or configuration files)",
        description="Compute a point-spread function with PSF Generator's models, from one "
                    "of its configuration files (--config) or from options (--model). "
                    "Units: wavelength nm, spacing µm (z y x).",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", metavar="FILE",
                        help="PSF Generator configuration file (key=value, as saved by the plugin)")
    source.add_argument("--model", metavar="NAME",
                        help="PSF Generator short name: BW, GL, RW, Gaussian, Lorentz, "
                             "Cardinale-Sine, Cosine, Circular-Pupil, Astigmatism, "
                             "Oriented-Gaussian, Double-Helix")
    parser.add_argument("--engine", choices=("native", "imagej", "fiji"), default="native",
                        help="native (default), or the real PSF Generator plugin in ImageJ/Fiji "
                             "(with --config)")
    parser.add_argument("--shape", nargs="+", type=int, metavar="N",
                        help="size in voxels: Z Y X (or Y X for one plane); required with --model")
    parser.add_argument("--spacing", nargs="+", type=float, metavar="UM",
                        help="voxel size in µm: Z Y X (or Y X); default 0.25 0.1 0.1")
    optics = parser.add_argument_group("model parameters (with --model; default: PSF Generator's)")
    optics.add_argument("--na", type=float, help="numerical aperture")
    optics.add_argument("--wavelength", type=float, metavar="NM", help="wavelength, nm")
    optics.add_argument("--ni", type=float, help="immersion refractive index (BW, GL, RW)")
    optics.add_argument("--ns", type=float, help="sample refractive index (GL)")
    optics.add_argument("--ti", type=float, metavar="UM", help="working distance ti0, µm (GL)")
    optics.add_argument("--particle-z", dest="particle_z", type=float, metavar="NM",
                        help="particle depth below the coverslip, nm (GL)")
    optics.add_argument("--accuracy", help="Good, Better or Best (BW, GL, RW)")
    optics.add_argument("--bessel-j2", dest="bessel_j2",
                        help="RW only: 'psfgenerator' (the plugin's numbers) or 'exact'")
    optics.add_argument("--axial", help="lateral/axial models: Linear, Exponential, Parabolic, Constant")
    optics.add_argument("--focus", type=float, metavar="NM", help="lateral/axial models: focal plane z, nm")
    optics.add_argument("--defocus", type=float, metavar="NM",
                        help="lateral/axial models: z where the size doubles, nm")
    parser.add_argument("--max-memory", dest="max_memory", type=float, default=None, metavar="MB",
                        help="memory budget, MB: a PSF that would need more is refused before "
                             "any work (default: the memory available now)")
    parser.add_argument("--normalize", default="max", choices=("max", "sum"),
                        help="scale to max 1 (PSF Generator) or sum 1 (deconvolution)")
    add_common_options(parser, output_required=True, output_metavar="DIR|PSF.tif",
                       output_help="folder for psf.tif, or the output TIFF's name")
    parser.set_defaults(func=run)
    return parser


def run(args) -> int:
    import inspect

    import numpy as np

    from .._core.options import did_you_mean
    from .._core.tiff import write_tiff
    from ..psf import config as psfconfig

    from .._core.outputs import check_not_input

    output = output_file(args, "psf.tif", suffixes=(".tif", ".tiff"))
    check_not_input({"-o": output}, {"--config": args.config})
    if args.max_memory is not None and not args.max_memory > 0:
        raise ValueError(f"--max-memory must be > 0 MB; got {args.max_memory}")
    max_memory = None if args.max_memory is None else args.max_memory * 2**20
    given = {dest: getattr(args, dest) for dest in _MODEL_OPTIONS if getattr(args, dest) is not None}
    if args.config is not None:
        if given or args.shape is not None or args.spacing is not None:
            names = ["--" + d.replace("_", "-") for d in given]
            names += [n for n, v in (("--shape", args.shape), ("--spacing", args.spacing)) if v]
            raise ValueError(f"--config takes every parameter from the file; remove "
                             f"{', '.join(names)} (or use --model instead of --config)")
        if args.engine != "native":
            from ..psf.plugin import run_psf_generator

            result = run_psf_generator(args.config, engine=args.engine)
            out = write_tiff(output, result)
            log.info("wrote PSF Generator's PSF from %s to %s", args.config, out)
            return 0
        cfg = psfconfig.read_psfgen_config(args.config)
        spacing = cfg.spacing
        if args.normalize == "sum":
            psf = cfg.generate(normalize="sum", dtype=np.float32, max_memory=max_memory)
        else:
            psf = psfconfig.apply_psfgen_output(cfg.generate(normalize="max", dtype=np.float64,
                                                             max_memory=max_memory),
                                                output_type=cfg.output_type, scale=cfg.scale)
        what = f"{cfg.model} from {args.config}"
    else:
        if args.engine != "native":
            raise ValueError("--engine imagej|fiji runs the real plugin from a configuration "
                             "file: use it with --config FILE")
        if args.shape is None:
            raise ValueError("--shape Z Y X (voxels) is required with --model")
        model = psfconfig.check_model(args.model)
        func = {"BW": psfconfig.born_wolf, "GL": psfconfig.gibson_lanni,
                "RW": psfconfig.richards_wolf}.get(model, psfconfig.lateral_axial)
        accepted = set(inspect.signature(func).parameters)
        params = {}
        for dest, value in given.items():
            keyword = _MODEL_OPTIONS[dest]
            if keyword not in accepted:
                usable = sorted("--" + d.replace("_", "-") for d, k in _MODEL_OPTIONS.items()
                                if k in accepted)
                raise ValueError(f"option --{dest.replace('_', '-')} does not apply to model "
                                 f"{model}; its options: {', '.join(usable)}."
                                 f"{did_you_mean(dest, [u[2:] for u in usable])}")
            params[keyword] = value
        spacing = args.spacing
        if spacing is None:
            spacing = (0.25, 0.1, 0.1)[-len(args.shape):]
        psf = psfconfig.generate_psf(model, tuple(args.shape), spacing=tuple(spacing),
                                     normalize=args.normalize, dtype=np.float32,
                                     max_memory=max_memory, **params)
        spacing = tuple(float(s) for s in spacing)
        what = model
    out = write_tiff(output, psf, spacing=spacing)
    log.info("wrote %s PSF %s (%s) to %s", what, psf.shape, psf.dtype, out)
    return 0
