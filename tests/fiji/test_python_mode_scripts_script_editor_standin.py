"""The Python-mode scripts (fiji/python/) in a stand-in for Fiji's script editor.

What stands in for Fiji: ``python_mode_standin.py`` — a CPython process in which
fijibridge starts a JVM with ImageJ 1.x (ij.jar, under Xvfb) *without* a session, as
Fiji's Python mode has a JVM that fijibridge did not start; the scripts then take the
real attach path (``open_session(engine="attach")``).  The ``#@`` parameters are filled
from the declared defaults and the test's values, as Fiji's script service would
without its dialog.  Pixels, Results tables and ROIs are real ImageJ objects.
"""

from __future__ import annotations

import numpy as np
import pytest

from fijibridge import write_tiff
from fijibridge.data import sample_path

from fiji_standins import REPO, run_python_mode, shipped_model_or_skip

pytestmark = [pytest.mark.imagej]
SCRIPTS = REPO / "fiji" / "python"


def test_segment_threshold_watershed_shows_labels_table_and_rois(tmp_path):
    r = run_python_mode(SCRIPTS / "Segment_Nuclei.py", sample_path("dsb2018_nuclei"), tmp_path,
                        method="threshold + watershed")
    assert r["code"] == 0, r["stdout"] + r["stderr"]
    assert r["engine"] == "attach"
    n = int(r["image_titles"]["img2d.tif labels"]["max"])
    assert 60 <= n <= 250, n
    assert r["table_titles"]["img2d.tif objects"]["rows"] == n
    assert r["rois"] == n and r["image_titles"]["img2d.tif"]["overlay"] == n


@pytest.mark.slow
def test_segment_with_the_model(tmp_path):
    shipped_model_or_skip()
    r = run_python_mode(SCRIPTS / "Segment_Nuclei.py", sample_path("dsb2018_nuclei"), tmp_path)
    assert r["code"] == 0, r["stdout"] + r["stderr"]
    n = int(r["image_titles"]["img2d.tif labels"]["max"])
    assert 60 <= n <= 200, n
    assert r["table_titles"]["img2d.tif objects"]["rows"] == n and r["rois"] == n


def test_deconvolve_with_a_psf_file(tmp_path):
    from fijibridge.psf import generate_psf

    psf = tmp_path / "psf.tif"
    write_tiff(psf, generate_psf("Gaussian", (31, 31), spacing=(0.1, 0.1),
                                 normalize="sum").astype(np.float32))
    r = run_python_mode(SCRIPTS / "Deconvolve_Image.py", sample_path("dsb2018_nuclei"), tmp_path,
                        psf_file=psf, num_iter=5)
    assert r["code"] == 0, r["stdout"] + r["stderr"]
    out = r["image_titles"]["img2d.tif deconvolved"]
    assert out["bitdepth"] == 32 and (out["width"], out["height"]) == (512, 512)
    assert out["max"] > r["image_titles"]["img2d.tif"]["max"]  # RL sharpens the nuclei


def test_deconvolve_reports_a_bad_psf_with_ij_error(tmp_path):
    psf = tmp_path / "psf3d.tif"
    write_tiff(psf, np.ones((3, 5, 5), np.float32))
    r = run_python_mode(SCRIPTS / "Deconvolve_Image.py", sample_path("dsb2018_nuclei"), tmp_path,
                        psf_file=psf, num_iter=2)
    assert r["code"] == 0, r["stdout"] + r["stderr"]
    assert "ValueError: image and psf must have the same dimensionality" in r["stdout"]
    assert "img2d.tif deconvolved" not in r["image_titles"]


PIPELINE = """\
version: 1
name: fiji_test
items:
  files: "*.tif"
steps:
  - id: mask
    threshold: {method: Otsu, smooth_um: 1.0}
    inputs: {image: input.image}
  - id: objects
    instances: {method: distance, fill_holes: true, min_size_um: 5.0, min_distance: 3.0}
    inputs: {mask: mask.mask}
  - id: count
    count: {}
    inputs: {labels: objects.labels}
"""


def test_run_pipeline_on_the_current_image_opens_its_outputs(tmp_path):
    spec = tmp_path / "p.yml"
    spec.write_text(PIPELINE)
    out = tmp_path / "out"
    r = run_python_mode(SCRIPTS / "Run_Pipeline.py", sample_path("dsb2018_nuclei"), tmp_path,
                        pipeline_file=spec, output_dir=out)
    assert r["code"] == 0, r["stdout"] + r["stderr"]
    assert (out / "input" / "img2d.tif").is_file() and (out / "run.json").is_file()
    n = int(r["image_titles"]["objects.labels"]["max"])
    assert n > 50 and r["table_titles"]["count.table"]["rows"] == n
    assert "mask.mask" in r["image_titles"]
