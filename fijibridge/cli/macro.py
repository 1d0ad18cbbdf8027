"""``fijibridge macro``: run an ImageJ macro on image files and write what it leaves."""

from __future__ import annotations

import re
from pathlib import Path

from ._common import add_common_options, is_quiet


def _pair(text: str, what: str, form: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"{what} must look like {form}; got {text!r}")
    return key, value


def _tif_name(title: str) -> str:
    """The file name :meth:`MacroResult.save` gives the image titled ``title``."""
    safe = re.sub(r"[^\w.\-]+", "_", title).strip("._") or "image"
    if safe.lower().endswith((".tif", ".tiff")):
        safe = safe.rsplit(".", 1)[0]
    return f"{safe}.tif"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "macro", help="run an ImageJ macro (.ijm) on images",
        description="Run MACRO.ijm with each --image open under its TITLE; write every image "
                    "left open as DIR/<title>.tif (ImageJ TIFF with calibration), "
                    "DIR/results.csv, DIR/log.txt and DIR/rois.zip when there are ROIs.")
    p.add_argument("macro", type=Path, help="the .ijm file")
    p.add_argument("--image", action="append", default=[], metavar="TITLE=PATH",
                   help="an input image (any format fijibridge reads; axes, calibration and "
                        "channel names kept), open under TITLE (repeatable)")
    p.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                   help="a macro parameter (#@ declaration / getArgument()) (repeatable)")
    add_common_options(p, output_required=True)
    p.add_argument("--engine", default="auto", help="auto|imagej|fiji")
    p.add_argument("--fiji-dir", help="a Fiji.app folder (default: $FIJI_HOME)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from .._core.outputs import check_not_input
    from ..bridge import open_session
    from ..io import read_image

    output_dir = Path(args.output_dir)
    if not args.macro.is_file():
        raise FileNotFoundError(f"macro file not found: {str(args.macro)!r}")
    inputs = {"MACRO": args.macro}
    pairs = [_pair(item, "--image", "TITLE=PATH") for item in args.image]
    inputs.update({f"--image {title}": path for title, path in pairs})
    fixed = ("results.csv", "log.txt", "rois.zip")
    check_not_input({f"--output-dir (its {n})": output_dir / n for n in fixed}, inputs)
    images = {title: read_image(path, lazy=False) for title, path in pairs}
    macro_args = dict(_pair(item, "--arg", "NAME=VALUE") for item in args.arg)
    session = open_session(args.engine, fiji_dir=args.fiji_dir)
    result = session.run_macro(args.macro, images=images, args=macro_args, timeout=args.timeout)
    # MacroResult.save writes <title>.tif per image left open: none may be an input
    check_not_input({f"--output-dir (image {t!r})": output_dir / f"{_tif_name(t)}"
                     for t in result.images}, inputs)
    written = result.save(output_dir)
    if not is_quiet(args):
        for path in written:
            print(path)
    return 0
