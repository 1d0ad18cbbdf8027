"""Parity with the real PSF Generator 1.1.1.2 (reference outputs in ../shared/reference).

Tolerance: max |ours - plugin| <= 2e-3 after both are scaled to a maximum of 1 (the
issue's requirement).  We reproduce the plugin's stopping-rule Simpson integration
sample by sample, so the measured differences are ~3e-8, i.e. float32 rounding of
the plugin's output; the test also asserts <= 1e-6 so that a regression in the
integration scheme (which first shows as ~1e-4 differences) cannot hide under the
looser requirement.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from fijibridge._core.tiff import read_tiff
from fijibridge.psf import psf_from_config, read_psfgen_config, richards_wolf

REQUIRED = 2e-3
ACHIEVED = 1e-6


def _cases():
    # same location as the ``reference_dir`` fixture (tests/conftest.py), read at
    # collection time to parametrise; without it the fixture skips the test
    root = Path(__file__).resolve().parents[2]
    manifest = Path(os.environ.get("FIJIBRIDGE_REFERENCE", root.parent / "shared" / "reference"))
    manifest = manifest / "manifest.json"
    if not manifest.is_file():
        return ["reference-missing"]
    return [c["name"] for c in json.loads(manifest.read_text())["psfgen"]]


def _case(reference_dir, name):
    manifest = json.loads((reference_dir / "manifest.json").read_text())
    return next(c for c in manifest["psfgen"] if c["name"] == name)


@pytest.mark.parametrize("name", _cases())
def test_psfgen_parity(reference_dir, name):
    case = _case(reference_dir, name)
    ours = psf_from_config(reference_dir / case["config"]).astype(np.float64)
    ref = read_tiff(reference_dir / case["output"]).data.astype(np.float64)
    assert ours.shape == ref.shape == tuple(case["shape_zyx"])
    diff = np.abs(ours / ours.max() - ref / ref.max()).max()
    assert diff <= REQUIRED, f"{name}: max abs difference {diff:.3g}"
    assert diff <= ACHIEVED, f"{name}: max abs difference {diff:.3g} (integration scheme changed?)"
    assert [int(i) for i in np.unravel_index(ours.argmax(), ours.shape)] == case["argmax_zyx"]


def test_richards_wolf_plugin_j2_sign_error_is_reproduced_and_exact_differs(reference_dir):
    """PSF Generator computes J2 = 2 J1/x + J0 (the recurrence has -J0).

    The default reproduces the plugin (parity above); ``bessel_j2="exact"`` gives the
    correct vectorial PSF, which differs from the plugin by ~0.0088 (of max 1) on
    ``rw_48x48x24``: more than the 2e-3 parity tolerance, so the plugin's formula is
    the one that matches, and the deviation of the exact one is the plugin's defect.
    """
    cfg = read_psfgen_config(reference_dir / "psfgen" / "rw_48x48x24.config")
    ref = read_tiff(reference_dir / "psfgen" / "rw_48x48x24.tif").data.astype(np.float64)
    exact = richards_wolf(cfg.shape, spacing=cfg.spacing, bessel_j2="exact",
                          **cfg.params).astype(np.float64)
    diff = np.abs(exact - ref / ref.max()).max()
    assert 5e-3 < diff < 2e-2


def test_exact_j2_matches_scipy_jv():
    from scipy.special import j0, j1, jv

    x = np.linspace(0.1, 30, 200)
    assert np.allclose(2 * j1(x) / x - j0(x), jv(2, x), atol=1e-12)
