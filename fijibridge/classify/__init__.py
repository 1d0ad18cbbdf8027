"""Classification of feature tables (scikit-learn): models, grouped CV, reports, skops files.

``models``      :func:`make_model` — scale → optional PCA → tree / logreg / svm / forest.
``table``       column checks with clear errors, automatic feature choice.
``aggregate``   :func:`aggregate_individuals` — one row per individual (median/mean).
``validation``  :func:`cross_validate` — stratified or grouped (by individual) CV.
``report``      confusion-matrix, ROC, importance, PCA and per-condition plots (PNG).
``io``          :func:`train_model`, :func:`save_model`, :func:`load_model`,
                :func:`predict_table`.

scikit-learn, skops and matplotlib load inside the functions that use them.
"""

from __future__ import annotations

from .aggregate import aggregate_individuals
from .io import MODEL_FORMAT, TRUSTED_TYPES, load_model, predict_table, save_model, train_model
from .models import MODELS, make_model
from .report import (plot_confusion, plot_distributions, plot_importance, plot_pca, plot_roc,
                     write_plots)
from .table import feature_columns, identifier_columns, prepare_prediction, prepare_training
from .validation import cross_validate, fold_splits

__all__ = [
    "MODELS",
    "make_model",
    "aggregate_individuals",
    "feature_columns",
    "identifier_columns",
    "prepare_training",
    "prepare_prediction",
    "cross_validate",
    "fold_splits",
    "train_model",
    "save_model",
    "load_model",
    "predict_table",
    "plot_confusion",
    "plot_roc",
    "plot_importance",
    "plot_pca",
    "plot_distributions",
    "write_plots",
    "TRUSTED_TYPES",
    "MODEL_FORMAT",
]
