"""Entry point of the ``fijibridge`` command.

Each sub-command lives in its own module ``fijibridge.cli.<name>`` that defines
``add_parser(subparsers)`` (creating its parser and setting ``func=run``) and
``run(args) -> int``.  Those modules import heavy packages (torch, the bridge) only
inside ``run``, so ``fijibridge --help`` stays fast and starts no JVM.

Errors: a :class:`~fijibridge.FijiBridgeError`, ``ValueError``, ``TypeError``,
``FileNotFoundError`` or ``KeyboardInterrupt`` ends the command with one line on
stderr and a non-zero exit code (2 for bad arguments, 1 for failures, 130 for Ctrl-C);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .._core.errors import FijiBridgeError, MacroError

__all__ = ["main", "build_parser", "COMMANDS"]

#: sub-command modules, in the order ``--help`` lists them
COMMANDS = (
    "doctor", "macro", "psf", "deconvolve", "threshold", "segment", "train", "synth",
    "generate", "features", "classify", "run", "validate", "pipelines", "fiji",
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
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"{__package__}.{name}":
                continue  # command not built yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("fijibridge: interrupted", file=sys.stderr)
        return 130
    except MacroError as e:  # already 'file:line: message'
        if args.debug:
            raise
        print(f"fijibridge {args.command}: {e}", file=sys.stderr)
        return 1
    except (FijiBridgeError, FileNotFoundError, IsADirectoryError, PermissionError) as e:
        if args.debug:
            raise
        print(f"fijibridge {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    except (ValueError, TypeError) as e:
        if args.debug:
            raise
        print(f"fijibridge {args.command}: invalid input: {e}", file=sys.stderr)
        return 2


def entry() -> None:
    """Console-script entry point: :func:`main`, then exit with its status.

    When a command started the JVM (ImageJ/Fiji), the process ends with ``os._exit``
    after flushing its streams: every output is already written (atomically), and
    tearing the embedded JVM down at interpreter exit can block on ImageJ's threads.
    """
    import os

    status = main()
    if "jpype" in sys.modules and sys.modules["jpype"].isJVMStarted():
        sys.stdout.flush()
        sys.stderr.flush()
        logging.shutdown()
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    entry()
