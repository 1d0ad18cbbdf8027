"""The main job in 3D with two channels (pipelines/mito_classification.yml), cell
territories grown from nuclei, and the ROI sets written for ImageJ's ROI Manager."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi

from fijibridge import read_image
from fijibridge.pipeline import load_pipeline, run_pipeline
from fijibridge.segment.territories import cell_territories, label_outlines, rois_zip

REPO = Path(__file__).resolve().parents[2]
PIPELINE = REPO / "pipelines" / "mito_classification.yml"


# ----------------------------------------------------------------------------- territories


def _two_cells(ndim):
    """One elongated cell mask holding two nuclei (3D: a flat ellipsoid), the signal
    dimmer along the plane between them."""
    shape = (12, 40, 80)[-ndim:]
    grid = np.indices(shape, dtype=float)
    c = [(n - 1) / 2 for n in shape]
    semi = (5.0, 16.0, 36.0)[-ndim:]
    mask = sum(((g - cc) / s) ** 2 for g, cc, s in zip(grid, c, semi)) <= 1
    nuclei = np.zeros(shape, np.int32)
    for k, xc in ((1, 20), (2, 60)):
        ball = sum(((g - cc) / s) ** 2 for g, cc, s in
                   zip(grid, c[:-1] + [xc], (2.5, 5.0, 5.0)[-ndim:])) <= 1
        nuclei[ball] = k
    signal = np.where(mask, 100.0, 5.0)
    signal[..., 38:42] *= 0.3
    return nuclei, signal, mask


@pytest.mark.parametrize("ndim", [2, 3])
def test_two_nuclei_give_two_territories_covering_the_cell_mask(ndim):
    nuclei, signal, mask = _two_cells(ndim)
    spacing = (0.3, 0.1, 0.1)[-ndim:]
    cells = cell_territories(nuclei, signal, mask=mask, spacing=spacing, smooth_um=0.2)
    assert cells.shape == nuclei.shape and cells.dtype == np.uint16
    assert set(np.unique(cells)) == {0, 1, 2}
    np.testing.assert_array_equal(cells > 0, mask)               # covers the mask, no more
    for k in (1, 2):
        assert np.all(cells[nuclei == k] == k)                   # contains its nucleus
        assert ndi.label(cells == k)[1] == 1                     # in one piece
    # the border follows the dim gap between the two cells
    assert np.all(cells[..., :38][mask[..., :38]] == 1)
    assert np.all(cells[..., 42:][mask[..., 42:]] == 2)


def test_territories_default_mask_is_the_cells_signal():
    """Without a mask, the cells are the signal's foreground (Otsu after 0.5 µm)."""
    nuclei, signal, mask = _two_cells(3)
    rng = np.random.default_rng(0)
    noisy = rng.poisson(signal).astype(np.float32)
    cells = cell_territories(nuclei, noisy, spacing=(0.3, 0.1, 0.1))
    iou = ((cells > 0) & mask).sum() / ((cells > 0) | mask).sum()
    assert iou > 0.9, iou
    assert set(np.unique(cells)) == {0, 1, 2}


def test_territories_measure_distance_in_micrometres():
    """A voxel two voxels from each nucleus in index space goes to the one that is
    nearer in µm (z voxels are 3× longer here)."""
    nuclei = np.zeros((9, 9, 9), np.int32)
    nuclei[0, 4, 4] = 1      # 4 z-voxels = 1.2 µm above the centre
    nuclei[4, 4, 8] = 2      # 4 x-voxels = 0.4 µm beside it
    cells = cell_territories(nuclei, np.ones(nuclei.shape), mask=np.ones(nuclei.shape, bool),
                             spacing=(0.3, 0.1, 0.1), method="distance")
    assert cells[4, 4, 4] == 2
    iso = cell_territories(nuclei, np.ones(nuclei.shape), mask=np.ones(nuclei.shape, bool),
                           spacing=(0.1, 0.1, 0.1), method="distance")
    assert iso[2, 4, 4] == 1 and iso[4, 4, 6] == 2


def test_territories_reject_mismatched_shapes_and_unknown_method():
    nuclei, signal, mask = _two_cells(2)
    with pytest.raises(ValueError, match="image shape"):
        cell_territories(nuclei, signal[:, :10])
    with pytest.raises(ValueError, match="method"):
        cell_territories(nuclei, signal, method="voronoi")


def test_roi_set_outlines_each_cell_on_the_max_projection(tmp_path):
    import roifile

    labels = np.zeros((4, 30, 40), np.uint16)
    labels[1:3, 5:15, 5:20] = 1
    labels[2, 18:26, 22:35] = 2
    path = tmp_path / "cells.zip"
    path.write_bytes(rois_zip(labels))
    rois = roifile.roiread(path)
    assert [r.name for r in rois] == ["cell_1", "cell_2"]
    for roi, (k, _) in zip(rois, label_outlines(labels)):
        xy = roi.coordinates()
        # ImageJ pixel coordinates: the outline runs along the pixel edges
        area = 0.5 * abs(np.dot(xy[:, 0], np.roll(xy[:, 1], 1))
                         - np.dot(xy[:, 1], np.roll(xy[:, 0], 1)))
        truth = int((labels == k).any(0).sum())
        assert abs(area - truth) <= 0.1 * truth, (k, area, truth)
        ys, xs = np.nonzero((labels == k).any(0))
        assert xy[:, 0].min() == pytest.approx(xs.min(), abs=0.51)
        assert xy[:, 0].max() == pytest.approx(xs.max() + 1, abs=0.51)


