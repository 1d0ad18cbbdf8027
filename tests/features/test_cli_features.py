"""``fijibridge features`` on real TIFF files (calibration read from the file)."""

from __future__ import annotations

import os
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from fijibridge import write_tiff
from fijibridge.cli.main import main


@pytest.fixture()
def files(tmp_path, phantoms):
    spacing = (0.2, 0.1, 0.1)
    nodes = {0: (2.0, 6, 6), 1: (2.0, 1.5, 6), 2: (2.0, 9, 2), 3: (2.0, 9.5, 10.5),
             4: (2.0, 1, 14), 5: (2.0, 10, 14)}
    mask = phantoms.draw_tubes((21, 120, 160), spacing, nodes, [(0, 1), (0, 2), (0, 3), (4, 5)],
                               0.35)
    labels = np.zeros(mask.shape, np.uint16)
    labels[:, :, :125] = mask[:, :, :125]
    labels[:, :, 125:] = 2 * mask[:, :, 125:]
    cells = np.ones(mask.shape, np.uint16)
    cells[:, :, 125:] = 2
    image = np.stack([mask * 10.0, mask * 2.0 + 1], axis=1).astype(np.float32)  # Z C Y X
    paths = {k: tmp_path / f"{k}.tif" for k in ("mask", "labels", "cells", "image")}
    write_tiff(paths["mask"], mask.astype(np.uint8), spacing=spacing)
    write_tiff(paths["labels"], labels, spacing=spacing)
    write_tiff(paths["cells"], cells, spacing=spacing)
    write_tiff(paths["image"], image, spacing=spacing, axes="ZCYX")
    return paths


def test_morphology_with_channels_and_cells(files, tmp_path):
    out = tmp_path / "res" / "table.csv"
    assert main(["features", str(files["labels"]), "--image", str(files["image"]),
                 "--cells", str(files["cells"]), "-o", str(out)]) == 0
    t = pd.read_csv(out)
    assert t["label"].tolist() == [1, 2] and t["cell"].tolist() == [1, 2]
    assert {"volume_um3", "mean_intensity_c0", "mean_intensity_c1"} <= set(t.columns)
    assert t["mean_intensity_c0"].tolist() == pytest.approx([10, 10])
    # spacing came from the TIFF: volume = voxels * 0.2 * 0.1 * 0.1 µm³
    assert t["volume_um3"].tolist() == pytest.approx((t["n_voxels"] * 0.002).tolist())
    cells = pd.read_csv(tmp_path / "res" / "table.cells.csv")
    assert cells["n_objects"].tolist() == [1, 1]
    summary = pd.read_csv(tmp_path / "res" / "table.summary.csv")
    assert summary["n_objects"].tolist() == [2] and summary["image"].tolist() == ["labels.tif"]
    assert summary["total_volume_um3"][0] == pytest.approx(t["volume_um3"].sum())
    # an explicit --spacing wins over the calibration
    assert main(["features", str(files["labels"]), "--spacing", "1", "1", "1",
                 "-o", str(out)]) == 0
    assert pd.read_csv(out)["volume_um3"].tolist() == pytest.approx(
        pd.read_csv(out)["n_voxels"].tolist())


def test_skeleton_per_image_and_per_cell(files, tmp_path):
    out = tmp_path / "graph.csv"
    assert main(["features", str(files["mask"]), "--skeleton", "--prune", "0.2",
                 "-o", str(out)]) == 0
    row = pd.read_csv(out).iloc[0]
    assert row["image"] == "mask.tif"
    assert (row["n_junctions"], row["n_endpoints"], row["n_edges"], row["n_components"]) == \
        (1, 5, 4, 2)
    g = nx.read_graphml(tmp_path / "graph.graphml")
    assert g.number_of_edges() == 4
    assert len(pd.read_csv(tmp_path / "graph.components.csv")) == 2
    assert len(pd.read_csv(tmp_path / "graph.branches.csv")) == 4
    assert main(["features", str(files["mask"]), "--skeleton", "--cells", str(files["cells"]),
                 "-o", str(out)]) == 0
    t = pd.read_csv(out).set_index("cell")
    assert t.loc[1, "n_junctions"] == 1 and t.loc[2, "n_edges"] == 1


def test_bad_arguments_exit_2_with_a_clear_message(files, tmp_path, capsys):
    out = str(tmp_path / "x.csv")
    assert main(["features", str(files["labels"]), "--spacing", "0.1", "0.1", "-o", out]) == 2
    assert "--spacing must have 3 values" in capsys.readouterr().err
    write_tiff(tmp_path / "small.tif", np.zeros((21, 10, 10), np.float32))
    assert main(["features", str(files["labels"]), "--image", str(tmp_path / "small.tif"),
                 "-o", out]) == 2
    assert "does not match labels shape" in capsys.readouterr().err
    write_tiff(tmp_path / "empty.tif", np.zeros((4, 10, 10), np.uint16))
    assert main(["features", str(tmp_path / "empty.tif"), "-o", out]) == 2
    assert "no object" in capsys.readouterr().err
    assert main(["features", str(tmp_path / "missing.tif"), "-o", out]) == 1


def test_measure_files_is_the_command_and_returns_what_it_wrote(files, tmp_path):
    """The library function the command calls: the files it lists are the files written."""
    from fijibridge.features.measure import measure_files

    assert main(["features", str(files["labels"]), "--cells", str(files["cells"]),
                 "--no-feret", "-o", str(tmp_path / "cli.csv")]) == 0
    written = measure_files(files["labels"], output=tmp_path / "lib.csv", cells=files["cells"],
                            feret=False)
    assert [p.name for p in written] == ["lib.csv", "lib.summary.csv", "lib.cells.csv"]
    assert all(p.is_file() for p in written)
    pd.testing.assert_frame_equal(pd.read_csv(written[0]), pd.read_csv(tmp_path / "cli.csv"))
    with pytest.raises(ValueError, match="-o"):
        measure_files(files["labels"], output=files["cells"].with_suffix(".csv"),
                      cells=files["cells"].with_suffix(".csv"))


def test_tables_say_whether_sizes_are_calibrated(tmp_path):
    """Every table of ``fijibridge features`` has a ``calibrated`` column: False for a
    file that states no pixel size (its *_um columns are then pixels), True for a
    calibrated file or an explicit spacing."""
    import subprocess
    import sys

    import pandas as pd
    import tifffile

    labels = np.zeros((30, 30), np.uint16)
    labels[3:9, 3:12] = 1
    labels[15:25, 10:20] = 2
    tifffile.imwrite(tmp_path / "plain.tif", labels)
    tifffile.imwrite(tmp_path / "cal.tif", labels, imagej=True, resolution=(5.0, 5.0),
                     metadata={"unit": "micron"})
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    for name, extra, flag in (("plain", [], False), ("cal", [], True),
                              ("plain", ["--spacing", "0.2", "0.2"], True)):
        out = tmp_path / f"{name}{len(extra)}.csv"
        r = subprocess.run([sys.executable, "-m", "fijibridge.cli.main", "features",
                            str(tmp_path / f"{name}.tif"), "-o", str(out), *extra],
                           capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        for f in (out, out.with_suffix(".summary.csv")):
            t = pd.read_csv(f)
            assert set(t["calibrated"]) == {flag}, (f, t["calibrated"])
        assert "area_um2" in pd.read_csv(out).columns
