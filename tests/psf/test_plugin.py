"""The real PSF Generator through the bridge (its jar cannot be installed here)."""


import pytest

from fijibridge import PluginMissingError

pytestmark = pytest.mark.imagej


def test_missing_plugin_names_folder_and_fix(imagej, reference_dir):
    from fijibridge.psf.plugin import run_psf_generator

    if imagej.plugins()["PSF Generator"] is not None:
        pytest.skip("PSF Generator is installed in this engine's plugins folder")
    with pytest.raises(PluginMissingError) as info:
        run_psf_generator(reference_dir / "psfgen" / "bw_31x31x21.config", session=imagej)
    text = str(info.value)
    assert str(imagej.plugins_dir) in text and "PSF_Generator.jar" in text
    assert "fijibridge psf --config" in text


def test_bad_config_fails_before_any_java(tmp_path):
    from fijibridge.psf.plugin import run_psf_generator

    bad = tmp_path / "bad.config"
    bad.write_text("PSF-shortname=NOPE\n")
    with pytest.raises(ValueError):
        run_psf_generator(bad, session=object())  # never reaches the session


def test_cli_engine_needs_config(tmp_path):
    from fijibridge.cli.main import main

    assert main(["psf", "--model", "BW", "--shape", "8", "16", "16", "--engine", "imagej",
                 "-o", str(tmp_path / "p.tif")]) == 2
    assert not (tmp_path / "p.tif").exists()
