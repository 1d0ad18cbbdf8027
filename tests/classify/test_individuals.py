"""Per-individual tables and the ``classify`` pipeline step: every classifier scored on
individuals (grouped CV), cells as a separate, labelled analysis."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fijibridge.classify import MODELS
from fijibridge.classify.aggregate import aggregate_individuals
from fijibridge.classify.steps import classify

PNG = b"\x89PNG\r\n\x1a\n"


def _items(n_individuals=20, cells=5, shift=3.0, seed=0, noise_only=False):
    """Per-item tables (one item = one individual's image) and their metadata, as the
    pipeline hands them to a dataset step."""
    rng = np.random.default_rng(seed)
    tables, meta = {}, {}
    for i in range(n_individuals):
        condition = "patient" if i % 2 else "control"
        offset = rng.normal(0, 0.3)
        effect = 0.0 if noise_only else shift * (i % 2)
        tables[f"img{i:02d}"] = pd.DataFrame({
            "cell": np.arange(1, cells + 1),
            "total_length_um": rng.normal(5 + effect + offset, 1.0, cells),
            "mean_area_um2": rng.normal(2, 0.5, cells),
        })
        meta[f"img{i:02d}"] = {"condition": condition, "individual": f"ind{i:02d}",
                               "sample": i}
    return tables, meta


def test_aggregate_is_one_row_per_individual():
    cells = pd.DataFrame({"individual": ["b", "a", "a", "a", "b"],
                          "condition": ["p", "c", "c", "c", "p"],
                          "item": ["x", "y", "y", "z", "x"],
                          "centroid_x_um": [1.0, 2, 3, 4, 5],
                          "area_um2": [1.5, 2.0, 10.0, 3.0, 5.5]})
    ind = aggregate_individuals(cells)
    assert ind.columns.tolist() == ["individual", "condition", "n_cells", "n_items", "area_um2"]
    assert ind.values.tolist() == [["a", "c", 3, 2, 3.0], ["b", "p", 2, 1, 3.5]]
    assert ind.attrs["features"] == ["area_um2"]  # positions are not features
    mean = aggregate_individuals(cells, stat="mean")
    assert mean["area_um2"].tolist() == [5.0, 3.5]
    both = aggregate_individuals(cells, stat=["median", "mean"])
    assert both.attrs["features"] == ["median_area_um2", "mean_area_um2"]


def test_aggregate_refuses_bad_input():
    cells = pd.DataFrame({"individual": ["a", "a", "b"], "condition": ["c", "p", "p"],
                          "area_um2": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match=r"individual 'a' has cells of 2 condition values "
                                         r"\['c', 'p'\]"):
        aggregate_individuals(cells)
    with pytest.raises(ValueError, match="stat.*'median'"):
        aggregate_individuals(cells.assign(condition="c"), stat="medain")
    with pytest.raises(ValueError, match="no group .*'indiv'.*Did you mean 'individual'"):
        aggregate_individuals(cells, group="indiv")


@pytest.fixture(scope="module")
def result():
    tables, meta = _items()
    return classify(table=tables, meta=meta, label="condition", group="individual",
                    model="forest", n_splits=5, exclude=["sample"])


def test_step_scores_every_classifier_on_individuals(result):
    report = result["report"]
    m = report["metrics"]
    for name in MODELS:  # the accuracy of EVERY classifier reaches run.json
        assert 0.0 <= m[f"accuracy_{name}"] <= 1.0
    assert m["accuracy"] == m["accuracy_forest"]  # the chosen model's
    # medians 3 sd apart (offset sd 0.3 per individual): every model finds it
    assert min(m[f"accuracy_{n}"] for n in MODELS) >= 0.8
    # the confusion matrix counts individuals, the cells' one counts cells
    assert np.sum(report["confusion_matrix"]) == 20
    assert np.sum(report["confusion_matrix_cells"]) == 100
    assert report["unit"] == "individual" and "cell_accuracy" in m and "group_accuracy" in m
    assert report["features"] == ["total_length_um", "mean_area_um2"]
    ind = result["individuals"]
    assert len(ind) == 20 and (ind["n_cells"] == 5).all()
    assert set(ind["predicted"]) <= {"control", "patient"}
    assert (ind["predicted"] == ind["condition"]).mean() == pytest.approx(
        np.trace(report["confusion_matrix"]) / 20)
    cl = result["classifiers"]
    assert cl["model"].tolist() == list(MODELS) + ["forest"]
    assert cl["unit"].tolist() == ["individual"] * 4 + ["cell"]
    assert len(result["table"]) == 100
    for name in ("confusion", "confusion_cells", "importance", "pca", "distributions"):
        assert bytes(result[name])[:8] == PNG
        assert report["figures"][name]
    assert "in individuals" in report["figures"]["confusion"]
    assert "in cells (not individuals)" in report["figures"]["confusion_cells"]
    assert set(report["tables"]) == {"classifiers", "individuals"}
    json.dumps(report)


def test_step_keeps_identifiers_out_and_old_parameters(result):
    tables, meta = _items(noise_only=True, seed=4)
    for i, (key, t) in enumerate(tables.items()):
        # a donor number that tracks the class (controls first): a model would score
        # 100 % with it on pure noise
        t["donor_number"] = (i % 2) * 10 + i // 2
    out = classify(table=tables, meta=meta, model="logreg", models=["logreg"], n_splits=4,
                   exclude=["sample"], per_cell=False)
    rep = out["report"]
    assert "donor_number" not in rep["features"]
    assert "donor_number" in rep["excluded_identifiers"]
    assert any("donor_number" in w for w in rep["warnings"])
    assert rep["metrics"]["accuracy"] < 0.8  # noise stays noise
    assert set(rep["metrics"]) >= {"accuracy_logreg", "accuracy"}
    assert "cell_accuracy" not in rep["metrics"]


def test_step_without_group_classifies_rows():
    tables, meta = _items(n_individuals=10, cells=4)
    out = classify(table=tables, meta=meta, group=None, model="tree", models=["tree", "svm"],
                   n_splits=3, exclude=["sample"])
    rep = out["report"]
    assert rep["unit"] == "row" and np.sum(rep["confusion_matrix"]) == 40
    assert {"accuracy_tree", "accuracy_svm", "accuracy"} <= set(rep["metrics"])


def test_step_parameters_are_checked_before_any_work():
    from fijibridge.classify.steps import STEPS

    assert STEPS["classify"].inputs == ("table",)  # every other argument is a parameter
    check = STEPS["classify"].check
    with pytest.raises(ValueError, match="svn.*Did you mean 'svm'") as e:
        check({"models": ["tree", "svn"]})
    assert e.value.param == "models"
    with pytest.raises(TypeError, match="models must be a non-empty list"):
        check({"models": "svm"})
    with pytest.raises(ValueError, match="aggregate"):
        check({"aggregate": "max"})
    with pytest.raises(ValueError, match="pca"):
        check({"pca": 0})


def test_few_individuals_svm_calibrates_within_its_fold_or_is_left_out(caplog):
    """With 2 individuals per class and 2 folds a training fold holds one individual of
    each class: the SVM's probability calibration cannot run, so it is left out of the
    comparison with a warning (the chosen model still runs); with 3 per class it
    calibrates on 2-fold inside the training fold instead of failing."""
    tables, meta = _items(n_individuals=4)
    out = classify(table=tables, meta=meta, label="condition", group="individual",
                   model="forest", n_splits=2)
    m = out["report"]["metrics"]
    assert "accuracy_svm" not in m and "accuracy_forest" in m and "accuracy_tree" in m
    assert any("svm not compared" in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError, match="svm: a training fold holds 1 example"):
        classify(table=tables, meta=meta, label="condition", group="individual",
                 model="svm", n_splits=2)
    tables, meta = _items(n_individuals=6)
    out = classify(table=tables, meta=meta, label="condition", group="individual",
                   model="svm", n_splits=3)
    assert 0 <= out["report"]["metrics"]["accuracy_svm"] <= 1
