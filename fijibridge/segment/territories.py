"""Cell territories: one region per nucleus, grown over the cell's cytoplasmic signal.

When the cell membrane is not stained — the usual two-channel confocal acquisition of
nuclei and mitochondria — a cell is the part of the cell mask closer (along the
cytoplasmic signal) to its nucleus than to any other: a marker-controlled watershed
seeded by the nuclei, run inside a mask of the cells (CellProfiler's
*IdentifySecondaryObjects*, method *Watershed - Image*).  Works on 2D ``(M, N)`` and 3D
``(P, M, N)`` images; smoothing and the default mask are in µm through ``spacing``.

References
----------
.. [1] Jones TR, Carpenter AE, Golland P (2005). Voronoi-based segmentation of cells on
       image manifolds. CVBIA, LNCS 3765:535-543. https://doi.org/10.1007/11569541_54
.. [2] Beucher S, Meyer F (1993). The morphological approach to segmentation: the
       watershed transformation. Mathematical Morphology in Image Processing, 433-481.
"""

from __future__ import annotations

import io
import logging

import numpy as np

from .._core.options import check_choice, check_positive, check_spacing

__all__ = ["cell_territories", "cell_mask", "label_outlines", "rois_zip", "TERRITORY_METHODS"]

log = logging.getLogger(__name__)

#: how the watershed's landscape is made: the (smoothed) signal, dark valleys between
#: cells (``intensity``), or the distance from the nuclei in µm (``distance``: a
#: Voronoi split of the mask, for a signal that says nothing about the cell borders)
TERRITORY_METHODS = ("intensity", "distance")


def cell_mask(image, *, spacing=None, smooth_um: float = 0.5, method: str = "Otsu") -> np.ndarray:
    """Cells as the foreground of the cytoplasmic signal: Gaussian smoothing of
    ``smooth_um`` µm, then an ImageJ auto-threshold (one histogram for the whole stack)
    and holes filled (bool, same shape)."""
    from scipy import ndimage as ndi

    from .thresholds import threshold_mask

    data = np.asarray(image, np.float32)
    sp = check_spacing(spacing if spacing is not None else 1.0, data.ndim)
    check_positive("smooth_um", smooth_um, allow_zero=True)
    if smooth_um > 0:
        data = ndi.gaussian_filter(data, [smooth_um / s for s in sp])
    mask = threshold_mask(data, method=method, dark=True, stack=data.ndim == 3) > 0
    return ndi.binary_fill_holes(mask)


