"""The wheel carries the shipped models, macros, pipelines and Fiji scripts, and no
research material or tests; the resolver finds shipped things by name."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fijibridge.shipped import ShippedNotFoundError, find_pipeline, shipped_names

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(out), str(REPO)], check=True)
    (wheel,) = out.glob("fijibridge-*.whl")
    with zipfile.ZipFile(wheel) as z:
        return set(z.namelist())


@pytest.mark.parametrize("rel", [
    "models/nuclei2d/model.pt", "models/nuclei2d/model_card.md",
    "models/pix2pix_nuclei2d/model.pt", "macros/pipeline_particles.ijm",
    "macros/pipeline_subtract_background.ijm", "pipelines/mito_classification.yml",
    "pipelines/nuclei_count.yml", "pipelines/nuclei_golgi_3d.yml",
    "fiji/python/Segment_Nuclei.py", "fiji/jython/Segment_Nuclei.py"])
def test_wheel_ships(wheel_names, rel):
    assert f"fijibridge/_shipped/{rel}" in wheel_names


def test_wheel_ships_every_pipeline_and_macro_of_the_tree(wheel_names):
    for folder, pattern in (("pipelines", "*.yml"), ("macros", "*.ijm")):
        for f in (REPO / folder).glob(pattern):
            assert f"fijibridge/_shipped/{folder}/{f.name}" in wheel_names


def test_wheel_ships_the_macro_exit_guard(wheel_names):
    """Without the compiled guard a macro's System.exit would end the Python process."""
    assert "fijibridge/bridge/java/fijibridge/ExitGuard.class" in wheel_names
    assert "fijibridge/bridge/java/ExitGuard.java" in wheel_names


def test_wheel_leaves_out_research_and_tests(wheel_names):
    bad = [n for n in wheel_names if n.startswith(("tests/", "experiments/", "benchmarks/"))
           or "/experiments/" in n or "/v1/" in n or n.endswith(".log")
           or n.endswith("/study.py")]
    assert bad == []


def test_research_lives_in_experiments_and_runs_with_the_installed_package():
    """Studies sit in ``experiments/`` (not in the package, not beside the models), import
    the installed package instead of editing ``sys.path``, and no log or duplicate figure
    is committed."""
    assert not list(REPO.glob("models/*/experiments"))
    assert not list(REPO.glob("fijibridge/**/study.py"))
    assert not list(REPO.glob("models/**/*.log")) + list(REPO.glob("experiments/**/*.log"))
    assert (REPO / "experiments" / "README.md").is_file()
    scripts = list(REPO.glob("experiments/**/*.py")) + list(REPO.glob("benchmarks/*.py"))
    assert scripts
    hacks = [str(f.relative_to(REPO)) for f in scripts
             if "sys.path.insert" in f.read_text() or "sys.path.append" in f.read_text()]
    assert hacks == []
    seen = {}
    for png in sorted(REPO.glob("experiments/**/*.png")) + sorted(REPO.glob("benchmarks/**/*.png")):
        seen.setdefault(hashlib.sha256(png.read_bytes()).hexdigest(), []).append(png.name)
    assert [names for names in seen.values() if len(names) > 1] == []


def test_pipeline_by_name_and_did_you_mean():
    assert find_pipeline("nuclei_count").name == "nuclei_count.yml"
    assert {"mito_classification", "nuclei_count"} <= set(shipped_names("pipelines"))
    with pytest.raises(ShippedNotFoundError, match="Did you mean 'mito_classification'"):
        find_pipeline("mito_clasification")
