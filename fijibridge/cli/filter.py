"""``fijibridge filter``: one preprocessing filter on an image, sizes in µm."""

from __future__ import annotations

import argparse

from ._common import add_common_options, is_quiet, output_file, read_input

__all__ = ["add_parser", "run"]


#: ``fijibridge filter --help``
DESCRIPTION = ("Apply one filter to a 2D image or a 3D stack; the spacing comes from the file's "
               "calibration and is kept in the output. Subtract Background gives ImageJ "
               "1.53t's numbers.")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("filter", description=DESCRIPTION, help="background subtraction, "
                              "smoothing and ridge filters (sizes in µm)")
    p.add_argument("image", metavar="IMAGE",
                   help="image (2D or Z stack; any format fijibridge reads; --channel picks "
                        "one channel of a multi-channel file)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--subtract-background", type=float, metavar="RADIUS_UM",
                   help="ImageJ's Subtract Background, rolling ball radius in µm")
    g.add_argument("--gaussian", type=float, metavar="SIGMA_UM", help="Gaussian, sigma in µm")
    g.add_argument("--median", type=float, metavar="R_UM", help="median, radius in µm")
    g.add_argument("--clahe", nargs="?", type=float, const=-1.0, metavar="KERNEL_UM",
                   help="CLAHE, tile size in µm (default 1/8 of the image)")
    g.add_argument("--tubeness", type=float, metavar="SIGMA_UM", help="Fiji Tubeness, sigma in µm")
    g.add_argument("--sato", type=float, nargs="+", metavar="SIGMA_UM", help="Sato, scales in µm")
    g.add_argument("--frangi", type=float, nargs="+", metavar="SIGMA_UM", help="Frangi, scales in µm")
    p.add_argument("--light", action="store_true", help="light background (Subtract Background)")
    p.add_argument("--paraboloid", action="store_true", help="sliding paraboloid (Subtract Background)")
    p.add_argument("--no-smoothing", action="store_true",
                   help="ImageJ's 'disable smoothing' (Subtract Background)")
    p.add_argument("--create-background", action="store_true",
                   help="write the background instead of subtracting it")
    add_common_options(p, output_required=True, output_metavar="DIR|OUT.tif",
                       output_help="folder for <image>_filtered.tif, or the output TIFF's name",
                       channel=True)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from pathlib import Path

    import numpy as np

    from .._core.tiff import write_tiff
    from .. import filters

    output = output_file(args, f"{Path(args.image).name.split('.')[0]}_filtered.tif",
                         suffixes=(".tif", ".tiff"))
    tiff = read_input(args.image, args)
    image = tiff.to_ndarray()
    if tiff.axes not in ("YX", "ZYX"):
        raise ValueError(f"{args.image}: filters need a 2D image or a Z stack; got axes "
                         f"{tiff.axes!r} (shape {image.shape}); choose one channel with "
                         f"--channel NAME_OR_INDEX (channels: {tiff._channel_list()}) or split "
                         "frames first")
    spacing = tiff.spacing
    if args.subtract_background is not None:
        out = filters.subtract_background(
            image, radius_um=args.subtract_background, spacing=spacing,
            light_background=args.light, paraboloid=args.paraboloid,
            smoothing=not args.no_smoothing, create_background=args.create_background)
    elif args.gaussian is not None:
        out = filters.gaussian(image, sigma_um=args.gaussian, spacing=spacing)
    elif args.median is not None:
        out = filters.median(image, radius_um=args.median, spacing=spacing)
    elif args.clahe is not None:
        kernel = None if args.clahe == -1.0 else args.clahe
        out = filters.clahe(image, kernel_um=kernel, spacing=spacing)
    elif args.tubeness is not None:
        out = filters.tubeness(image, sigma_um=args.tubeness, spacing=spacing)
    elif args.sato is not None:
        out = filters.sato(image, sigmas_um=args.sato, spacing=spacing)
    else:
        out = filters.frangi(image, sigmas_um=args.frangi, spacing=spacing)
    if out.dtype == np.float64:
        out = out.astype(np.float32)
    write_tiff(output, tiff.with_data(out))  # the input's axes, calibration and channel name
    if not is_quiet(args):
        print(output)
    return 0
