"""The classic-Fiji Jython scripts (fiji/jython/), run by Debian's Jython 2.7 with ImageJ
1.x's ij.jar on the classpath under Xvfb, calling the real ``fijibridge`` command.

What stands in for Fiji: ``jython_harness.py`` fills the ``#@`` parameters (Fiji's
script service would, with a dialog) and makes the sample image the current image.
The ImageJ classes, Jython, the subprocess and every file are real.
"""

from __future__ import annotations

import pytest

from fijibridge.data import sample_path

from fiji_standins import REPO, fijibridge_exe, run_jython, shipped_model_or_skip

pytestmark = [pytest.mark.imagej]
SEGMENT = REPO / "fiji" / "jython" / "Segment_Nuclei.py"


@pytest.mark.slow
def test_jython_segment_calls_fijibridge_and_opens_labels_overlay_and_table(tmp_path):
    shipped_model_or_skip()
    r = run_jython(SEGMENT, sample_path("dsb2018_nuclei"), tmp_path,
                   fijibridge_exe=fijibridge_exe())
    assert r["code"] == 0, r["stdout"] + r["stderr"]
    assert "fijibridge: running" in r["stdout"] and "segment exit code 0" in r["stdout"]
    assert "features exit code 0" in r["stdout"]
    labels = r["image_titles"]["img2d.tif labels"]
    assert labels["bitdepth"] == 16 and (labels["width"], labels["height"]) == (512, 512)
    n = int(labels["max"])
    assert 60 <= n <= 200, n  # the DSB image has 125 nuclei
    assert r["image_titles"]["img2d.tif outlines"]["bitdepth"] == 24  # the overlay PNG
    table = r["table_titles"]["img2d.tif objects"]
    assert table["rows"] == n and "area_um2" in table["columns"]
    assert r["image_titles"]["img2d.tif"]["max"] > 0  # the user's image keeps its title


def test_jython_segment_shows_the_one_line_error_when_fijibridge_fails(tmp_path):
    r = run_jython(SEGMENT, sample_path("dsb2018_nuclei"), tmp_path,
                   fijibridge_exe=fijibridge_exe(), model=str(tmp_path / "missing.pt"))
    assert r["code"] == 0, r["stdout"] + r["stderr"]
    # IJ.error prints to stdout when there is no ImageJ window
    assert "fijibridge segment failed (exit code 1): fijibridge segment: ModelError" in r["stdout"]
    assert list(r["image_titles"]) == ["img2d.tif"] and r["tables"] == []


def test_jython_segment_names_what_it_searched_when_fijibridge_is_missing(tmp_path):
    r = run_jython(SEGMENT, sample_path("dsb2018_nuclei"), tmp_path,
                   fijibridge_exe=tmp_path / "nope" / "fijibridge")
    assert "the chosen fijibridge executable" in r["stdout"] and "does not exist" in r["stdout"]
    assert "fijibridge: running" not in r["stdout"]


def test_python_mode_script_under_jython_explains_what_it_needs(tmp_path):
    r = run_jython(REPO / "fiji" / "python" / "Segment_Nuclei.py",
                   sample_path("dsb2018_nuclei"), tmp_path)
    assert r["code"] == 0, r["stdout"] + r["stderr"]
    assert "needs Fiji's Python mode" in r["stdout"]
