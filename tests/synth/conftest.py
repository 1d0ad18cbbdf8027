"""Fixtures shared by the synthetic-data tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The test machine is shared: two torch threads fighting other jobs run the tiny
    GAN networks ~10× slower than one. Tests that do not use torch are unaffected."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
