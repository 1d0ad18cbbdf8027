"""Classifiers, grouped cross-validation, skops files and bad tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fijibridge import ModelError
from fijibridge.classify import (MODELS, cross_validate, fold_splits, load_model, predict_table,
                                 save_model, train_model)
from fijibridge.cli.main import main


def _cohort(n_individuals=10, cells=6, shift=2.0, seed=0):
    """Cells of control and patient individuals; each individual has its own offset."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_individuals):
        condition = "patient" if i % 2 else "control"
        offset = rng.normal(0, 0.3)
        for c in range(cells):
            rows.append({"individual": f"ind{i:02d}", "condition": condition, "label": c + 1,
                         "centroid_x_um": rng.uniform(0, 50),
                         "branch_length": rng.normal(shift * (i % 2) + offset, 1.0),
                         "noise": rng.normal()})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def cohort():
    return _cohort()


def test_grouped_folds_never_share_an_individual(cohort):
    groups = cohort["individual"].to_numpy()
    for train, test in fold_splits(cohort["condition"], groups, n_splits=5, rng=3):
        assert not set(groups[train]) & set(groups[test])
    report = cross_validate(cohort, label="condition", group="individual", model="logreg")
    assert report["cv"] == "StratifiedGroupKFold" and report["n_groups"] == 10
    oof = pd.DataFrame(report["out_of_fold"])
    # every individual is tested in exactly one fold and trained on in the others
    assert (oof.groupby("group")["fold"].nunique() == 1).all()
    tested = [g for f in report["folds"] for g in f["test_groups"]]
    assert sorted(tested) == sorted(set(groups))
    # identifiers and positions are not features
    assert report["features"] == ["branch_length", "noise"]


@pytest.mark.parametrize("model", MODELS)
def test_models_learn_a_separable_cohort(cohort, model):
    report = cross_validate(cohort, label="condition", group="individual", model=model,
                            n_splits=5)
    m = report["metrics"]
    assert m["accuracy"] >= 0.75 and m["roc_auc"] >= 0.8
    cm = np.asarray(report["confusion_matrix"])
    assert cm.sum() == len(cohort)
    # the pooled scores are those of the pooled out-of-fold predictions (the matrix)
    assert report["pooled"]["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    recall = np.diag(cm) / cm.sum(axis=1)
    assert report["pooled"]["balanced_accuracy"] == pytest.approx(recall.mean())
    imp = report["importance"]["values"]
    assert imp["branch_length"] > imp["noise"]
    json.dumps(report)  # the report is JSON-serialisable


def test_pca_and_stratified_cv(cohort):
    report = cross_validate(cohort, label="condition", model="tree", pca=1, n_splits=3)
    assert report["cv"] == "StratifiedKFold" and report["importance"]["kind"] == "permutation"
    with pytest.raises(ValueError, match="pca=5"):
        cross_validate(cohort, label="condition", model="tree", pca=5)


def test_save_load_predict_round_trip(cohort, tmp_path):
    bundle = train_model(cohort, label="condition", group="individual", model="forest")
    path = save_model(bundle, tmp_path / "m.skops")
    loaded = load_model(path)
    assert loaded["features"] == ["branch_length", "noise"]
    new = _cohort(n_individuals=4, seed=9).drop(columns="condition")
    a, b = predict_table(bundle, new), predict_table(path, new)
    pd.testing.assert_frame_equal(a, b)
    assert {"individual", "label", "predicted", "probability_control",
            "probability_patient"} <= set(a.columns)
    assert np.allclose(a[["probability_control", "probability_patient"]].sum(axis=1), 1)


def test_untrusted_model_file_is_refused(tmp_path):
    import os

    import skops.io as sio
    from sklearn.preprocessing import FunctionTransformer

    bad = tmp_path / "bad.skops"
    sio.dump({"format": "fijibridge.classify/1", "model": FunctionTransformer(os.system)}, bad)
    with pytest.raises(ModelError, match="refused without loading") as e:
        load_model(bad)
    assert "\n" not in str(e.value)
    junk = tmp_path / "junk.skops"
    junk.write_text("not a model")
    with pytest.raises(ModelError, match="not a zip archive.*skops"):
        load_model(junk)


def test_bad_tables_name_the_problem(cohort):
    with pytest.raises(ValueError, match="no class .*'conditon'.*Did you mean 'condition'"):
        cross_validate(cohort, label="conditon")
    one = cohort[cohort.condition == "control"]
    with pytest.raises(ValueError, match="only one class"):
        cross_validate(one, label="condition")
    nan = cohort.copy()
    nan.loc[3, "noise"] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in 1 row.*\['noise'\].*dropna"):
        cross_validate(nan, label="condition")
    with pytest.raises(ValueError, match="no group .*'indiv'"):
        cross_validate(cohort, label="condition", group="indiv")
    few = cohort[cohort.individual.isin(["ind00", "ind01", "ind02", "ind03"])]
    with pytest.raises(ValueError, match="4 groups for n_splits=5"):
        cross_validate(few, label="condition", group="individual")
    single = cohort[cohort.individual.isin(["ind00", "ind01", "ind02"])]
    with pytest.raises(ValueError, match="'patient' comes from a single group"):
        cross_validate(single, label="condition", group="individual", n_splits=2)
    with pytest.raises(ValueError, match="unknown model 'randomforest'.*Did you mean"):
        cross_validate(cohort, label="condition", model="randomforest")
    bundle = train_model(cohort, label="condition", model="logreg")
    with pytest.raises(ValueError, match=r"lacks 1 feature column.*\['noise'\]"):
        predict_table(bundle, cohort.drop(columns="noise"))


def test_cli_train_and_predict(cohort, tmp_path, capsys):
    table = tmp_path / "cells.csv"
    cohort.to_csv(table, index=False)
    model = tmp_path / "out" / "model.skops"
    rc = main(["classify", "train", str(table), "--label", "condition", "--group",
               "individual", "--model", "logreg", "-o", str(model)])
    assert rc == 0
    assert "accuracy" in capsys.readouterr().out
    report = json.loads((tmp_path / "out" / "model.report.json").read_text())
    assert report["cv"] == "StratifiedGroupKFold" and report["metrics"]["accuracy"] > 0.7
    for plot in ("confusion", "roc", "importance"):
        png = tmp_path / "out" / f"model.{plot}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pred = tmp_path / "pred.csv"
    assert main(["classify", "predict", str(model), str(table), "-o", str(pred)]) == 0
    out = pd.read_csv(pred)
    assert len(out) == len(cohort) and "predicted" in out.columns
    assert main(["classify", "train", str(table), "--label", "condition", "--model", "svn",
                 "-o", str(model)]) == 2
    assert "Did you mean 'svm'" in capsys.readouterr().err
    assert main(["classify", "train", str(table), "--label", "cond", "-o", str(model)]) == 2
    assert main(["classify", "predict", str(tmp_path / "none.skops"), str(table),
                 "-o", str(pred)]) == 1
