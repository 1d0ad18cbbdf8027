"""Execution: one place that checks devices; torch's thread setting restored."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest

from fijibridge._core.execution import (Execution, as_execution, device_name,
                                        limit_torch_threads, resolve_device)

torch = pytest.importorskip("torch")
HAS_CUDA = torch.cuda.is_available()
HAS_MPS = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def test_cpu_is_cpu():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("CPU") == "cpu"
    assert Execution(device="cpu").resolve().device == "cpu"


def test_auto_picks_cuda_then_mps_then_cpu_and_logs(caplog):
    expected = "cuda" if HAS_CUDA else "mps" if HAS_MPS else "cpu"
    with caplog.at_level(logging.INFO, logger="fijibridge._core.execution"):
        assert resolve_device("auto") == expected
        assert resolve_device(None) == expected
    assert f"device 'auto' -> {expected!r}" in caplog.text
    assert Execution().device == "auto" and Execution().resolve().device == expected


@pytest.mark.skipif(HAS_CUDA, reason="checks the error where CUDA is absent")
@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3"])
def test_absent_cuda_is_an_error_not_a_fallback(name):
    with pytest.raises(ValueError, match=rf"device='{name}' but CUDA is not available here.*"
                                         r"use device='auto' or 'cpu'"):
        resolve_device(name)


@pytest.mark.skipif(HAS_MPS, reason="checks the error where MPS is absent")
def test_absent_mps_is_an_error():
    with pytest.raises(ValueError, match="MPS is not available"):
        resolve_device("mps")


@pytest.mark.parametrize("bad, hint", [("cdua", "Did you mean 'cuda'"), ("gpu", ""),
                                       ("cpuu", "Did you mean 'cpu'"), ("cuda:x", "cuda"),
                                       ("atuo", "Did you mean 'auto'")])
def test_bad_name_lists_allowed_and_suggests(bad, hint):
    with pytest.raises(ValueError, match=r"device must be one of auto, cpu, cuda, mps or "
                                         r"'cuda:N'") as e:
        resolve_device(bad)
    assert hint in str(e.value) and repr(bad) in str(e.value)
    with pytest.raises(ValueError):
        Execution(device=bad)  # checked when the object is made, not later


def test_not_a_string():
    with pytest.raises(TypeError, match="device must be a string"):
        resolve_device(0)
    assert device_name(torch.device("cpu")) == "cpu"


def test_auto_on_a_gpu_less_machine_does_not_import_torch():
    """Where no GPU driver exists, 'auto' is decided without importing torch (~1.2 s)."""
    code = ("import sys, os\n"
            "from fijibridge._core import execution as e\n"
            "if e._cuda_may_exist() or sys.platform == 'darwin':\n"
            "    print('SKIP')\n"
            "else:\n"
            "    print(e.resolve_device('auto'), 'torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    if out == "SKIP":
        pytest.skip("this machine has a GPU driver")
    assert out == "cpu False"


def test_threads_set_inside_and_restored_after():
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with Execution(threads=other).limit_threads():
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before


def test_threads_restored_after_an_error():
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with pytest.raises(RuntimeError, match="boom"):
        with limit_torch_threads(other):
            raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_none_threads_leaves_torch_alone():
    before = torch.get_num_threads()
    with Execution().limit_threads():
        assert torch.get_num_threads() == before


@pytest.mark.parametrize("field, value, message", [
    ("threads", 0, "threads must be an integer >= 1"),
    ("threads", True, "threads must be an integer >= 1"),
    ("memory", -1, "memory must be a number of bytes > 0"),
    ("progress", "yes", "progress must be a bool or a callable"),
])
def test_bad_fields(field, value, message):
    with pytest.raises((ValueError, TypeError), match=message):
        Execution(**{field: value})


def test_generator_and_overrides():
    g = np.random.default_rng(5)
    assert Execution(rng=g).generator() is g
    a = Execution(rng=7).generator().random(3)
    b = Execution(rng=7).generator().random(3)
    assert np.array_equal(a, b)
    ex = as_execution({"threads": 2}, device="cpu", memory=None)
    assert (ex.device, ex.threads, ex.memory) == ("cpu", 2, 1 << 30)  # None = not overridden
    with pytest.raises(TypeError, match="execution must be an Execution"):
        as_execution("cpu")
