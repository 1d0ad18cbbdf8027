"""``fijibridge threshold``: ImageJ's automatic thresholds of an image."""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "threshold", help="ImageJ's auto-threshold (lower, upper) of an image",
        description="Compute ImageJ's setAutoThreshold values (identical to ImageJ 1.53t) "
                    "for one method or all 16.")
    p.add_argument("image", metavar="IMAGE", help="TIFF image (8-, 16- or 32-bit, 2D or stack)")
    p.add_argument("--method", default="Default", metavar="NAME|all",
                   help="ImageJ method name (Default, Huang, …, Yen) or 'all' (default: Default)")
    p.add_argument("--dark", action="store_true", help="dark background (bright objects)")
    p.add_argument("--16-bit", dest="full_16bit", action="store_true",
                   help="ImageJ's '16-bit' keyword (ignored by ImageJ 1.53t, and here)")
    p.add_argument("--stack", action="store_true", help="one histogram of all planes")
    p.add_argument("--json", action="store_true", help='print {"Method": [lower, upper], …}')
    p.add_argument("-o", "--output", metavar="MASK.tif",
                   help="write the mask (0/255 uint8, ImageJ TIFF) of the first method")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    import json

    import numpy as np

    from .._core.tiff import read_tiff, write_tiff
    from ..segment.thresholds import ALL_METHODS, thresholds

    tiff = read_tiff(args.image)
    image = tiff.data
    if image.ndim > 3:
        raise ValueError(f"{args.image}: thresholds need a 2D image or a 3D stack; got axes "
                         f"{tiff.axes!r} (shape {image.shape}); split channels/frames first")
    if image.dtype not in (np.uint8, np.uint16, np.float32):
        raise TypeError(f"{args.image}: ImageJ thresholds 8-, 16- or 32-bit images; got "
                        f"{image.dtype}")
    methods = ALL_METHODS if args.method.lower() == "all" else (args.method,)
    values = thresholds(image, methods=methods, dark=args.dark, full_16bit=args.full_16bit,
                        stack=args.stack)
    if args.json:
        print(json.dumps({m: [lo, up] for m, (lo, up) in values.items()}))
    else:
        for m, (lo, up) in values.items():
            print(f"{m}\t{lo:.17g}\t{up:.17g}")
    if args.output:
        first = next(iter(values))
        lo, up = values[first]
        mask = (image >= lo) & (image <= up)
        if (lo, up) == (-1.0, -1.0) and image.dtype != np.uint8:
            mask[...] = False
        write_tiff(args.output, mask.astype(np.uint8) * 255, spacing=tiff.spacing,
                   axes=tiff.axes)
    return 0
