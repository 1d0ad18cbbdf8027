"""``fijibridge threshold`` on several images and folders: the same values as one image at
a time, masks with the inputs' calibration, checks before any work."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile

from fijibridge import read_image, write_tiff
from fijibridge.cli.main import main


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    rng = np.random.default_rng(7)
    for i, shift in enumerate((0, 30, 60)):
        a = (rng.random((48, 64)) * 90).astype(np.uint8)
        a[10:30, 15:40] += np.uint8(100 + shift // 2)
        write_tiff(d / f"cell{i}.tif", a, spacing=(0.13, 0.13))
    return d


def _one(capsys, path, *extra):
    assert main(["threshold", str(path), "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_folder_equals_one_image_at_a_time(folder, tmp_path, capsys):
    single = {str(f): _one(capsys, f, "--method", "all") for f in sorted(folder.glob("*.tif"))}
    assert main(["threshold", str(folder), "--method", "all", "--json", "--quiet"]) == 0
    batch = json.loads(capsys.readouterr().out)
    assert batch == single and len(batch) == 3 and len(batch[str(folder / "cell0.tif")]) == 16
    assert len({json.dumps(v["Otsu"]) for v in batch.values()}) > 1  # they differ per image

    out = tmp_path / "masks"
    assert main(["threshold", str(folder / "cell0.tif"), str(folder / "cell2.tif"),
                 "--method", "Otsu", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    rows = [line.split("\t") for line in captured.out.splitlines()]
    assert [(r[0], r[1]) for r in rows] == [(str(folder / "cell0.tif"), "Otsu"),
                                            (str(folder / "cell2.tif"), "Otsu")]
    assert [line.split(" (")[1].split(")")[0] for line in captured.err.splitlines()
            if line.startswith("threshold:")] == ["cell0.tif", "cell2.tif"]  # one line each
    assert sorted(p.name for p in out.iterdir()) == ["cell0_mask.tif", "cell2_mask.tif"]
    for name in ("cell0", "cell2"):
        lo, up = batch[str(folder / f"{name}.tif")]["Otsu"]
        image = tifffile.imread(folder / f"{name}.tif")
        mask = read_image(out / f"{name}_mask.tif")
        np.testing.assert_array_equal(mask.to_ndarray(),
                                      np.where((image >= lo) & (image <= up), 255, 0))
        assert (mask.spacing_um["y"], mask.spacing_um["x"]) == pytest.approx((0.13, 0.13))
    # a rerun into the input folder does not threshold the masks of the first run
    assert main(["threshold", str(folder), "-o", str(folder), "--quiet"]) == 0
    assert main(["threshold", str(folder), "--json", "--quiet"]) == 0
    assert sorted(json.loads(capsys.readouterr().out.splitlines()[-1])) == \
        [str(folder / f"cell{i}.tif") for i in range(3)]


def test_batch_errors_before_any_work(folder, tmp_path, capsys):
    out = tmp_path / "o"
    rc = main(["threshold", str(folder / "cell0.tif"), str(folder / "cell1.tif"),
               "-o", str(tmp_path / "mask.tif")])
    assert rc == 2
    assert "with 2 images -o names a folder" in capsys.readouterr().err
    other = tmp_path / "other"
    other.mkdir()
    (other / "cell0.tif").write_bytes((folder / "cell0.tif").read_bytes())
    rc = main(["threshold", str(folder), str(other), "-o", str(out)])
    assert rc == 2
    assert "would be written by more than one input" in capsys.readouterr().err
    assert not out.exists()  # nothing written: the clash was found first
