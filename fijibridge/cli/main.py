"""Entry point of the ``fijibridge`` command.

Each sub-command lives in its own module ``fijibridge.cli.<name>`` that defines
``add_parser(subparsers)`` (creating its parser and setting ``func=run``) and
``run(args) -> int``; ``add_parser`` ends with
:func:`fijibridge.cli._common.add_common_options` (``-o/--output-dir``, ``--device``,
``--quiet``, ``--channel``: the same meaning in every command).  Those modules import heavy packages (torch, the bridge) only
inside ``run``, so ``fijibridge --help`` stays fast and starts no JVM.

Errors: a :class:`~fijibridge.FijiBridgeError`, ``ValueError``, ``TypeError``, any
``OSError`` (file not found, not a directory, permission denied, disk full …, with the path
it concerns), ``MemoryError`` or ``KeyboardInterrupt`` ends the command with one line on
stderr and a non-zero exit code (2 for bad arguments, 1 for failures, 130 for Ctrl-C);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import sys

from .._core.errors import FijiBridgeError, MacroError
from ._common import add_common_options

__all__ = ["main", "build_parser", "COMMANDS"]

#: sub-command modules, in the order ``--help`` lists them
COMMANDS = (
    "doctor", "macro", "psf", "deconvolve", "threshold", "segment", "train", "synth",
    "generate", "features", "classify", "run", "validate", "pipelines", "fiji",
    "filter",
    "info",
)

log = logging.getLogger("fijibridge")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="fijibridge",
        description="Run ImageJ/Fiji macros, deconvolution and deep-learning steps in one pipeline.")
    parser.add_argument("--version", action="version", version=f"fijibridge {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v info, -vv debug)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__package__}.{name}").add_parser(sub)
        _ensure_common(sub.choices[name])
    return parser


def _ensure_common(parser: argparse.ArgumentParser) -> None:
    """Every (sub-)command has the shared options (``--quiet`` at least); a command's own
    ``add_common_options`` call has already added the ones it uses, which are kept."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        add_common_options(parser, output=False)
    for action in subs:
        for child in set(action.choices.values()):
            _ensure_common(child)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    if getattr(args, "quiet", False):  # every command's --quiet (cli/_common.py)
        level = logging.ERROR
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if args.verbose < 2:
        # tifffile logs what is wrong with a broken file; read_tiff turns it into the one-line
        # ImageFormatError, so the log line is shown only with -vv
        logging.getLogger("tifffile").propagate = False
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("fijibridge: interrupted", file=sys.stderr)
        return 130
    except (FijiBridgeError, OSError, MemoryError, ValueError, TypeError) as e:
        if args.debug:
            raise
        print(f"fijibridge {args.command}: {_error_line(e)}", file=sys.stderr)
        return 2 if isinstance(e, (ValueError, TypeError)) and not isinstance(
            e, (FijiBridgeError, OSError)) else 1


def _error_line(e: BaseException) -> str:
    """One line for an error that ends a command: a macro error as ``file:line: message``,
    our own errors with their class name, OS errors naming their path, bad input marked."""
    if isinstance(e, MacroError):
        return str(e)
    if isinstance(e, FijiBridgeError):
        return f"{type(e).__name__}: {_one_line(e)}"
    if isinstance(e, OSError):  # FileNotFoundError, NotADirectoryError, PermissionError, ENOSPC …
        return f"{type(e).__name__}: {_os_message(e)}"
    if isinstance(e, MemoryError):
        return (f"MemoryError: not enough memory{': ' if str(e) else ''}{_one_line(e)} (use a "
                "smaller input, or the command's --max-memory where it has one)")
    return f"invalid input: {_one_line(e)}"


def _one_line(e: BaseException) -> str:
    """The exception's message on one line (continuation lines joined with ' | ')."""
    return " | ".join(line.strip() for line in str(e).splitlines() if line.strip())


def _os_message(e: OSError) -> str:
    """``OSError`` text that always names the path(s) it concerns."""
    if e.filename is None or e.strerror is None:
        return _one_line(e)  # our own message (it names the path) or a bare errno text
    text = f"{e.strerror}: {str(e.filename)!r}"
    if e.filename2 is not None:
        text += f" -> {str(e.filename2)!r}"
    if e.errno == errno.ENOTDIR:
        text += " (a part of this path is a regular file, not a folder)"
    elif e.errno == errno.EEXIST and os.path.isfile(e.filename):
        text += " (a regular file is where a folder is needed)"
    elif e.errno == errno.EISDIR:
        text += " (this is a folder; give a file)"
    return text


def entry() -> None:
    """Console-script entry point: :func:`main`, then exit with its status.

    When a command started the JVM (ImageJ/Fiji), the process ends with ``os._exit``
    after flushing its streams: every output is already written (atomically), and
    tearing the embedded JVM down at interpreter exit can block on ImageJ's threads.
    """
    status = main()
    if "jpype" in sys.modules and sys.modules["jpype"].isJVMStarted():
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    entry()
