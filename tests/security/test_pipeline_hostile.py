"""Hostile and broken pipeline input (issue 18): each case ends in one clear line on
stderr (no traceback) from the real command line, in bounded time, writes nothing
outside the output folder and modifies no input.

Every case runs ``python -m fijibridge.cli.main validate|run`` in a subprocess on real
files in ``tmp_path``; the tree of ``tmp_path`` is hashed before and after, so a file
written anywhere but the output folder (or an input changed) fails the test.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]

# a user module for `python:` steps (trusted code, as in any pipeline)
STEPS_PY = '''
def copy(image):
    return image

def text(**kw):
    return "made"
'''

COPY_PIPELINE = """\
version: 1
name: hostile
steps:
  - id: cp
    python: hostile_steps:copy
    inputs: {image: input.image}
    outputs: [image]
"""


def _cli(args, cwd: Path, timeout: float = 60):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(cwd)] +
                                        [p for p in [env.get("PYTHONPATH")] if p])
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "fijibridge.cli.main", *args], cwd=cwd,
                       env=env, capture_output=True, text=True, timeout=timeout)
    r.seconds = time.perf_counter() - t0
    return r


def _one_line_error(r, *needles):
    """Non-zero exit, exactly one line on stderr, no traceback, containing needles."""
    assert r.returncode != 0, f"accepted:\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


def _tree(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest()
                                             if p.is_file() else "dir")
            for p in sorted(root.rglob("*")) if not p.is_symlink()}


def _changed_outside(before: dict, after: dict, out: str = "out") -> list[str]:
    """Paths added or changed (or removed) outside ``out/``."""
    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k)
                  and k != out and not k.startswith(out + "/"))


def _image(path: Path, value: int = 0) -> Path:
    from fijibridge._core.tiff import write_tiff

    rng = np.random.default_rng(value)
    write_tiff(path, rng.integers(0, 4000, (16, 20)).astype(np.uint16) + value,
               spacing=(0.5, 0.5), axes="YX")
    return path


@pytest.fixture
def work(tmp_path):
    (tmp_path / "hostile_steps.py").write_text(STEPS_PY)
    (tmp_path / "data").mkdir()
    _image(tmp_path / "data" / "img.tif")
    return tmp_path


def _write(work: Path, name: str, text: str) -> str:
    (work / name).write_text(textwrap.dedent(text))
    return name


# ----------------------------------------------------------------------------- output names


ESCAPING_NAMES = ["../../escaped", "../x", "sub/../../../x", "..", "a\\b", "/abs", ""]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ESCAPING_NAMES)
def test_output_name_escaping_is_refused(work, name):
    f = _write(work, "p.yml", COPY_PIPELINE.replace("outputs: [image]",
                                                      f"outputs: [{json.dumps(name)}]"))
    r = _one_line_error(_cli(["validate", f], work), "output name of step 'cp'",
                        "one plain path component")
    assert repr(name) in r
    before = _tree(work)
    _one_line_error(_cli(["run", f, "--input", "data", "--output-dir", "out",
                          "--no-progress"], work), "output name")
    assert _changed_outside(before, _tree(work)) == []
    assert not (work / "out").exists()


@pytest.mark.timeout(60)
def test_dataset_output_absolute_path_is_refused(work):
    target = work / "abs_escape"
    f = _write(work, "p.yml", f"""\
        version: 1
        name: hostile
        steps:
          - id: cp
            python: hostile_steps:copy
            inputs: {{image: input.image}}
            outputs: [image]
          - id: ds
            python: hostile_steps:text
            per: dataset
            outputs: [{str(target)!r}]
        """)
    before = _tree(work)
    _one_line_error(_cli(["run", f, "--input", "data", "--output-dir", "out",
                          "--no-progress"], work), str(target))
    assert not Path(str(target) + ".txt").exists()
    assert _changed_outside(before, _tree(work)) == []


@pytest.mark.timeout(60)
def test_step_folder_symlinked_outside_is_refused(work):
    f = _write(work, "p.yml", COPY_PIPELINE)
    (work / "elsewhere").mkdir()
    (work / "out").mkdir()
    (work / "out" / "cp").symlink_to(work / "elsewhere", target_is_directory=True)
    before = _tree(work)
    _one_line_error(_cli(["run", f, "--input", "data", "--output-dir", "out",
                          "--no-progress"], work), "step folder 'cp'", "outside the output")
    assert list((work / "elsewhere").iterdir()) == []
    assert _changed_outside(before, _tree(work)) == []


# ----------------------------------------------------------------------------- YAML


def _laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.timeout(10)
@pytest.mark.parametrize("command", ["validate", "run"])
def test_billion_laughs_is_refused_quickly(work, command):
    text = _laughs()
    assert len(text) < 400  # the 374-byte class of document
    (work / "laughs.yml").write_text(text)
    args = [command, "laughs.yml"] + (["--output-dir", "out"] if command == "run" else [])
    before = _tree(work)
    r = _cli(args, work, timeout=9)
    _one_line_error(r, "laughs.yml:", "aliases")
    assert r.seconds < 5, r.seconds  # < 1 s of work plus interpreter start on a busy machine
    assert _changed_outside(before, _tree(work)) == []


@pytest.mark.timeout(10)
def test_deep_nesting_is_refused(work):
    (work / "deep.yml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    _one_line_error(_cli(["validate", "deep.yml"], work, timeout=9), "deep.yml:", "nested")


@pytest.mark.timeout(10)
def test_oversized_file_is_refused(work):
    (work / "big.yml").write_text("version: 1\n" + "# padding\n" * 120_000)
    _one_line_error(_cli(["validate", "big.yml"], work, timeout=9), "big.yml", "1 MiB")


TAGGED = {
    "apply_on_mapping": "config: !!python/object/apply:os.system {{args: ['touch {m}']}}",
    "apply_on_list": "config: !!python/object/apply:os.system ['touch {m}']",
    "new_on_mapping": "config: !!python/object/new:os.system {{args: ['touch {m}']}}",
    "new_on_list": "config: !!python/object/new:os.system ['touch {m}']",
    "apply_on_scalar": "config: {{x: !!python/object/apply:os.system 'touch {m}'}}",
    "name_on_scalar": "config: {{x: !!python/name:os.system ''}}",
    "custom_tag": "config: !foo {{x: 1}}",
    "binary": "config: {{x: !!binary aGVsbG8=}}",
}


@pytest.mark.timeout(30)
@pytest.mark.parametrize("case", sorted(TAGGED))
def test_yaml_tags_are_refused(work, case):
    marker = work / "PWNED"
    f = _write(work, "p.yml", COPY_PIPELINE.replace(
        "name: hostile\n", "name: hostile\n" + TAGGED[case].format(m=marker) + "\n"))
    _one_line_error(_cli(["validate", f], work), "p.yml:3:", "YAML tag", "not allowed")
    before = _tree(work)
    _one_line_error(_cli(["run", f, "--input", "data", "--output-dir", "out",
                          "--no-progress"], work), "p.yml:3:", "YAML tag")
    assert not marker.exists()
    assert not (work / "out").exists()
    assert _changed_outside(before, _tree(work)) == []


@pytest.mark.timeout(30)
@pytest.mark.parametrize("value", ["!!python/object/apply:os.system ['touch {m}']",
                                   "!!python/object/new:os.system {{args: ['touch {m}']}}",
                                   "!!python/name:os.system"])
def test_yaml_tags_in_set_are_refused(work, value):
    marker = work / "PWNED"
    f = _write(work, "p.yml", COPY_PIPELINE.replace("name: hostile\n",
                                                    "name: hostile\nconfig: {x: 1}\n"))
    _one_line_error(_cli(["validate", f, "--set", "x=" + value.format(m=marker)], work),
                    "--set x", "YAML tag")
    assert not marker.exists()


# ----------------------------------------------------------------------------- values


BAD_VALUES = [
    ("threshold: {method: Otsuu}", "Did you mean 'Otsu'"),
    ("threshold: {method: Otsu, smooth_um: -1.0}", "smooth_um"),
    ("deconvolve: {algorithm: RLL}", "unknown algorithm 'RLL'"),
    ("deconvolve: {algorithm: RL, num_iter: 0}", "num_iter"),
    ("instances: {method: watershed}", "allowed: connected, distance, marker"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("step, needle", BAD_VALUES)
def test_bad_option_values_fail_at_validation(work, step, needle):
    inputs = {"threshold": "{image: cp.image}", "deconvolve": "{image: cp.image, psf: cp.image}",
              "instances": "{mask: cp.image}"}[step.split(":")[0]]
    f = _write(work, "p.yml", COPY_PIPELINE + f"""\
  - id: bad
    {step}
    inputs: {inputs}
