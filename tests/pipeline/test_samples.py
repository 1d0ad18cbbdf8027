"""Sample sheets (``--samples sheet.csv`` / ``items.samples``): files and metadata from a
CSV, every error raised before any work starts, naming the sheet and the line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from fijibridge.pipeline import load_pipeline, run_pipeline
from fijibridge.pipeline.plan import make_items

ROOT = Path(__file__).resolve().parents[2]

PIPE = ("version: 1\nname: s\nsteps:\n"
        "  - id: mask\n    threshold: {method: Otsu}\n    inputs: {image: input.image}\n"
        "  - id: lab\n    instances: {}\n    inputs: {mask: mask.mask}\n"
        "  - id: cnt\n    count: {}\n    inputs: {labels: lab.labels}\n"
        "  - id: all\n    summarize: {}\n    inputs: {table: cnt.summary}\n")


def _image(path: Path, n_blobs: int):
    data = np.zeros((32, 32), np.uint16)
    for i in range(n_blobs):
        data[2 + 7 * i:6 + 7 * i, 4:10] = 1000
    path.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / 0.5, 1 / 0.5),
                     metadata={"unit": "micron"})


@pytest.fixture
def lab(tmp_path):
    """A lab folder: four images in two condition folders, a pipeline file."""
    d = tmp_path / "lab"
    for name, n in (("ctrl/a.tif", 1), ("ctrl/b.tif", 2), ("pat/c.tif", 3), ("pat/d.tif", 4)):
        _image(d / name, n)
    (tmp_path / "p.yml").write_text(PIPE)
    return d


def _sheet(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


GOOD = ("file,condition,individual,batch\n"
        "ctrl/a.tif,control,C1,1\nctrl/b.tif,control,C2,1\n"
        "pat/c.tif,patient,P1,2\npat/d.tif,patient,P1,2\n")


def test_sheet_metadata_flows_into_items_and_tables(lab, tmp_path):
    sheet = _sheet(lab / "samples.csv", GOOD)
    out = tmp_path / "out"
    summary = run_pipeline(load_pipeline(tmp_path / "p.yml"), output_dir=out, samples=sheet,
                           progress=False)
    assert summary.ok, summary.failures
    run = json.loads(summary.run_json.read_text())
    assert set(run["items"]) == {"ctrl_a", "ctrl_b", "pat_c", "pat_d"}
    item = run["items"]["pat_d"]
    assert (item["condition"], item["individual"], item["batch"]) == ("patient", "P1", "2")
    assert item["file"] == str(lab / "pat" / "d.tif")
    assert run["samples"] == str(sheet)
    import pandas as pd

    table = pd.read_csv(out / "all" / "table.csv").sort_values("item")
    assert list(table["condition"]) == ["control", "control", "patient", "patient"]
    assert list(table["individual"]) == ["C1", "C2", "P1", "P1"]
    assert list(table["count"]) == [1, 2, 3, 4]


def test_sheet_in_the_pipeline_file_relative_to_it(lab, tmp_path):
    _sheet(lab / "samples.csv", GOOD)
    (tmp_path / "q.yml").write_text(PIPE.replace("name: s\n",
                                                 "name: s\nitems: {samples: lab/samples.csv}\n"))
    items, from_files = make_items(load_pipeline(tmp_path / "q.yml"), None)
    assert from_files and [it.meta["individual"] for it in items] == ["C1", "C2", "P1", "P1"]


def test_sheet_with_input_folder_leaves_out_unlisted_files(lab, tmp_path, caplog):
    sheet = _sheet(tmp_path / "s.csv", "file,condition,individual\n"
                   "lab/ctrl/a.tif,control,C1\nlab/pat/c.tif,patient,P1\n")
    items, _ = make_items(load_pipeline(tmp_path / "p.yml"), [str(lab)], samples=sheet)
    assert [it.key for it in items] == ["ctrl_a", "pat_c"]
    assert "2 input file(s) are not in the sample sheet" in caplog.text


@pytest.mark.parametrize("text, error, match", [
    ("file,condition,individual\nctrl/a.tif,control,C1\nctrl/zz.tif,control,C2\n"
     "pat/c.tif,patient,P1\n", FileNotFoundError, r"samples.csv, line 3: file 'ctrl/zz.tif' "
     r"does not exist"),
    ("file,group,individual\nctrl/a.tif,control,C1\n", ValueError,
     r"no column 'condition'.*line 1 has: 'file', 'group', 'individual'"),
    ("file,condition,subject\nctrl/a.tif,control,C1\n", ValueError,
     r"no column 'individual'.*'file', 'condition', 'subject'"),
    ("file,condition,individual\nctrl/a.tif,control,C1\nctrl/b.tif,control,C2\n", ValueError,
     r"every file is under condition 'control'; a sheet compares at least two conditions"),
    ("file,condition,individual\nctrl/a.tif,control,C1\npat/c.tif,patient,C1\n", ValueError,
     r"line 3: individual 'C1' is under condition 'patient' here and under 'control' on "
     r"line 2"),
    ("file,condition,individual\nctrl/a.tif,control,C1\npat/c.tif,patient,P1\n"
     "./ctrl/a.tif,control,C1\n", ValueError,
     r"line 4: file './ctrl/a.tif' is already named on line 2"),
    ("file,condition,individual\nctrl/a.tif,,C1\n", ValueError, r"line 2: empty 'condition'"),
    ("file,condition,individual,channels\nctrl/a.tif,control,C1,x\n", ValueError,
     r"column name 'channels' is reserved"),
])
def test_bad_sheet_fails_before_any_work(lab, tmp_path, text, error, match):
    sheet = _sheet(lab / "samples.csv", text)
    out = tmp_path / "out"
    with pytest.raises(error, match=match):
        run_pipeline(load_pipeline(tmp_path / "p.yml"), output_dir=out, samples=sheet,
                     progress=False)
    assert not out.exists()  # nothing made, nothing run


def test_sheet_file_outside_input_is_an_error(lab, tmp_path):
    _image(tmp_path / "elsewhere" / "e.tif", 1)
    sheet = _sheet(tmp_path / "s.csv", "file,condition,individual\n"
                   "lab/ctrl/a.tif,control,C1\nelsewhere/e.tif,patient,P1\n")
    with pytest.raises(ValueError, match=r"s.csv, line 3: file .*e.tif' is not among the "
                                         r"--input files"):
        make_items(load_pipeline(tmp_path / "p.yml"), [str(lab)], samples=sheet)


def test_cli_run_with_samples_and_bad_sheet_exit_code(lab, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    sheet = _sheet(lab / "samples.csv", GOOD)
    cmd = [sys.executable, "-m", "fijibridge.cli.main", "run", str(tmp_path / "p.yml"),
           "--input", str(lab), "--samples", str(sheet), "-o", str(tmp_path / "out"),
           "--no-progress"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["items"]["ctrl_b"]["individual"] == "C2"
    _sheet(sheet, GOOD.replace("pat/d.tif,patient,P1", "pat/d.tif,patient,C1"))
    r = subprocess.run(cmd[:-2] + [str(tmp_path / "out2"), "--no-progress"], capture_output=True,
                       text=True, env=env)
    assert r.returncode != 0
    assert "individual 'C1' is under condition 'patient'" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "out2").exists()
