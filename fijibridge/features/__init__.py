"""Features of segmented images: label morphology and skeleton network graphs.

``morphology``
    :func:`label_morphology` — one row per object (SimpleITK shape and intensity
    statistics in µm), :func:`assign_cells`, :func:`aggregate_by_cell`, :func:`image_summary`.
``skeleton``
    :func:`skeleton_graph` — 2D/3D skeleton traced into a networkx branch graph.
``graph``
    :func:`network_metrics`, per-component / per-cell tables and GraphML output.

Importing this package imports neither SimpleITK nor networkx; they load inside the
functions that use them.
"""

from __future__ import annotations

from .graph import (
    METRICS,
    branch_table,
    cell_table,
    component_table,
    network_metrics,
    node_table,
    save_graphml,
)
from .morphology import (aggregate_by_cell, assign_cells, check_labels, image_summary,
                         label_morphology)
from .skeleton import NODE_KINDS, skeleton_graph, skeletonize_mask, trace_skeleton

__all__ = [
    "label_morphology",
    "assign_cells",
    "aggregate_by_cell",
    "image_summary",
    "check_labels",
    "skeleton_graph",
    "skeletonize_mask",
    "trace_skeleton",
    "NODE_KINDS",
    "network_metrics",
    "component_table",
    "cell_table",
    "branch_table",
    "node_table",
    "save_graphml",
    "METRICS",
]
