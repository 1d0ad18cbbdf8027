"""``fijibridge synth phantoms``: real files written and read back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fijibridge import read_tiff
from fijibridge.cli.main import main
from fijibridge.synth import graph_from_graphml


def test_phantoms_mito_3d_files(tmp_path):
    out = tmp_path / "out"
    rc = main(["synth", "phantoms", "--kind", "mito", "--ndim", "3", "--n", "2",
               "--shape", "16", "64", "64", "--spacing", "0.2", "0.1", "0.1", "--seed", "4",
               "--z-step", "2", "--psf", "gaussian", "-o", str(out)])
    assert rc == 0
    for i in range(2):
        img = read_tiff(out / f"mito_{i}_image.tif")
        lab = read_tiff(out / f"mito_{i}_labels.tif")
        mask = read_tiff(out / f"mito_{i}_mask.tif")
        assert img.data.shape == (8, 64, 64) and img.data.dtype == np.uint16
        assert img.spacing == pytest.approx((0.4, 0.1, 0.1))
        assert lab.data.shape == mask.data.shape == (16, 64, 64)
        assert lab.spacing == pytest.approx((0.2, 0.1, 0.1))
        g = graph_from_graphml(out / f"mito_{i}.graphml")
        assert g.number_of_edges() > 0
        assert {d["component"] for _, d in g.nodes(data=True)} == set(np.unique(lab.data)) - {0}
    params = json.loads((out / "params.json").read_text())
    assert params["kind"] == "mito" and len(params["samples"]) == 2
    assert params["samples"][0]["params"]["kind"] == "mito"
    assert (out / "preview.png").stat().st_size > 1000
    assert not list(out.glob(".*tmp*"))   # atomic writes leave no temporaries
    # same seed, same files
    out2 = tmp_path / "again"
    main(["synth", "phantoms", "--kind", "mito", "--ndim", "3", "--n", "1", "--shape", "16",
          "64", "64", "--spacing", "0.2", "0.1", "0.1", "--seed", "4", "--z-step", "2",
          "-o", str(out2), "--no-preview"])
    np.testing.assert_array_equal(read_tiff(out2 / "mito_0_image.tif").data,
                                  read_tiff(out / "mito_0_image.tif").data)


def test_phantoms_with_psf_file_and_no_microscope(tmp_path):
    from fijibridge import write_tiff
    from fijibridge.synth import gaussian_psf

    psf_path = tmp_path / "psf.tif"
    write_tiff(psf_path, gaussian_psf(spacing=(0.25, 0.25), sigma_um=0.3).astype(np.float32),
               spacing=(0.25, 0.25))
    rc = main(["synth", "phantoms", "--kind", "nuclei", "--ndim", "2", "--shape", "96", "96",
               "--psf", str(psf_path), "-o", str(tmp_path / "a")])
    assert rc == 0
    rc = main(["synth", "phantoms", "--kind", "golgi", "--ndim", "2", "--shape", "128", "128",
               "--psf", "none", "-o", str(tmp_path / "b")])
    assert rc == 0
    assert read_tiff(tmp_path / "b" / "golgi_0_image.tif").data.dtype == np.float32
    assert set(np.unique(read_tiff(tmp_path / "b" / "golgi_0_mask.tif").data)) <= {0, 1, 2}


@pytest.mark.parametrize("argv, match", [
    (["--kind", "nucleus"], "Did you mean 'nuclei'"),
    (["--kind", "cells", "--ndim", "4"], "ndim must be 2 or 3"),
    (["--kind", "cells", "--spacing", "0.1", "0.1", "0.1"], "spacing needs 2 values"),
    (["--kind", "nuclei", "--phenotype", "fused"], "apply to mito and cells"),
    (["--kind", "mito", "--wavelength", "0.52"], "in nm"),
    (["--kind", "mito", "--psf", "airy"], "psf must be"),
    (["--kind", "mito", "--z-step", "2"], "applies to 3D"),
])
def test_bad_arguments_exit_2(tmp_path, capsys, argv, match):
    rc = main(["synth", "phantoms", *argv, "-o", str(tmp_path / "x")])
    assert rc == 2
    assert match in capsys.readouterr().err


def test_missing_psf_file_exit_1(tmp_path, capsys):
    rc = main(["synth", "phantoms", "--kind", "mito", "--psf", str(tmp_path / "nope.tif"),
               "-o", str(tmp_path / "x")])
    assert rc == 1
    assert "nope.tif" in capsys.readouterr().err
