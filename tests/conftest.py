"""Shared fixtures.

``imagej`` gives the real ImageJ 1.x session (Debian's ``imagej`` package, on a
private Xvfb display). Without ImageJ the tests that need it are skipped, unless
``FIJIBRIDGE_REQUIRE_IMAGEJ=1`` (set by ``.ci/run``), which turns the skip into a
failure so that CI can never pass by skipping the real thing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE = Path(os.environ.get("FIJIBRIDGE_REFERENCE", REPO.parent / "shared" / "reference"))


@pytest.fixture(scope="session")
def imagej():
    """The process-wide ImageJ 1.x session (engine ``imagej``)."""
    from fijibridge._core.errors import EngineNotFoundError, JavaNotFoundError

    try:
        from fijibridge.bridge import open_session

        return open_session(engine="imagej")
    except (EngineNotFoundError, JavaNotFoundError, ImportError) as e:
        if os.environ.get("FIJIBRIDGE_REQUIRE_IMAGEJ") == "1":
            pytest.fail(f"ImageJ is required here (FIJIBRIDGE_REQUIRE_IMAGEJ=1) but: {e}")
        pytest.skip(f"no ImageJ engine: {e}")


@pytest.fixture(scope="session")
def reference_dir():
    """``../shared/reference``: outputs of the real DeconvolutionLab2 / PSF Generator."""
    if not (REFERENCE / "manifest.json").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"reference data missing at {REFERENCE}")
        pytest.skip(f"reference data missing at {REFERENCE}")
    return REFERENCE


def pytest_sessionfinish(session, exitstatus):
    session.config._fijibridge_exitstatus = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End the test process with pytest's status once everything is reported.

    With the embedded JVM (ImageJ, AWT) still alive, tearing the interpreter down
    after the whole suite has crashed the process (SIGSEGV in the JVM's shutdown)
    although every test had passed; the same reason makes the ``fijibridge`` command
    end with ``os._exit``. Nothing is left to write at this point.
    """
    import sys

    status = getattr(config, "_fijibridge_exitstatus", None)
    jpype = sys.modules.get("jpype")
    if status is not None and jpype is not None and jpype.isJVMStarted():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
