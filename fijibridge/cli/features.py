"""``fijibridge features``: morphology tables and skeleton network metrics.

Morphology (one row per label)::

    fijibridge features LABELS.tif [--image IMAGE.tif] [--spacing Z Y X] [--cells CELLS.tif] -o TABLE.csv

``TABLE.summary.csv`` holds the per-image summary (object count, totals, means).
With ``--cells`` each object gets the ``cell`` that covers most of it, and
``TABLE.cells.csv`` holds the per-cell summary.

Network metrics of a binary mask (one row per image, or per cell with ``--cells``)::

    fijibridge features MASK.tif --skeleton [--prune UM] [--spacing Z Y X] [--cells CELLS.tif] -o GRAPH.csv

beside which ``GRAPH.graphml`` (the graph), ``GRAPH.components.csv`` (one row per
connected component) and ``GRAPH.branches.csv`` (one row per branch) are written.
Every file is written atomically.  The spacing defaults to the file's calibration.
This command is :func:`fijibridge.features.measure.measure_files`.
``-o`` is a folder (the table is ``<input>_features.csv`` in it) or the table's name.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._common import add_common_options, output_file

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    p = subparsers.add_parser(
        "features", help="object morphology or skeleton network metrics of a label/mask image",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="LABELS_OR_MASK.tif",
                   help="label image (morphology) or binary mask (--skeleton), 2D or 3D")
    p.add_argument("--image", metavar="IMAGE",
                   help="intensity image (channels allowed, or one chosen with --channel) for "
                        "intensity columns")
    p.add_argument("--spacing", type=float, nargs="+", metavar="UM",
                   help="voxel size in µm, Z Y X (or Y X); default: the TIFF calibration")
    p.add_argument("--cells", metavar="CELLS.tif", help="cell label image for per-cell results")
    p.add_argument("--skeleton", action="store_true",
                   help="treat the input as a binary mask and measure its skeleton network")
    p.add_argument("--prune", type=float, default=0.0, metavar="UM",
                   help="with --skeleton: remove terminal spurs shorter than UM µm (default 0)")
    p.add_argument("--no-feret", action="store_true",
                   help="skip the Feret diameter (slow for very large objects)")
    p.add_argument("--seed", type=int, default=0, help="seed of the Louvain communities")
    add_common_options(p, output_required=True, output_metavar="DIR|TABLE.csv",
                       output_help="folder for <input>_features.csv and the files beside it, "
                                   "or the table's file name", channel=True)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..features.measure import measure_files

    out = output_file(args, f"{Path(args.input).name.split('.')[0]}_features.csv",
                      suffixes=(".csv",))
    measure_files(args.input, output=out, image=args.image, channel=args.channel,
                  spacing=args.spacing, cells=args.cells, skeleton=args.skeleton,
                  prune_um=args.prune, feret=not args.no_feret, seed=args.seed)
    return 0
