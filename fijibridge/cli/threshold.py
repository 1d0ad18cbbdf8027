"""``fijibridge threshold``: ImageJ's automatic thresholds of one image or of many.

One image: ``Method<TAB>lower<TAB>upper`` lines (``--json``: ``{"Method": [lower, upper]}``).
Several images or folders: ``file<TAB>Method<TAB>lower<TAB>upper`` lines (``--json``:
``{"file": {"Method": [lower, upper]}}``), masks into ``-o DIR`` as ``<image>_mask.tif``.
Every input and output is checked before any work: two inputs whose masks would share a
name, or a mask that would overwrite an input, are errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_common_options, output_file, read_input

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "threshold", help="ImageJ's auto-threshold (lower, upper) of an image",
        description="Compute ImageJ's setAutoThreshold values (identical to ImageJ 1.53t) "
                    "for one method or all 16.")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="image(s) or folder(s) of TIFFs (8-, 16- or 32-bit, 2D or stack; any "
                        "format fijibridge reads; --channel picks one channel)")
    p.add_argument("--method", default="Default", metavar="NAME|all",
                   help="ImageJ method name (Default, Huang, …, Yen) or 'all' (default: Default)")
    p.add_argument("--dark", action="store_true", help="dark background (bright objects)")
    p.add_argument("--16-bit", dest="full_16bit", action="store_true",
                   help="ImageJ's '16-bit' keyword (ignored by ImageJ 1.53t, and here)")
    p.add_argument("--stack", action="store_true", help="one histogram of all planes")
    p.add_argument("--json", action="store_true", help='print {"Method": [lower, upper], …}')
    add_common_options(p, output_metavar="DIR|MASK.tif", channel=True,
                       output_help="write the mask (0/255 uint8, ImageJ TIFF) of the first "
                                   "method: into DIR as <image>_mask.tif, or as MASK.tif "
                                   "(one image only)")
    p.set_defaults(func=run)
    return p


def _memory_map(path):
    """The stack as a read-only memory map, or ``None`` where the file does not allow it.

    Only an uncompressed, contiguous 8-, 16- or 32-bit (Y, X) or (Z, Y, X) TIFF is mapped;
    anything else (compressed, RGB, hyperstack, truncated, not a TIFF) returns ``None`` and
    is read, and checked, by :func:`~fijibridge.read_image`.
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
    except Exception:  # noqa: BLE001 - anything odd: read_image reads it and names the problem
        return None
    if data.dtype not in (np.uint8, np.uint16, np.float32) or data.ndim != len(axes):
        return None
    return data


def _mask_name(path) -> str:
    return f"{Path(path).name.split('.')[0]}_mask.tif"


def _plan(args) -> list[tuple[Path, Path | None]]:
    """``[(image, mask file or None)]``, checked before any work."""
    from .._core.outputs import check_not_input, check_unique_outputs
    from .segment import collect_images

    if len(args.images) == 1 and not Path(args.images[0]).is_dir():
        image = Path(args.images[0])
        output = output_file(args, _mask_name(image), suffixes=(".tif", ".tiff"))
        check_not_input({"-o": output}, {"IMAGE": str(image)})
        return [(image, output)]
    named = set(map(Path, args.images))  # folders: their TIFFs, not an earlier run's masks
    files = [f for f in collect_images(args.images)
             if f in named or not f.stem.endswith("_mask")]
    if args.output_dir is None:
        return [(f, None) for f in files]
    out_dir = Path(args.output_dir)
    if out_dir.suffix.lower() in (".tif", ".tiff") or (out_dir.exists() and not out_dir.is_dir()):
        raise ValueError(f"-o {args.output_dir}: with {len(files)} images -o names a folder "
                         "for <image>_mask.tif files, not one mask file")
    plan = [(f, out_dir / _mask_name(f)) for f in files]
    check_unique_outputs(plan)
    check_not_input([m for _, m in plan], {f"IMAGE #{i + 1}": f for i, f in enumerate(files)},
                    name="-o")
    out_dir.mkdir(parents=True, exist_ok=True)
    return plan


def run(args) -> int:
    import json

    plan = _plan(args)
    if len(plan) == 1:
        values = _one(args, *plan[0])
        if args.json:
            print(json.dumps({m: [lo, up] for m, (lo, up) in values.items()}, allow_nan=False))
        else:
            for m, (lo, up) in values.items():
                print(f"{m}\t{lo:.17g}\t{up:.17g}")
        return 0
    from .._core.progress import progress

    results = {}
    for image, mask in progress(plan, desc="threshold", unit="image",
                                enabled=not getattr(args, "quiet", False),
                                label=lambda pm: pm[0].name):
        values = _one(args, image, mask)
        results[str(image)] = values
        if not args.json:
            for m, (lo, up) in values.items():
                print(f"{image}\t{m}\t{lo:.17g}\t{up:.17g}", flush=True)
    if args.json:
        print(json.dumps({f: {m: [lo, up] for m, (lo, up) in v.items()}
                          for f, v in results.items()}, allow_nan=False))
    return 0


def _one(args, path, output) -> dict:
    """ImageJ's thresholds of the image at ``path`` (and its mask written to ``output``)."""
    import math

    import numpy as np

    from .._core.tiff import write_tiff
    from ..segment.thresholds import ALL_METHODS, thresholds

    path = str(path)
    methods = ALL_METHODS if args.method.lower() == "all" else (args.method,)
    # the stack histogram reads a memory-mapped stack plane by plane (peak ~ one plane);
    # a mask (-o) needs the calibration, so the file is read as a whole then
    image = None
    if args.stack and not output and args.channel is None:
        image = _memory_map(path)
    if image is None:
        tiff = read_input(path, args)
        image, axes = tiff.to_ndarray(), tiff.axes
    else:
        axes = "ZYX" if image.ndim == 3 else "YX"
    if image.ndim > 3:
        raise ValueError(f"{path}: thresholds need a 2D image or a 3D stack; got axes "
                         f"{axes!r} (shape {image.shape}); choose a channel with --channel "
                         "NAME_OR_INDEX, or split frames first")
    if image.dtype not in (np.uint8, np.uint16, np.float32):
        raise TypeError(f"{path}: ImageJ thresholds 8-, 16- or 32-bit images; got "
                        f"{image.dtype}")
    values = thresholds(image, methods=methods, dark=args.dark, full_16bit=args.full_16bit,
                        stack=args.stack)
    bad = {m: v for m, v in values.items() if not all(math.isfinite(x) for x in v)}
    if bad:  # thresholds() refuses the inputs that lead here; never print NaN/Infinity
        raise ValueError(f"{path}: no finite threshold for {', '.join(bad)} ({bad})")
    if output:
        first = next(iter(values))
        lo, up = values[first]
        mask = np.zeros(image.shape, np.uint8)
        if not ((lo, up) == (-1.0, -1.0) and image.dtype != np.uint8):
            planes = zip(mask, image) if image.ndim == 3 else [(mask, image)]
            for out, plane in planes:  # plane by plane: no whole-stack boolean temporaries
                out[(plane >= lo) & (plane <= up)] = 255
        write_tiff(output, tiff.with_data(mask))
    return values
