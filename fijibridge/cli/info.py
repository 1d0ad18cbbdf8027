"""``fijibridge info PATH [--json]``: axes, shape, calibration and channels of a file (showinf)."""

from __future__ import annotations

import json


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "info", help="axes, shape, voxel size (µm) and channel names of an image file",
        description="Read a microscopy file's metadata the way read_image does (OME-TIFF, "
                    "ImageJ TIFF, CZI, LIF, ND2, OME-Zarr, DeltaVision, OIB, IMS) and print "
                    "its format, axes, shape, dtype, voxel size in µm, channel names and "
                    "scenes.")
    p.add_argument("path", metavar="PATH", help="image file (or OME-Zarr folder)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object: format, axes, shape, dtype, spacing_um, "
                        "channels, scenes, calibrated")
    p.add_argument("--scene", type=int, default=None, help="scene / series index (default 0)")
    p.add_argument("--reader", default=None,
                   help="auto (default), a format name, or bioformats (needs a Bio-Formats jar)")
    p.set_defaults(func=run)


def summary(image) -> dict:
    """The ``--json`` object: exactly format, axes, shape, dtype, spacing_um, channels,
    scenes, calibrated."""
    return {
        "format": image.format,
        "axes": image.axes,
        "shape": list(image.shape),
        "dtype": str(image.dtype),
        "spacing_um": image.spacing_um,
        "channels": list(image.channels),
        "scenes": int(image.scenes),
        "calibrated": bool(image.calibrated),
    }


def run(args) -> int:
    from ..io import read_image

    image = read_image(args.path, scene=args.scene, reader=args.reader)
    if args.json:
        print(json.dumps(summary(image)))
        return 0
    sizes = " × ".join(f"{a}{n}" for a, n in image.sizes().items())
    lines = [f"{args.path}: {image.format}, scene {image.scene} of {image.scenes} "
             f"(0-based)",
             f"  axes   {image.axes}   shape {sizes}   {image.dtype}"]
    sp = image.spacing_um
    if image.calibrated:
        voxel = ", ".join(f"{k} {v:.6g}" if v is not None else f"{k} unknown"
                          for k, v in sp.items() if k != "z" or "Z" in image.axes)
        lines.append(f"  voxel  {voxel} µm")
    else:
        lines.append("  voxel  uncalibrated (the file states no physical pixel size)")
    if image.time_interval_s:
        lines.append(f"  time   {image.time_interval_s:.6g} s between frames")
    if image.channels:
        lines.append("  channels " + ", ".join(f"{i}: {c}" for i, c in enumerate(image.channels)))
    else:
        nc = image.sizes().get("C", 1)
        lines.append(f"  channels {nc} unnamed")
    print("\n".join(lines))
    return 0
