"""``fijibridge psf``: compute a PSF from a PSF Generator configuration or from options.

Examples::

    fijibridge psf --config bw.config -o psf.tif      # or -o DIR: DIR/psf.tif
    fijibridge psf --model BW --na 1.4 --wavelength 610 --ni 1.518 \\
        --shape 32 64 64 --spacing 0.25 0.1 0.1 -o psf.tif

The output is an ImageJ TIFF (float32, unless the configuration asks for 8 or 16
bits) with the voxel size as calibration, written atomically.  This command is
:func:`fijibridge.psf.render.render_psf`.
"""

from __future__ import annotations

import argparse

from ._common import add_common_options, output_file

__all__ = ["add_parser", "run"]


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
    from ..psf.render import MODEL_OPTIONS, render_psf

    output = output_file(args, "psf.tif", suffixes=(".tif", ".tiff"))
    render_psf(output, config=args.config, model=args.model, engine=args.engine,
               shape=args.shape, spacing=args.spacing, normalize=args.normalize,
               options={name: getattr(args, name) for name in MODEL_OPTIONS},
               max_memory_mb=args.max_memory)
    return 0
