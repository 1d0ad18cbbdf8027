"""Segmentation: ImageJ's auto-thresholds, K-means, instance splitting, metrics.

Light on purpose: importing this package loads numpy only. Networks, losses,
inference and training live in their own modules of this package and import torch
themselves; they are not imported here.
"""

from __future__ import annotations

from .instances import remove_small_labels, split_instances
from .kmeans import kmeans_segment
from .metrics import (
    aggregated_jaccard_index,
    average_precision,
    hausdorff_distance,
    instance_errors,
    iou_matrix,
    match_instances,
    pixel_metrics,
    seg_measure,
)
from .thresholds import ALL_METHODS, threshold, threshold_mask, thresholds

__all__ = [
    "ALL_METHODS", "threshold", "thresholds", "threshold_mask",
    "kmeans_segment", "split_instances", "remove_small_labels",
    "pixel_metrics", "iou_matrix", "match_instances", "average_precision",
    "aggregated_jaccard_index", "seg_measure", "instance_errors", "hausdorff_distance",
]
