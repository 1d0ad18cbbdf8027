"""Shape and intensity statistics of labelled objects (SimpleITK).

One row per label of a 2D ``(M, N)`` or 3D ``(P, M, N)`` label image, in physical units
(micrometres, ``spacing`` as ``(z, y, x)``).  Shape statistics come from ITK's
``LabelShapeStatisticsImageFilter`` and intensity statistics from
``LabelIntensityStatisticsImageFilter``, both run on an image whose spacing is set, so
every length, area and volume is in µm, µm² or µm³.

Column definitions (3D name / 2D name)
--------------------------------------
``label``
    The object's label value.
``n_voxels`` / ``n_pixels``
    Number of voxels (pixels) of the object.
``volume_um3`` / ``area_um2``
    ``n_voxels`` times the voxel volume (pixel area).
``surface_area_um2`` / ``perimeter_um``
    ITK's perimeter estimate: a Crofton-formula estimate from the number of
    intercepts of the object boundary with lines along the grid directions
    (Lehmann & Legland 2012).  It is not the staircase area of the voxel faces, which
    overestimates a sphere's surface by about 50 %; on digital spheres and disks of
    radius ≥ 10 voxels it is within 3 % of the true value (see the tests).
``equivalent_radius_um``
    Radius of the sphere (circle) with the same volume (area).
``sphericity`` (3D)
    Wadell's sphericity ``π^(1/3) (6 V)^(2/3) / S``: 1 for a sphere, smaller for any
    other shape (ITK calls this *roundness*).
``circularity`` (2D)
    ImageJ's circularity ``4 π A / P²``: 1 for a disk.
``elongation``, ``flatness``
    From the principal moments ``λ0 ≤ λ1 (≤ λ2)`` of the voxel coordinates:
    elongation ``sqrt(λ_max / λ_second)``, flatness ``sqrt(λ1 / λ0)`` (both ≥ 1;
    1 for a sphere; in 2D they coincide).
``feret_diameter_um``
    Largest distance between the centres of two boundary voxels (so a cube of
    ``n`` voxels of side ``h`` has ``(n - 1) h √3``, not ``n h √3``).
``principal_moment_{i}_um2``
    Eigenvalues of the covariance matrix of the voxel centre positions, ascending.
``equivalent_ellipsoid_diameter_{i}_um``
    Axes of the ellipsoid with the same principal moments and volume, ascending.
``centroid_z_um``, ``centroid_y_um``, ``centroid_x_um``
    Mean position of the voxel centres; the centre of voxel ``(0, 0, 0)`` is 0.
``bbox_start_{z,y,x}_px``, ``bbox_size_{z,y,x}_px``
    Bounding box in voxel indices (start, and size in voxels).
``touches_border``
    True when the object has voxels on the image border (it may be cut off).
Intensity (with ``image=``; suffix ``_c0``, ``_c1`` … for more than one channel)
    ``mean_intensity``, ``std_intensity`` (sample standard deviation, N - 1, as ITK
    computes it), ``min_intensity``, ``max_intensity``, ``median_intensity`` (exact,
    from one sort of the object voxels, because ITK's median is read from a
    128-bin histogram; the mean of the two middle values for an even count), ``raw_integrated_density`` (sum of the voxel values, ImageJ's
    *RawIntDen*) and ``integrated_density`` (mean times volume or area in µm³ / µm²,
    ImageJ's *IntDen*).

References
----------
.. [1] Lehmann G, Legland D (2012). Efficient N-dimensional surface estimation using
       Crofton formula and run-length encoding. The Insight Journal.
       https://doi.org/10.54294/wdu86d
.. [2] Wadell H (1935). Volume, shape, and roundness of quartz particles.
       J. Geol. 43(3):250-280. https://doi.org/10.1086/624298
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from .._core.options import check_spacing

__all__ = ["label_morphology", "check_labels", "assign_cells", "aggregate_by_cell",
           "image_summary"]

log = logging.getLogger(__name__)

_AXES = ("z", "y", "x")


def check_labels(labels, *, name: str = "labels") -> np.ndarray:
    """Return ``labels`` as a non-negative integer array of 2 or 3 dimensions.

    Raises ValueError / TypeError that name the problem and the fix.
    """
    labels = np.asarray(labels)
    if labels.ndim not in (2, 3):
        raise ValueError(f"{name} must be a 2D (y, x) or 3D (z, y, x) label image; got "
                         f"shape {labels.shape}. Split channels/time points first")
    if labels.dtype == bool:
        labels = labels.astype(np.uint8)
    if not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(np.mod(labels, 1) == 0):
            labels = labels.astype(np.int64)
        else:
            raise TypeError(f"{name} must hold integer labels; got dtype {labels.dtype} with "
                            "fractional values. Label a mask first (e.g. "
                            "skimage.measure.label(mask))")
    if labels.size and labels.min() < 0:
        raise ValueError(f"{name} must be >= 0 (0 is background); got minimum "
                         f"{labels.min()}")
    return labels


def _to_sitk(array, spacing):
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.ascontiguousarray(array))
    img.SetSpacing(tuple(float(s) for s in reversed(spacing)))  # ITK order is x, y, z
    return img


def _channels(image, labels_shape, channel_axis):
    """List of single-channel arrays of ``image`` matching the label image."""
    image = np.asarray(image)
    if channel_axis is None:
        if image.shape != tuple(labels_shape):
            extra = (" If the image has channels, pass channel_axis (the CLI reads it from "
                     "the TIFF axes)." if image.ndim == len(labels_shape) + 1 else "")
            raise ValueError(f"image shape {image.shape} does not match labels shape "
                             f"{tuple(labels_shape)}; give the intensity image the labels "
                             f"were made from.{extra}")
        return [image]
    axis = int(channel_axis)
    if not -image.ndim <= axis < image.ndim:
        raise ValueError(f"channel_axis {channel_axis} is out of range for an image of "
                         f"shape {image.shape}")
    moved = np.moveaxis(image, axis, 0)
    if moved.shape[1:] != tuple(labels_shape):
        raise ValueError(f"image shape {image.shape} (channel_axis={channel_axis}) does not "
                         f"match labels shape {tuple(labels_shape)}; give the intensity "
                         "image the labels were made from")
    return list(moved)


def label_morphology(labels, *, spacing=None, image=None, channel_axis=None,
                     feret: bool = True) -> pd.DataFrame:
    """Shape and intensity statistics, one row per label.

    Parameters
    ----------
    labels : ndarray of int, shape (M, N) or (P, M, N)
        Label image; 0 is background.
    spacing : float or sequence of float, optional
        Voxel size in µm, ``(z, y, x)`` or ``(y, x)``. Default 1 µm.
    image : ndarray, optional
        Intensity image of the same shape as ``labels`` (or with one extra channel
        axis, see ``channel_axis``) for the intensity columns.
    channel_axis : int, optional
        Axis of ``image`` that holds channels; columns then end in ``_c0``, ``_c1`` ….
    feret : bool, default True
        Compute ``feret_diameter_um`` (quadratic in the number of boundary voxels of
        an object; switch off for very large objects).

    Returns
    -------
    pandas.DataFrame
        One row per label, sorted by label; columns are described in the module
        docstring.

    Raises
    ------
    ValueError
        ``labels`` holds no object (all 0), ``spacing`` has the wrong length, or
        ``image`` does not match ``labels``.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.zeros((20, 20), np.uint8); labels[5:15, 5:15] = 1
    >>> label_morphology(labels, spacing=(0.5, 0.5))["area_um2"].tolist()
    [25.0]
    """
    import SimpleITK as sitk

    labels = check_labels(labels)
    ndim = labels.ndim
    spacing = check_spacing(spacing, ndim)
    channels = None if image is None else _channels(image, labels.shape, channel_axis)
    if not labels.any():
        raise ValueError("labels holds no object (every voxel is 0); check the "
                         "segmentation, or label a binary mask with skimage.measure.label")
    if labels.max() > np.iinfo(np.uint32).max:
        raise ValueError(f"labels up to {np.iinfo(np.uint32).max} are supported; got "
                         f"{labels.max()}. Relabel with skimage.segmentation.relabel_sequential")
    label_img = _to_sitk(labels.astype(np.uint32, copy=False), spacing)

    shape = sitk.LabelShapeStatisticsImageFilter()
    shape.SetComputePerimeter(True)
    shape.SetComputeFeretDiameter(bool(feret))
    shape.Execute(label_img)
    ids = sorted(int(v) for v in shape.GetLabels())
    axes = _AXES[3 - ndim:]
    size_name, surf_name = ("volume_um3", "surface_area_um2") if ndim == 3 else \
        ("area_um2", "perimeter_um")
    count_name = "n_voxels" if ndim == 3 else "n_pixels"
    rows = []
    for lab in ids:
        size = shape.GetPhysicalSize(lab)
        surf = shape.GetPerimeter(lab)
        row = {"label": lab, count_name: int(shape.GetNumberOfPixels(lab)),
               size_name: size, surf_name: surf,
               "equivalent_radius_um": shape.GetEquivalentSphericalRadius(lab)}
        if ndim == 3:
            row["sphericity"] = (math.pi ** (1 / 3) * (6 * size) ** (2 / 3) / surf
                                 if surf > 0 else np.nan)
        else:
            row["circularity"] = 4 * math.pi * size / surf ** 2 if surf > 0 else np.nan
        row["elongation"] = shape.GetElongation(lab)
        row["flatness"] = shape.GetFlatness(lab)
        row["feret_diameter_um"] = shape.GetFeretDiameter(lab) if feret else np.nan
        for i, m in enumerate(shape.GetPrincipalMoments(lab)):
            row[f"principal_moment_{i}_um2"] = m
        for i, d in enumerate(shape.GetEquivalentEllipsoidDiameter(lab)):
            row[f"equivalent_ellipsoid_diameter_{i}_um"] = d
        centroid = shape.GetCentroid(lab)[::-1]  # ITK gives x, y, z
        for a, c in zip(axes, centroid):
            row[f"centroid_{a}_um"] = c
        box = shape.GetBoundingBox(lab)  # (x0, y0, z0, sx, sy, sz)
        start, extent = box[:ndim][::-1], box[ndim:][::-1]
        for a, s in zip(axes, start):
            row[f"bbox_start_{a}_px"] = int(s)
        for a, s in zip(axes, extent):
            row[f"bbox_size_{a}_px"] = int(s)
        row["touches_border"] = shape.GetNumberOfPixelsOnBorder(lab) > 0
        rows.append(row)
    table = pd.DataFrame(rows)

    if channels is not None:
        fg = labels > 0
        fg_labels = labels[fg]
        suffixes = [""] if len(channels) == 1 else [f"_c{i}" for i in range(len(channels))]
        for suffix, chan in zip(suffixes, channels):
            chan = np.asarray(chan)
            if not np.issubdtype(chan.dtype, np.number) or np.iscomplexobj(chan):
                raise TypeError(f"image must be real-valued; got dtype {chan.dtype}")
            stats = sitk.LabelIntensityStatisticsImageFilter()
            stats.SetComputePerimeter(False)  # shape statistics come from the filter above
            stats.Execute(label_img, _to_sitk(chan.astype(np.float64, copy=False), spacing))
            table[f"mean_intensity{suffix}"] = [stats.GetMean(i) for i in ids]
            table[f"std_intensity{suffix}"] = [stats.GetStandardDeviation(i) for i in ids]
            table[f"min_intensity{suffix}"] = [stats.GetMinimum(i) for i in ids]
            table[f"max_intensity{suffix}"] = [stats.GetMaximum(i) for i in ids]
            table[f"median_intensity{suffix}"] = _label_medians(chan[fg], fg_labels, ids)
            table[f"raw_integrated_density{suffix}"] = [stats.GetSum(i) for i in ids]
            table[f"integrated_density{suffix}"] = (table[f"mean_intensity{suffix}"]
                                                    * table[size_name])
    log.debug("measured %d labels in a %s image", len(ids), labels.shape)
    return table


def _label_medians(values, fg_labels, ids):
    """Exact median of ``values`` per label (both 1D over the foreground voxels)."""
    order = np.lexsort((values, fg_labels))
    sorted_vals = values[order].astype(np.float64)
    counts = np.bincount(fg_labels, minlength=int(max(ids)) + 1)[ids]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    lo = starts + (counts - 1) // 2
    hi = starts + counts // 2
    return (sorted_vals[lo] + sorted_vals[hi]) / 2


def assign_cells(labels, cells) -> pd.Series:
    """The cell of each object: the cell label covering most of its voxels.

    Parameters
    ----------
    labels : ndarray of int
        Object label image.
    cells : ndarray of int, same shape
        Cell label image (0 = outside every cell).

    Returns
    -------
    pandas.Series
        Indexed by object label, the cell label (0 when most of the object lies
        outside every cell).
    """
    labels = check_labels(labels)
    cells = check_labels(cells, name="cells")
    if cells.shape != labels.shape:
        raise ValueError(f"cells shape {cells.shape} does not match labels shape "
                         f"{labels.shape}; the cell mask must cover the same field")
    fg = labels > 0
    lab, cel = labels[fg].astype(np.int64), cells[fg].astype(np.int64)
    if lab.size == 0:
        return pd.Series([], dtype=np.int64, name="cell")
    # count (object, cell) pairs, then keep the most frequent cell per object
    pairs, counts = np.unique(np.stack([lab, cel]), axis=1, return_counts=True)
    order = np.lexsort((-counts, pairs[0]))
    pairs = pairs[:, order]
    first = np.r_[True, pairs[0, 1:] != pairs[0, :-1]]
    return pd.Series(pairs[1, first], index=pd.Index(pairs[0, first], name="label"),
                     name="cell")


def aggregate_by_cell(table: pd.DataFrame, *, cell_column: str = "cell",
                      exclude=("label",)) -> pd.DataFrame:
    """Per-cell summary of an object table: object count, sums and means.

    Every numeric column ``c`` gives ``mean_c``; size columns (``volume_um3``,
    ``area_um2``, ``n_voxels``, ``n_pixels``, ``*integrated_density*``) also give
    ``total_c``.  Positions (``centroid_*``, ``bbox_*``) are not averaged.  Cell 0
    (outside every cell) is dropped.
    """
    if cell_column not in table.columns:
        raise ValueError(f"table has no column {cell_column!r}; assign cells first "
                         "(assign_cells)")
    numeric = [c for c in table.select_dtypes("number").columns
               if c != cell_column and c not in exclude
               and not c.startswith(("centroid_", "bbox_"))]
    inside = table[table[cell_column] > 0]
    grouped = inside.groupby(cell_column)
    out = pd.DataFrame({"n_objects": grouped.size()})
    means = grouped[numeric].mean().add_prefix("mean_")
    totals_cols = [c for c in numeric if c in ("volume_um3", "area_um2", "n_voxels", "n_pixels")
                   or "integrated_density" in c]
    totals = grouped[totals_cols].sum().add_prefix("total_")
    out = pd.concat([out, totals, means], axis=1).reset_index()
    return out


def image_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One-row summary of an object table: as :func:`aggregate_by_cell` over all objects."""
    whole = table.drop(columns=[c for c in ("cell",) if c in table.columns]).assign(cell=1)
    return aggregate_by_cell(whole).drop(columns="cell")
