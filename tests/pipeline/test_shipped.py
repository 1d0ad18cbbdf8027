"""The shipped pipelines run on their small profiles (real ImageJ where they use it)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from fijibridge.pipeline import load_pipeline, run_pipeline

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mito_classification_small(tmp_path, imagej):
    spec = load_pipeline(REPO / "pipelines" / "mito_classification.yml", profile="small")
    s = run_pipeline(spec, output_dir=tmp_path, progress=False)
    run = json.loads(s.run_json.read_text())
    steps = run["timings"]["steps"]
    assert steps["features"]["ok"] == 8 and steps["classify"]["ok"] == 1
    assert steps["ij_measure"]["ok"] == 8  # the macro step ran in real ImageJ on every image
    assert "imagej" in run["versions"]["imagej"]["engine"]
    # seeded cohort, fused vs fragmented networks: measured 1.000 on the small profile;
    # chance is 0.5, so a broken feature or label column fails here
    assert run["metrics"]["classify"]["accuracy"] >= 0.75
    table = pd.read_csv(tmp_path / "classify" / "table.csv")
    parquet = pd.read_parquet(tmp_path / "classify" / "table.parquet")
    pd.testing.assert_frame_equal(parquet, table, check_dtype=False)
    assert set(table["condition"]) == {"control", "patient"}
    assert (tmp_path / "report.html").is_file() and (tmp_path / "classify" / "confusion.png").is_file()


@pytest.mark.slow
def test_nuclei_golgi_3d_small(tmp_path):
    spec = load_pipeline(REPO / "pipelines" / "nuclei_golgi_3d.yml", profile="small")
    s = run_pipeline(spec, output_dir=tmp_path, progress=False)
    assert s.ok, s.failures
    summary = pd.read_csv(tmp_path / "summary" / "table.csv")
    truth = [int(pd.read_csv(tmp_path / "nuclei_table" / f"{k}.summary.csv")["count"][0])
             for k in summary["item"]]
    assert len(summary) == 2
    # the phantoms hold ~10 nuclei each; the threshold + watershed should be close
    assert all(5 <= n <= 20 for n in summary["nuclei"]), summary
    assert all(summary["paired_nuclei"] >= 0.5 * summary["nuclei"])
    assert truth == list(summary["nuclei"])


def test_nuclei_count_small(tmp_path, imagej):
    spec = load_pipeline(REPO / "pipelines" / "nuclei_count.yml", profile="small")
    s = run_pipeline(spec, output_dir=tmp_path, progress=False)
    run = json.loads(s.run_json.read_text())
    steps = run["timings"]["steps"]
    assert steps["background"]["ok"] == 2  # the lab macro ran in ImageJ
    classic = pd.read_csv(tmp_path / "classic_counts" / "table.csv")
    assert all(classic["count"] > 3)
    # nuclei2d is shipped (models/nuclei2d/model.pt, in the wheel too): the run must pass
    assert s.ok, s.failures
    counts = pd.read_csv(tmp_path / "counts" / "table.csv")
    assert all(counts["count"] > 3)