""")
    line = _one_line_error(_cli(["validate", f], work), "p.yml:9:", needle)
    assert "built-in step" in line
    before = _tree(work)
    _one_line_error(_cli(["run", f, "--input", "data", "--output-dir", "out",
                          "--no-progress"], work), needle)
    assert not (work / "out").exists()  # before any work: the copy step never ran
    assert _changed_outside(before, _tree(work)) == []


# ----------------------------------------------------------------------------- inputs


def _hashes(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.tif")}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", ["output_is_input_folder", "input_inside_output",
                                  "output_inside_input_folder"])
def test_outputs_never_overlap_inputs(work, case):
    f = _write(work, "p.yml", COPY_PIPELINE)
    if case == "output_is_input_folder":
        args, folder = ["--input", "data", "--output-dir", "data"], work / "data"
    elif case == "input_inside_output":
        args, folder = ["--input", "data/img.tif", "--output-dir", "."], work / "data"
    else:
        args, folder = ["--input", "data", "--output-dir", "data/results"], work / "data"
    inputs = _hashes(folder)
    before = _tree(work)
    _one_line_error(_cli(["run", f, *args, "--no-progress"], work), "output_dir",
                    "apart from the inputs")
    assert _hashes(folder) == inputs
    assert _tree(work) == before  # nothing written at all


@pytest.mark.timeout(90)
def test_same_basename_in_two_folders_gives_two_items(work):
    f = _write(work, "p.yml", COPY_PIPELINE)
    (work / "a").mkdir()
    (work / "b").mkdir()
    _image(work / "a" / "img.tif", 1)
    _image(work / "b" / "img.tif", 2)
    inputs = {**_hashes(work / "a"), **{"b" + k: v for k, v in _hashes(work / "b").items()}}
    before = _tree(work)
    r = _cli(["run", f, "--input", "a", "--input", "b", "--output-dir", "out", "--no-progress"],
             work)
    assert r.returncode == 0, r.stderr
    from fijibridge._core.tiff import read_tiff

    outs = sorted((work / "out" / "cp").glob("*.image.tif"))
    assert [p.name for p in outs] == ["a_img.image.tif", "b_img.image.tif"]
    for p, src in zip(outs, ("a", "b")):
        np.testing.assert_array_equal(read_tiff(p).data, read_tiff(work / src / "img.tif").data)
    assert {**_hashes(work / "a"), **{"b" + k: v for k, v in _hashes(work / "b").items()}} \
        == inputs
    assert _changed_outside(before, _tree(work)) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["under_file", "is_file"])
def test_output_dir_under_a_regular_file(work, where):
    f = _write(work, "p.yml", COPY_PIPELINE)
    (work / "afile").write_text("x")
    out = "afile/sub/out" if where == "under_file" else "afile"
    before = _tree(work)
    _one_line_error(_cli(["run", f, "--input", "data", "--output-dir", out, "--no-progress"],
                         work), "not a folder")
    assert _tree(work) == before


# ----------------------------------------------------------------------------- resume


@pytest.mark.timeout(120)
def test_resume_recomputes_a_truncated_output(work):
    f = _write(work, "p.yml", COPY_PIPELINE)
    args = ["run", f, "--input", "data", "--output-dir", "out", "--no-progress"]
    inputs = _hashes(work / "data")
    assert _cli(args, work).returncode == 0
    out = work / "out" / "cp" / "img.image.tif"
    good = out.read_bytes()
    out.write_bytes(good[: len(good) // 2])  # a truncated TIFF (e.g. a copy cut short)
    before = _tree(work)
    r = _cli(args + ["--resume"], work)
    assert r.returncode == 0, r.stderr
    assert "recomputing cp for img" in r.stderr
    assert out.read_bytes() == good
    r = _cli(args + ["--resume"], work)  # now verified and skipped
    assert "recomputing" not in r.stderr
    assert _hashes(work / "data") == inputs
    assert _changed_outside(before, _tree(work)) == []


# ----------------------------------------------------------------------------- API level


@pytest.mark.timeout(10)
def test_billion_laughs_refused_in_under_a_second_in_process(tmp_path):
    from fijibridge._core.errors import PipelineSpecError
    from fijibridge.pipeline import load_pipeline

    (tmp_path / "laughs.yml").write_text(_laughs())
    t0 = time.perf_counter()
    with pytest.raises(PipelineSpecError, match="expands to more than"):
        load_pipeline(tmp_path / "laughs.yml")
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.timeout(10)
@pytest.mark.parametrize("text", ["model: !!python/object/apply:os.system ['touch {m}']\n",
                                  "model: !!python/object/new:os.system {{args: ['touch {m}']}}\n",
                                  "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                                  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                                  "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                                  "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"])
def test_training_config_reader_is_the_bounded_plain_loader(tmp_path, text):
    """read_config_file (the trainers' configs) refuses tags and alias bombs as well."""
    from fijibridge._core.config import read_config_file

    marker = tmp_path / "PWNED"
    (tmp_path / "train.yml").write_text(text.format(m=marker))
    with pytest.raises(ValueError, match=r"train.yml:\d+: "):
        read_config_file(tmp_path / "train.yml")
    assert not marker.exists()


def test_item_names_stay_unique_when_sanitized_names_collide(tmp_path):
    """``x_y.tif`` and ``x/y.tif`` both sanitize to ``x_y``: each gets a path hash."""
    from fijibridge.pipeline.runner import _make_items
    from fijibridge.pipeline.spec import load_pipeline

    (tmp_path / "in" / "x").mkdir(parents=True)
    _image(tmp_path / "in" / "x_y.tif")
    _image(tmp_path / "in" / "x" / "y.tif", 1)
    (tmp_path / "p.yml").write_text(COPY_PIPELINE)
    items, from_files = _make_items(load_pipeline(tmp_path / "p.yml"), [str(tmp_path / "in")])
    keys = sorted(i.key for i in items)
    assert from_files and len(set(keys)) == 2
    assert all(k.startswith("x_y-") and len(k) == len("x_y-") + 8 for k in keys)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["../../escaped_run", "ABSOLUTE"])
def test_pipeline_name_cannot_place_the_default_output_folder(work, name):
    """Without --output-dir the outputs go to results/<name>: the name is one plain name."""
    name = str(work / "abs_run") if name == "ABSOLUTE" else name
    (work / "cwd").mkdir()
    f = _write(work, "p.yml", COPY_PIPELINE.replace("name: hostile", f"name: {json.dumps(name)}"))
    _one_line_error(_cli(["validate", "../" + f], work / "cwd"), "p.yml:2:", "pipeline name")
    before = _tree(work)
    _one_line_error(_cli(["run", "../" + f, "--input", "../data", "--no-progress"], work / "cwd"),
                    "pipeline name")
    assert _changed_outside(before, _tree(work), out="cwd/results") == []
