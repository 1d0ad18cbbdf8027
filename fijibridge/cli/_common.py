"""Options every command shares, defined once: ``-o/--output-dir``, ``--device``,
``--quiet`` and ``--channel``; and the two things commands do with them (read the input
image, place an output file).

Each command's ``add_parser`` ends with :func:`add_common_options`.  An option the
command already defines itself (same flag) is left as the command has it, so the call
is safe to add to any command.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

__all__ = ["add_common_options", "parse_device", "read_input", "output_file", "is_quiet",
           "DEVICE_HELP"]

_DEVICE = re.compile(r"(auto|cpu|mps|cuda(:\d+)?)")
DEVICE_HELP = "auto, cpu, cuda, cuda:N or mps (default auto: the library picks)"


def parse_device(text: str) -> str:
    """argparse type of ``--device``: the text itself when it is a device name."""
    value = str(text).strip().lower()
    if not _DEVICE.fullmatch(value):
        raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda, cuda:N or mps; got {text!r}")
    return value


def _has(parser: argparse.ArgumentParser, *flags: str) -> bool:
    return any(f in parser._option_string_actions for f in flags)


def add_common_options(parser: argparse.ArgumentParser, *, output: bool = True,
                       output_required: bool = False, output_metavar: str = "DIR",
                       output_help: str | None = None, device: bool = False,
                       channel: bool = False) -> argparse.ArgumentParser:
    """Add the shared options to a command's parser (flags it already has are skipped).

    ``-o/--output-dir`` (``args.output_dir``): the folder the command writes into
    (created).  A command that writes one file also accepts that file's name here
    (``-o mask.tif``); see :func:`output_file`.
    ``--device`` (``args.device``, default ``"auto"``): passed to the library as is.
    ``--quiet`` (``args.quiet``): no progress bars and no info/warning output.
    ``--channel NAME_OR_INDEX`` (``args.channel``): the channel of the input image.
    """
    if output and not _has(parser, "-o", "--output-dir"):
        parser.add_argument("-o", "--output-dir", dest="output_dir", metavar=output_metavar,
                            required=output_required, default=None,
                            help=output_help or "folder for the outputs (created)")
    if device and not _has(parser, "--device"):
        parser.add_argument("--device", type=parse_device, default="auto", metavar="DEVICE",
                            help=DEVICE_HELP)
    if not _has(parser, "-q", "--quiet"):
        parser.add_argument("-q", "--quiet", action="store_true",
                            help="no progress bars, no info or warning messages")
    if channel and not _has(parser, "--channel"):
        parser.add_argument("--channel", metavar="NAME_OR_INDEX", default=None,
                            help="use this channel of the input image, by name (as the file "
                                 "names it, e.g. Mito) or 0-based index")
    return parser


def is_quiet(args) -> bool:
    return bool(getattr(args, "quiet", False))


def read_input(path, args, *, what: str = "IMAGE"):
    """The image at ``path`` (any format :func:`fijibridge.read_image` reads), reduced to
    ``--channel`` when given; a channel not in the file → ``ValueError`` listing those present."""
    from ..io import read_image

    channel = getattr(args, "channel", None)
    try:
        return read_image(path, channel=channel)
    except ValueError as e:
        if channel is not None and "channel" in str(e):
            raise ValueError(f"--channel {channel}: {e}") from e
        raise


def output_file(args, default_name: str, *, suffixes: tuple[str, ...]) -> Path | None:
    """Where a one-file command writes: ``None`` without ``-o``; ``-o DIR`` →
    ``DIR/default_name`` (folder created); ``-o NAME`` ending in one of ``suffixes``
    (e.g. ``mask.tif``), or naming an existing file → that file."""
    target = getattr(args, "output_dir", None)
    if target is None:
        return None
    target = Path(target)
    if target.exists() and not target.is_dir():
        return target  # an existing file is named as the output (the command checks it)
    if target.name.lower().endswith(tuple(s.lower() for s in suffixes)) and not target.is_dir():
        return target
    target.mkdir(parents=True, exist_ok=True)
    return target / default_name
