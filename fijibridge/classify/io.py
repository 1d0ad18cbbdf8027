"""Training a final model, saving and loading it with skops, and predicting new tables.

A model file is a skops archive (no pickle) holding a dict: the fitted
:class:`~sklearn.pipeline.Pipeline`, the feature names in order, the class column,
the classes, and the versions used.  :func:`load_model` refuses a file that holds any
type outside what :func:`train_model` writes (:data:`TRUSTED_TYPES` plus skops'
default-trusted scikit-learn and numpy types), so a crafted file cannot run code.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .._core.atomic import atomic_path
from .._core.modelfile import one_line, read_head, refusal, why_not_zip
from .models import make_model
from .table import prepare_prediction, prepare_training

__all__ = ["train_model", "save_model", "load_model", "predict_table", "TRUSTED_TYPES",
           "MODEL_FORMAT"]

log = logging.getLogger(__name__)

MODEL_FORMAT = "fijibridge.classify/1"

#: types, beyond skops' defaults, that a fijibridge model file may hold
TRUSTED_TYPES = (
    "sklearn.tree._tree.Tree",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
)


def train_model(table: pd.DataFrame, *, label: str, model: str = "forest",
                pca: int | None = None, rng: int = 0, features=None, exclude=(),
                group: str | None = None, keep_id_columns: bool = False) -> dict:
    """Fit ``model`` on every row of ``table``; return the bundle :func:`save_model` writes.

    ``group`` only names the column so that it is not taken as a feature (grouping
    matters for validation, see :func:`fijibridge.classify.cross_validate`); a
    column with one integer per group is an identifier unless ``keep_id_columns``
    (see :func:`fijibridge.classify.table.identifier_columns`).
    """
    import sklearn

    from .. import __version__

    X, y, _, features = prepare_training(table, label=label, group=group, features=features,
                                         exclude=exclude, keep_id_columns=keep_id_columns)
    fitted = make_model(model, pca=pca, rng=rng).fit(X, y.astype(str))
    return {"format": MODEL_FORMAT, "model": fitted, "model_name": model,
            "pca": -1 if pca is None else int(pca), "features": list(features),
            "label": label, "classes": [str(c) for c in fitted.classes_],
            "fijibridge_version": __version__, "sklearn_version": sklearn.__version__}


def save_model(bundle: dict, path) -> Path:
    """Write a bundle from :func:`train_model` as a skops file, atomically."""
    import skops.io as sio

    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise TypeError("save_model takes the dict returned by train_model")
    with atomic_path(path) as tmp:
        sio.dump(bundle, tmp)
    return Path(path)


def load_model(path) -> dict:
    """Read a model file written by :func:`save_model`.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ModelError
        The file is not a skops archive, holds types fijibridge never writes, or is
        not a fijibridge model.
    """
    import skops.io as sio

    path = Path(path)
    what = "classifier model (skops file)"
    if not path.exists():
        raise FileNotFoundError(f"no model file at {str(path)!r}")
    head = read_head(path, what)  # a folder or an empty file: one-line ModelError
    if not head.startswith(b"PK"):
        raise refusal(path, what, f"{why_not_zip(path, head)}; a skops file is a zip archive "
                      "(train one with: fijibridge classify train)")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as e:  # skops raises zipfile/json/key errors for foreign files
        raise refusal(path, what, f"not a readable skops archive ({type(e).__name__}: "
                      f"{one_line(e, 120)}); train one with: fijibridge classify train") from None
    unexpected = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unexpected:
        raise refusal(path, what, f"it holds types a fijibridge model never contains "
                      f"({one_line(', '.join(unexpected), 160)}); refused without loading "
                      "them. Retrain the model with fijibridge classify train")
    try:
        bundle = sio.load(path, trusted=list(untrusted))
    except Exception as e:  # skops raises many types for damaged archives
        raise refusal(path, what, f"cannot load it ({type(e).__name__}: {one_line(e, 120)})") \
            from None
    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        got = bundle.get("format") if isinstance(bundle, dict) else type(bundle).__name__
        raise refusal(path, what, f"a skops file but not a fijibridge classifier (format "
                      f"{got!r}, expected {MODEL_FORMAT!r})")
    return bundle


def predict_table(bundle, table: pd.DataFrame, *, keep=None) -> pd.DataFrame:
    """Predicted class and class probabilities for every row of ``table``.

    Parameters
    ----------
    bundle : dict or path
        From :func:`train_model` / :func:`load_model`, or a model file.
    table : pandas.DataFrame
        Must hold every feature column the model was trained on.
    keep : list of str, optional
        Columns copied to the output first (default: the identifier columns of
        :data:`fijibridge.classify.table.ID_COLUMNS` that the table has, and the
        class column when present).

    Returns
    -------
    pandas.DataFrame
        ``keep`` columns, ``predicted`` and one ``probability_<class>`` per class.
    """
    from .table import ID_COLUMNS

    if not isinstance(bundle, dict):
        bundle = load_model(bundle)
    X = prepare_prediction(table, bundle["features"])
    fitted = bundle["model"]
    if keep is None:
        keep = [c for c in table.columns
                if c in ID_COLUMNS or c == bundle["label"]]
    out = table[list(keep)].copy().reset_index(drop=True)
    out["predicted"] = fitted.predict(X)
    proba = fitted.predict_proba(X)
    for i, c in enumerate(fitted.classes_):
        out[f"probability_{c}"] = proba[:, i]
    log.info("predicted %d rows: %s", len(out),
             dict(zip(*np.unique(out["predicted"], return_counts=True))))
    return out
