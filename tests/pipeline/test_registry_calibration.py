"""Steps owned by their packages and found by name; dataset metrics recorded as the
step gives them; input files of any format carry their calibration through a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fijibridge.pipeline import get_step, load_pipeline, run_pipeline

ROOT = Path(__file__).resolve().parents[2]

OWNERS = {
    "channel": "fijibridge.io.steps",
    "synth": "fijibridge.synth.steps", "psf": "fijibridge.psf.steps",
    "deconvolve": "fijibridge.deconv.steps", "gaussian": "fijibridge.filters.steps",
    "subtract_background": "fijibridge.filters.steps", "frangi": "fijibridge.filters.steps",
    "threshold": "fijibridge.segment.steps", "instances": "fijibridge.segment.steps",
    "segment": "fijibridge.segment.steps", "overlay": "fijibridge.segment.steps",
    "features": "fijibridge.features.steps", "skeleton": "fijibridge.features.steps",
    "count": "fijibridge.features.steps", "pairs": "fijibridge.features.steps",
    "summarize": "fijibridge.features.steps", "classify": "fijibridge.classify.steps",
}


@pytest.mark.parametrize("name", sorted(OWNERS))
def test_package_owned_step_is_found_by_name(name):
    info = get_step(name)
    assert info.name == name
    assert info.func.__module__ == OWNERS[name]


def test_unknown_step_name_suggests_one():
    with pytest.raises(KeyError, match="Did you mean 'threshold'"):
        get_step("treshold")


def test_registry_loads_lazily_and_validation_stays_light():
    """Importing the pipeline loads no steps module; validating every shipped pipeline
    loads them all but neither torch nor jpype."""
    code = (
        "import sys\n"
        "import fijibridge.pipeline as p\n"
        "early = sorted(m for m in sys.modules if m.endswith('.steps'))\n"
        "for n in ('mito_classification', 'nuclei_count', 'nuclei_golgi_3d'):\n"
        "    p.load_pipeline(n)\n"
        "late = sorted(m for m in sys.modules if m.endswith('.steps'))\n"
        "print(early, late, 'torch' in sys.modules, 'jpype' in sys.modules)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    assert out[0] == "[]" or out[0] == "['fijibridge._core.steps']", out
    assert "'fijibridge.deconv.steps'," in out and "'fijibridge.classify.steps'," in out
    assert out[-2:] == ["False", "False"], out


def test_value_check_hook_moved_with_its_step(tmp_path):
    p = tmp_path / "p.yml"
    p.write_text("version: 1\nname: t\nitems: {source: gen}\nsteps:\n"
                 "  - id: gen\n    synth: {kind: nuclei, n: 1}\n"
                 "  - id: d\n    gaussian: {sigma_um: 1.0}\n    inputs: {image: gen.image}\n"
                 "  - id: m\n    threshold: {method: Lii}\n    inputs: {image: d.image}\n")
    from fijibridge._core.errors import PipelineSpecError

    with pytest.raises(PipelineSpecError, match=r"p.yml:11: parameter 'method'.*Did you mean 'Li'"):
        load_pipeline(p)


METRICS_MODULE = '''
def tally(*, table, meta):
    """A dataset step with a report of its own metrics (names the runner never saw)."""
    n = sum(len(t) for t in table.values())
    return {"report": {"metrics": {"zeta_score": 0.25, "rows": n},
                       "group_accuracy": 0.5, "note": "not a metric"}}
'''


def test_dataset_metrics_recorded_as_the_step_gives_them(tmp_path, monkeypatch):
    mod = tmp_path / "mods"
    mod.mkdir()
    (mod / "pl_metrics_steps.py").write_text(METRICS_MODULE)
    monkeypatch.syspath_prepend(str(mod))
    p = tmp_path / "m.yml"
    p.write_text("version: 1\nname: m\nitems: {source: gen}\nsteps:\n"
                 "  - id: gen\n    synth: {kind: nuclei, n: 2, shape: [64, 64], seed: 1}\n"
                 "  - id: mask\n    threshold: {method: Otsu}\n    inputs: {image: gen.image}\n"
                 "  - id: lab\n    instances: {}\n    inputs: {mask: mask.mask}\n"
                 "  - id: cnt\n    count: {}\n    inputs: {labels: lab.labels}\n"
                 "  - id: tally\n    python: pl_metrics_steps:tally\n    per: dataset\n"
                 "    inputs: {table: cnt.summary}\n    outputs: [report]\n")
    summary = run_pipeline(load_pipeline(p), output_dir=tmp_path / "out", progress=False)
    assert summary.ok, summary.failures
    want = {"tally": {"zeta_score": 0.25, "rows": 2}}
    assert summary.metrics == want  # nothing added (the old runner added group_accuracy)
    assert json.loads(summary.run_json.read_text())["metrics"] == want
    assert "zeta_score" in summary.report_html.read_text()
    # and the runner's source names no metric of any step
    for f in (ROOT / "fijibridge" / "pipeline").glob("*.py"):
        text = f.read_text()
        assert "accuracy" not in text and "group_" not in text, f.name


STEPS_MODULE = '''
import numpy as np

def double(*, image, spacing=None):
    """Twice the image; records the spacing it was given."""
    return {"image": np.asarray(image, np.float32) * 2, "seen": {"spacing": list(spacing)}}
'''


def _ome_tiff(path, data, axes, sizes_nm, channels=None):
    import tifffile

    meta = {"axes": axes, "PhysicalSizeX": sizes_nm[-1], "PhysicalSizeXUnit": "nm",
            "PhysicalSizeY": sizes_nm[-2], "PhysicalSizeYUnit": "nm"}
    if "Z" in axes:
        meta.update(PhysicalSizeZ=sizes_nm[0], PhysicalSizeZUnit="nm")
    if channels:
        meta["Channel"] = {"Name": list(channels)}
    tifffile.imwrite(path, data, ome=True, metadata=meta, photometric="minisblack")


def test_ome_tiff_input_runs_with_its_spacing(tmp_path, monkeypatch):
    """An OME-TIFF in nm given with --input: steps get µm from it, sizes come out in µm,
    and image outputs keep the calibration."""
    from fijibridge.io import read_image

    stack = np.zeros((4, 40, 50), np.uint16)
    stack[1:3, 5:15, 5:25] = 1000        # 2 x 10 x 20 voxels
    stack[1:4, 25:35, 30:35] = 1000      # 3 x 10 x 5 voxels
    inp = tmp_path / "in"
    inp.mkdir()
    _ome_tiff(inp / "cells.ome.tif", stack, "ZYX", (500.0, 200.0, 200.0))
    p = tmp_path / "c.yml"
    p.write_text("version: 1\nname: c\nsteps:\n"
                 "  - id: smooth\n    gaussian: {sigma_um: 0.1}\n    inputs: {image: input.image}\n"
                 "  - id: mask\n    threshold: {method: Otsu}\n    inputs: {image: input.image}\n"
                 "  - id: lab\n    instances: {min_size_um: 1.0}\n    inputs: {mask: mask.mask}\n"
                 "  - id: cnt\n    count: {}\n    inputs: {labels: lab.labels}\n"
                 "  - id: psf\n    psf: {shape: [3, 9, 9]}\n"           # spacing from the file
                 "  - id: dec\n    deconvolve: {num_iter: 2}\n"
                 "    inputs: {image: input.image, psf: psf.psf}\n")
    out = tmp_path / "out"
    summary = run_pipeline(load_pipeline(p), output_dir=out, inputs=str(inp), progress=False)
    assert summary.ok, summary.failures
    import pandas as pd

    table = pd.read_csv(out / "cnt" / "cells.table.csv")
    voxel = 0.5 * 0.2 * 0.2
    assert sorted(table["volume_um3"]) == pytest.approx(sorted([400 * voxel, 150 * voxel]))
    smooth = read_image(out / "smooth" / "cells.image.tif")
    assert smooth.axes == "ZYX" and smooth.spacing == pytest.approx((0.5, 0.2, 0.2))
    assert smooth.calibrated
    lab = read_image(out / "lab" / "cells.labels.tif")
    assert lab.spacing == pytest.approx((0.5, 0.2, 0.2))
    from fijibridge.synth import make_psf

    psf = read_image(out / "psf" / "psf.tif").data
    np.testing.assert_allclose(psf, make_psf(spacing=(0.5, 0.2, 0.2), shape=(3, 9, 9), na=1.4,
                                             wavelength_um=0.52, model="gaussian"), rtol=1e-6)
    assert read_image(out / "dec" / "cells.image.tif").spacing == pytest.approx((0.5, 0.2, 0.2))


def test_channel_names_and_spacing_reach_steps_and_outputs(tmp_path, monkeypatch):
    mod = tmp_path / "mods"
    mod.mkdir()
    (mod / "pl_cal_steps.py").write_text(STEPS_MODULE)
    monkeypatch.syspath_prepend(str(mod))
    from fijibridge.io import read_image

    data = np.arange(2 * 16 * 20, dtype=np.uint16).reshape(2, 16, 20)
    _ome_tiff(tmp_path / "two.ome.tif", data, "CYX", (130.0, 130.0), channels=("DAPI", "Mito"))
    p = tmp_path / "d.yml"
    p.write_text("version: 1\nname: d\nsteps:\n"
                 "  - id: dbl\n    python: pl_cal_steps:double\n    inputs: {image: input.image}\n"
                 "    outputs: [image, seen]\n")
    out = tmp_path / "out"
    summary = run_pipeline(load_pipeline(p), output_dir=out, inputs=str(tmp_path / "two.ome.tif"),
                           progress=False)
    assert summary.ok, summary.failures
    seen = json.loads((out / "dbl" / "two.seen.json").read_text())
    assert seen["spacing"] == pytest.approx([0.13, 0.13])
    img = read_image(out / "dbl" / "two.image.ome.tif")
    assert img.channels == ("DAPI", "Mito") and img.axes == "CYX"
    assert img.spacing == pytest.approx((0.13, 0.13))
    np.testing.assert_array_equal(img.data, data.astype(np.float32) * 2)


def test_one_cohort_sampler_for_the_step_and_the_library():
    """The synth step's cohort and monocyte_cohort draw the same samples with the same
    defaults (they once had Beta(8, 3) and Beta(6, 3))."""
    from fijibridge.synth import monocyte_cohort
    from fijibridge.synth.steps import synth, synth_items

    items = synth_items(kind="cohort", n_control=2, n_patient=1, seed=5)
    lib = list(monocyte_cohort(n_control=2, n_patient=1, rng=5, n_cells=1, shape=(200, 200)))
    assert [m["fusion"] for _, m in items] == [p.params["fusion"] for p in lib]
    assert [m["condition"] for _, m in items] == [p.params["group"] for p in lib]
    out = synth(meta=items[2][1], n_control=2, n_patient=1, seed=5, n_cells=1, shape=[200, 200])
    np.testing.assert_array_equal(out["labels"].data, lib[2].labels)
