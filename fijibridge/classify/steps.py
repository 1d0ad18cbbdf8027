"""Pipeline steps of the classify package: ``classify`` (grouped cross-validation over
the per-image tables of all items)."""

from __future__ import annotations

from .._core.steps import Png, check_param, choice, make_step, positive, tables_with_meta

__all__ = ["STEPS", "classify"]


def classify(*, table, meta, label: str = "condition", group: str | None = "individual",
             model: str = "forest", n_splits: int = 5, seed: int = 0,
             exclude: list | None = None, fill: float = 0.0):
    """Grouped cross-validation of a classifier on the per-image tables of all items.

    Each item's table (one row per cell) gets the item's metadata columns; the
    ``label`` column is predicted, folds never split a ``group`` (individual).
    Outputs ``report`` (JSON: ``metrics`` — the cross-validated scores and, with a
    ``group``, ``group_accuracy`` of the majority vote per group — confusion matrix,
    features), ``table`` (all rows) and ``confusion`` / ``importance`` plots.  The
    runner records ``report["metrics"]`` in ``run.json`` as it is.
    """
    import tempfile
    from pathlib import Path

    import pandas as pd

    from . import cross_validate, plot_confusion, plot_importance

    frames = tables_with_meta(table, meta)
    if not frames:
        raise ValueError("classify: no item produced a table")
    data = pd.concat(frames, ignore_index=True)
    numeric = data.select_dtypes("number").columns
    data[numeric] = data[numeric].fillna(fill)
    drop = ["item", "sample"] + list(exclude or [])
    rep = cross_validate(data, label=label, group=group, model=model, n_splits=n_splits,
                         rng=seed, exclude=[c for c in drop if c in data.columns and c != group])
    metrics = dict(rep["metrics"])
    if rep.get("group_accuracy") is not None:
        metrics["group_accuracy"] = rep["group_accuracy"]
    report = {"model": model, "label": label, "group": group, "n_rows": int(len(data)),
              "n_groups": int(data[group].nunique()) if group else None,
              "metrics": metrics, "group_accuracy": rep.get("group_accuracy"),
              "confusion_matrix": rep["confusion_matrix"], "classes": rep["classes"],
              "features": rep["features"], "excluded_identifiers": rep["excluded_identifiers"],
              "importance": rep["importance"]}
    out = {"report": report, "table": data}
    with tempfile.TemporaryDirectory() as tmp:
        plot_confusion(rep, Path(tmp) / "confusion.png")
        out["confusion"] = Png((Path(tmp) / "confusion.png").read_bytes())
        if rep.get("importance"):
            plot_importance(rep, Path(tmp) / "importance.png")
            out["importance"] = Png((Path(tmp) / "importance.png").read_bytes())
    return out


def _check_classify(p):
    from .models import MODELS

    check_param(p, "model", choice("model", MODELS))

    def n_splits(v):
        if positive("n_splits", integer=True)(v) < 2:
            raise ValueError(f"n_splits must be an integer >= 2 (folds); got {v!r}")

    check_param(p, "n_splits", n_splits)


STEPS = {s.name: s for s in (
    make_step(classify, "dataset", ("report", "table", "confusion", "importance"),
              check=_check_classify, default_outputs=("report", "table", "confusion")),
)}
