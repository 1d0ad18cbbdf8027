"""Measure a label image or a binary mask from files and write the tables beside each other.

:func:`measure_files` is ``fijibridge features``: it reads the inputs, computes and
writes, for a table ``T.csv``:

Morphology (one row per label)::

    T.csv            one row per object
    T.summary.csv    the per-image summary (object count, totals, means)
    T.cells.csv      with ``cells``: the per-cell summary

Network metrics of a binary mask (``skeleton=True``; one row per image, or per cell)::

    T.csv              one row per image (or per cell with ``cells``)
    T.graphml          the graph
    T.components.csv   one row per connected component
    T.branches.csv     one row per branch

Every file is written atomically.  The outputs are checked against the inputs before
any work.  Error messages name the ``fijibridge features`` options.
"""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["measure_files", "written_files"]

log = logging.getLogger(__name__)


def _beside(out: Path, suffix: str) -> Path:
    return out.with_name(out.stem + suffix)


def written_files(output, *, skeleton: bool = False, cells: bool = False) -> list[Path]:
    """The files :func:`measure_files` writes for the table ``output``, table first."""
    out = Path(output)
    if skeleton:
        return [out, out.with_suffix(".graphml"), _beside(out, ".components.csv"),
                _beside(out, ".branches.csv")]
    return [out, _beside(out, ".summary.csv")] + ([_beside(out, ".cells.csv")] if cells else [])


def _read_spatial(path, what):
    from ..io import read_image

    tif = read_image(path, lazy=False)
    if tif.axes not in ("YX", "ZYX"):
        raise ValueError(f"{what} {str(path)!r} has axes {tif.axes!r}; expected YX or ZYX. "
                         "Split channels / time points first (ImageJ: Image > Stacks)")
    return tif


def _write_csv(table, path, calibrated: bool):
    from .._core.atomic import atomic_write_text

    if "calibrated" not in table.columns:  # whether the *_um columns are µm or pixels
        table = table.assign(calibrated=bool(calibrated))
    atomic_write_text(path, table.to_csv(index=False))
    log.info("wrote %s (%d rows)", path, len(table))


def measure_files(labels_path, *, output, image=None, channel=None, spacing=None, cells=None,
                  skeleton: bool = False, prune_um: float = 0.0, feret: bool = True,
                  seed: int = 0) -> list[Path]:
    """Measure the label image (or, with ``skeleton``, the binary mask) at ``labels_path``
    and write the tables named in the module doc.

    Parameters
    ----------
    labels_path : str or Path
        Label image (morphology) or binary mask (``skeleton=True``), axes YX or ZYX.
    output : str or Path
        The main table's file (``.csv``); the other files are written beside it.
    image : str or Path, optional
        Intensity image for the intensity columns (channels allowed, or one chosen
        with ``channel``; a single channel with ``skeleton``).
    channel : str or int, optional
        The channel of ``image`` to use (name or index).
    spacing : sequence of float, optional
        Voxel size in µm, Z Y X (or Y X); default: the file's calibration (1 µm
        voxels, with a warning, when it has none).
    cells : str or Path, optional
        Cell label image of the same shape: per-cell results.
    skeleton : bool
        Measure the skeleton network of the mask instead of the label morphology.
    prune_um : float
        With ``skeleton``: remove terminal spurs shorter than this, µm.
    feret : bool
        Compute the Feret diameter (slow for very large objects).
    seed : int
        Seed of the Louvain communities.

    Returns
    -------
    list of Path
        The files written, the main table first.

    Raises
    ------
    ValueError
        An output is one of the inputs, an input has other axes than YX/ZYX, shapes
        disagree, or an option does not apply.

    Examples
    --------
    >>> measure_files("labels.tif", output="out/labels_features.csv")  # doctest: +SKIP
    [PosixPath('out/labels_features.csv'), PosixPath('out/labels_features.summary.csv')]
    """
    import numpy as np

    from .._core.options import check_spacing
    from .._core.outputs import check_not_input

    out = Path(output)
    written = written_files(out, skeleton=skeleton, cells=cells is not None)
    check_not_input({("-o" if p == out else f"-o (its {p.name!r})"): p for p in written},
                    {"LABELS_OR_MASK": labels_path, "--image": image, "--cells": cells})
    labels_tif = _read_spatial(labels_path, "input")
    data = labels_tif.data
    calibrated = spacing is not None or bool(labels_tif.calibrated)
    if spacing is not None:
        spacing = check_spacing(tuple(spacing), data.ndim, name="--spacing")
    else:
        spacing = labels_tif.spacing[-data.ndim:]
        if not labels_tif.calibrated:
            log.warning("%s has no calibration; using 1 µm voxels (give --spacing)", labels_path)
    intensity = channel_axis = None
    if image:
        from ..io import read_image

        try:
            img = read_image(image, channel=channel)
        except ValueError as e:
            if channel is not None and "channel" in str(e):
                raise ValueError(f"--channel {channel}: {e}") from e
            raise
        if "T" in img.axes:
            raise ValueError(f"--image {image!r} has a time axis ({img.axes}); give one "
                             "time point")
        intensity = img.data
        channel_axis = img.axes.index("C") if "C" in img.axes else None
    cell_data = None
    if cells:
        cell_data = _read_spatial(cells, "--cells").data
        if cell_data.shape != data.shape:
            raise ValueError(f"--cells shape {cell_data.shape} does not match the input shape "
                             f"{data.shape}; the cell mask must cover the same field")

    if skeleton:
        from . import (branch_table, cell_table, component_table, network_metrics,
                       save_graphml, skeleton_graph)

        if channel_axis is not None:
            raise ValueError("--skeleton takes a single-channel --image; split channels first")
        graph = skeleton_graph(data != 0, spacing=spacing, image=intensity, cells=cell_data,
                               prune_um=prune_um)
        if cell_data is not None:
            table = cell_table(graph, np.unique(cell_data), rng=seed)
        else:
            import pandas as pd

            table = pd.DataFrame([{"image": Path(labels_path).name,
                                   **network_metrics(graph, rng=seed)}])
        _write_csv(table, written[0], calibrated)
        save_graphml(graph, written[1])
        _write_csv(component_table(graph, rng=seed), written[2], calibrated)
        _write_csv(branch_table(graph), written[3], calibrated)
        return written

    if prune_um:
        raise ValueError("--prune applies only with --skeleton")
    from . import aggregate_by_cell, assign_cells, image_summary, label_morphology

    table = label_morphology(data, spacing=spacing, image=intensity, channel_axis=channel_axis,
                             feret=feret)
    if cell_data is not None:
        table.insert(1, "cell", assign_cells(data, cell_data).reindex(table["label"]).to_numpy())
        _write_csv(aggregate_by_cell(table), written[2], calibrated)
    summary = image_summary(table)
    summary.insert(0, "image", Path(labels_path).name)
    _write_csv(summary, written[1], calibrated)
    _write_csv(table, written[0], calibrated)
    return written
