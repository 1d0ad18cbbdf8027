"""network_summary (one image's row + per-object table), the network steps and the
skeleton overlays, on drawn masks whose skeleton lengths are known by construction."""

from __future__ import annotations

import io

import numpy as np
import pytest

from fijibridge._core.image import Image
from fijibridge.features.network_steps import network, network_table, spatial
from fijibridge.features.network_summary import IMAGE_COLUMNS, network_summary
from fijibridge.segment.overlay_views import (skeleton_components, skeleton_orthogonal_png,
                                              skeleton_projection_png)


def _two_pieces():
    """A 3D cross (4 arms of 15 voxels from a junction) and, apart, a straight line of
    10 voxels along x; spacing (0.3, 0.1, 0.1) µm."""
    m = np.zeros((6, 40, 60), bool)
    m[2, 20, 5:36] = True      # cross: x arm, 30 steps of 0.1 µm
    m[2, 5:36, 20] = True      #        y arm, 30 steps
    m[4, 5, 45:55] = True      # line: 9 steps of 0.1 µm
    return m


def test_row_counts_and_lengths_of_known_pieces():
    s = network_summary(_two_pieces(), spacing=(0.3, 0.1, 0.1))
    r = s.row
    assert tuple(r)[:len(IMAGE_COLUMNS)] == IMAGE_COLUMNS
    assert r["n_components"] == 2
    assert r["n_branches"] == 5 and r["n_junctions"] == 1 and r["n_endpoints"] == 6
    # node centre to node centre: cross 6.0 µm, line 0.9 µm (exact sums of 0.1 µm steps)
    assert r["total_length_um"] == pytest.approx(6.9)
    assert r["largest_component_length_um"] == pytest.approx(6.0)
    assert r["largest_component_fraction"] == pytest.approx(6.0 / 6.9)
    assert r["mean_branch_length_um"] == pytest.approx(6.9 / 5)
    assert r["skeleton_voxels"] == 61 + 10


def test_objects_table_one_row_per_component_with_extents():
    s = network_summary(_two_pieces(), spacing=(0.3, 0.1, 0.1))
    o = s.objects
    assert list(o["component"]) == [1, 2]           # by decreasing length
    assert list(o["n_branches"]) == [4, 1]
    assert o.loc[0, "extent_x_um"] == pytest.approx(3.0)   # cross: 30 steps of 0.1 µm
    assert o.loc[0, "extent_y_um"] == pytest.approx(3.0)
    assert o.loc[1, "extent_y_um"] == 0.0 and o.loc[1, "extent_x_um"] == pytest.approx(0.9)
    # span: fraction of the field (x: 59 steps of 0.1 µm)
    assert o.loc[0, "span_x"] == pytest.approx(3.0 / 5.9)


def test_lengths_follow_the_spacing():
    a = network_summary(_two_pieces(), spacing=(0.3, 0.1, 0.1)).row["total_length_um"]
    b = network_summary(_two_pieces(), spacing=(0.6, 0.2, 0.2)).row["total_length_um"]
    assert b == pytest.approx(2 * a)


def test_2d_and_empty_masks():
    m = _two_pieces()[2]
    r = network_summary(m, spacing=(0.1, 0.1)).row
    assert r["n_components"] == 1 and r["total_length_um"] == pytest.approx(6.0)
    empty = network_summary(np.zeros((5, 8, 8), bool)).row
    assert empty["n_components"] == 0 and empty["total_length_um"] == 0.0
    with pytest.raises(ValueError, match="2D .* or 3D"):
        network_summary(np.zeros((2, 2, 5, 8, 8), bool))


def test_network_step_adds_calibration_columns():
    labels = Image(_two_pieces().astype(np.uint8), "ZYX", (0.3, 0.1, 0.1))
    out = network(labels=labels, spacing=(0.3, 0.1, 0.1))
    row = out["summary"].iloc[0]
    assert bool(row["calibrated"]) and row["spacing_z_um"] == 0.3 and row["spacing_x_um"] == 0.1
    assert row["total_length_um"] == pytest.approx(6.9)
    assert out["skeleton"].dtype == np.uint8 and set(np.unique(out["skeleton"])) == {0, 255}
    raw = Image(_two_pieces().astype(np.uint8), "ZYX")   # a file without calibration
    row = network(labels=raw, spacing=raw.spacing)["summary"].iloc[0]
    assert not bool(row["calibrated"])
    assert row["total_length_um"] == pytest.approx(69.0)  # 1 pixel counted as 1 µm


def test_spatial_drops_singleton_time_and_refuses_a_series():
    img = Image(np.zeros((1, 4, 8, 8), np.uint16), "TZYX", (0.3, 0.1, 0.1))
    out = spatial(image=img)["image"]
    assert out.axes == "ZYX" and out.spacing == (0.3, 0.1, 0.1)
    with pytest.raises(ValueError, match="T=3"):
        spatial(image=Image(np.zeros((3, 4, 8, 8), np.uint16), "TZYX", (0.3, 0.1, 0.1)))


def test_network_table_puts_image_and_file_first():
    import pandas as pd

    t = network_table(table={"b": pd.DataFrame([{"x": 2}]), "a": pd.DataFrame([{"x": 1}])},
                      meta={"a": {"file": "/d/a.tif"}, "b": {"file": "/d/b.tif"}})["table"]
    assert list(t.columns) == ["image", "file", "x"] and list(t["image"]) == ["a", "b"]


def _png_shape(data):
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(bytes(data))) as im:
        im.load()
        return im.size, np.asarray(im.convert("RGB"))


def test_overlays_are_pngs_showing_the_skeleton_in_colour():
    m = _two_pieces()
    image = np.where(m, 100.0, 10.0) + np.random.default_rng(0).normal(0, 1, m.shape)
    for png in (skeleton_projection_png(image, m, spacing=(0.3, 0.1, 0.1)),
                skeleton_orthogonal_png(image, m, spacing=(0.3, 0.1, 0.1))):
        assert bytes(png[:8]) == b"\x89PNG\r\n\x1a\n"
        size, rgb = _png_shape(png)
        red = (rgb[..., 0] > 200) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)
        assert red.sum() > 50, "the largest component is drawn in red"
    # 2D image: the orthogonal view is the projection
    assert skeleton_orthogonal_png(image[2], m[2], spacing=(0.1, 0.1))[:8] == png[:8]


def test_skeleton_components_largest_first():
    lab = skeleton_components(_two_pieces())
    assert lab.max() == 2 and (lab == 1).sum() == 61 and (lab == 2).sum() == 10


def test_overlay_checks_shapes():
    with pytest.raises(ValueError, match="one shape"):
        skeleton_projection_png(np.zeros((4, 8, 8)), np.zeros((4, 8, 9), bool))
