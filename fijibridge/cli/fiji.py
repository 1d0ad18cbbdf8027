"""``fijibridge fiji install --fiji-dir DIR [--dry-run]``

Copies fijibridge's scripts into a Fiji installation (``DIR/scripts/Plugins/fijibridge/``:
Plugins › fijibridge after a restart of Fiji) and the toolkit's ImageJ macros into
``DIR/macros/fijibridge/``, one line per file: copied, unchanged or replaced.  A file
you edited is never overwritten silently: it is kept as ``NAME.bak`` first and the line
says so.  An ImageJ 1.x folder (``plugins/`` beside ``ij.jar``) gets the Jython
scripts in ``plugins/fijibridge/`` and the macros.  See :mod:`fijibridge.fiji_install`.
"""

from __future__ import annotations

import argparse

__all__ = ["add_parser", "run"]


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "fiji", help="install the Fiji scripts and macros into a Fiji/ImageJ folder",
        description=__doc__.split("\n\n", 1)[1].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="fiji_command", metavar="ACTION", required=True)
    inst = sub.add_parser("install", help="copy the scripts and macros into DIR",
                          description="Copy fijibridge's Fiji scripts and ImageJ macros into a "
                                      "Fiji.app (or ImageJ 1.x) folder and say what was done.")
    inst.add_argument("--fiji-dir", required=True, metavar="DIR",
                      help="the Fiji.app folder (or an ImageJ 1.x folder with plugins/)")
    inst.add_argument("--dry-run", action="store_true", help="say what would be done; write nothing")
    inst.set_defaults(func=run)
    return p


def run(args) -> int:
    from pathlib import Path

    from ..fiji_install import install

    kind, actions, notes = install(args.fiji_dir, dry_run=args.dry_run)
    base = Path(args.fiji_dir).expanduser().resolve()
    for a in actions:
        print(("would be " if args.dry_run else "") + a.describe(base))
    for n in notes:
        print(f"note: {n}")
    counts: dict[str, int] = {}
    for a in actions:
        counts[a.action] = counts.get(a.action, 0) + 1
    what = ", ".join(f"{n} {k.replace('backed-up+replaced', 'backed up and replaced')}"
                     for k, n in sorted(counts.items()))
    where = "Fiji" if kind == "fiji" else "ImageJ 1.x"
    done = ("dry run: nothing written" if args.dry_run
            else "restart it to see the scripts under Plugins › fijibridge")
    print(f"{where} at {base}: {what} ({done})")
    return 0
