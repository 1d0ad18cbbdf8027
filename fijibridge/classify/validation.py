"""Cross-validation: stratified, or grouped so that no individual is in train and test.

With a group column (the individual, patient or animal each cell comes from),
:class:`~sklearn.model_selection.StratifiedGroupKFold` puts all rows of a group in the
same fold, so a model is never tested on cells of an individual it was trained on:
cells of one individual are correlated, and mixing them inflates accuracy.  Without
groups, :class:`~sklearn.model_selection.StratifiedKFold` is used.

Metrics
-------
Per fold, then mean and standard deviation over folds: ``accuracy``,
``balanced_accuracy`` (mean recall over classes), ``f1`` (of the second class in
sorted order for two classes, e.g. ``patient`` against ``control``; macro-averaged
for more), ``roc_auc`` (from ``predict_proba``; one-vs-rest macro for more than two
classes; NaN in a fold that holds a single class).  The confusion matrix and the ROC
curve are computed on the pooled out-of-fold predictions.  With groups,
``group_accuracy`` is the accuracy of a majority vote over each group's rows.
"""

from __future__ import annotations

import logging

import numpy as np

from .._core.options import check_positive
from .models import make_model, native_importance_kind
from .table import feature_columns, identifier_columns, prepare_training

__all__ = ["cross_validate", "fold_splits"]

log = logging.getLogger(__name__)


def fold_splits(y, groups=None, *, n_splits: int = 5, rng: int = 0):
    """List of ``(train_index, test_index)``; grouped when ``groups`` is given.

    Raises
    ------
    ValueError
        Fewer groups (or rows per class) than folds, or a class whose rows all come
        from one group (it could never be both trained on and tested).
    """
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    n_splits = check_positive("n_splits", n_splits, integer=True)
    if n_splits < 2:
        raise ValueError(f"n_splits must be >= 2; got {n_splits}")
    y = np.asarray(y).astype(str)
    classes = np.unique(y)
    if groups is None:
        smallest = min(int((y == c).sum()) for c in classes)
        if smallest < n_splits:
            raise ValueError(f"the smallest class has {smallest} rows, fewer than n_splits="
                             f"{n_splits}; use fewer folds (--splits {max(smallest, 2)})")
        cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=rng)
        splits = list(cv.split(np.zeros(len(y)), y))
    else:
        groups = np.asarray(groups).astype(str)
        n_groups = len(np.unique(groups))
        if n_groups < n_splits:
            raise ValueError(f"grouped cross-validation needs at least as many groups as folds; "
                             f"got {n_groups} groups for n_splits={n_splits}. Use --splits "
                             f"{max(n_groups, 2)} or fewer")
        for c in classes:
            if len(np.unique(groups[y == c])) < 2:
                raise ValueError(f"class {str(c)!r} comes from a single group; with grouped "
                                 "cross-validation it needs at least two individuals")
        cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=rng)
        splits = list(cv.split(np.zeros(len(y)), y, groups))
        for train, test in splits:
            leaked = set(groups[train]) & set(groups[test])
            if leaked:  # cannot happen with StratifiedGroupKFold; checked all the same
                raise RuntimeError(f"groups {sorted(leaked)} are in train and test")
    return splits


