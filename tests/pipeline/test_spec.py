"""Pipeline files: errors that name the line and the fix; validation without Java."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from fijibridge import PipelineSpecError
from fijibridge.pipeline import load_pipeline, resolve_pipeline

REPO = Path(__file__).resolve().parents[2]

GOOD = """\
version: 1
name: t
items: {source: gen}
steps:
  - id: gen
    synth: {kind: nuclei, n: 2, shape: [64, 64]}
  - id: mask
    threshold: {method: Otsu}
    inputs: {image: gen.image}
  - id: labels
    instances: {method: connected}
    inputs: {mask: mask.mask}
"""


def write(tmp_path, text, name="p.yml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_good_file_parses(tmp_path):
    spec = load_pipeline(write(tmp_path, GOOD))
    assert [s.id for s in spec.order()] == ["gen", "mask", "labels"]
    assert spec.step("mask").per == "image" and spec.step("mask").outputs == ["mask"]


def test_unknown_step_names_line_and_suggests(tmp_path):
    p = write(tmp_path, GOOD.replace("    threshold: {method: Otsu}", "    threshhold: {method: Otsu}"))
    with pytest.raises(PipelineSpecError, match=r"p.yml:8: unknown field or built-in step "
                       r"'threshhold'.*Did you mean 'threshold'"):
        load_pipeline(p)


def test_unknown_field_line_and_allowed_names(tmp_path):
    p = write(tmp_path, GOOD.replace("    inputs: {mask: mask.mask}",
                                     "    inputs: {mask: mask.mask}\n    ouputs: [labels]"))
    with pytest.raises(PipelineSpecError) as e:
        load_pipeline(p)
    msg = str(e.value)
    assert "p.yml:13:" in msg and "'ouputs'" in msg and "Did you mean 'outputs'" in msg
    assert "allowed: id, macro, python" in msg


def test_unknown_parameter_and_wrong_type(tmp_path):
    p = write(tmp_path, GOOD.replace("{method: Otsu}", "{methd: Otsu}"))
    with pytest.raises(PipelineSpecError, match=r"p.yml:8: .*no parameter 'methd'.*"
                                                r"Did you mean 'method'"):
        load_pipeline(p)
    p = write(tmp_path, GOOD.replace("{method: Otsu}", "{method: Otsu, smooth_um: wide}"))
    with pytest.raises(PipelineSpecError, match=r"p.yml:8: parameter 'smooth_um' .* must be "
                                                r"float; got 'wide'"):
        load_pipeline(p)


def test_missing_macro_file(tmp_path):
    p = write(tmp_path, GOOD + "  - id: ij\n    macro: macros/nope.ijm\n"
                               "    inputs: {image: gen.image}\n    outputs: [image]\n")
    with pytest.raises(PipelineSpecError, match=r"p.yml:14: macro file 'macros/nope.ijm' not found"):
        load_pipeline(p)


def test_macro_parameter_type_checked_by_resolve(tmp_path):
    (tmp_path / "bg.ijm").write_text('#@ Float (value=50) rolling\n#@ Boolean light\n'
                                     'run("Subtract Background...", "rolling=" + rolling);\n')
    p = write(tmp_path, GOOD + "  - id: ij\n    macro: bg.ijm\n    params: {rolling: fifty, "
                               "light: false}\n    inputs: {image: gen.image}\n"
                               "    outputs: [image]\n")
    spec = load_pipeline(p)  # structure is fine
    with pytest.raises(PipelineSpecError, match=r"p.yml:13: parameter 'rolling' of bg.ijm is "
                                                r"declared '#@ Float rolling' \(line 1"):
        resolve_pipeline(spec)
    p = write(tmp_path, GOOD + "  - id: ij\n    macro: bg.ijm\n    params: {rolling: 5.0, "
                               "lihgt: false}\n    inputs: {image: gen.image}\n"
                               "    outputs: [image]\n")
    with pytest.raises(PipelineSpecError, match=r"declares no parameter 'lihgt'.*'light'"):
        resolve_pipeline(load_pipeline(p))


def test_cycle_names_steps_and_lines(tmp_path):
    p = write(tmp_path, GOOD.replace("inputs: {image: gen.image}", "inputs: {image: labels.labels}"))
    with pytest.raises(PipelineSpecError, match=r"cycle between steps: mask \(line 7\) -> "
                                                r"labels \(line 10\) -> mask \(line 7\)"):
        load_pipeline(p)


def test_unknown_reference_and_config_override(tmp_path):
    p = write(tmp_path, GOOD.replace("mask.mask}", "mask.msk}"))
    with pytest.raises(PipelineSpecError, match=r"p.yml:12: step 'mask' has no output 'msk'"):
        load_pipeline(p)
    text = GOOD.replace("n: 2,", "n: '${n}',").replace("version: 1", "version: 1\nconfig: {n: 3}")
    p = write(tmp_path, text)
    assert load_pipeline(p).step("gen").params["n"] == 3
    assert load_pipeline(p, overrides={"n": 5}).step("gen").params["n"] == 5
    with pytest.raises(PipelineSpecError, match="unknown config key 'm'"):
        load_pipeline(p, overrides={"m": 5})


def test_python_signature_checked_by_resolve(tmp_path):
    p = write(tmp_path, GOOD + "  - id: py\n    python: scipy.ndimage:gaussian_filter\n"
                               "    params: {sigmaa: 2.0}\n    inputs: {input: gen.image}\n"
                               "    outputs: [image]\n")
    with pytest.raises(PipelineSpecError, match=r"takes no argument 'sigmaa'.*'sigma'"):
        resolve_pipeline(load_pipeline(p))


@pytest.mark.parametrize("name", ["mito_classification", "nuclei_count", "nuclei_golgi_3d"])
def test_validate_starts_no_java(name):
    code = ("import sys; from fijibridge.cli.main import main; "
            f"rc = main(['validate', 'pipelines/{name}.yml', '--resolve']); "
            "bad = [m for m in ('jpype', 'torch', 'scyjava', 'imagej') if m in sys.modules]; "
            "sys.exit(rc or (3 if bad else 0))")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK" in r.stdout
