"""Checking feature tables before training and prediction.

Feature columns are, unless given, every numeric column except the class column,
the group column, and identifiers or positions that say where an object is rather
than what it is:

* the names in :data:`ID_COLUMNS` and names starting with :data:`ID_PREFIXES`;
* identifier-like names (:func:`identifier_columns`): ``id``, ``sample``, ``file``,
  ``image``, ``cell``, ``index`` … alone or with an identifier suffix (``cell_id``,
  ``image_name``, ``SampleID``, ``sample_no``, ``object_id``), case-insensitive;
* identifier-like values: integer columns that number the rows (a different value on
  every row) or the groups (one value per group, a different one for each group)
  with a dense run of numbers (range < 2 x count), as a running sample number does.

An identifier that tracks the class (samples numbered control first, then patient)
lets a model score near 100 % on pure noise, even with grouped cross-validation.
Identifier-like columns are left out and logged; keep them by naming them in
``features=`` (``--features``) or with ``keep_id_columns=True``
(``--keep-id-columns``).
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from .._core.options import did_you_mean

__all__ = ["ID_COLUMNS", "ID_PREFIXES", "ID_NAMES", "feature_columns", "identifier_columns",
           "prepare_training", "prepare_prediction"]

log = logging.getLogger(__name__)

#: columns never used as features unless asked for by name
ID_COLUMNS = ("label", "cell", "component", "node", "node_u", "node_v", "image", "individual",
              "touches_border")
#: column prefixes never used as features unless asked for by name
ID_PREFIXES = ("centroid_", "bbox_", "Unnamed")
#: words that name an identifier, alone or followed by one of :data:`_ID_SUFFIXES`
ID_NAMES = ("id", "ids", "uid", "uuid", "sample", "file", "filename", "image", "img", "cell",
            "index", "idx", "item", "object", "obj", "name", "row", "subject", "patient_id",
            "label_id", "well", "roi")
#: suffixes that make any name an identifier (``nucleus_id``, ``image_name``)
_ID_SUFFIXES = ("id", "ids", "uid", "uuid", "name")
#: suffixes that do so after an :data:`ID_NAMES` word only (``sample_no``, ``cell_index``;
#: ``shape_index`` and ``branch_num`` are measurements)
_ID_NUMBER_SUFFIXES = ("index", "idx", "no", "nr", "num", "number", "key", "code")


def _name_tokens(name) -> list[str]:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", str(name))  # SampleID -> Sample_ID
    return [t for t in re.split(r"[^0-9a-z]+", text.lower()) if t]


def _id_like_name(name) -> bool:
    tokens = _name_tokens(name)
    if not tokens:
        return False
    if "_".join(tokens) in ID_NAMES:
        return True
    if len(tokens) < 2:
        return False
    # cell_id, image_name, object_id; sample_no, cell_index (not shape_index)
    return tokens[-1] in _ID_SUFFIXES or (tokens[-1] in _ID_NUMBER_SUFFIXES
                                          and "_".join(tokens[:-1]) in ID_NAMES)


def _dense_distinct_integers(values: np.ndarray) -> bool:
    """All distinct integers forming a dense run (range < 2 x count), at least 5 of them."""
    v = values.astype(float)
    if len(v) < 5 or not np.all(np.isfinite(v)) or not np.all(v == np.round(v)):
        return False
    if len(np.unique(v)) != len(v):
        return False
    return float(v.max() - v.min()) < 2 * len(v)


def identifier_columns(table: pd.DataFrame, *, group: str | None = None,
                       columns=None) -> dict[str, str]:
    """Numeric columns that look like identifiers, each with the reason (see module doc).

    Parameters
    ----------
    table : pandas.DataFrame
    group : str, optional
        Group (individual) column: a column with one value per group, different for
        each group, counts as a group identifier.
    columns : list of str, optional
        Columns to look at (default: every numeric, non-boolean column).
    """
    if columns is None:
        columns = [c for c in table.select_dtypes(include="number").columns
                   if table[c].dtype != bool]
    found = {}
    per_group = None
    if group is not None and group in table.columns:
        per_group = table.groupby(group, sort=False)
        if per_group.ngroups >= len(table):
            per_group = None  # one row per group: the per-row rule covers it
    for c in columns:
        if c == group:
            continue
        if _id_like_name(c):
            found[c] = "identifier name"
            continue
        col = table[c]
        if col.isna().any():
            continue
        if _dense_distinct_integers(col.to_numpy()):
            found[c] = "a different integer on every row (row number)"
        elif per_group is not None and (per_group[c].nunique() == 1).all() and \
                _dense_distinct_integers(per_group[c].first().to_numpy()):
            found[c] = f"one integer per {group}, different for each (group number)"
    return found


def _require_column(table, column, what):
    if column not in table.columns:
        raise ValueError(f"the table has no {what} column {column!r}; columns are "
                         f"{list(table.columns)}.{did_you_mean(column, map(str, table.columns))}")


def feature_columns(table: pd.DataFrame, *, exclude=(), group: str | None = None,
                    keep_id_columns: bool = False) -> list[str]:
    """Numeric columns usable as features (see the module docstring).

    With ``keep_id_columns`` the identifier-like columns found by
    :func:`identifier_columns` are kept (the fixed :data:`ID_COLUMNS` and
    :data:`ID_PREFIXES` are always left out).
    """
    skip = set(ID_COLUMNS) | set(exclude) | ({group} if group else set())
    cols = [c for c in table.select_dtypes(include="number").columns
            if c not in skip and not str(c).startswith(ID_PREFIXES)
            and table[c].dtype != bool]
    if keep_id_columns:
        return cols
    ids = identifier_columns(table, group=group, columns=cols)
    if ids:
        log.warning("left out as identifier-like (not features): %s; name them in features= "
                    "(--features) or pass keep_id_columns=True (--keep-id-columns) to use them",
                    ", ".join(f"{c} ({why})" for c, why in ids.items()))
    return [c for c in cols if c not in ids]


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
                     features=None, exclude=(), keep_id_columns: bool = False):
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
        features = feature_columns(table, exclude=exclude, group=group,
                                   keep_id_columns=keep_id_columns)
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
