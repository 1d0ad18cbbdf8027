"""Segmentation metrics: pixel-wise per class, instance matching, AJI, Hausdorff.

Conventions: label images use 0 for background; instance labels need not be
consecutive. A class absent from both truth and prediction has Dice = IoU = 1 and
undefined (NaN) precision/recall.

References
----------
.. [1] U. Schmidt et al. (2018), "Cell detection with star-convex polygons", MICCAI,
       :doi:`10.1007/978-3-030-00934-2_30` (``matching``: IoU matrix, optimal matching)
.. [2] N. Kumar et al. (2017), "A dataset and a technique for generalized nuclear
       segmentation", IEEE TMI 36(7):1550-1560, :doi:`10.1109/TMI.2017.2677499` (AJI)
.. [3] J. C. Caicedo et al. (2019), "Nucleus segmentation across imaging experiments:
       the 2018 Data Science Bowl", Nat. Methods 16:1247-1253,
       :doi:`10.1038/s41592-019-0612-7` (AP over IoU 0.5-0.95)
.. [4] M. Maška et al. (2014), "A benchmark for comparison of cell tracking algorithms",
       Bioinformatics 30(11):1609-1617, :doi:`10.1093/bioinformatics/btu080` (SEG)
"""

from __future__ import annotations

import numpy as np

from .._core.options import check_choice, check_spacing

__all__ = ["pixel_metrics", "iou_matrix", "match_instances", "average_precision",
           "aggregated_jaccard_index", "seg_measure", "instance_errors",
           "hausdorff_distance", "IOU_THRESHOLDS"]

#: IoU thresholds 0.50, 0.55, ..., 0.95 (Data Science Bowl 2018)
IOU_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2))


def _pair(truth, pred, name="pred"):
    truth, pred = np.asarray(truth), np.asarray(pred)
    if truth.shape != pred.shape:
        raise ValueError(f"truth and {name} must have the same shape; got {truth.shape} "
                         f"and {pred.shape}")
    for n, a in (("truth", truth), (name, pred)):
        if a.dtype.kind not in "uib":
            raise TypeError(f"{n} must hold integer labels or booleans; got {a.dtype}")
        if a.dtype.kind == "i" and a.size and a.min() < 0:
            raise ValueError(f"{n} must not contain negative labels")
    return truth, pred


def _div(a, b):
    return float(a) / float(b) if b else float("nan")


def pixel_metrics(truth, pred, *, classes=None):
    """Pixel accuracy, and Dice, IoU, precision, recall for each class.

    Returns ``{"accuracy": float, "per_class": {c: {"dice", "iou", "precision",
    "recall"}}}``; ``classes`` defaults to every value present in either image.

    Examples
    --------
    >>> m = pixel_metrics([[0, 1, 1, 1]], [[0, 0, 1, 1]])
    >>> m["accuracy"], round(m["per_class"][1]["dice"], 3)
    (0.75, 0.8)
    """
    truth, pred = _pair(truth, pred)
    truth, pred = truth.astype(np.int64).ravel(), pred.astype(np.int64).ravel()
    if classes is None:
        classes = np.union1d(np.unique(truth), np.unique(pred)).tolist()
    out = {"accuracy": _div(np.count_nonzero(truth == pred), truth.size), "per_class": {}}
    for c in classes:
        t, p = truth == c, pred == c
        tp = np.count_nonzero(t & p)
        fp = np.count_nonzero(~t & p)
        fn = np.count_nonzero(t & ~p)
        both_empty = tp + fp + fn == 0
        out["per_class"][int(c)] = {
            "dice": 1.0 if both_empty else float(2 * tp / (2 * tp + fp + fn)),
            "iou": 1.0 if both_empty else float(tp / (tp + fp + fn)),
            "precision": _div(tp, tp + fp),
            "recall": _div(tp, tp + fn),
        }
    return out


def _overlaps(truth, pred):
    """Pixel counts shared by every truth (rows) and predicted (columns) object, the
    objects' areas and ids."""
    truth, pred = _pair(truth, pred)
    t_ids = np.unique(truth)
    p_ids = np.unique(pred)
    t_ids, p_ids = t_ids[t_ids != 0], p_ids[p_ids != 0]
    t_idx = np.searchsorted(t_ids, truth.ravel()) + 1
    t_idx[truth.ravel() == 0] = 0
    p_idx = np.searchsorted(p_ids, pred.ravel()) + 1
    p_idx[pred.ravel() == 0] = 0
    nt, npr = t_ids.size + 1, p_ids.size + 1
    inter = np.bincount(t_idx * npr + p_idx, minlength=nt * npr).reshape(nt, npr)
    area_t, area_p = inter.sum(axis=1)[1:], inter.sum(axis=0)[1:]
    return inter[1:, 1:], area_t, area_p, t_ids, p_ids


def iou_matrix(truth, pred):
    """IoU of every truth object (rows) with every predicted object (columns).

    Returns ``(iou, truth_ids, pred_ids)``.
    """
    inter, area_t, area_p, t_ids, p_ids = _overlaps(truth, pred)
    return _iou(inter, area_t, area_p), t_ids, p_ids


