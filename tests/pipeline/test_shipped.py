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


def _spacings(node, path=()):
    """Key paths of every ``spacing`` key in a parsed YAML tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "spacing":
                yield path + (k,)
            yield from _spacings(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _spacings(v, path + (i,))


SHIPPED = sorted(p.name for p in (REPO / "pipelines").glob("*.yml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_pipelines_state_no_spacing_of_their_inputs(name):
    """Steps take the spacing from the image (issue #16): no ``spacing`` in config (nor
    ``optics``), none under psf or any other step — only a synth step may state the
    voxel size it renders at (its images carry it)."""
    import yaml

    data = yaml.safe_load((REPO / "pipelines" / name).read_text())
    assert "optics" not in (data.get("config") or {}), name
    found = []
    for path in _spacings(data):
        if path[0] == "steps" and "synth" in data["steps"][path[1]]:
            continue
        found.append(".".join(map(str, path)))
    assert not found, f"{name} states a spacing at {found}"


def test_nuclei_golgi_3d_psf_per_stack_at_its_spacing(tmp_path):
    """The PSF is sampled per stack at the spacing the phantoms carry (1.0 × 0.5 × 0.5 µm,
    stated by the synth step), and the run records every item as calibrated."""
    from fijibridge.io import read_image

    spec = load_pipeline(REPO / "pipelines" / "nuclei_golgi_3d.yml", profile="small",
                         overrides={"n": 1})
    s = run_pipeline(spec, output_dir=tmp_path, progress=False)
    assert s.ok, s.failures
    run = json.loads(s.run_json.read_text())
    assert run["timings"]["steps"]["psf"]["per"] == "image"
    (item,) = run["items"]
    assert run["items"][item]["calibrated"] is True and run["warnings"] == []
    assert run["items"][item]["spacing_um"] == {"z": 1.0, "y": 0.5, "x": 0.5}
    psf = read_image(tmp_path / "psf" / f"{item}.psf.tif")
    assert psf.spacing == pytest.approx((1.0, 0.5, 0.5))
    nuclei = pd.read_csv(tmp_path / "nuclei_table" / f"{item}.table.csv")
    assert len(nuclei) >= 3 and set(nuclei["calibrated"]) == {True}
