"""OME-TIFF / ImageJ / plain TIFF fixtures written here, files written from a real
acquisition (checked by Bio-Formats), lazy reading, and one-line errors from the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import tifffile

from fijibridge import Image, read_image, write_image
from fijibridge._core.errors import ImageFormatError


@pytest.fixture
def stack():
    rng = np.random.default_rng(0)
    return rng.integers(0, 4000, (2, 2, 5, 24, 30), dtype=np.uint16)  # T C Z Y X


@pytest.mark.parametrize("unit, xy, z", [("nm", 65.5, 250.0), ("µm", 0.0655, 0.25)])
def test_info_json_on_tifffile_ome_tiff_reports_micrometres(unit, xy, z, stack, tmp_path, cli,
                                                             oracle):
    path = tmp_path / "x.ome.tif"
    tifffile.imwrite(path, stack, metadata={
        "axes": "TCZYX", "PhysicalSizeX": xy, "PhysicalSizeXUnit": unit,
        "PhysicalSizeY": xy, "PhysicalSizeYUnit": unit, "PhysicalSizeZ": z,
        "PhysicalSizeZUnit": unit, "Channel": {"Name": ["DAPI", "Mito"]}})
    out = cli("info", path, "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert set(info) == {"format", "axes", "shape", "dtype", "spacing_um", "channels",
                         "scenes", "calibrated"}
    assert info["format"] == "ome-tiff" and info["axes"] == "TCZYX"
    assert info["shape"] == [2, 2, 5, 24, 30] and info["dtype"] == "uint16"
    assert info["spacing_um"]["x"] == pytest.approx(0.0655, rel=1e-12)
    assert info["spacing_um"]["y"] == pytest.approx(0.0655, rel=1e-12)
    assert info["spacing_um"]["z"] == pytest.approx(0.25, rel=1e-12)
    assert info["channels"] == ["DAPI", "Mito"] and info["scenes"] == 1
    assert info["calibrated"] is True
    bf = oracle(path)  # Bio-Formats reads the same sizes
    assert math.isclose(bf["spacing_um"]["x"], 0.0655, rel_tol=1e-9)
    assert math.isclose(bf["spacing_um"]["z"], 0.25, rel_tol=1e-9)


def test_info_json_on_imagej_hyperstack(stack, tmp_path, cli, oracle):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, stack.transpose(0, 2, 1, 3, 4), imagej=True,
                     resolution=(1 / 0.0655, 1 / 0.0655),
                     metadata={"axes": "TZCYX", "unit": "micron", "spacing": 0.25})
    info = json.loads(cli("info", path, "--json").stdout)
    assert info["format"] == "imagej-tiff" and info["axes"] == "TCZYX"
    assert info["shape"] == [2, 2, 5, 24, 30]
    assert info["spacing_um"] == pytest.approx({"z": 0.25, "y": 0.0655, "x": 0.0655})
    assert info["channels"] == [] and info["calibrated"] is True
    np.testing.assert_array_equal(read_image(path).data, stack)  # reorder TZCYX → TCZYX
    bf = oracle(path)
    assert bf["sizes"] == {"T": 2, "C": 2, "Z": 5, "Y": 24, "X": 30}
    assert math.isclose(bf["spacing_um"]["x"], 0.0655, rel_tol=1e-6)


def test_plain_tifffile_tiff_is_uncalibrated(tmp_path, cli):
    """tifffile writes a 1/1 resolution with unit NONE by default: no calibration."""
    path = tmp_path / "plain.tif"
    tifffile.imwrite(path, np.zeros((4, 16, 16), np.uint8), photometric="minisblack")
    page = tifffile.TiffFile(path).pages[0]
    assert page.tags["XResolution"].value == (1, 1)  # the trap the issue describes
    info = json.loads(cli("info", path, "--json").stdout)
    assert info["calibrated"] is False
    assert info["spacing_um"] == {"z": None, "y": None, "x": None}
    assert read_image(path).spacing == (1.0, 1.0, 1.0)


def test_plain_tiff_with_centimetre_resolution_is_calibrated(tmp_path):
    path = tmp_path / "cm.tif"
    tifffile.imwrite(path, np.zeros((16, 16), np.uint8), resolution=(1e4, 1e4),
                     resolutionunit="CENTIMETER")  # 10 000 px/cm = 1 µm
    image = read_image(path)
    assert image.calibrated and image.spacing_um == pytest.approx({"z": None, "y": 1.0, "x": 1.0})


@pytest.mark.parametrize("suffix", [".ome.tif", ".zarr", ".tif"])
def test_written_from_real_nd2_round_trips(suffix, sample, require, tmp_path, oracle):
    """ND2 → our writer → read back (and Bio-Formats for the TIFFs): same pixels, µm
    sizes and (OME formats) channel names."""
    require("nd2")
    require("zarr")
    src = read_image(sample("cluster.nd2"))
    out = tmp_path / f"cluster{suffix}"
    write_image(out, src)
    back = read_image(out)
    np.testing.assert_array_equal(back.data, src.data)
    assert back.axes == src.axes == "TCZYX"
    for k in "zyx":
        assert back.spacing_um[k] == pytest.approx(src.spacing_um[k], rel=1e-12)
    if suffix != ".tif":
        assert back.channels == src.channels == ("5-FAM/pH 9.0", "FM 4-64/2% CHAPS")
    if suffix != ".zarr":
        bf = oracle(out)
        assert bf["sizes"] == {"T": 3, "C": 2, "Z": 10, "Y": 31, "X": 38}
        for k in "zyx":
            assert math.isclose(bf["spacing_um"][k], src.spacing_um[k], rel_tol=1e-6)
        if suffix == ".ome.tif":
            assert bf["channels"] == list(src.channels)
    assert not list(tmp_path.glob(".*tmp*"))  # nothing half-written left behind


def test_ome_zarr_written_states_units_explicitly(tmp_path, require):
    require("zarr")
    image = Image(np.zeros((4, 8, 8), np.float32), axes="ZYX", spacing=(0.25, 0.0655, 0.0655))
    write_image(tmp_path / "a.zarr", image)
    attrs = json.loads((tmp_path / "a.zarr" / ".zattrs").read_text())
    ms = attrs["multiscales"][0]
    assert ms["version"] == "0.4"
    assert [a.get("unit") for a in ms["axes"]] == ["micrometer"] * 3
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"] == [0.25, 0.0655, 0.0655]


def test_lazy_reading_equals_eager(stack, tmp_path, require, monkeypatch):
    require("zarr")
    require("dask")
    path = tmp_path / "x.ome.tif"
    write_image(path, Image(stack, axes="TCZYX", spacing=(0.25, 0.1, 0.1)))
    monkeypatch.setenv("FIJIBRIDGE_MAX_MEMORY", "10k")  # smaller than the file: lazy
    lazy = read_image(path)
    assert lazy.is_lazy
    np.testing.assert_array_equal(lazy.data.max(axis=2).compute(), stack.max(axis=2))
    np.testing.assert_array_equal(lazy.channel(1).to_ndarray("TZYX"), stack[:, 1])
    assert not read_image(path, max_memory="1G").is_lazy


def _one_line_failure(out, *needles):
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_cli_bad_inputs_fail_in_one_line(sample, tmp_path, cli):
    real = sample("RBC_lattice.tif")
    trunc = tmp_path / "trunc.tif"
    trunc.write_bytes(real.read_bytes()[:4000])
    _one_line_failure(cli("info", trunc), "trunc.tif", "corrupt, truncated")
    wrong = tmp_path / "stack.czi"
    wrong.write_bytes(real.read_bytes())
    _one_line_failure(cli("info", wrong), "stack.czi", "content is TIFF")
    junk = tmp_path / "junk.nd2"
    junk.write_bytes(b"not an image at all" * 10)
    _one_line_failure(cli("info", junk), "junk.nd2", "does not look like a ND2")
    _one_line_failure(cli("info", tmp_path / "missing.tif"), "missing.tif")
    _one_line_failure(cli("info", real, "--scene", "2"), "scene 2 is out of range",
                      "1 scene")
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    _one_line_failure(cli("info", empty), "empty")


def test_info_text_summary(sample, cli):
    out = cli("info", sample("RBC_lattice.tif"))
    assert out.returncode == 0
    assert "axes   ZYX" in out.stdout and "z 0.3" in out.stdout


def test_truncated_tiff_raises_image_format_error(sample, tmp_path):
    real = sample("multich_multi_time.tif").read_bytes()
    trunc = tmp_path / "t.tif"
    trunc.write_bytes(real[: len(real) // 2])
    with pytest.raises(ImageFormatError, match="truncated"):
        read_image(trunc)


def test_reader_not_installed_names_the_extra_mocked_import(tmp_path, monkeypatch):
    """Mocked: nd2 IS installed here, so its absence is faked at import."""
    import importlib

    real_import = importlib.import_module

    def fake(name, *a, **k):
        if name == "nd2":
            raise ImportError("No module named 'nd2'")
        return real_import(name, *a, **k)

    path = tmp_path / "a.nd2"
    path.write_bytes(b"\xda\xce\xbe\x0a" + b"\0" * 200)
    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(ImageFormatError, match=r"fijibridge\[formats\]"):
        read_image(path)
