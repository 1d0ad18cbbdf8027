"""Built-in commands through the bridge give exactly what ImageJ gives on the same file.

The reference is ImageJ itself: ``java -cp ij.jar ij.ImageJ -batch`` (Debian's ImageJ
1.53t, under xvfb-run) opening the TIFF from disk. The bridge gets the same pixels in
memory. Both save the Results table with ImageJ's own ``saveAs("Results")``, so the
CSV files must be byte-identical; the DataFrame must hold the same numbers.
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fijibridge import read_tiff, write_tiff

pytestmark = [pytest.mark.imagej, pytest.mark.slow]

IJ_JAR = "/usr/share/java/ij.jar"

# Gaussian Blur, threshold, Convert to Mask, Watershed, Analyze Particles.
BODY = """setOption("BlackBackground", true);
run("Gaussian Blur...", "sigma=2");
setAutoThreshold("Otsu dark");
run("Convert to Mask");
run("Watershed");
run("Set Measurements...", "area mean centroid perimeter bounding fit shape feret's redirect=None decimal=9");
run("Analyze Particles...", "size=10-Infinity display clear");
saveAs("Results", out);
"""


def _run_imagej_batch(macro: Path, arg: str) -> str:
    if shutil.which("xvfb-run") is None:
        pytest.fail("xvfb-run (Debian package xvfb) is needed to run ImageJ directly")
    done = subprocess.run(["xvfb-run", "-a", "java", "-cp", IJ_JAR, "ij.ImageJ", "-batch",
                           str(macro), arg], capture_output=True, text=True, timeout=300)
    return done.stdout + done.stderr


@pytest.mark.parametrize("sample", ["dsb2018_nuclei", "hela_frame"])
def test_particle_analysis_results_identical_to_imagej(imagej, tmp_path, sample):
    from fijibridge.data import load_sample

    if sample == "hela_frame":
        hela = load_sample("hela")
        image = hela.data[5]
    else:
        image = load_sample(sample).data
    src = tmp_path / "input.tif"
    write_tiff(src, image)

    direct_csv = tmp_path / "direct.csv"
    macro = tmp_path / "direct.ijm"
    macro.write_text('args = split(getArgument(), "|");\nopen(args[0]);\nout = args[1];\n' + BODY)
    log = _run_imagej_batch(macro, f"{src}|{direct_csv}")
    assert direct_csv.is_file(), f"ImageJ -batch wrote no results:\n{log}"

    bridge_csv = tmp_path / "bridge.csv"
    r = imagej.run_macro("#@ String out\n" + BODY, images={"input": read_tiff(src)},
                         args={"out": str(bridge_csv)})
    assert bridge_csv.read_bytes() == direct_csv.read_bytes()

    direct = pd.read_csv(direct_csv)
    assert len(direct) > 20 and len(r.results) == len(direct)
    for column in ("Area", "Mean", "X", "Y", "Perim.", "Major", "Circ.", "Feret", "Solidity"):
        np.testing.assert_allclose(r.results[column].to_numpy(), direct[column].to_numpy(),
                                   rtol=0, atol=1e-9 * max(1.0, np.abs(direct[column]).max()))


def test_filtered_image_identical_to_imagej(imagej, tmp_path):
    """The pixels of an ImageJ-filtered image are exactly what ImageJ writes itself."""
    from fijibridge.data import load_sample

    src = tmp_path / "input.tif"
    write_tiff(src, load_sample("dsb2018_nuclei").data)
    out = tmp_path / "direct_out.tif"
    macro = tmp_path / "filter.ijm"
    body = 'run("Gaussian Blur...", "sigma=1.5");\nrun("Subtract Background...", "rolling=30");\n'
    macro.write_text('args = split(getArgument(), "|");\nopen(args[0]);\n' + body
                     + 'saveAs("Tiff", args[1]);\n')
    _run_imagej_batch(macro, f"{src}|{out}")
    r = imagej.run_macro(body, images={"input": read_tiff(src)})
    np.testing.assert_array_equal(r.images["input"].data, read_tiff(out).data)
