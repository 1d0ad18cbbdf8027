"""Importing fijibridge (and its CLI parser) must start no JVM and load no torch."""

import subprocess
import sys

HEAVY = ("jpype", "scyjava", "imagej", "torch")


def _loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_import_fijibridge_is_light():
    assert _loaded_after("import fijibridge, fijibridge.bridge, fijibridge.data") == []


def test_subpackages_do_not_start_java():
    code = ("import fijibridge.psf, fijibridge.deconv, fijibridge.segment, fijibridge.synth, "
            "fijibridge.features, fijibridge.classify, fijibridge.pipeline")
    assert not set(_loaded_after(code)) & {"jpype", "scyjava", "imagej"}


def test_cli_help_is_light():
    assert _loaded_after("from fijibridge.cli.main import build_parser; build_parser()") == []
