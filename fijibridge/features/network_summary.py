"""One image's skeleton network in numbers: the row of ``networks.csv`` and the
per-object table of the ``mito_network_3d`` pipeline.

:func:`network_summary` skeletonizes a 2D/3D mask (:func:`~.skeleton.skeleton_graph`),
and returns

* ``row`` — one dict per image with :data:`IMAGE_COLUMNS` (MiNA's names where it has
  them: *branches* are the graph's edges, *junctions* its nodes of degree ≥ 3,
  *endpoints* its nodes of degree 1; lengths in µm through ``spacing``);
* ``objects`` — one row per connected skeleton component (:func:`~.graph.component_table`)
  with the bounding box of its skeleton in µm (``extent_z_um`` …) and the fraction of
  the image's extent it spans per axis (``span_*``): a component that spreads through
  the background (a thresholded slab rather than tubules) spans the whole field;
* ``skeleton`` — the one-voxel skeleton (bool array, before pruning) for overlays and
  ImageJ.

Numbers are exactly those of :func:`~.graph.network_metrics` on the same graph; this
module only selects, renames (``n_branches`` = ``n_edges``) and adds extents.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .._core.options import check_positive, check_spacing

__all__ = ["IMAGE_COLUMNS", "NetworkSummary", "network_summary"]

#: columns of one image's row, in order (see the module docstring)
IMAGE_COLUMNS = ("n_components", "total_length_um", "n_branches", "n_junctions", "n_endpoints",
                 "n_isolated", "mean_branch_length_um", "mean_branch_width_um",
                 "largest_component_fraction", "largest_component_length_um", "n_cycles",
                 "skeleton_voxels", "mask_fraction")


@dataclasses.dataclass
class NetworkSummary:
    """What :func:`network_summary` returns (see the module docstring)."""

    row: dict
    objects: pd.DataFrame
    skeleton: np.ndarray
    graph: object  # networkx.MultiGraph


def _component_extents(graph, spacing, shape) -> pd.DataFrame:
    """Per component (numbered as :func:`component_table`: by decreasing length) the
    bounding box of its node centres (µm) and the fraction of the field it spans."""
    import networkx as nx

    comps = [graph.subgraph(c) for c in nx.connected_components(graph)]
    comps.sort(key=lambda g: -sum(d["length_um"] for _, _, d in g.edges(data=True)))
    axes = "zyx"[-len(shape):]
    field = [max((n - 1) * s, s) for n, s in zip(shape, spacing)]
    rows = []
    for i, sub in enumerate(comps, start=1):
        row = {"component": i}
        for a, size in zip(axes, field):
            pos = np.array([d[f"{a}_um"] for _, d in sub.nodes(data=True)])
            ext = float(pos.max() - pos.min()) if pos.size else 0.0
            row[f"extent_{a}_um"] = ext
            row[f"span_{a}"] = ext / size
        rows.append(row)
    columns = ["component"] + [f"extent_{a}_um" for a in axes] + [f"span_{a}" for a in axes]
    return pd.DataFrame(rows, columns=columns)


def network_summary(mask, *, spacing=None, image=None, prune_um: float = 0.0,
                    rng=0) -> NetworkSummary:
    """Skeleton network of ``mask``: one image's row, per-object table and skeleton.

    Parameters
    ----------
    mask : ndarray, shape (M, N) or (P, M, N)
        Foreground (bool, 0/1 or a label image: non-zero is foreground).
    spacing : float or sequence of float, optional
        Voxel size in µm, ``(z, y, x)`` or ``(y, x)``; default 1.
    image : ndarray, optional
        Intensity image of the same shape (``mean_intensity`` of the branches).
    prune_um : float, default 0
        Spurs (endpoint-to-junction branches) shorter than this are removed first
        (:func:`~.skeleton.skeleton_graph`).
    rng : int
        Seed of the community search of :func:`~.graph.network_metrics`.

    Returns
    -------
    NetworkSummary

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((5, 40, 40), bool)
    >>> m[2, 20, 5:35] = True; m[2, 5:35, 20] = True          # a cross
    >>> s = network_summary(m, spacing=(0.3, 0.1, 0.1))
    >>> s.row["n_branches"], s.row["n_junctions"], s.row["n_endpoints"]
    (4, 1, 4)
    >>> round(s.row["total_length_um"], 2)
    5.8
    """
    from .graph import component_table, network_metrics
    from .skeleton import skeleton_graph, skeletonize_mask

    m = np.asarray(mask)
    if m.ndim not in (2, 3):
        raise ValueError(f"mask must be 2D (y, x) or 3D (z, y, x); got shape {m.shape}")
    m = m != 0
    sp = tuple(float(v) for v in check_spacing(spacing, m.ndim))
    check_positive("prune_um", prune_um, allow_zero=True)
    skel = skeletonize_mask(m)
    graph = skeleton_graph(m, spacing=sp, image=image, prune_um=prune_um, skeleton=skel)
    metrics = network_metrics(graph, rng=rng)
    objects = component_table(graph, rng=rng)
    objects = objects.rename(columns={"n_edges": "n_branches"})
    ext = _component_extents(graph, sp, m.shape)
    if len(objects):
        objects = objects.merge(ext, on="component", how="left")
    longest = float(objects["total_length_um"].max()) if len(objects) else 0.0
    row = {"n_components": int(metrics["n_components"]),
           "total_length_um": float(metrics["total_length_um"]),
           "n_branches": int(metrics["n_edges"]),
           "n_junctions": int(metrics["n_junctions"]),
           "n_endpoints": int(metrics["n_endpoints"]),
           "n_isolated": int(metrics["n_isolated"]),
           "mean_branch_length_um": float(metrics["mean_branch_length_um"]),
           "mean_branch_width_um": float(metrics["mean_branch_width_um"]),
           "largest_component_fraction": float(metrics["largest_component_fraction"]),
           "largest_component_length_um": longest,
           "n_cycles": int(metrics["n_cycles"]),
           "skeleton_voxels": int(skel.sum()),
           "mask_fraction": float(m.mean())}
    return NetworkSummary(row, objects, skel, graph)
