"""Checking feature tables before training and prediction.

Feature columns are, unless given, every numeric column except the class column,
the group column, and identifiers or positions that say where an object is rather
than what it is (:data:`ID_COLUMNS` and names starting with :data:`ID_PREFIXES`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._core.options import did_you_mean

__all__ = ["ID_COLUMNS", "ID_PREFIXES", "feature_columns", "prepare_training",
           "prepare_prediction"]

#: columns never used as features unless asked for by name
ID_COLUMNS = ("label", "cell", "component", "node", "node_u", "node_v", "image", "individual",
              "touches_border")
#: column prefixes never used as features unless asked for by name
ID_PREFIXES = ("centroid_", "bbox_", "Unnamed")


def _require_column(table, column, what):
    if column not in table.columns:
        raise ValueError(f"the table has no {what} column {column!r}; columns are "
                         f"{list(table.columns)}.{did_you_mean(column, map(str, table.columns))}")


def feature_columns(table: pd.DataFrame, *, exclude=()) -> list[str]:
    """Numeric columns usable as features (see the module docstring)."""
    skip = set(ID_COLUMNS) | set(exclude)
    return [c for c in table.select_dtypes(include="number").columns
            if c not in skip and not str(c).startswith(ID_PREFIXES)
            and table[c].dtype != bool]


def _check_finite(table, features, where):
    values = table[features].to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        cols = [f for f, b in zip(features, bad.any(axis=0)) if b]
        rows = int(bad.any(axis=1).sum())
        raise ValueError(
            f"{where} has NaN or infinite values in {rows} row(s), in column(s) {cols}; "
            "drop those rows (table.dropna()), fill them, or leave those columns out "
            "(--exclude / features=)")
    return values


def prepare_training(table: pd.DataFrame, *, label: str, group: str | None = None,
                     features=None, exclude=()):
    """Check a training table; return ``(X, y, groups, features)``.

    Raises
    ------
    ValueError
        The class or group column is missing, a feature column is missing or not
        numeric, there are NaN/inf features, fewer than two classes, or a class
        with fewer than two rows.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    _require_column(table, label, "class (--label)")
    if group is not None:
        _require_column(table, group, "group (--group)")
    if table[label].isna().any():
        raise ValueError(f"class column {label!r} has {int(table[label].isna().sum())} empty "
                         "value(s); every row needs a class")
    exclude = set(exclude) | {label} | ({group} if group else set())
    if features is None:
        features = feature_columns(table, exclude=exclude)
    else:
        features = list(features)
        for f in features:
            _require_column(table, f, "feature")
            if not pd.api.types.is_numeric_dtype(table[f]):
                raise ValueError(f"feature column {f!r} is not numeric (dtype {table[f].dtype})")
    if not features:
        raise ValueError(f"the table has no numeric feature column besides {sorted(exclude)}; "
                         f"columns are {list(table.columns)}")
    y = table[label].to_numpy()
    classes, counts = np.unique(y.astype(str), return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"class column {label!r} has only one class ({classes.tolist()}); "
                         "a classifier needs at least two (check --label and the table)")
    if counts.min() < 2:
        raise ValueError(f"class(es) {classes[counts < 2].tolist()} of {label!r} have a single "
                         "row; every class needs at least two")
    X = _check_finite(table, features, "the table")
    groups = None
    if group is not None:
        if table[group].isna().any():
            raise ValueError(f"group column {group!r} has empty values; every row needs its "
                             "individual")
        groups = table[group].astype(str).to_numpy()
    return X, y, groups, features


def prepare_prediction(table: pd.DataFrame, features) -> np.ndarray:
    """Feature matrix of a table for a model trained on ``features``."""
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    missing = [f for f in features if f not in table.columns]
    if missing:
        hints = "".join(did_you_mean(m, map(str, table.columns)) for m in missing[:3])
        raise ValueError(
            f"the table lacks {len(missing)} feature column(s) the model was trained on: "
            f"{missing}; make the table with the same feature step and options.{hints}")
    bad = [f for f in features if not pd.api.types.is_numeric_dtype(table[f])]
    if bad:
        raise ValueError(f"feature column(s) {bad} are not numeric")
    return _check_finite(table, list(features), "the table to predict")
