"""``fijibridge synth phantoms``: synthetic images with their ground truth.

Parses the options and calls :func:`fijibridge.synth.render.render_phantoms`, which
writes the files (listed there) into ``-o DIR``.
"""

from __future__ import annotations

import argparse

from ._common import add_common_options, is_quiet

__all__ = ["add_parser", "run"]

KIND_NAMES = ("nuclei", "mito", "golgi", "cells")  # as fijibridge.synth.render.KIND_NAMES


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "synth", help="synthetic phantoms and microscope images",
        description="Generate synthetic fluorescence data with ground truth.")
    sub = parser.add_subparsers(dest="synth_command", metavar="SUBCOMMAND")
    p = sub.add_parser(
        "phantoms", help="phantoms (nuclei, mito, golgi, cells) through a microscope model",
        description="Generate N phantoms, image them with a microscope model, write images, "
                    "labels, class masks, graphs and params.json.")
    p.add_argument("--kind", required=True,
                   help=f"phantom kind: {', '.join(KIND_NAMES)}")
    p.add_argument("--ndim", type=int, default=2, help="2 or 3 (default 2)")
    p.add_argument("--n", type=int, default=1, help="number of samples (default 1)")
    p.add_argument("--shape", type=int, nargs="+", metavar="N",
                   help="image shape (Y X or Z Y X); default depends on kind")
    p.add_argument("--spacing", type=float, nargs="+", metavar="UM",
                   help="voxel size in µm (Z Y X, or Y X in 2D); default depends on kind")
    p.add_argument("--phenotype", default=None,
                   help="mito/cells: fused, intermediate or fragmented")
    p.add_argument("--fusion", type=float, default=None,
                   help="mito/cells: degree of fusion in [0, 1] (overrides --phenotype)")
    p.add_argument("--psf", default="gaussian",
                   help="gaussian, BW (Born & Wolf from fijibridge.psf), auto, none "
                        "(no microscope: write the ground-truth density as float32), "
                        "or a PSF image file sampled at --spacing")
    p.add_argument("--na", type=float, default=1.4, help="numerical aperture (default 1.4)")
    p.add_argument("--wavelength", type=float, default=520.0,
                   help="emission wavelength in nm (default 520)")
    p.add_argument("--refractive-index", type=float, default=1.518,
                   help="immersion refractive index (default 1.518, oil)")
    p.add_argument("--mode", default="widefield", help="widefield or confocal")
    p.add_argument("--photons", type=float, default=200.0,
                   help="expected photons per voxel at density 1 (default 200)")
    p.add_argument("--background", type=float, default=10.0,
                   help="background photons per voxel (default 10)")
    p.add_argument("--gain", type=float, default=1.0, help="ADU per electron (default 1)")
    p.add_argument("--offset", type=float, default=100.0, help="camera offset, ADU (default 100)")
    p.add_argument("--read-noise", type=float, default=2.0, help="read noise, ADU (default 2)")
    p.add_argument("--bit-depth", type=int, default=16, choices=(8, 16),
                   help="8 or 16 (default 16)")
    p.add_argument("--z-step", type=int, default=1,
                   help="3D: keep every Nth plane after blurring (z undersampling)")
    p.add_argument("--elastic", type=float, default=0.0, metavar="ALPHA_UM",
                   help="elastic deformation, RMS displacement in µm (default 0: none)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-preview", action="store_true", help="do not write preview.png")
    add_common_options(p, output_required=True)
    p.set_defaults(func=run)
    parser.set_defaults(func=lambda args: _no_sub(parser))
    return parser


def _no_sub(parser) -> int:
    parser.print_help()
    return 2


def run(args) -> int:
    from ..synth.render import render_phantoms

    written = render_phantoms(
        args.kind, output_dir=args.output_dir, n=args.n, ndim=args.ndim, shape=args.shape,
        spacing=args.spacing, phenotype=args.phenotype, fusion=args.fusion, psf=args.psf,
        na=args.na, wavelength_nm=args.wavelength, refractive_index=args.refractive_index,
        mode=args.mode, photons=args.photons, background=args.background, gain=args.gain,
        offset=args.offset, read_noise=args.read_noise, bit_depth=args.bit_depth,
        z_step=args.z_step, elastic_um=args.elastic, seed=args.seed,
        preview=not args.no_preview)
    if not is_quiet(args):
        images = sum(p.name.endswith("_image.tif") for p in written)
        print(f"wrote {images} {args.kind} sample(s) to {args.output_dir}")
    return 0