def _scores(y_true, y_pred, proba, classes):
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

    y_true = np.asarray(y_true).astype(str)
    y_pred = np.asarray(y_pred).astype(str)
    out = {"accuracy": float(accuracy_score(y_true, y_pred)),
           "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred))}
    if len(classes) == 2:
        out["f1"] = float(f1_score(y_true, y_pred, pos_label=classes[1], zero_division=0))
    else:
        out["f1"] = float(f1_score(y_true, y_pred, average="macro", labels=classes,
                                   zero_division=0))
    present = np.unique(y_true)
    if len(present) < 2:
        out["roc_auc"] = float("nan")
    elif len(classes) == 2:
        out["roc_auc"] = float(roc_auc_score(y_true == classes[1], proba[:, 1]))
    elif len(present) == len(classes):
        out["roc_auc"] = float(roc_auc_score(y_true, proba, multi_class="ovr", labels=classes))
    else:
        out["roc_auc"] = float("nan")
    return out


def _native_importance(fitted, kind):
    clf = fitted.named_steps["clf"]
    if kind == "impurity":
        return np.asarray(clf.feature_importances_, float)
    return np.abs(np.atleast_2d(clf.coef_)).mean(axis=0)


def cross_validate(table, *, label: str, group: str | None = None, model: str = "forest",
                   pca: int | None = None, n_splits: int = 5, rng: int = 0, features=None,
                   exclude=(), permutation_repeats: int = 5,
                   keep_id_columns: bool = False, importance: bool = True) -> dict:
    """Cross-validated scores of one model on a feature table.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per cell (or object), feature columns, a class column and,
        optionally, a group column.
    label : str
        Name of the class column (e.g. ``"condition"``).
    group : str, optional
        Name of the group column (e.g. ``"individual"``); switches on grouped CV.
    model : {'tree', 'logreg', 'svm', 'forest'}
    pca : int, optional
        Principal components kept after scaling.
    n_splits : int, default 5
    rng : int, default 0
        Seed of the fold shuffling, the models and the permutations.
    features, exclude : list of str, optional
        Feature columns to use, or to leave out of the automatic choice
        (:func:`fijibridge.classify.table.feature_columns`).
    permutation_repeats : int, default 5
        Repeats of permutation importance on each test fold (used for SVM and with
        PCA; the other models report model-native importance of a fit on all rows).
    keep_id_columns : bool, default False
        Keep identifier-like columns (running sample/row numbers, ``*_id`` names …,
        see :func:`fijibridge.classify.table.identifier_columns`) in the automatic
        feature choice.  They are left out by default: an identifier that tracks the
        class scores near 100 % on noise.

    Returns
    -------
    dict
        JSON-serialisable: ``metrics`` (mean/std per metric), ``folds``,
        ``pooled`` (metrics of the pooled out-of-fold predictions),
        ``confusion_matrix`` (rows: true class, columns: predicted, order
        ``classes``), ``roc`` (pooled curve(s)), ``importance``, ``group_accuracy``,
        ``out_of_fold`` predictions, ``features`` (the columns used, in order) and
        ``excluded_identifiers`` (identifier-like columns left out, with the reason).
    """
    from sklearn.base import clone
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import confusion_matrix, roc_curve

    auto = features is None
    X, y, groups, features = prepare_training(table, label=label, group=group,
                                              features=features, exclude=exclude,
                                              keep_id_columns=keep_id_columns)
    excluded_ids = {} if not auto or keep_id_columns else identifier_columns(
        table, group=group, columns=feature_columns(table, exclude=set(exclude) | {label},
                                                    group=group, keep_id_columns=True))
    log.info("features (%d): %s", len(features), ", ".join(map(str, features)))
    y_str = y.astype(str)
    classes = sorted(np.unique(y_str).tolist())
    splits = fold_splits(y_str, groups, n_splits=n_splits, rng=rng)
    template = make_model(model, pca=pca, rng=rng)
    if pca is not None and pca > min(X.shape[1], min(len(tr) for tr, _ in splits)):
        raise ValueError(f"pca={pca} is more than the {X.shape[1]} features (or training rows); "
                         f"use --pca {X.shape[1]} or fewer")
    kind = native_importance_kind(model, pca=pca)
    oof_pred = np.empty(len(y_str), dtype=object)
    oof_proba = np.zeros((len(y_str), len(classes)))
    oof_fold = np.zeros(len(y_str), dtype=int)
    folds, perm = [], []
    for k, (train, test) in enumerate(splits):
        est = clone(template)
        if model == "svm":  # its Platt scaling cross-validates inside the training fold
            smallest = int(np.unique(y_str[train], return_counts=True)[1].min())
            if smallest < 2:
                raise ValueError(f"svm: a training fold holds {smallest} example of a class; "
                                 "its probabilities need 2 or more per class — use fewer "
                                 "folds, more samples, or another model")
            est.set_params(clf__cv=min(3, smallest))
        fitted = est.fit(X[train], y_str[train])
        proba = np.zeros((len(test), len(classes)))
        proba[:, [classes.index(c) for c in fitted.classes_]] = fitted.predict_proba(X[test])
        pred = fitted.predict(X[test])
        oof_pred[test], oof_proba[test], oof_fold[test] = pred, proba, k
        row = {"fold": k, "n_train": int(len(train)), "n_test": int(len(test))}
        if groups is not None:
            row["test_groups"] = sorted(set(groups[test].tolist()))
        row.update(_scores(y_str[test], pred, proba, classes))
        folds.append(row)
        if importance and kind == "permutation":
            res = permutation_importance(fitted, X[test], y_str[test],
                                         scoring="balanced_accuracy",
                                         n_repeats=permutation_repeats, random_state=rng)
            perm.append(res.importances_mean)
        log.debug("fold %d: %s", k, row)
    names = ("accuracy", "balanced_accuracy", "f1", "roc_auc")
    metrics = {}
    for m in names:
        vals = np.array([f[m] for f in folds], float)
        metrics[m] = float(np.nanmean(vals)) if np.isfinite(vals).any() else float("nan")
        metrics[f"{m}_std"] = float(np.nanstd(vals)) if np.isfinite(vals).any() else float("nan")
    pooled = _scores(y_str, oof_pred.astype(str), oof_proba, classes)
    cm = confusion_matrix(y_str, oof_pred.astype(str), labels=classes)
    roc = {}
    for c in (classes if len(classes) > 2 else classes[1:]):
        fpr, tpr, _ = roc_curve(y_str == c, oof_proba[:, classes.index(c)])
        roc[c] = {"fpr": fpr.tolist(), "tpr": tpr.tolist()}
    if not importance:
        values = None
    elif kind == "permutation":
        values = np.mean(perm, axis=0)
    else:
        values = _native_importance(clone(template).fit(X, y_str), kind)
    report = {
        "model": model, "pca": pca, "label": label, "group": group,
        "cv": "StratifiedGroupKFold" if groups is not None else "StratifiedKFold",
        "n_splits": int(len(splits)), "seed": rng, "n_samples": int(len(y_str)),
        "n_groups": int(len(np.unique(groups))) if groups is not None else None,
        "classes": classes, "class_counts": {c: int((y_str == c).sum()) for c in classes},
        "features": list(features), "excluded_identifiers": excluded_ids,
        "metrics": metrics, "pooled": pooled, "folds": folds,
        "confusion_matrix": cm.tolist(), "roc": roc,
        "importance": None if values is None else
        {"kind": kind, "values": dict(zip(features, map(float, values)))},
        "out_of_fold": {"y_true": y_str.tolist(), "y_pred": oof_pred.astype(str).tolist(),
                        "fold": oof_fold.tolist()},
    }
    if groups is not None:
        report["out_of_fold"]["group"] = groups.tolist()
        report["group_accuracy"] = _group_accuracy(y_str, oof_pred.astype(str), groups)
    return report


def _group_accuracy(y_true, y_pred, groups):
    """Accuracy of a per-group majority vote (ties go to the first class in order)."""
    correct = []
    for g in np.unique(groups):
        sel = groups == g
        truth_vals, truth_counts = np.unique(y_true[sel], return_counts=True)
        pred_vals, pred_counts = np.unique(y_pred[sel], return_counts=True)
        correct.append(truth_vals[np.argmax(truth_counts)] == pred_vals[np.argmax(pred_counts)])
    return float(np.mean(correct))
