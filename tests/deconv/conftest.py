"""Fixtures of the deconvolution tests: the DL2 reference cases, one torch thread.

The CPU is shared by several jobs; torch's OpenMP pool with more threads than free cores
spins and runs ~50x slower, so these tests pin one thread (numbers do not depend on it).
"""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def manifest(reference_dir):
    return json.loads((reference_dir / "manifest.json").read_text())


@pytest.fixture(scope="session")
def case_a(reference_dir):
    import tifffile

    d = reference_dir / "dl2" / "input"
    return {k: tifffile.imread(d / f"A_{k}.tif").astype(np.float32) for k in ("image", "psf", "gt")}


@pytest.fixture(scope="session")
def case_b(reference_dir):
    import tifffile

    d = reference_dir / "dl2" / "input"
    return {k: tifffile.imread(d / f"B_{k}.tif").astype(np.float32) for k in ("image", "psf", "gt")}
