"""``fijibridge classify``: train a classifier on a feature table, or predict with one.

Train (cross-validated report, then a model fitted on every row)::

    fijibridge classify train TABLE.csv --label COL [--group COL] --model tree|logreg|svm|forest [--pca N] -o MODEL.skops

Features are every numeric column except the class and group columns, positions and
identifier-like columns (``sample``, ``*_id``, running row or sample numbers); the
list used is printed and recorded in the report (``features``, with
``excluded_identifiers``); ``--features`` names them instead, ``--keep-id-columns``
keeps identifiers.

Beside MODEL.skops: ``MODEL.report.json`` (metrics per fold and pooled, confusion
matrix, importance, the features used, the test groups of every fold) and
``MODEL.confusion.png``, ``MODEL.roc.png``, ``MODEL.importance.png``.  With ``--group`` the folds keep every
group (individual) whole.

Predict::

    fijibridge classify predict MODEL.skops TABLE.csv -o PRED.csv
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ._common import add_common_options, is_quiet, output_file

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)

_MODELS = ("tree", "logreg", "svm", "forest")  # fijibridge.classify.MODELS, kept light here


def add_parser(subparsers):
    p = subparsers.add_parser("classify", help="train / apply a classifier on feature tables",
                              description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = sub.add_parser("train", help="cross-validate and fit a model on a feature table")
    t.add_argument("table", metavar="TABLE.csv")
    t.add_argument("--label", required=True, metavar="COL", help="class column")
    t.add_argument("--group", metavar="COL",
                   help="group (individual) column: grouped cross-validation")
    t.add_argument("--model", default="forest", metavar="|".join(_MODELS),
                   help="classifier (default forest)")
    t.add_argument("--pca", type=int, metavar="N", help="keep N principal components")
    t.add_argument("--splits", type=int, default=5, metavar="K", help="folds (default 5)")
    t.add_argument("--exclude", nargs="+", default=(), metavar="COL",
                   help="numeric columns not to use as features")
    t.add_argument("--features", nargs="+", default=None, metavar="COL",
                   help="use exactly these feature columns (default: every numeric column "
                        "except class, group, positions and identifier-like columns)")
    t.add_argument("--keep-id-columns", action="store_true",
                   help="keep identifier-like columns (running sample/row numbers, *_id, "
                        "sample, file, image ...) in the automatic feature choice")
    t.add_argument("--seed", type=int, default=0)
    add_common_options(t, output_required=True, output_metavar="DIR|MODEL.skops",
                       output_help="folder for <table>.skops and its report, or the model's "
                                   "file name")
    q = sub.add_parser("predict", help="predict the classes of a feature table")
    q.add_argument("model", metavar="MODEL.skops")
    q.add_argument("table", metavar="TABLE.csv")
    add_common_options(q, output_required=True, output_metavar="DIR|PRED.csv",
                       output_help="folder for <table>_predictions.csv, or its file name")
    p.set_defaults(func=run)
    return p


def _read_table(path):
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no table at {str(path)!r}")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read {str(path)!r} as CSV: {e}") from e


def run(args) -> int:
    import json

    from .._core.atomic import atomic_write_text
    from .._core.options import check_choice
    from ..classify import (cross_validate, load_model, predict_table, save_model, train_model,
                            write_plots)

    stem = Path(args.table).name.split(".")[0]
    if args.action == "predict":
        table = _read_table(args.table)
        pred = predict_table(load_model(args.model), table)
        out = output_file(args, f"{stem}_predictions.csv", suffixes=(".csv",))
        atomic_write_text(out, pred.to_csv(index=False))
        if not is_quiet(args):
            print(out)
        return 0

    model = check_choice("--model", args.model, _MODELS)
    table = _read_table(args.table)
    out = output_file(args, f"{stem}.skops", suffixes=(".skops",))
    report = cross_validate(table, label=args.label, group=args.group, model=model,
                            pca=args.pca, n_splits=args.splits, rng=args.seed,
                            exclude=args.exclude, features=args.features,
                            keep_id_columns=args.keep_id_columns)
    bundle = train_model(table, label=args.label, group=args.group, model=model, pca=args.pca,
                         rng=args.seed, features=report["features"])
    save_model(bundle, out)
    stem = out.with_suffix("")
    report["plots"] = write_plots(report, stem)
    report["model_file"] = str(out)
    report["table"] = str(args.table)
    atomic_write_text(stem.with_name(stem.name + ".report.json"),
                      json.dumps(report, indent=1, allow_nan=True))
    m = report["metrics"]
    print(f"features ({len(report['features'])}): {', '.join(report['features'])}")
    if report["excluded_identifiers"]:
        print("left out as identifiers: " + "; ".join(
            f"{c} ({why})" for c, why in report["excluded_identifiers"].items())
            + " (keep them with --keep-id-columns or --features)")
    print(f"{model}, {report['cv']} ({report['n_splits']} folds): accuracy "
          f"{m['accuracy']:.3f} ± {m['accuracy_std']:.3f}, balanced accuracy "
          f"{m['balanced_accuracy']:.3f}, ROC AUC {m['roc_auc']:.3f}; model {out}")
    return 0
