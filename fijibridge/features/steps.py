"""Pipeline steps of the features package: ``features``, ``skeleton``, ``count``,
``pairs`` (per image) and ``summarize`` (per data set).

Sizes and distances are in µm through the ``spacing`` of the item's image.
"""

from __future__ import annotations

import numpy as np

from .._core.steps import check_param, make_step, positive, tables_with_meta

__all__ = ["STEPS", "features", "skeleton", "count", "pairs", "summarize"]


def features(*, labels, image=None, cells=None, spacing=None, network: bool = False,
             prune_um: float = 0.2, seed: int = 0):
    """Object features. Without ``cells``: one row per object (morphology in µm).
    With ``cells``: one row per cell — skeleton network metrics of the objects inside
    it (``network: true``), the mean morphology of its objects (3D: volume µm³,
    surface µm², sphericity …) and the cell's own size.

    Outputs ``table`` and, with ``network: true``, ``skeleton`` (the skeleton of the
    objects, 0/255, calibrated like the image; declare ``outputs: [table, skeleton]``
    to keep it)."""
    from . import (aggregate_by_cell, assign_cells, cell_table, label_morphology,
                   skeleton_graph)
    from .skeleton import skeletonize_mask

    labels = np.asarray(labels).astype(np.int32)
    if labels.max() == 0:
        raise ValueError("features: the segmentation holds no object")
    morph = label_morphology(labels, spacing=spacing, image=image)
    if cells is None:
        return {"table": morph}
    cells = np.asarray(cells).astype(np.int32)
    if labels.ndim == 2:
        keep = ["cell", "area_um2", "perimeter_um", "circularity", "elongation",
                "feret_diameter_um"]
    else:
        keep = ["cell", "volume_um3", "surface_area_um2", "sphericity", "elongation",
                "flatness", "feret_diameter_um"]
    morph["cell"] = assign_cells(labels, cells).reindex(morph["label"]).to_numpy()
    agg = aggregate_by_cell(morph[[k for k in keep if k in morph.columns]])
    cell_ids = np.unique(cells)
    voxel = float(np.prod(spacing)) if spacing is not None else 1.0
    size = np.bincount(cells.ravel())
    out = {}
    if network:
        skel = skeletonize_mask(labels > 0)
        graph = skeleton_graph(labels > 0, spacing=spacing, image=image, cells=cells,
                               prune_um=prune_um, skeleton=skel)
        table = cell_table(graph, cell_ids, rng=seed).merge(agg, on="cell", how="left")
        out["skeleton"] = skel.astype(np.uint8) * 255
    else:
        table = agg
    table = table[table["cell"] > 0].reset_index(drop=True)
    unit = "area_um2" if labels.ndim == 2 else "volume_um3"
    table[f"cell_{unit}"] = size[table["cell"]] * voxel
    if f"total_{unit}" in table.columns:
        fraction = "mito_area_fraction" if labels.ndim == 2 else "mito_volume_fraction"
        table[fraction] = table[f"total_{unit}"].fillna(0.0) / table[f"cell_{unit}"]
    out["table"] = table
    return out


def skeleton(*, mask, image=None, spacing=None, prune_um: float = 0.0, seed: int = 0):
    """Skeleton network of a mask: one row of network metrics (branches, junctions,
    lengths, efficiency …; :func:`fijibridge.features.network_metrics`)."""
    import pandas as pd

    from . import network_metrics, skeleton_graph

    graph = skeleton_graph(np.asarray(mask) > 0, spacing=spacing, image=image,
                           prune_um=prune_um)
    return {"table": pd.DataFrame([network_metrics(graph, rng=seed)])}


def count(*, labels, image=None, spacing=None):
    """Objects of a label image: per-object ``table`` (label, size in µm, mean
    intensity) and a one-row ``summary`` (count, mean and median size)."""
    import pandas as pd

    labels = np.asarray(labels).astype(np.int64)
    ids = np.arange(1, int(labels.max()) + 1)
    voxel = float(np.prod(spacing)) if spacing is not None else 1.0
    sizes = np.bincount(labels.ravel(), minlength=len(ids) + 1)[1:]
    present = sizes > 0
    unit = "area_um2" if labels.ndim == 2 else "volume_um3"
    table = pd.DataFrame({"label": ids[present], unit: sizes[present] * voxel})
    if image is not None:
        sums = np.bincount(labels.ravel(), weights=np.asarray(image, float).ravel(),
                           minlength=len(ids) + 1)[1:]
        table["mean_intensity"] = sums[present] / sizes[present]
    n = len(table)
    summary = pd.DataFrame([{"count": int(present.sum()),
                             f"mean_{unit}": float(table[unit].mean()) if n else 0.0,
                             f"median_{unit}": float(table[unit].median()) if n else 0.0}])
    return {"table": table, "summary": summary}


def pairs(*, nuclei, golgi, spacing=None, max_distance_um: float = 10.0):
    """Nucleus–Golgi pairs: each Golgi object is paired with the nucleus nearest to it
    (surface distance, µm); a Golgi farther than ``max_distance_um`` stays unpaired."""
    import pandas as pd
    from scipy import ndimage as ndi

    nuc = np.asarray(nuclei).astype(np.int64)
    gol = np.asarray(golgi).astype(np.int64)
    sp = spacing if spacing is not None else (1.0,) * nuc.ndim
    dist, idx = ndi.distance_transform_edt(nuc == 0, sampling=sp, return_indices=True)
    nearest = nuc[tuple(idx)]
    rows = []
    voxel = float(np.prod(sp))
    for g in np.unique(gol[gol > 0]):
        sel = gol == g
        d = dist[sel]
        k = int(np.argmin(d))
        n = int(nearest[sel][k])
        close = float(d[k]) <= max_distance_um
        rows.append({"golgi": int(g), "nucleus": n if close else 0, "distance_um": float(d[k]),
                     "golgi_size_um": float(sel.sum() * voxel)})
    table = pd.DataFrame(rows, columns=["golgi", "nucleus", "distance_um", "golgi_size_um"])
    paired = table.loc[table.nucleus > 0, "nucleus"].nunique()
    summary = pd.DataFrame([{"nuclei": int(len(np.unique(nuc[nuc > 0]))),
                             "golgi": int(len(table)), "paired_nuclei": int(paired)}])
    return {"table": table, "summary": summary}


def summarize(*, table, meta):
    """Concatenate the per-image tables (with item metadata) into one table."""
    import pandas as pd

    frames = tables_with_meta(table, meta)
    return {"table": pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()}


def _check_prune(p):
    check_param(p, "prune_um", positive("prune_um", allow_zero=True))


def _check_pairs(p):
    check_param(p, "max_distance_um", positive("max_distance_um"))


STEPS = {s.name: s for s in (
    make_step(features, "image", ("table", "skeleton"), check=_check_prune,
              default_outputs=("table",)),
    make_step(skeleton, "image", ("table",), check=_check_prune),
    make_step(count, "image", ("table", "summary")),
    make_step(pairs, "image", ("table", "summary"), check=_check_pairs),
    make_step(summarize, "dataset", ("table",)),
)}
