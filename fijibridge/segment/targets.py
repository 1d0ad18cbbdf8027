"""Training targets from instance labels (numpy/scipy, 2D and 3D).

``labels_to_boundary_classes`` gives the 3-class target of ``head="boundary"``
(0 background, 1 interior, 2 boundary); ``labels_to_distance`` the 2-channel target of
``head="distance"`` (foreground, normalised distance to the object edge);
``edge_band`` the pixels next to the object/background edge, for leaving them out of a
loss (``ignore_index`` of the losses) where a label's edge is unsure.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["labels_to_boundary_classes", "labels_to_distance", "labels_to_target", "edge_band"]


def _check_labels(labels) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iub":
        raise TypeError(f"labels must be an integer array of instance ids; got dtype {labels.dtype}")
    if labels.ndim not in (2, 3):
        raise ValueError(f"labels must be 2D or 3D; got shape {labels.shape}")
    return labels


def _check_width(width) -> None:
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be an integer >= 1; got {width!r}")


def labels_to_boundary_classes(labels, *, width: int = 2) -> np.ndarray:
    """0 background, 1 interior, 2 boundary: the pixels of an object within ``width``
    pixels (chessboard) of another label or of the background.

    Examples
    --------
    >>> lab = np.zeros((7, 7), int); lab[1:6, 1:6] = 1
    >>> labels_to_boundary_classes(lab, width=1)[3]
    array([0, 2, 1, 1, 1, 2, 0], dtype=uint8)
    """
    labels = _check_labels(labels)
    _check_width(width)
    size = 2 * int(width) + 1
    # mode="nearest": the image border is not an object edge
    hi = ndi.maximum_filter(labels, size=size, mode="nearest")
    lo = ndi.minimum_filter(labels, size=size, mode="nearest")
    fg = labels > 0
    out = np.zeros(labels.shape, np.uint8)
    out[fg] = 2
    out[fg & (hi == labels) & (lo == labels)] = 1
    return out


def edge_band(labels, *, width: int = 1) -> np.ndarray:
    """Boolean mask of the pixels within ``width`` pixels (chessboard) of the edge between
    objects and background, on both sides: ``width`` rings outside each object and its
    ``width`` outermost rings.  Contacts between two objects are not in the band.

    Examples
    --------
    >>> lab = np.zeros((7, 7), int); lab[1:6, 1:6] = 1
    >>> edge_band(lab, width=1)[3].astype(int)
    array([1, 1, 0, 0, 0, 1, 1])
    """
    labels = _check_labels(labels)
    _check_width(width)
    fg = labels > 0
    size = 2 * int(width) + 1
    # mode="nearest": the image border is not an object edge
    grown = ndi.maximum_filter(fg, size=size, mode="nearest")
    shrunk = ndi.minimum_filter(fg, size=size, mode="nearest")
    return grown & ~shrunk


def labels_to_distance(labels, *, scale: float | None = None) -> np.ndarray:
    """``(2, *shape)`` float32: foreground mask and each object's Euclidean distance to
    its edge divided by ``scale`` (default: per object, its maximum, so values are in
    [0, 1])."""
    labels = _check_labels(labels)
    out = np.zeros((2,) + labels.shape, np.float32)
    out[0] = labels > 0
    if not out[0].any():
        return out
    # distance inside each object separately: pad objects apart via boundaries
    classes = labels_to_boundary_classes(labels, width=1)
    dist = ndi.distance_transform_edt(classes == 1) + (classes > 0)
    if scale is None:
        ids = labels.ravel()
        mx = np.zeros(int(ids.max()) + 1, np.float64)
        np.maximum.at(mx, ids, dist.ravel())
        mx[0] = 1
        out[1] = dist / np.maximum(mx[labels], 1)
    else:
        if not scale > 0:
            raise ValueError(f"scale must be > 0; got {scale!r}")
        out[1] = dist / scale
    out[1][labels == 0] = 0
    return out


def labels_to_target(labels, *, head: str, width: int = 2) -> np.ndarray:
    """The target a network ``head`` trains on (``logits``: the binary foreground)."""
    if head == "boundary":
        return labels_to_boundary_classes(labels, width=width)
    if head == "distance":
        return labels_to_distance(labels)
    return (np.asarray(labels) > 0).astype(np.float32)
