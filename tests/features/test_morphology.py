"""Label morphology against shapes whose measures are known exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fijibridge.features import aggregate_by_cell, assign_cells, label_morphology


def _ball(radius_um, spacing):
    shape = [int(2 * radius_um / s) + 5 for s in spacing]
    grid = np.indices(shape).astype(float)
    r2 = sum(((g - (n - 1) / 2) * s) ** 2 for g, n, s in zip(grid, shape, spacing))
    return (r2 <= radius_um ** 2).astype(np.uint8)


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.0, 0.5, 0.5)])
def test_sphere_volume_surface_sphericity(spacing):
    # a digital ball of radius 10 µm: volume within 2 %, Crofton surface within 3 %
    # (the discretisation error of a ball 10–40 voxels across), sphericity within 0.03
    r = 10.0
    row = label_morphology(_ball(r, spacing), spacing=spacing).iloc[0]
    assert row["volume_um3"] == pytest.approx(4 / 3 * math.pi * r ** 3, rel=0.02)
    assert row["surface_area_um2"] == pytest.approx(4 * math.pi * r ** 2, rel=0.03)
    assert row["sphericity"] == pytest.approx(1.0, abs=0.03)
    assert row["equivalent_radius_um"] == pytest.approx(r, rel=0.01)
    assert row["elongation"] == pytest.approx(1.0, abs=0.02)
    assert row["feret_diameter_um"] == pytest.approx(2 * r, rel=0.02)
    for a in "zyx":
        assert row[f"centroid_{a}_um"] > 0


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.25, 0.5)])
def test_disk_area_perimeter_circularity(spacing):
    # a disk 24–96 pixels across: pixel counting is within 3 % (the Gauss circle
    # problem: a disk of radius 12 px holds 441 pixel centres, not 452)
    r = 12.0
    row = label_morphology(_ball(r, spacing), spacing=spacing).iloc[0]
    assert row["area_um2"] == pytest.approx(math.pi * r ** 2, rel=0.03)
    assert row["perimeter_um"] == pytest.approx(2 * math.pi * r, rel=0.03)
    assert row["circularity"] == pytest.approx(1.0, abs=0.06)
    assert "volume_um3" not in row and "centroid_z_um" not in row


def test_cube_and_box_exact_measures():
    labels = np.zeros((30, 30, 30), np.uint16)
    labels[2:12, 2:12, 2:12] = 1            # cube, 10 voxels a side
    labels[15:19, 15:23, 5:25] = 7          # box 4 x 8 x 20 voxels
    h = 0.5
    t = label_morphology(labels, spacing=h).set_index("label")
    assert t.loc[1, "volume_um3"] == pytest.approx(1000 * h ** 3)
    # Feret diameter is measured between voxel centres: (n - 1) h sqrt(3)
    assert t.loc[1, "feret_diameter_um"] == pytest.approx(9 * h * math.sqrt(3), rel=1e-6)
    assert t.loc[7, "volume_um3"] == pytest.approx(4 * 8 * 20 * h ** 3)
    # principal moments of a box of n voxels: h² (n² - 1) / 12 along each side
    moments = sorted(h ** 2 * (n ** 2 - 1) / 12 for n in (4, 8, 20))
    got = [t.loc[7, f"principal_moment_{i}_um2"] for i in range(3)]
    assert got == pytest.approx(moments, rel=1e-6)
    assert t.loc[7, "elongation"] == pytest.approx(math.sqrt(moments[2] / moments[1]), rel=1e-6)
    assert t.loc[7, "flatness"] == pytest.approx(math.sqrt(moments[1] / moments[0]), rel=1e-6)
    assert (t.loc[7, ["bbox_start_z_px", "bbox_start_y_px", "bbox_start_x_px"]].tolist()
            == [15, 15, 5])
    assert (t.loc[7, ["bbox_size_z_px", "bbox_size_y_px", "bbox_size_x_px"]].tolist()
            == [4, 8, 20])
    assert t.loc[7, "centroid_x_um"] == pytest.approx(14.5 * h)
    assert not t.loc[7, "touches_border"]


@pytest.mark.parametrize("ndim", [2, 3])
def test_intensity_statistics_match_numpy(ndim):
    rng = np.random.default_rng(1)
    shape = (6, 20, 20)[3 - ndim:]
    labels = np.zeros(shape, np.uint8)
    labels[..., 2:8, 2:9] = 1
    labels[..., 10:17, 4:15] = 2
    image = rng.normal(100, 20, (2,) + shape).astype(np.float32)
    t = label_morphology(labels, image=image, channel_axis=0)
    size = "volume_um3" if ndim == 3 else "area_um2"
    for c in range(2):
        for lab in (1, 2):
            v = image[c][labels == lab].astype(float)
            row = t[t.label == lab].iloc[0]
            assert row[f"mean_intensity_c{c}"] == pytest.approx(v.mean(), rel=1e-6)
            assert row[f"std_intensity_c{c}"] == pytest.approx(v.std(ddof=1), rel=1e-6)
            assert row[f"min_intensity_c{c}"] == pytest.approx(v.min())
            assert row[f"max_intensity_c{c}"] == pytest.approx(v.max())
            assert row[f"median_intensity_c{c}"] == pytest.approx(np.median(v))
            assert row[f"raw_integrated_density_c{c}"] == pytest.approx(v.sum(), rel=1e-6)
            assert row[f"integrated_density_c{c}"] == pytest.approx(v.mean() * row[size],
                                                                    rel=1e-6)
    single = label_morphology(labels, image=image[0])
    assert "mean_intensity" in single.columns and "mean_intensity_c0" not in single.columns


def test_real_nuclei_volumes_and_centroids():
    from skimage.measure import regionprops_table

    from fijibridge.data import SampleMissingError, load_sample

    try:
        sample = load_sample("nuclei3d_mask")
    except SampleMissingError as e:
        pytest.skip(str(e))
    labels = sample.data
    spacing = (2.0, 0.5, 0.5)
    t = label_morphology(labels, spacing=spacing)
    ids = np.unique(labels[labels > 0])
    assert t["label"].tolist() == ids.tolist()
    assert t["n_voxels"].sum() == int((labels > 0).sum())
    ref = regionprops_table(labels, spacing=spacing, properties=("label", "area", "centroid"))
    assert np.allclose(t["volume_um3"], ref["area"])
    for i, a in enumerate("zyx"):
        assert np.allclose(t[f"centroid_{a}_um"], ref[f"centroid-{i}"])


def test_cells_assignment_and_aggregation():
    labels = np.zeros((20, 20), np.uint8)
    labels[2:5, 2:5] = 1
    labels[2:5, 12:15] = 2
    labels[12:15, 12:18] = 3
    cells = np.zeros_like(labels)
    cells[:, :10] = 1
    cells[:, 10:] = 2
    cells[12:, 16:] = 0  # object 3: 9 voxels in cell 2, 6 outside
    cell_of = assign_cells(labels, cells)
    assert cell_of.to_dict() == {1: 1, 2: 2, 3: 2}
    t = label_morphology(labels)
    t["cell"] = cell_of.reindex(t["label"]).to_numpy()
    agg = aggregate_by_cell(t).set_index("cell")
    assert agg.loc[1, "n_objects"] == 1 and agg.loc[2, "n_objects"] == 2
    assert agg.loc[2, "total_area_um2"] == 9 + 18
    assert "mean_centroid_y_um" not in agg.columns


def test_bad_inputs_name_the_problem():
    labels = np.zeros((10, 10), np.uint8)
    with pytest.raises(ValueError, match="no object"):
        label_morphology(labels)
    labels[2:4, 2:4] = 1
    with pytest.raises(ValueError, match="does not match labels shape"):
        label_morphology(labels, image=np.zeros((10, 11)))
    with pytest.raises(ValueError, match="spacing must have 2 values"):
        label_morphology(labels, spacing=(1, 1, 1))
    with pytest.raises(TypeError, match="integer labels"):
        label_morphology(labels * 0.5)
    with pytest.raises(ValueError, match=">= 0"):
        label_morphology(-labels.astype(np.int8))
    with pytest.raises(ValueError, match="3D"):
        label_morphology(np.ones((2, 2, 2, 2), np.uint8))
