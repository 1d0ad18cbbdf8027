"""Augmentation, preprocessing and training targets: invariants in 2D and 3D."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from fijibridge.segment.augment import (
    Augmenter,
    add_noise,
    elastic_deform,
    random_affine,
    random_crop,
    random_flip,
    random_intensity,
    random_rot90,
)
from fijibridge.segment.preprocess import (
    contrast_stretch,
    match_histogram,
    median_filter,
    normalize,
)
from fijibridge.segment.targets import edge_band, labels_to_boundary_classes, labels_to_distance


def _blobs(shape, seed=0):
    """Labels of a few boxes and an image equal to (labels > 0)."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.int32)
    for i in range(1, 6):
        start = [rng.integers(0, s - s // 3) for s in shape]
        sl = tuple(slice(a, a + max(3, s // 4)) for a, s in zip(start, shape))
        labels[sl] = i
    return (labels > 0).astype(np.float32), labels


@pytest.mark.parametrize("shape", [(40, 40), (12, 32, 32)])
@pytest.mark.parametrize("transform", [random_flip, random_rot90])
def test_exact_transforms_keep_image_and_labels_aligned(shape, transform):
    img, lab = _blobs(shape)
    for seed in range(6):
        a, b = transform(img, lab, rng=seed)
        np.testing.assert_array_equal(a, (b > 0).astype(np.float32))
        assert sorted(np.unique(b)) == sorted(np.unique(lab))


@pytest.mark.parametrize("shape", [(64, 64), (16, 48, 48)])
@pytest.mark.parametrize("transform", [
    lambda i, l, r: random_affine(i, l, rng=r, zoom=(0.7, 1.4), shear=0.2),
    lambda i, l, r: elastic_deform(i, l, rng=r, alpha=5, sigma=8),
])
def test_interpolating_transforms_keep_labels_consistent(shape, transform):
    img, lab = _blobs(shape)
    for seed in range(3):
        a, b = transform(img, lab, seed)
        assert b.dtype == lab.dtype
        assert set(np.unique(b)) <= set(np.unique(lab))  # no new ids from interpolation
        agree = ((a > 0.5) == (b > 0)).mean()
        assert agree > 0.97, agree  # linear image vs nearest labels differ only at edges


def test_same_seed_same_result_different_seed_different():
    img, lab = _blobs((64, 64))
    aug = Augmenter(patch_size=(32, 32))
    a1, b1 = aug(img, lab, rng=3)
    a2, b2 = aug(img, lab, rng=3)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(b1, b2)
    a3, _ = aug(img, lab, rng=4)
    assert not np.array_equal(a1, a3)


@pytest.mark.parametrize("patch", [(32, 32), (8, 24, 24)])
def test_augmenter_patch_shapes_and_label_ids(patch):
    img, lab = _blobs((10, 40, 40) if len(patch) == 3 else (50, 50))
    aug = Augmenter(patch_size=patch)
    rng = np.random.default_rng(0)
    for _ in range(5):
        a, b = aug(img, lab, rng=rng)
        assert a.shape == patch and b.shape == patch and a.dtype == np.float32
        assert set(np.unique(b)) <= set(np.unique(lab))


def test_crop_pads_small_images_by_reflection():
    img = np.arange(12, dtype=np.float32).reshape(3, 4)
    a, b = random_crop(img, img.astype(int), size=(6, 6), rng=0)
    assert a.shape == (6, 6)
    np.testing.assert_array_equal(a[:3, :4], img)
    np.testing.assert_array_equal(a.astype(int), b)


def test_intensity_and_noise_leave_shape_and_change_values():
    img, _ = _blobs((32, 32))
    a = random_intensity(img, rng=0)
    b = add_noise(img, rng=0)
    assert a.shape == b.shape == img.shape
    assert not np.array_equal(b, img)


def test_bad_augment_arguments():
    with pytest.raises(ValueError, match="p_noise"):
        Augmenter(p_noise=2)
    with pytest.raises(ValueError, match="labels shape"):
        random_flip(np.zeros((4, 4)), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="patch_size"):
        Augmenter(patch_size=(8, 8))(np.zeros((4, 8, 8)), np.zeros((4, 8, 8), int))


# ------------------------------------------------------------------ preprocessing
def test_contrast_stretch_known_values_and_constant():
    out = contrast_stretch(np.arange(101.0), low=0, high=100)
    assert out[0] == 0 and out[50] == pytest.approx(0.5) and out[100] == pytest.approx(1)
    assert not contrast_stretch(np.full((4, 4), 7.0)).any()


def test_normalize_modes_and_did_you_mean():
    x = np.random.default_rng(0).normal(5, 2, (20, 20))
    z = normalize(x, mode="zscore")
    assert abs(z.mean()) < 1e-5 and z.std() == pytest.approx(1, rel=1e-4)
    m = normalize(x, mode="minmax")
    assert m.min() == 0 and m.max() == pytest.approx(1)
    with pytest.raises(ValueError, match="Did you mean 'zscore'"):
        normalize(x, mode="z-score")


def test_nan_images_are_refused():
    x = np.ones((8, 8))
    x[2, 2] = np.nan
    with pytest.raises(ValueError, match="1 NaN/inf pixel"):
        normalize(x)


def test_histogram_matching_matches_quantiles():
    rng = np.random.default_rng(0)
    src, ref = rng.uniform(0, 1, (64, 64)), rng.normal(100, 10, (64, 64))
    out = match_histogram(src, reference=ref)
    np.testing.assert_allclose(np.percentile(out, [10, 50, 90]),
                               np.percentile(ref, [10, 50, 90]), rtol=0.01)


def test_median_filter_removes_salt_2d_and_3d():
    for shape in [(9, 9), (5, 9, 9)]:
        x = np.zeros(shape, np.float32)
        x[(2,) * len(shape)] = 100
        assert median_filter(x, size=3).max() == 0


# ------------------------------------------------------------------ targets
def test_boundary_classes_separate_touching_objects():
    lab = np.zeros((8, 12), int)
    lab[1:7, 1:6] = 1
    lab[1:7, 6:11] = 2  # touching object
    cls = labels_to_boundary_classes(lab, width=1)
    assert (cls[:, 5] == 2)[1:7].all() and (cls[:, 6] == 2)[1:7].all()
    assert (cls[3, 2:5] == 1).all() and (cls[3, 7:10] == 1).all()
    assert (cls[lab == 0] == 0).all()
    # the image border is not an edge
    lab2 = np.ones((6, 6), int)
    assert (labels_to_boundary_classes(lab2) == 1).all()


def test_edge_band_both_sides_of_the_edge_but_not_contacts():
    lab = np.zeros((10, 14), int)
    lab[2:8, 2:7] = 1
    lab[2:8, 7:12] = 2  # touching object
    band = edge_band(lab, width=1)
    fg = lab > 0
    ring_out = ndi.binary_dilation(fg, np.ones((3, 3))) & ~fg
    ring_in = fg & ~ndi.binary_erosion(fg, np.ones((3, 3)))
    assert np.array_equal(band, ring_out | ring_in)
    assert not band[4, 6] and not band[4, 7]  # the contact of 1 and 2
    wide = edge_band(lab, width=2)
    assert band.sum() < wide.sum() and (wide | band).sum() == wide.sum()
    # 3D, and the image border is not an edge
    assert not edge_band(np.ones((4, 6, 6), np.uint8)).any()
    with pytest.raises(ValueError, match="width must be an integer >= 1"):
        edge_band(lab, width=0)


def test_distance_target_in_unit_range():
    lab = np.zeros((16, 16), int)
    lab[2:12, 2:12] = 1
    d = labels_to_distance(lab)
    assert d.shape == (2, 16, 16)
    assert d[1].max() == pytest.approx(1) and d[1][lab == 0].max() == 0
    assert d[1, 7, 7] > d[1, 2, 7]
