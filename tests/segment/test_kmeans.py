"""K-means segmentation."""

import numpy as np
import pytest

from fijibridge.segment.kmeans import kmeans_segment


def _blobs():
    rng = np.random.default_rng(3)
    img = rng.normal(10, 2, (40, 50))
    img[5:15, 5:20] += 90      # bright
    img[25:35, 30:45] += 40    # middle
    return img.astype(np.float32)


def test_labels_are_ordered_by_brightness_and_recover_regions():
    img = _blobs()
    lab = kmeans_segment(img, k=3, rng=0)
    assert lab.dtype == np.int32 and set(np.unique(lab)) == {0, 1, 2}
    assert (lab[5:15, 5:20] == 2).all() and (lab[25:35, 30:45] == 1).all()
    assert (lab[0:4, :] == 0).all()


def test_brightest_foreground_and_reproducible():
    img = _blobs()
    mask = kmeans_segment(img, k=3, foreground="brightest", rng=7)
    assert mask.dtype == bool and mask.sum() == 150
    a = kmeans_segment(img, k=4, features=("intensity", "texture"), rng=1)
    b = kmeans_segment(img, k=4, features=("intensity", "texture"), rng=1)
    np.testing.assert_array_equal(a, b)


def test_position_feature_and_3d_with_spacing():
    img = np.zeros((4, 10, 10), np.uint16)  # flat: only position can separate
    lab = kmeans_segment(img, k=2, features=["position"], spacing=(10.0, 1, 1), rng=0)
    # z spacing dominates: the split is between planes
    assert all(len(np.unique(lab[z])) == 1 for z in range(4))
    assert len(np.unique(lab)) == 2


@pytest.mark.parametrize("kwargs, exc, text", [
    ({"k": 1}, ValueError, "k must be >= 2"),
    ({"features": ["colour"]}, ValueError, "allowed"),
    ({"foreground": "dark"}, ValueError, "brightest"),
])
def test_bad_arguments(kwargs, exc, text):
    with pytest.raises(exc, match=text):
        kmeans_segment(_blobs(), **kwargs)


def test_nan_and_dimensionality():
    img = _blobs()
    img[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        kmeans_segment(img)
    with pytest.raises(ValueError, match="2D"):
        kmeans_segment(np.zeros(5))
