"""`when:` (steps switched off by an empty config value, with their dependents) and
`exports:` (per-dataset tables copied to the output folder's top level)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from fijibridge._core.errors import PipelineSpecError
from fijibridge.pipeline import load_pipeline, run_pipeline

PIPELINE = """\
version: 1
name: when_test
config: {extra: null}
items: {source: gen}
steps:
  - id: gen
    synth: {kind: nuclei, n: 2, shape: [64, 64], seed: 3}
  - id: mask
    threshold: {method: Otsu}
    inputs: {image: gen.image}
  - id: labels
    instances: {method: connected}
    inputs: {mask: mask.mask}
  - id: count
    count: {}
    inputs: {labels: labels.labels}
  - id: counts
    summarize: {}
    inputs: {table: count.summary}
  - id: extra_mask
    when: "${extra}"
    threshold: {method: Li, smooth_um: "${extra}"}   # the empty value goes unchecked
    inputs: {image: gen.image}
  - id: extra_count
    count: {}
    inputs: {labels: extra_mask.mask}
  - id: extra_counts
    summarize: {}
    inputs: {table: extra_count.summary}
exports:
  counts.csv: counts.table
  extra.csv: extra_counts.table
"""


@pytest.fixture()
def spec_file(tmp_path):
    p = tmp_path / "when.yml"
    p.write_text(PIPELINE)
    return p


def test_empty_when_skips_the_step_and_its_dependents_and_records_why(spec_file, tmp_path):
    spec = load_pipeline(spec_file)
    s = run_pipeline(spec, output_dir=tmp_path / "out", progress=False)
    assert s.ok, s.failures
    run = json.loads(s.run_json.read_text())
    assert run["skipped_steps"] == ["extra_count", "extra_counts", "extra_mask"]
    assert "when" in run["skipped_reasons"]["extra_mask"]
    assert "extra_mask" in run["skipped_reasons"]["extra_count"]
    assert not (tmp_path / "out" / "extra_mask").exists()
    # exported: the table the run made; the skipped one is not written
    assert run["exports"] == {"counts.csv": "counts/table.csv"}
    top = pd.read_csv(tmp_path / "out" / "counts.csv")
    assert top.equals(pd.read_csv(tmp_path / "out" / "counts" / "table.csv")) and len(top) == 2
    assert not (tmp_path / "out" / "extra.csv").exists()


@pytest.mark.parametrize("value", [0, 0.5])
def test_given_when_runs_the_steps(spec_file, tmp_path, value):
    # 0 is a value (a channel index), not "not given"
    spec = load_pipeline(spec_file, overrides={"extra": value})
    assert spec.step("extra_mask").runs()
    if value == 0:
        return
    s = run_pipeline(spec, output_dir=tmp_path / "out", progress=False)
    run = json.loads(s.run_json.read_text())
    assert s.ok and run["skipped_steps"] == [] and run["skipped_reasons"] == {}
    assert len(pd.read_csv(tmp_path / "out" / "extra.csv")) == 2


@pytest.mark.parametrize("value", [None, "", False])
def test_empty_values_switch_off(spec_file, value):
    assert not load_pipeline(spec_file, overrides={"extra": value}).step("extra_mask").runs()


@pytest.mark.parametrize("exports, message", [
    ("{counts.csv: nosuch.table}", "must name an output"),
    ("{counts.csv: count.summary}", "runs per image"),
    ("{../counts.csv: counts.table}", "export file name"),
])
def test_bad_exports_are_spec_errors(tmp_path, exports, message):
    p = tmp_path / "bad.yml"
    p.write_text(PIPELINE.split("exports:")[0] + f"exports: {exports}\n")
    with pytest.raises(PipelineSpecError, match=message):
        load_pipeline(p)


def test_png_output_named_png_is_not_written_twice_suffixed(tmp_path):
    """An overlay's output named ``png`` is ``<item>.png``, not ``<item>.png.png``."""
    from fijibridge.pipeline import load_pipeline, run_pipeline

    p = tmp_path / "p.yml"
    p.write_text("version: 1\nname: t\nitems: {source: gen}\nsteps:\n"
                 "  - id: gen\n    synth: {kind: nuclei, n: 1, ndim: 2, seed: 1}\n"
                 "  - id: m\n    threshold: {method: Otsu}\n    inputs: {image: gen.image}\n"
                 "  - id: lab\n    instances: {method: connected}\n    inputs: {mask: m.mask}\n"
                 "  - id: overlay\n    overlay: {}\n    inputs: {image: gen.image, labels: lab.labels}\n")
    s = run_pipeline(load_pipeline(p), output_dir=tmp_path / "out", progress=False)
    assert s.ok, s.failures
    names = sorted(f.name for f in (tmp_path / "out" / "overlay").glob("*.png"))
    assert names and all(not n.endswith(".png.png") for n in names), names