# ----------------------------------------------------------------------------- main job


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mito3d")
    spec = load_pipeline(PIPELINE, profile="small")
    s = run_pipeline(spec, output_dir=out, progress=False)
    return out, s, json.loads(s.run_json.read_text())


def test_small_profile_writes_3d_two_channel_ome_stacks_and_classifies(small_run):
    out, s, run = small_run
    assert s.ok, s.failures
    assert run["inputs"]["items"] == 8
    stacks = sorted((out / "cohort").glob("*.image.ome.tif"))
    assert len(stacks) == 8
    img = read_image(stacks[0])
    assert img.format == "ome-tiff" and img.axes == "CZYX"
    assert img.channels == ("DAPI", "MitoTracker")
    assert img.sizes()["Z"] > 1 and img.sizes()["C"] == 2 and img.calibrated
    np.testing.assert_allclose(img.spacing, (0.4, 0.2, 0.2), rtol=1e-6)
    # the accuracy of the classifier is recorded; the seeded cohort separates
    # (fused vs fragmented networks; chance is 0.5)
    acc = run["metrics"]["classify"]["accuracy"]
    assert 0.75 <= acc <= 1.0, acc
    # nothing about spacing in the pipeline: every PSF was sampled at the file's spacing
    assert "spacing" not in run["steps"]["psf_mito"]["params"]
    psf = read_image(next((out / "psf_mito").glob("*.psf.tif")))
    np.testing.assert_allclose(psf.spacing, img.spacing, rtol=1e-6)


def test_small_profile_outputs_a_lab_opens(small_run):
    import roifile

    out, s, run = small_run
    key = sorted(run["items"])[0]
    cells = read_image(out / "cells" / f"{key}.labels.tif")       # per-cell label stack
    assert cells.axes == "ZYX" and cells.calibrated
    np.testing.assert_allclose(cells.spacing, (0.4, 0.2, 0.2), rtol=1e-6)
    truth = read_image(out / "cohort" / f"{key}.labels.tif").to_ndarray()
    lab = cells.to_ndarray()
    assert lab.max() == truth.max()                            # one territory per cell
    for k in range(1, int(lab.max()) + 1):   # each matches a true cell (measured 0.89–0.90)
        t = np.bincount(truth[lab == k]).argmax()
        iou = ((lab == k) & (truth == t)).sum() / ((lab == k) | (truth == t)).sum()
        assert t > 0 and iou > 0.8, (k, iou)
    skel = read_image(out / "features" / f"{key}.skeleton.tif")
    assert skel.calibrated and skel.axes == "ZYX" and skel.to_ndarray().any()
    rois = roifile.roiread(out / "cell_rois" / f"{key}.rois.zip")
    assert len(rois) == lab.max()
    table = pd.read_csv(out / "features" / f"{key}.table.csv")
    assert len(table) == lab.max()
    for col in ("total_length_um", "mean_volume_um3", "mean_surface_area_um2",
                "mean_sphericity", "cell_volume_um3", "mito_volume_fraction"):
        assert col in table.columns and table[col].notna().all(), col
    assert ((table["mean_sphericity"] > 0) & (table["mean_sphericity"] <= 1.05)).all()


def test_input_files_give_the_same_features(small_run, tmp_path):
    """The cohort stacks, given back with --input as a lab's folder
    (<condition>/<individual>/<file>), give the same per-cell features."""
    out, _, run = small_run
    src = tmp_path / "stacks"
    chosen = {}
    for key, meta in sorted(run["items"].items()):
        if sum(m == meta["condition"] for m in chosen.values()) < 2:
            chosen[key] = meta["condition"]
            d = src / meta["condition"] / meta["individual"]
            d.mkdir(parents=True)
            os.link(out / "cohort" / f"{key}.image.ome.tif", d / "stack.ome.tif")
    spec = load_pipeline(PIPELINE, profile="small", overrides={"cv_splits": 2})
    again = tmp_path / "again"
    s = run_pipeline(spec, output_dir=again, inputs=[str(src)], progress=False)
    assert s.ok, s.failures
    rerun = json.loads(s.run_json.read_text())
    assert rerun["inputs"]["from_files"] and "cohort" in rerun["skipped_steps"]
    for key, meta in rerun["items"].items():
        (orig,) = [k for k in chosen if run["items"][k]["individual"] == meta["individual"]]
        assert meta["condition"] == run["items"][orig]["condition"]
        a = pd.read_csv(out / "features" / f"{orig}.table.csv")
        b = pd.read_csv(again / "features" / f"{key}.table.csv")
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)


@pytest.mark.parametrize("params, message", [
    ("channels: {nuclei: DAPI}", "exactly the roles 'nuclei' and 'mito'"),
    ("channels: {nuclei: A, mito: A}", "different names"),
    ("kind: nuclei, channels: {nuclei: A, mito: B}", "only kind 'cohort'"),
    ("voxel_um: [0.2, 0.1, 0.1, 1]", "voxel_um must be"),
])
def test_cohort_channel_parameters_checked_before_any_work(tmp_path, params, message):
    from fijibridge._core.errors import PipelineSpecError

    p = tmp_path / "p.yml"
    p.write_text("version: 1\nname: t\nitems: {source: gen}\nsteps:\n"
                 f"  - id: gen\n    synth: {{ndim: 3, {params}}}\n")
    with pytest.raises((PipelineSpecError, ValueError), match=message):
        load_pipeline(p)
