"""``fijibridge validate FILE``: check a pipeline file without running it.

Checks the structure (fields, built-in steps and their parameters and parameter values
— choices such as a threshold method or deconvolution algorithm, numeric ranges —,
output names, references, cycles, macro files) without importing user code or
starting Java; the file is read as plain, bounded YAML (no tags such as
``!!python/…``, no alias bombs, at most 1 MiB).  ``--resolve``
also reads the macros' ``#@`` parameters and imports Python steps to check their
signatures.
"""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("validate", help="check a pipeline file (no Java started)",
                              description="Check a pipeline file; errors name the line.")
    p.add_argument("pipeline", metavar="PIPELINE",
                   help="pipeline file, or a shipped name (see: fijibridge pipelines)")
    p.add_argument("--resolve", action="store_true",
                   help="also check macro #@ parameters and Python function signatures")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value before checking")
    p.add_argument("--profile", metavar="NAME", help="apply a profile declared in the file")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..pipeline import load_pipeline, parse_overrides, resolve_pipeline

    spec = load_pipeline(args.pipeline, overrides=parse_overrides(args.set),
                         profile=args.profile)
    notes = resolve_pipeline(spec) if args.resolve else []
    for n in notes:
        print(f"note: {n}")
    level = "structure, macro parameters and Python signatures" if args.resolve else "structure"
    print(f"{args.pipeline}: OK ({len(spec.steps)} steps; {level} checked)")
    return 0
