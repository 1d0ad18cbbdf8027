"""Plugin discovery in the bridge, and run_dl2's checks before any Java work.

The DL2 jar cannot exist here; the checks below run before the plugin is looked up,
on the real ImageJ session.
"""

from __future__ import annotations

import numpy as np
import pytest

from fijibridge.deconv import run_dl2
from fijibridge.deconv.options import parse_dl2


def test_find_dl2_jar_lives_in_the_bridge_and_old_name_still_works(tmp_path):
    from fijibridge.bridge import find_plugin_jars
    from fijibridge.bridge.plugins import find_dl2_jar
    from fijibridge.deconv.dl2 import find_dl2_jar as old_name

    assert find_dl2_jar(tmp_path) is None and old_name(tmp_path) is None
    jar = tmp_path / "sub" / "DeconvolutionLab-2.1.2.jar"
    jar.parent.mkdir()
    jar.write_bytes(b"PK")
    assert find_dl2_jar(tmp_path) == jar == old_name(tmp_path)
    assert find_plugin_jars(tmp_path)["DeconvolutionLab2"] == jar


@pytest.mark.imagej
def test_unknown_algorithm_is_refused_before_dl2_runs(imagej):
    """DL2 runs Identity for an algorithm it does not know; an options object changed
    after parsing used to reach it."""
    options = parse_dl2("-algorithm RL 5")
    options.algorithm = "RLX"  # DeconvOptions is a mutable dataclass
    with pytest.raises(ValueError, match="unknown algorithm 'RLX'.*Did you mean RL"):
        run_dl2(np.zeros((4, 8, 8), np.float32), np.ones((3, 3, 3), np.float32), options,
                session=imagej)


@pytest.mark.imagej
def test_missing_psf_file_is_named(imagej, tmp_path):
    image = tmp_path / "image.tif"
    from fijibridge import write_tiff

    write_tiff(image, np.zeros((4, 8, 8), np.float32))
    with pytest.raises(FileNotFoundError, match="PSF file not found: .*no_psf.tif"):
        run_dl2(image, tmp_path / "no_psf.tif", "-algorithm RL 5", session=imagej)
