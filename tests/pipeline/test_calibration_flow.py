"""Calibration through a run: an uncalibrated input gets one warning (logged once, in
run.json), every item's calibration is in run.json, every per-item table row says
whether its sizes are in µm (``calibrated``), and a spacing override is recorded."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from fijibridge.pipeline import load_pipeline, run_pipeline

ROOT = Path(__file__).resolve().parents[2]

# two items phases (mask..cnt, then `after`, which needs the per-dataset table)
PIPE = ("version: 1\nname: cal\nsteps:\n"
        "  - id: mask\n    threshold: {method: Otsu}\n    inputs: {image: input.image}\n"
        "  - id: lab\n    instances: {}\n    inputs: {mask: mask.mask}\n"
        "  - id: cnt\n    count: {}\n    inputs: {labels: lab.labels}\n"
        "  - id: all\n    summarize: {}\n    inputs: {table: cnt.table}\n"
        "  - id: after\n    python: pl_after_steps:rows\n"
        "    inputs: {image: input.image, table: all.table}\n    outputs: [table]\n")

AFTER = '''
import pandas as pd

def rows(*, image, table):
    """A per-item table made in a second items phase."""
    return {"table": pd.DataFrame({"pixels": [int(image.size)], "rows": [len(table)]})}
'''


def _blobs():
    data = np.zeros((24, 24), np.uint16)
    data[2:6, 2:8] = 1000   # 24 px
    data[12:20, 10:12] = 1000  # 16 px
    return data


@pytest.fixture
def folder(tmp_path, monkeypatch):
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "pl_after_steps.py").write_text(AFTER)
    monkeypatch.syspath_prepend(str(mods))
    d = tmp_path / "in"
    d.mkdir()
    tifffile.imwrite(d / "plain.tif", _blobs())  # tifffile's 1/1 resolution, no unit
    tifffile.imwrite(d / "cal.tif", _blobs(), imagej=True, resolution=(2.0, 2.0),
                     metadata={"unit": "micron"})  # 0.5 µm pixels
    (tmp_path / "p.yml").write_text(PIPE)
    return d


def test_uncalibrated_input_warned_once_and_recorded(folder, tmp_path, caplog):
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="fijibridge"):
        summary = run_pipeline(load_pipeline(tmp_path / "p.yml"), output_dir=out,
                               inputs=str(folder), progress=False)
    assert summary.ok, summary.failures
    plain = str(folder / "plain.tif")
    logged = [r.getMessage() for r in caplog.records if "states no pixel size" in r.getMessage()]
    assert len(logged) == 1, logged  # one item, one warning, across both items phases
    assert repr(plain) in logged[0] and "--spacing" in logged[0]
    run = json.loads(summary.run_json.read_text())
    assert run["warnings"] == logged
    assert run["spacing_override"] is None
    item = run["items"]["plain"]
    assert item["calibrated"] is False and item["file"] == plain
    assert item["spacing_um"] == {"z": None, "y": None, "x": None}
    assert item["channels"] == [] and item["spacing_source"] == "none"
    cal = run["items"]["cal"]
    assert cal["calibrated"] is True and cal["spacing_um"] == {"z": None, "y": 0.5, "x": 0.5}
    assert cal["spacing_source"] == "file"
    # every table row a per-item step writes, and the per-dataset table built from them
    for key, flag, unit in (("plain", False, 1.0), ("cal", True, 0.25)):
        t = pd.read_csv(out / "cnt" / f"{key}.table.csv")
        assert list(t["calibrated"]) == [flag, flag]
        assert sorted(t["area_um2"]) == pytest.approx([16 * unit, 24 * unit])
        s = pd.read_csv(out / "cnt" / f"{key}.summary.csv")
        assert list(s["calibrated"]) == [flag]
    table = pd.read_csv(out / "all" / "table.csv")
    assert dict(zip(table["item"], table["calibrated"])) == {"plain": False, "cal": True}
    for key, flag in (("plain", False), ("cal", True)):  # second items phase, python step
        t = pd.read_csv(out / "after" / f"{key}.table.csv")
        assert list(t["calibrated"]) == [flag] and list(t["rows"]) == [4]


def test_spacing_override_used_and_recorded(folder, tmp_path, caplog):
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="fijibridge"):
        summary = run_pipeline(load_pipeline(tmp_path / "p.yml"), output_dir=out,
                               inputs=str(folder), spacing=[0.2, 0.2], progress=False)
    assert summary.ok, summary.failures
    run = json.loads(summary.run_json.read_text())
    assert run["spacing_override"]["spacing_um"] == [0.2, 0.2]
    for key in ("plain", "cal"):
        item = run["items"][key]
        assert item["calibrated"] is True and item["spacing_source"] == "override"
        assert item["spacing_um"] == {"z": None, "y": 0.2, "x": 0.2}
        t = pd.read_csv(out / "cnt" / f"{key}.table.csv")
        assert sorted(t["area_um2"]) == pytest.approx([16 * 0.04, 24 * 0.04])
        assert list(t["calibrated"]) == [True, True]
    # no "uncalibrated" warning; the file that states another spacing is told once
    assert not any("states no pixel size" in w for w in run["warnings"])
    replaced = [w for w in run["warnings"] if "replaces it" in w]
    assert len(replaced) == 1 and repr(str(folder / "cal.tif")) in replaced[0]
    assert "0.5 × 0.5" in replaced[0]


def test_spacing_override_from_the_pipeline_file_and_set(folder, tmp_path):
    (tmp_path / "q.yml").write_text(PIPE.replace(
        "name: cal\n", "name: cal\nconfig: {spacing: null}\nitems: {spacing: '${spacing}'}\n"))
    spec = load_pipeline(tmp_path / "q.yml", overrides={"spacing": [0.1, 0.1]})
    assert spec.items.spacing == [0.1, 0.1]
    with pytest.raises(ValueError, match=r"items.spacing must be 3 \(z, y, x\) or 2 \(y, x\) "
                                         r"positive numbers in µm.*got \[0.1, -1"):
        run_pipeline(load_pipeline(tmp_path / "q.yml", overrides={"spacing": [0.1, -1]}),
                     output_dir=tmp_path / "o", inputs=str(folder), progress=False)
    assert not (tmp_path / "o").exists()


def test_two_value_override_on_a_stack_is_refused(tmp_path):
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((3, 8, 8), np.uint16), photometric="minisblack")
    (tmp_path / "p.yml").write_text("version: 1\nname: z\nsteps:\n  - id: g\n"
                                    "    gaussian: {sigma_um: 1.0}\n    inputs: {image: input.image}\n")
    summary = run_pipeline(load_pipeline(tmp_path / "p.yml"), output_dir=tmp_path / "o",
                           inputs=str(tmp_path / "stack.tif"), spacing=(0.1, 0.1),
                           progress=False)
    assert not summary.ok
    assert "is a Z stack; give 3 values (z, y, x)" in summary.failures[0]["error"]


def test_cli_spacing_option(folder, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path / "mods"),
                                                        os.environ.get("PYTHONPATH", "")])}
    r = subprocess.run([sys.executable, "-m", "fijibridge.cli.main", "run", str(tmp_path / "p.yml"),
                        "--input", str(folder / "plain.tif"), "--spacing", "0.3,0.3",
                        "-o", str(tmp_path / "out"), "--no-progress"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["spacing_override"]["spacing_um"] == [0.3, 0.3]
    assert run["items"]["plain"]["spacing_um"]["x"] == 0.3 and run["warnings"] == []
    r = subprocess.run([sys.executable, "-m", "fijibridge.cli.main", "run", str(tmp_path / "p.yml"),
                        "--input", str(folder), "--spacing", "0.3,x", "-o", str(tmp_path / "o2")],
                       capture_output=True, text=True, env=env)
    assert r.returncode != 0 and "--spacing must be 3 (z, y, x) or 2 (y, x)" in r.stderr
    assert "Traceback" not in r.stderr
