"""PSF Generator configuration files: the reference files as they are, defaults, bad keys."""

from __future__ import annotations

import numpy as np
import pytest

from fijibridge.psf import PSFConfig, apply_psfgen_output, psf_from_config, read_psfgen_config


def _write(tmp_path, text, name="psf.config"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reference_gl_config(reference_dir):
    cfg = read_psfgen_config(reference_dir / "psfgen" / "gl_64x64x32.config")
    assert isinstance(cfg, PSFConfig)
    assert cfg.model == "GL"
    assert cfg.shape == (32, 64, 64)
    assert cfg.spacing == pytest.approx((0.25, 0.1, 0.1))  # nm in the file, µm here
    assert cfg.params == {"na": 1.4, "wavelength_nm": 610.0, "ni": 1.518, "ns": 1.33,
                          "ti_um": 150.0, "particle_z_nm": 2000.0, "accuracy": "Good"}
    assert (cfg.output_type, cfg.scale) == ("32-bits", "Linear")


def test_reference_bw_best_config(reference_dir):
    cfg = read_psfgen_config(reference_dir / "psfgen" / "bw_best_48x48x24.config")
    assert cfg.model == "BW" and cfg.params["accuracy"] == "Best" and cfg.params["ni"] == 1.0


def test_defaults_and_other_models_keys(tmp_path):
    path = _write(tmp_path, "#PSFGenerator\nPSF-shortname=RW\nNX=16\nNY=16\nNZ=8\n"
                            "psf-GL-NS=1.4\npsf-BW-NI=1.33\n")
    cfg = read_psfgen_config(path)
    assert cfg.model == "RW"
    assert cfg.params == {"na": 1.4, "wavelength_nm": 610.0, "ni": 1.5, "accuracy": "Good"}
    assert cfg.spacing == pytest.approx((0.25, 0.1, 0.1))


def test_lateral_axial_config_uses_plugin_geometry(tmp_path):
    path = _write(tmp_path, "PSF-shortname=Gaussian\nNX=16\nNY=16\nNZ=6\n"
                            "psf-Gaussian-axial=Linear\npsf-Gaussian-focus=0\n")
    psf = psf_from_config(path)
    assert [int(i) for i in np.unravel_index(psf.argmax(), psf.shape)] == [0, 8, 8]


@pytest.mark.parametrize("text, words", [
    ("PSF-shortname=BWX\n", ["PSF-shortname", "Did you mean 'BW'"]),
    ("PSF-shortname=BW\nNA=abc\n", ["'NA'", "number", "abc"]),
    ("PSF-shortname=BW\nNX=12.5\n", ["'NX'", "integer"]),
    ("PSF-shortname=BW\nNZ=0\n", ["'NZ'", "positive"]),
    ("PSF-shortname=BW\nResLateral=-100\n", ["'ResLateral'", "> 0"]),
    ("PSF-shortname=BW\npsf-BW-accuracy=Bset\n", ["psf-BW-accuracy", "Did you mean 'Best'"]),
    ("PSF-shortname=BW\npsf-BW-NJ=1.5\n", ["psf-BW-NJ", "psf-BW-NI"]),
    ("PSF-shortname=BW\nLamda=500\n", ["'Lamda'", "Did you mean 'Lambda'"]),
    ("PSF-shortname=BW\nNA=1.6\npsf-BW-NI=1.5\n", ["NA=1.6", "NI"]),
    ("PSF-shortname=BW\nType=64-bits\n", ["Type", "32-bits"]),
    ("just text without separator\n", ["key=value"]),
    ("# only a comment\n", ["no 'key=value'"]),
])
def test_bad_config_names_the_key(tmp_path, text, words):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        read_psfgen_config(path)
    for word in words:
        assert word in str(info.value)


def test_unimplemented_model(tmp_path):
    with pytest.raises(ValueError, match="not implemented"):
        read_psfgen_config(_write(tmp_path, "PSF-shortname=Koehler\n"))


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_psfgen_config(tmp_path / "nope.config")
    binary = tmp_path / "x.config"
    binary.write_bytes(b"\x00\x01\x02II*\x00")
    with pytest.raises(ValueError, match="not a PSF Generator configuration"):
        read_psfgen_config(binary)


def test_output_types_and_scales():
    psf = np.array([[0.0, 0.5], [1.0, 1e-9]])
    assert apply_psfgen_output(psf, output_type="8-bits").tolist() == [[0, 127], [255, 0]]
    assert apply_psfgen_output(psf, output_type="16-bits").dtype == np.uint16
    log = apply_psfgen_output(psf, scale="Log")
    assert log.dtype == np.float32 and log[1, 0] == 0 and log[0, 0] == pytest.approx(np.log(1e-6))
    with pytest.raises(ValueError, match="Did you mean 'Sqrt'"):
        apply_psfgen_output(psf, scale="sqr")
