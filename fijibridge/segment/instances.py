"""Splitting a foreground mask into instances: distance-transform and marker watershed.

Works in 2D ``(Y, X)`` and 3D ``(P, Y, X)``; distances are physical (µm) through
``spacing``, so anisotropic stacks split as their real shapes dictate.

References
----------
.. [1] L. Vincent and P. Soille (1991), "Watersheds in digital spaces", IEEE TPAMI
       13(6):583-598, :doi:`10.1109/34.87344`
"""

from __future__ import annotations

import numpy as np

from .._core.options import check_choice, check_positive, check_spacing

__all__ = ["split_instances", "remove_small_labels"]


def remove_small_labels(labels, *, min_size=0):
    """Drop labels with fewer than ``min_size`` pixels and renumber 1..N (int32)."""
    labels = np.asarray(labels)
    min_size = check_positive("min_size", min_size, integer=True, allow_zero=True)
    counts = np.bincount(labels.ravel())
    keep = counts >= max(min_size, 1)
    keep[0] = False
    mapping = np.zeros(counts.size, np.int32)
    mapping[keep] = np.arange(1, keep.sum() + 1, dtype=np.int32)
    return mapping[labels]


def split_instances(mask, *, method="distance", markers=None, image=None, spacing=None,
                    min_distance=1.0, min_size=0, connectivity=1):
    """Label the objects of ``mask``, splitting touching ones with a watershed.

    Parameters
    ----------
    mask : ndarray of bool
        Foreground, 2D or 3D.
    method : {"distance", "marker", "connected"}
        ``"distance"``: seeds at maxima of the Euclidean distance transform (in µm)
        at least ``min_distance`` µm apart, flooding ``-distance``.
        ``"marker"``: seeds from ``markers`` (labels or bool), flooding ``image``
        if given (e.g. an inverted intensity or gradient) else ``-distance``.
        ``"connected"``: connected components only.
    markers : ndarray, optional
        Seeds for ``method="marker"``: a label image or a boolean mask (labelled
        by connectivity).
    image : ndarray, optional
        Relief to flood for ``method="marker"``; low values are flooded first.
    spacing : float or sequence, optional
        Voxel size in µm (``(z, y, x)`` or ``(y, x)``); default 1.
    min_distance : float
        Minimum distance between seeds in µm (``method="distance"``).
    min_size : int
        Objects with fewer pixels are removed; labels are renumbered 1..N.
    connectivity : int
        1 (faces) up to ``mask.ndim`` (all neighbours) for labelling and watershed.

    Returns
    -------
    ndarray of int32
        0 background, 1..N objects.

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:40, :60]
    >>> two = ((yy - 20) ** 2 + (xx - 18) ** 2 < 100) | ((yy - 20) ** 2 + (xx - 38) ** 2 < 100)
    >>> int(split_instances(two, min_distance=5).max())
    2
    """
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    mask = np.asarray(mask)
    if mask.ndim not in (2, 3):
        raise ValueError(f"mask must be 2D (Y, X) or 3D (P, Y, X); got shape {mask.shape}")
    if mask.dtype != bool:
        if mask.dtype.kind not in "uib":
            raise TypeError(f"mask must be boolean (or 0/1 integers); got {mask.dtype}")
        mask = mask != 0
    method = check_choice("method", method, ["distance", "marker", "connected"])
    spacing = check_spacing(spacing, mask.ndim)
    min_distance = check_positive("min_distance", min_distance, allow_zero=True)
    if connectivity not in range(1, mask.ndim + 1):
        raise ValueError(f"connectivity must be 1..{mask.ndim}; got {connectivity!r}")
    structure = ndi.generate_binary_structure(mask.ndim, connectivity)
    if method == "connected" or not mask.any():
        labels, _ = ndi.label(mask, structure)
        return remove_small_labels(labels, min_size=min_size)
    if method == "distance":
        distance = ndi.distance_transform_edt(mask, sampling=spacing)
        footprint = _ellipsoid(min_distance, spacing)
        local_max = (ndi.maximum_filter(distance, footprint=footprint, mode="constant")
                     == distance) & mask
        seeds, _ = ndi.label(local_max, structure)  # plateaus give one seed each
        relief = -distance
    else:
        if markers is None:
            raise ValueError("method='marker' needs markers= (a label image or bool mask)")
        markers = np.asarray(markers)
        if markers.shape != mask.shape:
            raise ValueError(f"markers shape {markers.shape} differs from mask shape "
                             f"{mask.shape}")
        seeds = ndi.label(markers != 0, structure)[0] if markers.dtype == bool else markers
        seeds = np.where(mask, seeds, 0).astype(np.int32)
        if image is not None:
            relief = np.asarray(image, dtype=np.float64)
            if relief.shape != mask.shape:
                raise ValueError(f"image shape {relief.shape} differs from mask shape "
                                 f"{mask.shape}")
        else:  # computed only here: with image= it was unused (half of segment's post-processing)
            relief = -ndi.distance_transform_edt(mask, sampling=spacing)
    labels = watershed(relief, seeds, mask=mask, connectivity=connectivity)
    return remove_small_labels(labels, min_size=min_size)


def _ellipsoid(radius, spacing):
    """Footprint of all offsets within ``radius`` µm (at least the direct neighbours)."""
    half = [max(int(np.floor(radius / s)), 1) for s in spacing]
    grids = np.meshgrid(*[np.arange(-h, h + 1) * s for h, s in zip(half, spacing)],
                        indexing="ij")
    r2 = sum(g * g for g in grids)
    return r2 <= max(radius, max(spacing)) ** 2
