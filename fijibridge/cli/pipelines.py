"""``fijibridge pipelines``: list the shipped pipelines (name and one-line description).

Each name can be given to ``fijibridge run NAME`` and ``fijibridge validate NAME``;
``--path`` also prints where the file is, to copy it and make it your own.
"""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


#: ``fijibridge pipelines --help``
DESCRIPTION = ("List the pipelines shipped with fijibridge; run one with `fijibridge run NAME`, "
               "or copy its file (--path) to adapt it.")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("pipelines", description=DESCRIPTION,
                              help="list the shipped pipelines (run them by name)")
    p.add_argument("--path", action="store_true", help="also print each pipeline's file")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..shipped import find_pipeline, pipeline_description, shipped_names

    names = shipped_names("pipelines")
    width = max((len(n) for n in names), default=0)
    for name in names:
        path = find_pipeline(name)
        line = f"{name:<{width}}  {pipeline_description(path)}"
        print(f"{line}\n{'':<{width}}  {path}" if args.path else line)
    return 0
