"""``fijibridge macro`` and ``fijibridge doctor`` from the shell, with the real ImageJ."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fijibridge import read_tiff, write_tiff

pytestmark = pytest.mark.imagej
REPO = Path(__file__).resolve().parents[2]


def fijibridge(*args, cwd=None):
    """Run the command in a fresh process, as a user would."""
    return subprocess.run([sys.executable, "-m", "fijibridge.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture(scope="module")
def nuclei_file(tmp_path_factory):
    from fijibridge.data import load_sample

    path = tmp_path_factory.mktemp("in") / "nuclei.tif"
    img = load_sample("dsb2018_nuclei")
    write_tiff(path, img.data, spacing=(0.2, 0.2))
    return path


def test_macro_writes_images_results_log_rois(imagej, tmp_path, nuclei_file):
    out = tmp_path / "out"
    done = fijibridge("macro", REPO / "macros" / "nuclei_count.ijm", "--image",
                      f"nuclei={nuclei_file}", "--arg", "method=Li", "--output-dir", out)
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["log.txt", "nuclei.tif", "nuclei_mask.tif", "results.csv", "rois.zip"]
    table = pd.read_csv(out / "results.csv")
    assert len(table) > 50 and "Area" in table
    assert f"nuclei: {len(table)}" in (out / "log.txt").read_text()
    mask = read_tiff(out / "nuclei_mask.tif")
    assert mask.spacing == pytest.approx((0.2, 0.2))  # calibration kept
    assert set(np.unique(mask.data)) == {0, 255}


def test_macro_error_is_one_line_with_file_and_line(imagej, tmp_path):
    macro = tmp_path / "bad.ijm"
    macro.write_text('print("start");\nx = 1 +;\n')
    done = fijibridge("macro", macro, "--output-dir", tmp_path / "out")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].endswith(f"{macro}:2: Number or numeric function expected")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("case", ["missing_macro", "corrupt_tiff", "truncated_tiff",
                                  "bad_image_option", "unknown_parameter", "float64_tiff"])
def test_bad_inputs_clear_error_no_partial_output(imagej, tmp_path, case, nuclei_file):
    macro = REPO / "macros" / "nuclei_count.ijm"
    args = ["--image", f"nuclei={nuclei_file}"]
    if case == "missing_macro":
        macro = tmp_path / "nothere.ijm"
    elif case in ("corrupt_tiff", "truncated_tiff"):
        bad = tmp_path / "bad.tif"
        data = nuclei_file.read_bytes()
        bad.write_bytes(b"garbage" * 10 if case == "corrupt_tiff" else data[: len(data) // 3])
        args = ["--image", f"nuclei={bad}"]
    elif case == "bad_image_option":
        args = ["--image", str(nuclei_file)]
    elif case == "unknown_parameter":
        args += ["--arg", "methd=Li"]
    elif case == "float64_tiff":
        import tifffile

        f64 = tmp_path / "f64.tif"
        tifffile.imwrite(f64, np.zeros((8, 8), np.float64))
        args = ["--image", f"nuclei={f64}"]
    out = tmp_path / "out"
    done = fijibridge("macro", macro, *args, "--output-dir", out)
    assert done.returncode != 0
    message = done.stderr.strip().splitlines()[-1]
    expected = {"missing_macro": "nothere.ijm", "corrupt_tiff": "look like a TIFF",
                "truncated_tiff": "truncated", "bad_image_option": "TITLE=PATH",
                "unknown_parameter": "Did you mean 'method'", "float64_tiff": "float64"}[case]
    assert expected in message, done.stderr
    assert not out.exists()


def test_doctor_reports_engine_and_plugins(imagej):
    done = fijibridge("doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ImageJ 1.53t" in done.stdout
    assert "plugin DeconvolutionLab2" in done.stdout and "plugin PSF Generator" in done.stdout
    assert "torch" in done.stdout