def _iou(inter, area_t, area_p):
    inter = inter.astype(np.float64)
    union = area_t[:, None] + area_p[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def match_instances(truth, pred, *, thresh=0.5, strategy="hungarian", _iou=None):
    """Match predicted to true objects at an IoU threshold (as StarDist's ``matching``).

    ``strategy="hungarian"`` maximises the number of matches with IoU >= ``thresh``
    and, among those, the total IoU; ``"greedy"`` takes pairs by decreasing IoU.
    (For ``thresh >= 0.5`` both give the same matches: each object overlaps at most one
    other by more than half.)

    Returns a dict with ``tp, fp, fn, precision, recall, f1, accuracy`` (``tp / (tp +
    fp + fn)``), ``mean_matched_iou`` and ``pairs`` (list of ``(truth_id, pred_id,
    iou)``).
    """
    from scipy.optimize import linear_sum_assignment

    strategy = check_choice("strategy", strategy, ["hungarian", "greedy"])
    if not 0 <= thresh <= 1:
        raise ValueError(f"thresh must be in [0, 1]; got {thresh!r}")
    iou, t_ids, p_ids = _iou if _iou is not None else iou_matrix(truth, pred)
    ok = iou >= thresh if thresh > 0 else iou > 0
    rows = cols = np.zeros(0, int)
    if iou.size and ok.any():
        if strategy == "hungarian":
            cost = -(ok * (iou.size + 1.0)) - iou
            rows, cols = linear_sum_assignment(cost)
            keep = ok[rows, cols]
            rows, cols = rows[keep], cols[keep]
        else:
            cand = np.argwhere(ok)
            order = np.argsort(-iou[ok], kind="stable")
            used_r, used_c, r_list, c_list = set(), set(), [], []
            for r, c in cand[order]:
                if r not in used_r and c not in used_c:
                    used_r.add(r), used_c.add(c), r_list.append(r), c_list.append(c)
            rows, cols = np.array(r_list, int), np.array(c_list, int)
    tp = int(rows.size)
    fp, fn = int(p_ids.size - tp), int(t_ids.size - tp)
    precision, recall = _div(tp, tp + fp), _div(tp, tp + fn)
    return {
        "thresh": float(thresh), "tp": tp, "fp": fp, "fn": fn,
        "precision": precision, "recall": recall,
        "f1": _div(2 * tp, 2 * tp + fp + fn) if (tp + fp + fn) else 1.0,
        "accuracy": _div(tp, tp + fp + fn) if (tp + fp + fn) else 1.0,
        "mean_matched_iou": float(iou[rows, cols].mean()) if tp else 0.0,
        "pairs": [(int(t_ids[r]), int(p_ids[c]), float(iou[r, c])) for r, c in zip(rows, cols)],
    }


def average_precision(truth, pred, *, thresholds=IOU_THRESHOLDS, strategy="hungarian"):
    """Data Science Bowl AP: mean over IoU thresholds of ``tp / (tp + fp + fn)``.

    Returns ``{"ap": float, "accuracy": {t: ...}, "f1": {t: ...}}``.
    """
    iou = iou_matrix(truth, pred)
    per = {float(t): match_instances(None, None, thresh=float(t), strategy=strategy, _iou=iou)
           for t in thresholds}
    return {"ap": float(np.mean([m["accuracy"] for m in per.values()])),
            "accuracy": {t: m["accuracy"] for t, m in per.items()},
            "f1": {t: m["f1"] for t, m in per.items()}}


def aggregated_jaccard_index(truth, pred):
    """Aggregated Jaccard Index (Kumar et al. 2017).

    Each true object is paired with the predicted object of highest IoU; intersections
    and unions are summed, and predicted objects never paired add their area to the
    union.
    """
    truth, pred = _pair(truth, pred)
    iou, t_ids, p_ids = iou_matrix(truth, pred)
    if t_ids.size == 0:
        return 1.0 if p_ids.size == 0 else 0.0
    area_t = np.array([np.count_nonzero(truth == i) for i in t_ids], float)
    area_p = np.array([np.count_nonzero(pred == i) for i in p_ids], float)
    inter_sum = union_sum = 0.0
    used = np.zeros(p_ids.size, bool)
    for r in range(t_ids.size):
        if p_ids.size == 0 or iou[r].max() == 0:
            union_sum += area_t[r]
            continue
        c = int(np.argmax(iou[r]))
        inter = iou[r, c] * (area_t[r] + area_p[c]) / (1 + iou[r, c])
        inter_sum += inter
        union_sum += area_t[r] + area_p[c] - inter
        used[c] = True
    union_sum += area_p[~used].sum()
    return float(inter_sum / union_sum) if union_sum else 1.0


def seg_measure(truth, pred):
    """The Cell Tracking Challenge's SEG measure (Maška et al. 2014).

    Each reference object R is paired with the predicted object S that covers more than
    half of it (there is at most one) and scores their Jaccard index ``|R∩S| / |R∪S|``;
    a reference object without such an S scores 0. SEG is the mean over the reference
    objects. Predicted objects that no reference object claims do not count, which is
    what makes SEG the right score against references that leave some objects out (the
    CTC's silver truth and ``ERR_SEG`` segmentations). Returns NaN when the reference has
    no objects.
    """
    inter, area_t, area_p, t_ids, _ = _overlaps(truth, pred)
    if t_ids.size == 0:
        return float("nan")
    if inter.shape[1] == 0:
        return 0.0
    best = np.argmax(inter, axis=1)
    i = inter[np.arange(t_ids.size), best].astype(np.float64)
    j = np.where(2 * i > area_t, i / (area_t + area_p[best] - i), 0.0)
    return float(j.mean())


def instance_errors(truth, pred, *, thresh=0.5):
    """Sort the errors of an instance segmentation by kind (what F1 alone hides).

    Objects are matched as in :func:`match_instances`. Each unmatched truth object is

    - ``merged``: one predicted object covers more than half of it *and* more than half
      of another truth object;
    - ``split``: predictions cover more than half of it together, but none alone does;
    - ``missed``: predictions cover less than half of it;
    - ``shape``: otherwise (matched in place, but the outlines differ too much).

    Each unmatched predicted object is ``extra`` when more than half of it lies on the
    truth's background and it covers no more than half of any truth object (an object
    the truth does not have), else ``mismatched`` (a piece, a union or a misshapen outline
    of truth objects). ``extra_at_border`` counts the extra objects that touch the image
    border, where references often leave cut objects out.

    Returns a dict of counts (``matched``, ``merged``, ``split``, ``missed``, ``shape``,
    ``extra``, ``extra_at_border``, ``mismatched``) and ``ids``, the object ids of each
    kind.
    """
    truth, pred = _pair(truth, pred)
    inter, area_t, area_p, t_ids, p_ids = _overlaps(truth, pred)
    m = match_instances(None, None, thresh=thresh,
                        _iou=(_iou(inter, area_t, area_p), t_ids, p_ids))
    t_done = {t for t, _, _ in m["pairs"]}
    p_done = {p for _, p, _ in m["pairs"]}
    half_t = 2 * inter > area_t[:, None]  # pred c covers more than half of truth r
    ids = {k: [] for k in ("merged", "split", "missed", "shape", "extra", "mismatched")}
    for r, t in enumerate(t_ids):
        if t in t_done:
            continue
        covered = inter[r].sum()
        if half_t[r].any() and half_t[:, np.argmax(half_t[r])].sum() > 1:
            ids["merged"].append(int(t))
        elif 2 * covered > area_t[r] and not half_t[r].any():
            ids["split"].append(int(t))
        elif 2 * covered <= area_t[r]:
            ids["missed"].append(int(t))
        else:
            ids["shape"].append(int(t))
    edge = np.zeros(truth.shape, bool)
    for ax in range(truth.ndim):
        sl = [slice(None)] * truth.ndim
        sl[ax] = [0, -1]
        edge[tuple(sl)] = True
    at_border = set(np.unique(pred[edge]).tolist())
    extra_border = 0
    for c, p in enumerate(p_ids):
        if p in p_done:
            continue
        if 2 * inter[:, c].sum() < area_p[c] and not half_t[:, c].any():
            ids["extra"].append(int(p))
            extra_border += int(p) in at_border
        else:
            ids["mismatched"].append(int(p))
    out = {"matched": m["tp"]} | {k: len(v) for k, v in ids.items()}
    out["extra_at_border"] = extra_border
    out["ids"] = ids
    return out


def hausdorff_distance(a, b, *, spacing=None, percentile=100.0):
    """Hausdorff distance (µm) between the boundaries of two masks.

    ``percentile < 100`` gives the robust variant (e.g. 95 for HD95). Two empty masks
    give 0; one empty mask gives ``inf``.

    Examples
    --------
    >>> a = np.zeros((5, 9), bool); a[2, 2] = True
    >>> b = np.zeros((5, 9), bool); b[2, 6] = True
    >>> hausdorff_distance(a, b, spacing=(1.0, 0.5))
    2.0
    """
    from scipy import ndimage as ndi

    a, b = np.asarray(a) != 0, np.asarray(b) != 0
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape; got {a.shape} and {b.shape}")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be in (0, 100]; got {percentile!r}")
    spacing = check_spacing(spacing, a.ndim)
    if not a.any() and not b.any():
        return 0.0
    if not a.any() or not b.any():
        return float("inf")
    edge_a = a & ~ndi.binary_erosion(a, border_value=0)
    edge_b = b & ~ndi.binary_erosion(b, border_value=0)
    d_to_b = ndi.distance_transform_edt(~edge_b, sampling=spacing)[edge_a]
    d_to_a = ndi.distance_transform_edt(~edge_a, sampling=spacing)[edge_b]
    d = np.concatenate([d_to_b, d_to_a])
    return float(d.max() if percentile == 100 else np.percentile(d, percentile))
