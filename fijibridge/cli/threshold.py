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


def _memory_map(path):
    """The stack as a read-only memory map, or ``None`` where the file does not allow it.

    Only an uncompressed, contiguous 8-, 16- or 32-bit (Y, X) or (Z, Y, X) TIFF is mapped;
    anything else (compressed, RGB, hyperstack, truncated, not a TIFF) returns ``None`` and
    is read, and checked, by :func:`~fijibridge._core.tiff.read_tiff`.
    """
    import numpy as np
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            axes = series.axes.upper().replace("I", "Z").replace("Q", "Z")
            if axes not in ("YX", "ZYX") or series.dataoffset is None:
                return None
        data = tifffile.memmap(path, mode="r")
    except Exception:  # noqa: BLE001 - anything odd: read_tiff reads it and names the problem
        return None
    if data.dtype not in (np.uint8, np.uint16, np.float32) or data.ndim != len(axes):
        return None
    return data


def run(args) -> int:
    import json
    import math

    import numpy as np

    from .._core.outputs import check_not_input
    from .._core.tiff import read_tiff, write_tiff
    from ..segment.thresholds import ALL_METHODS, thresholds

    check_not_input({"-o": args.output}, {"IMAGE": args.image})
    methods = ALL_METHODS if args.method.lower() == "all" else (args.method,)
    # the stack histogram reads a memory-mapped stack plane by plane (peak ~ one plane);
    # a mask (-o) needs the calibration, so the file is read as a whole then
    image = _memory_map(args.image) if args.stack and not args.output else None
    if image is None:
        tiff = read_tiff(args.image)
        image, axes = tiff.data, tiff.axes
    else:
        axes = "ZYX" if image.ndim == 3 else "YX"
    if image.ndim > 3:
        raise ValueError(f"{args.image}: thresholds need a 2D image or a 3D stack; got axes "
                         f"{axes!r} (shape {image.shape}); split channels/frames first")
    if image.dtype not in (np.uint8, np.uint16, np.float32):
        raise TypeError(f"{args.image}: ImageJ thresholds 8-, 16- or 32-bit images; got "
                        f"{image.dtype}")
    values = thresholds(image, methods=methods, dark=args.dark, full_16bit=args.full_16bit,
                        stack=args.stack)
    bad = {m: v for m, v in values.items() if not all(math.isfinite(x) for x in v)}
    if bad:  # thresholds() refuses the inputs that lead here; never print NaN/Infinity
        raise ValueError(f"{args.image}: no finite threshold for {', '.join(bad)} ({bad})")
    if args.json:
        print(json.dumps({m: [lo, up] for m, (lo, up) in values.items()}, allow_nan=False))
    else:
        for m, (lo, up) in values.items():
            print(f"{m}\t{lo:.17g}\t{up:.17g}")
    if args.output:
        first = next(iter(values))
        lo, up = values[first]
        mask = np.zeros(image.shape, np.uint8)
        if not ((lo, up) == (-1.0, -1.0) and image.dtype != np.uint8):
            planes = zip(mask, image) if image.ndim == 3 else [(mask, image)]
            for out, plane in planes:  # plane by plane: no whole-stack boolean temporaries
                out[(plane >= lo) & (plane <= up)] = 255
        write_tiff(args.output, mask, spacing=tiff.spacing, axes=tiff.axes)
    return 0
