"""Per-individual tables: one row per individual from a table of cells.

The question a cohort answers is about individuals (is this person a patient?), and
the cells of one individual are not independent samples: a classifier trained and
scored on cells counts each individual many times.  :func:`aggregate_individuals`
summarises each individual's cells by the median (or mean) of every feature and
keeps how many cells went into it; classifiers are then cross-validated on these rows
(see :func:`fijibridge.classify.cross_validate`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from .._core.options import check_choice
from .table import _require_column, feature_columns, identifier_columns

__all__ = ["aggregate_individuals", "STATISTICS"]

log = logging.getLogger(__name__)

#: per-feature summaries of an individual's cells
STATISTICS = ("median", "mean")


def aggregate_individuals(table: pd.DataFrame, *, group: str = "individual",
                          label: str | None = "condition", features=None, exclude=(),
                          stat="median", keep_id_columns: bool = False) -> pd.DataFrame:
    """One row per individual: its class, its number of cells, and each feature summarised.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per cell with a ``group`` column (the individual), a ``label`` column
        (its condition) and numeric feature columns.
    group : str, default ``"individual"``
    label : str or None, default ``"condition"``
        Class column; each individual must have a single value.  ``None``: no class.
    features : list of str, optional
        Feature columns (default: :func:`fijibridge.classify.feature_columns` —
        numeric columns that are neither identifiers, positions nor ``exclude``).
    exclude : list of str
        Columns left out of the automatic feature choice.
    stat : {'median', 'mean'} or a list of them
        Summary of each feature over an individual's cells.  With one statistic the
        columns keep the feature names (the value is that statistic); with several,
        they are named ``<stat>_<feature>`` (units stay at the end of the name).
    keep_id_columns : bool
        As in :func:`~fijibridge.classify.feature_columns`.

    Returns
    -------
    pandas.DataFrame
        Columns ``group``, ``label``, ``n_cells``, ``n_items`` (when the table has an
        ``item`` column), then the summarised features; rows sorted by ``group``.
        ``result.attrs["features"]`` lists the feature columns,
        ``result.attrs["stat"]`` the statistics and
        ``result.attrs["excluded_identifiers"]`` the identifier-like columns left out
        (``{column: reason}``; see :func:`fijibridge.classify.table.identifier_columns`).

    Raises
    ------
    ValueError
        A missing column, an unknown statistic, or an individual with cells of two
        classes (a sample sheet mixing up individuals).

    Examples
    --------
    >>> cells = pd.DataFrame({"individual": ["a", "a", "b"], "condition": ["c", "c", "p"],
    ...                       "area_um2": [1.0, 3.0, 5.0]})
    >>> aggregate_individuals(cells)[["individual", "n_cells", "area_um2"]].values.tolist()
    [['a', 2, 2.0], ['b', 1, 5.0]]
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame; got {type(table).__name__}")
    stats = [stat] if isinstance(stat, str) else list(stat)
    if not stats:
        raise ValueError(f"stat must be one of {STATISTICS} or a list of them; got {stat!r}")
    stats = [check_choice("stat", s, STATISTICS) for s in stats]
    _require_column(table, group, "group (individual)")
    if label is not None:
        _require_column(table, label, "class (label)")
    if table.empty:
        raise ValueError("the table has no rows; no individual to summarise")
    ids = {}
    if features is None:
        skip = set(exclude) | ({label} if label else set()) | {"n_cells", "n_items"}
        features = feature_columns(table, exclude=skip, group=group, keep_id_columns=True)
        if not keep_id_columns:
            ids = identifier_columns(table, group=group, columns=features)
            if ids:
                log.warning("left out as identifier-like (not features): %s; name them in "
                            "features= or pass keep_id_columns=True to use them",
                            ", ".join(f"{c} ({why})" for c, why in ids.items()))
            features = [f for f in features if f not in ids]
    features = [f for f in features if f not in (group, label)]
    missing = [f for f in features if f not in table.columns]
    if missing:
        raise ValueError(f"feature column(s) {missing} are not in the table")
    if not features:
        raise ValueError("no numeric feature column to summarise (after leaving out "
                         f"identifiers and {sorted(exclude)})")
    grouped = table.groupby(group, sort=True)
    out = pd.DataFrame({group: list(grouped.groups)})
    if label is not None:
        classes = grouped[label].nunique()
        mixed = classes[classes > 1]
        if len(mixed):
            g = mixed.index[0]
            seen = sorted(map(str, table.loc[table[group] == g, label].unique()))
            raise ValueError(f"{group} {g!r} has cells of {len(seen)} {label} values {seen}; "
                             f"each {group} must belong to one {label} ({len(mixed)} such "
                             f"{group}(s)). Check the sample sheet or the path pattern")
        out[label] = grouped[label].first().to_numpy()
    out["n_cells"] = grouped.size().to_numpy().astype(int)
    if "item" in table.columns:
        out["n_items"] = grouped["item"].nunique().to_numpy().astype(int)
    names = []
    for s in stats:
        values = getattr(grouped[features], s)()
        for f in features:
            name = f if len(stats) == 1 else f"{s}_{f}"
            out[name] = values[f].to_numpy(dtype=float)
            names.append(name)
    out.attrs["features"] = names
    out.attrs["stat"] = stats
    out.attrs["excluded_identifiers"] = ids
    few = out.loc[out["n_cells"] < 2, group].tolist()
    if few:
        log.warning("%d %s(s) with a single cell: %s", len(few), group,
                    ", ".join(map(str, few[:10])))
    log.info("aggregated %d cells into %d %s rows (%s of %d features)", len(table), len(out),
             group, "/".join(stats), len(features))
    if not np.isfinite(out[names].to_numpy()).all():
        bad = [n for n in names if not np.isfinite(out[n]).all()]
        raise ValueError(f"feature(s) {bad} are NaN for some {group}: every cell of it has "
                         "NaN there; fill or drop them first")
    return out