def cell_territories(nuclei, image, *, mask=None, spacing=None, method: str = "intensity",
                     smooth_um: float = 0.5, threshold: str = "Otsu") -> np.ndarray:
    """One territory per nucleus: a nucleus-seeded watershed within the cell mask.

    Parameters
    ----------
    nuclei : ndarray of int, shape (M, N) or (P, M, N)
        Nucleus labels (0 background); territory ``k`` grows from nucleus ``k``.
    image : ndarray, same shape
        The cytoplasmic (e.g. mitochondrial) signal.
    mask : ndarray of bool, optional
        Where cells are; default :func:`cell_mask` of ``image`` (``threshold``
        method after ``smooth_um`` smoothing; on the synthetic cohort Otsu after 0.5 µm
        gave the cells' true volume within 5 %, Li after 1 µm 1.4× too much).  The
        nuclei are always part of it.
    spacing : float or sequence of float, optional
        Voxel size in µm, ``(z, y, x)`` or ``(y, x)``; default 1.
    method : {'intensity', 'distance'}
        Landscape of the watershed: the inverted smoothed signal (borders follow the
        dark gaps between cells) or the distance to the nearest nucleus in µm.
    smooth_um : float
        Gaussian sigma (µm) of the signal before the watershed (and of the default mask).
    threshold : str
        ImageJ auto-threshold method of the default mask.

    Returns
    -------
    ndarray of uint16 (float32 beyond 65535 labels)
        Cell labels: each territory contains its whole nucleus; mask parts reached by
        no nucleus stay 0.

    Examples
    --------
    >>> import numpy as np
    >>> nuc = np.zeros((20, 40), int); nuc[8:12, 5:9] = 1; nuc[8:12, 30:34] = 2
    >>> img = np.ones((20, 40)); img[:, 19:21] = 0.1     # a dark gap between two cells
    >>> cells = cell_territories(nuc, img, mask=np.ones((20, 40), bool), smooth_um=0)
    >>> int(cells[10, 15]), int(cells[10, 25])
    (1, 2)
    """
    from scipy import ndimage as ndi
    from skimage.segmentation import watershed

    nuc = np.asarray(nuclei)
    if not np.issubdtype(nuc.dtype, np.integer):
        if np.any(nuc != np.round(nuc)):
            raise TypeError(f"nuclei must be a label image (integers); got dtype {nuc.dtype}")
    nuc = nuc.astype(np.int64)
    img = np.asarray(image, np.float32)
    if nuc.ndim not in (2, 3):
        raise ValueError(f"nuclei must be 2D (M, N) or 3D (P, M, N); got shape {nuc.shape}")
    if img.shape != nuc.shape:
        raise ValueError(f"image shape {img.shape} differs from nuclei shape {nuc.shape}")
    method = check_choice("method", method, TERRITORY_METHODS)
    check_positive("smooth_um", smooth_um, allow_zero=True)
    sp = check_spacing(spacing if spacing is not None else 1.0, nuc.ndim)
    if mask is None:
        m = cell_mask(img, spacing=sp, smooth_um=smooth_um, method=threshold)
    else:
        m = np.asarray(mask)
        if m.shape != nuc.shape:
            raise ValueError(f"mask shape {m.shape} differs from nuclei shape {nuc.shape}")
        m = m > 0
    m = m | (nuc > 0)
    if not nuc.any():
        log.warning("territories: no nucleus; no cell")
        return np.zeros(nuc.shape, np.uint16)
    if method == "distance":
        land = ndi.distance_transform_edt(nuc == 0, sampling=sp).astype(np.float32)
    else:
        land = img if smooth_um == 0 else ndi.gaussian_filter(img, [smooth_um / s for s in sp])
        land = -land
    cells = watershed(land, markers=nuc, mask=m)
    lost = sorted(set(np.unique(nuc[nuc > 0]).tolist()) - set(np.unique(cells).tolist()))
    if lost:  # cannot happen with markers inside the mask; said if it ever does
        log.warning("territories: nuclei %s got no territory", lost[:10])
    return cells.astype(np.uint16 if cells.max() < 65536 else np.float32)


def label_outlines(labels) -> list[tuple[int, np.ndarray]]:
    """``(label, polygon)`` per label: the outline of its largest part on the max
    projection (2D as it is), as ``(x, y)`` in ImageJ's pixel coordinates (pixel
    ``(0, 0)`` spans 0–1, so the outline runs along the pixel edges)."""
    from skimage.measure import find_contours, label as cc

    lab = np.asarray(labels).astype(np.int64)
    if lab.ndim not in (2, 3):
        raise ValueError(f"labels must be 2D or 3D; got shape {lab.shape}")
    out = []
    for k in np.unique(lab[lab > 0]):
        region = (lab == k).any(axis=0) if lab.ndim == 3 else lab == k
        parts, n = cc(region, return_num=True, connectivity=2)
        if n > 1:
            sizes = np.bincount(parts.ravel())[1:]
            region = parts == 1 + int(np.argmax(sizes))
        contours = find_contours(np.pad(region, 1).astype(np.float32), 0.5)
        if not contours:
            continue
        # undo the padding (-1); ImageJ puts pixel i's centre at i + 0.5 (+0.5)
        c = max(contours, key=len) - 0.5
        out.append((int(k), np.column_stack([c[:, 1], c[:, 0]])))
    return out


def rois_zip(labels, *, prefix: str = "cell") -> bytes:
    """An ImageJ ROI set (the ``.zip`` the ROI Manager opens): one polygon ROI per label,
    its outline on the max projection, named ``<prefix>_<label>``."""
    import os
    import tempfile

    import roifile

    rois = []
    for k, xy in label_outlines(labels):
        roi = roifile.ImagejRoi.frompoints(xy.astype(np.float32), name=f"{prefix}_{k}")
        roi.roitype = roifile.ROI_TYPE.POLYGON
        rois.append(roi)
    if not rois:
        return _empty_zip()
    fd, tmp = tempfile.mkstemp(suffix=".zip")
    os.close(fd)
    try:
        roifile.roiwrite(tmp, rois, mode="w")
        with open(tmp, "rb") as f:
            return f.read()
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _empty_zip() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w"):
        pass
    return buf.getvalue()

