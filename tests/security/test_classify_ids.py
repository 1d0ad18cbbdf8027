"""classify: identifier columns are not features.

A running sample number that follows the class (controls numbered first) with pure
noise as the only real features: with the number used as a feature, grouped CV
reported 0.97-0.995 accuracy; left out, accuracy is at chance.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sklearn")

from fijibridge.classify import cross_validate, identifier_columns, train_model  # noqa: E402
from fijibridge.classify.table import feature_columns  # noqa: E402


def _noise_cohort(n_individuals=30, cells=12, seed=0, id_name="sample"):
    """Pure-noise features; ``id_name`` numbers the individuals, controls first."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_individuals):
        condition = "control" if i < n_individuals // 2 else "patient"
        for c in range(cells):
            rows.append({"individual": f"ind{i:02d}", "condition": condition,
                         id_name: i + 1,
                         "area": int(rng.integers(50, 5000)),
                         **{f"f{k}": rng.normal() for k in range(4)}})
    return pd.DataFrame(rows)


def test_running_sample_number_is_not_a_feature():
    table = _noise_cohort()
    rep = cross_validate(table, label="condition", group="individual", model="forest",
                         n_splits=5, rng=0)
    assert "sample" not in rep["features"]
    assert rep["features"] == ["area", "f0", "f1", "f2", "f3"]
    assert rep["excluded_identifiers"] == {"sample": "identifier name"}
    assert rep["metrics"]["accuracy"] < 0.75, rep["metrics"]
    # the leak is real: kept on purpose, the number gives a near-perfect score
    leak = cross_validate(table, label="condition", group="individual", model="forest",
                          n_splits=5, rng=0, keep_id_columns=True)
    assert "sample" in leak["features"] and leak["metrics"]["accuracy"] > 0.9
    assert leak["excluded_identifiers"] == {}
    bundle = train_model(table, label="condition", group="individual")
    assert "sample" not in bundle["features"]


def test_group_number_with_an_unremarkable_name_is_found_by_its_values():
    table = _noise_cohort(id_name="batch")
    table["row"] = np.arange(len(table))        # a row counter, named "row"
    table["counter"] = np.arange(len(table)) + 7  # a row counter with a neutral name
    ids = identifier_columns(table, group="individual")
    assert set(ids) == {"batch", "row", "counter"}, ids
    assert "per individual" in ids["batch"] and "every row" in ids["counter"]
    feats = feature_columns(table, exclude=["condition"], group="individual")
    assert feats == ["area", "f0", "f1", "f2", "f3"]
    rep = cross_validate(table, label="condition", group="individual", rng=0)
    assert rep["metrics"]["accuracy"] < 0.75


def test_named_features_and_measurements_are_kept():
    table = _noise_cohort()
    table["shape_index"] = np.random.default_rng(1).normal(size=len(table))
    table["n_branches"] = np.random.default_rng(2).integers(0, 4, len(table))
    feats = feature_columns(table, exclude=["condition"], group="individual")
    assert "shape_index" in feats and "n_branches" in feats and "area" in feats
    rep = cross_validate(table, label="condition", group="individual", rng=0,
                         features=["sample", "f0"])
    assert rep["features"] == ["sample", "f0"]  # asked for by name: used


@pytest.mark.parametrize("name", ["cell_id", "image_name", "SampleID", "sample_no", "file",
                                  "object_id", "label_id", "Index", "ID"])
def test_identifier_names(name):
    t = pd.DataFrame({name: [3, 1, 2, 2, 9, 4], "mean": [0.1, 0.5, 0.2, 0.3, 0.4, 0.9]})
    assert identifier_columns(t) == {name: "identifier name"}


def test_cli_prints_and_records_features(tmp_path, capsys):
    from fijibridge.cli.main import main

    _noise_cohort().to_csv(tmp_path / "t.csv", index=False)
    out = tmp_path / "m.skops"
    assert main(["classify", "train", str(tmp_path / "t.csv"), "--label", "condition",
                 "--group", "individual", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "features (5): area, f0, f1, f2, f3" in printed
    assert "left out as identifiers: sample" in printed
    report = json.loads((tmp_path / "m.report.json").read_text())
    assert report["features"] == ["area", "f0", "f1", "f2", "f3"]
    assert report["excluded_identifiers"] == {"sample": "identifier name"}
    assert report["metrics"]["accuracy"] < 0.75
