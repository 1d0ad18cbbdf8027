"""Pipeline steps of the classify package: ``classify`` (per-individual classification,
cross-validated by individual, over the per-image tables of all items)."""

from __future__ import annotations

import logging

from .._core.steps import Png, check_param, choice, make_step, positive, tables_with_meta

__all__ = ["STEPS", "classify"]

log = logging.getLogger(__name__)


def _png(plot, data, **kwargs) -> Png:
    """The bytes of ``plot(data, path, **kwargs)`` drawn into a temporary file."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "plot.png"
        plot(data, path, **kwargs)
        return Png(path.read_bytes())


def _model_row(name, rep, unit):
    m = rep["metrics"]
    return {"model": name, "unit": unit, "n": rep["n_samples"],
            **{k: m[k] for k in ("accuracy", "accuracy_std", "balanced_accuracy", "f1",
                                 "roc_auc")}}


def classify(*, table, meta, label: str = "condition", group: str | None = "individual",
             model: str = "forest", models: list | None = None, n_splits: int = 5,
             seed: int = 0, exclude: list | None = None, fill: float = 0.0,
             pca: int | None = None, aggregate: str = "median", per_cell: bool = True):
    """Classification of individuals, cross-validated by individual, on per-cell tables.

    Each item's table (one row per cell) gets the item's metadata columns.  With a
    ``group`` (the individual), the cells of each individual are summarised into one
    row (``aggregate``: the median or mean of each feature, with ``n_cells``), and
    every classifier of ``models`` (default: all of
    :data:`~fijibridge.classify.MODELS` — tree, logreg, svm, forest; each with ``pca``
    components when given) is cross-validated on these rows with
    :class:`~sklearn.model_selection.StratifiedGroupKFold`.  ``model`` is the one
    whose scores are ``accuracy`` etc. and whose confusion matrix and importance are
    drawn.  With ``per_cell`` (default), ``model`` is also cross-validated on the cells
    themselves, grouped by individual (no individual in train and test): its scores
    are ``cell_accuracy`` and ``group_accuracy`` (majority vote of each individual's
    cells), its confusion matrix counts cells.  Without a ``group`` the rows are the
    units (stratified CV over rows).

    Outputs: ``report`` (JSON; ``metrics``: ``accuracy`` … of ``model`` and
    ``accuracy_<name>`` of every classifier — the runner records them in run.json),
    ``table`` (all cells), ``individuals`` (one row per individual with the
    out-of-fold prediction of ``model``), ``classifiers`` (one row per classifier),
    PNGs ``confusion`` (individuals), ``confusion_cells``, ``importance``, ``pca``
    (individuals on two principal components) and ``distributions`` (each feature by
    condition, one point per individual).  ``report["figures"]`` and
    ``report["tables"]`` give each output's caption for the run's report.html.
    """
    import pandas as pd

    from . import MODELS, cross_validate, plot_confusion, plot_importance
    from .aggregate import aggregate_individuals
    from .report import plot_distributions, plot_pca

    frames = tables_with_meta(table, meta)
    if not frames:
        raise ValueError("classify: no item produced a table")
    data = pd.concat(frames, ignore_index=True)
    numeric = data.select_dtypes("number").columns
    data[numeric] = data[numeric].fillna(fill)
    drop = ["item", "sample"] + list(exclude or [])
    drop = [c for c in drop if c in data.columns and c != group]
    names = list(dict.fromkeys(list(models or MODELS) + [model]))
    common = {"label": label, "n_splits": n_splits, "rng": seed, "pca": pca}
    out = {"table": data}
    figures, tables, rows, metrics = {}, {}, [], {}
    if group:
        ind = aggregate_individuals(data, group=group, label=label, exclude=drop,
                                    stat=aggregate)
        features = ind.attrs["features"]
        reps = _compare(names, model, lambda m: cross_validate(
            ind, group=group, model=m, features=features, importance=m == model, **common))
        rep = reps[model]
        unit, units = group, f"{group}s"
        # out-of-fold predictions come in the rows' order
        at = ind.columns.get_loc("n_items" if "n_items" in ind.columns else "n_cells") + 1
        ind.insert(at, "predicted", rep["out_of_fold"]["y_pred"])
    else:
        reps = _compare(names, model, lambda m: cross_validate(
            data, group=None, exclude=drop, model=m, importance=m == model, **common))
        rep, unit, units, ind, features = reps[model], "row", "rows", None, reps[model]["features"]
    for m, r in reps.items():
        rows.append(_model_row(m, r, unit))
        metrics[f"accuracy_{m}"] = r["metrics"]["accuracy"]
        metrics[f"balanced_accuracy_{m}"] = r["metrics"]["balanced_accuracy"]
    metrics.update(rep["metrics"])
    report = {"model": model, "models": names, "label": label, "group": group, "pca": pca,
              "aggregate": aggregate if group else None, "unit": unit,
              "n_rows": int(len(data)), "n_groups": int(data[group].nunique()) if group else None,
              "metrics": metrics, "confusion_matrix": rep["confusion_matrix"],
              "classes": rep["classes"], "features": rep["features"],
              "excluded_identifiers": ind.attrs["excluded_identifiers"] if group
              else rep["excluded_identifiers"],
              "importance": rep["importance"]}
    out["confusion"] = _png(plot_confusion, rep, unit=units)
    figures["confusion"] = (
        f"Confusion matrix of {model} in {units}: each of the {rep['n_samples']} {units} "
        f"counted once, predicted in the cross-validation fold where it was left out "
        f"({rep['n_splits']} folds, {rep['cv']}).")
    if group and per_cell:
        crep = cross_validate(data, group=group, exclude=drop, model=model, importance=False,
                              **common)
        rows.append(_model_row(model, crep, "cell"))
        metrics["cell_accuracy"] = crep["metrics"]["accuracy"]
        metrics["group_accuracy"] = crep["group_accuracy"]
        report["group_accuracy"] = crep["group_accuracy"]
        report["confusion_matrix_cells"] = crep["confusion_matrix"]
        out["confusion_cells"] = _png(plot_confusion, crep, unit="cells")
        figures["confusion_cells"] = (
            f"Confusion matrix of {model} in cells (not {units}): {crep['n_samples']} cells "
            f"classified one by one, folds grouped by {group} so no {group}'s cells are in "
            f"both training and test. A majority vote of each {group}'s cells gives "
            f"{crep['group_accuracy']:.2f} accuracy.")
    else:
        out["confusion_cells"] = out["confusion"]
        figures["confusion_cells"] = (f"The same matrix as above: without per_cell and a "
                                      f"group column, the {units} are the only unit.")
    out["importance"] = _png(plot_importance, rep, top=None)
    kind = {"impurity": "impurity decrease", "abs_coef": "absolute coefficient",
            "permutation": "drop in balanced accuracy when the feature is shuffled"}
    figures["importance"] = (
        f"Importance of each feature for {model} ({kind[rep['importance']['kind']]}), "
        f"on {units}; every feature used is shown.")
    base = ind if ind is not None else data
    order = sorted(features, key=lambda f: -rep["importance"]["values"].get(f, 0.0))
    out["pca"] = _png(plot_pca, base, features=features, label=label,
                      names=group if ind is not None and len(ind) <= 60 else None, unit=unit)
    figures["pca"] = (f"The {len(base)} {units} on the first two principal components of "
                      f"their {len(features)} standardised features, coloured by {label}.")
    out["distributions"] = _png(plot_distributions, base, features=order, label=label,
                                unit=unit)
    stat = f"{aggregate} per {group} of its cells" if group else "per row"
    figures["distributions"] = (
        f"Each feature ({stat}) by {label}: box of the quartiles, one point per {unit}; "
        f"features in order of importance for {model}.")
    out["classifiers"] = pd.DataFrame(rows)
    tables["classifiers"] = (
        f"Cross-validated scores of every classifier (mean over {rep['n_splits']} folds; "
        f"unit: what one row of the data was — a {unit} or a cell).")
    if ind is not None:
        out["individuals"] = ind
        tables["individuals"] = (
            f"One row per {group}: {label}, number of cells, the out-of-fold prediction of "
            f"{model}, and the {aggregate} of each feature over its cells.")
    else:
        out["individuals"] = data
    report["figures"], report["tables"] = figures, tables
    warnings = [f"column {c!r} left out of the features: it looks like an identifier ({why})"
                for c, why in report["excluded_identifiers"].items()]
    if ind is not None and (ind["n_cells"] < 2).any():
        few = ind.loc[ind["n_cells"] < 2, group].astype(str).tolist()
        warnings.append(f"{len(few)} {group}(s) with a single cell: {', '.join(few)}")
    report["warnings"] = warnings
    out["report"] = report
    return out


def _compare(names, model, evaluate):
    """``{name: report}`` of every classifier; one that cannot be evaluated on these
    data (e.g. the SVM's calibration with one sample of a class in a fold) is left out
    with a warning, unless it is the chosen ``model``."""
    reps = {}
    for m in names:
        try:
            reps[m] = evaluate(m)
        except ValueError as e:
            if m == model:
                raise
            log.warning("classify: %s not compared: %s", m, e)
    return reps


def _check_classify(p):
    from .models import MODELS

    check_param(p, "model", choice("model", MODELS))

    def n_splits(v):
        if positive("n_splits", integer=True)(v) < 2:
            raise ValueError(f"n_splits must be an integer >= 2 (folds); got {v!r}")

    check_param(p, "n_splits", n_splits)
    if p.get("models") is not None:
        names = p["models"]
        if not isinstance(names, (list, tuple)) or not names:
            e = TypeError(f"models must be a non-empty list of {list(MODELS)}; got {names!r}")
            e.param = "models"
            raise e
        for m in names:
            check_param({"models": m}, "models", choice("models", MODELS))
    check_param(p, "aggregate", choice("aggregate", ("median", "mean")))
    check_param(p, "pca", positive("pca", integer=True))


STEPS = {s.name: s for s in (
    make_step(classify, "dataset",
              ("report", "table", "individuals", "classifiers", "confusion", "confusion_cells",
               "importance", "pca", "distributions"),
              check=_check_classify),
)}
