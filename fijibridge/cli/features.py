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
``-o`` is a folder (the table is ``<input>_features.csv`` in it) or the table's name.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ._common import add_common_options, output_file, read_input

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


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


def _read_spatial(path, what):
    from ..io import read_image

    tif = read_image(path, lazy=False)
    if tif.axes not in ("YX", "ZYX"):
        raise ValueError(f"{what} {str(path)!r} has axes {tif.axes!r}; expected YX or ZYX. "
                         "Split channels / time points first (ImageJ: Image > Stacks)")
    return tif


def _write_csv(table, path):
    from .._core.atomic import atomic_write_text

    atomic_write_text(path, table.to_csv(index=False))
    log.info("wrote %s (%d rows)", path, len(table))


def _beside(out: Path, suffix: str) -> Path:
    return out.with_name(out.stem + suffix)


def _check_outputs(args, out: Path) -> None:
    """Every file this command will write, checked against its inputs before any work."""
    from .._core.outputs import check_not_input

    if args.skeleton:
        written = [out, out.with_suffix(".graphml"), _beside(out, ".components.csv"),
                   _beside(out, ".branches.csv")]
    else:
        written = [out, _beside(out, ".summary.csv")] + ([_beside(out, ".cells.csv")]
                                                         if args.cells else [])
    check_not_input({("-o" if p == out else f"-o (its {p.name!r})"): p for p in written},
                    {"LABELS_OR_MASK": args.input, "--image": args.image, "--cells": args.cells})


def run(args) -> int:
    import numpy as np

    from .._core.options import check_spacing
    out = output_file(args, f"{Path(args.input).name.split('.')[0]}_features.csv",
                      suffixes=(".csv",))
    _check_outputs(args, out)
    labels_tif = _read_spatial(args.input, "input")
    data = labels_tif.data
    if args.spacing is not None:
        spacing = check_spacing(tuple(args.spacing), data.ndim, name="--spacing")
    else:
        spacing = labels_tif.spacing[-data.ndim:]
        if not labels_tif.calibrated:
            log.warning("%s has no calibration; using 1 µm voxels (give --spacing)", args.input)
    image = channel_axis = None
    if args.image:
        img = read_input(args.image, args)  # --channel selects one channel
        if "T" in img.axes:
            raise ValueError(f"--image {args.image!r} has a time axis ({img.axes}); give one "
                             "time point")
        image = img.data
        channel_axis = img.axes.index("C") if "C" in img.axes else None
    cells = None
    if args.cells:
        cells = _read_spatial(args.cells, "--cells").data
        if cells.shape != data.shape:
            raise ValueError(f"--cells shape {cells.shape} does not match the input shape "
                             f"{data.shape}; the cell mask must cover the same field")

    if args.skeleton:
        from ..features import (branch_table, cell_table, component_table, network_metrics,
                                save_graphml, skeleton_graph)

        if channel_axis is not None:
            raise ValueError("--skeleton takes a single-channel --image; split channels first")
        graph = skeleton_graph(data != 0, spacing=spacing, image=image, cells=cells,
                               prune_um=args.prune)
        if cells is not None:
            table = cell_table(graph, np.unique(cells), rng=args.seed)
        else:
            import pandas as pd

            table = pd.DataFrame([{"image": Path(args.input).name,
                                   **network_metrics(graph, rng=args.seed)}])
        _write_csv(table, out)
        save_graphml(graph, out.with_suffix(".graphml"))
        _write_csv(component_table(graph, rng=args.seed), _beside(out, ".components.csv"))
        _write_csv(branch_table(graph), _beside(out, ".branches.csv"))
        return 0

    if args.prune:
        raise ValueError("--prune applies only with --skeleton")
    from ..features import aggregate_by_cell, assign_cells, image_summary, label_morphology

    table = label_morphology(data, spacing=spacing, image=image, channel_axis=channel_axis,
                             feret=not args.no_feret)
    if cells is not None:
        table.insert(1, "cell", assign_cells(data, cells).reindex(table["label"]).to_numpy())
        _write_csv(aggregate_by_cell(table), _beside(out, ".cells.csv"))
    summary = image_summary(table)
    summary.insert(0, "image", Path(args.input).name)
    _write_csv(summary, _beside(out, ".summary.csv"))
    _write_csv(table, out)
    return 0
