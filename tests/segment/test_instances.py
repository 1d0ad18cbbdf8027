"""Instance splitting by watershed, 2D and 3D, with physical spacing."""

import numpy as np
import pytest

from fijibridge.segment.instances import remove_small_labels, split_instances


def _two_discs(shape=(40, 60)):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return ((yy - 20) ** 2 + (xx - 18) ** 2 < 100) | ((yy - 20) ** 2 + (xx - 35) ** 2 < 100)


def test_distance_watershed_splits_touching_discs():
    mask = _two_discs()
    assert split_instances(mask, method="connected").max() == 1
    lab = split_instances(mask, min_distance=5)
    assert lab.max() == 2 and lab.dtype == np.int32
    assert lab[20, 18] != lab[20, 35] and ((lab > 0) == mask).all()


def test_marker_watershed():
    mask = _two_discs()
    markers = np.zeros(mask.shape, np.int32)
    markers[20, 18], markers[20, 35] = 4, 9
    lab = split_instances(mask, method="marker", markers=markers)
    assert set(np.unique(lab)) == {0, 1, 2}
    with pytest.raises(ValueError, match="markers"):
        split_instances(mask, method="marker")


def test_3d_anisotropic_spheres():
    # two balls 12 µm apart in z, sampled at 3 µm in z, 1 µm in y/x
    zz, yy, xx = np.mgrid[:12, :24, :24]
    z_um = zz * 3.0
    ball = lambda zc: (z_um - zc) ** 2 + (yy - 12) ** 2 + (xx - 12) ** 2 < 64  # noqa: E731
    mask = ball(10.0) | ball(22.0)
    lab = split_instances(mask, spacing=(3.0, 1.0, 1.0), min_distance=4)
    assert lab.max() == 2
    assert lab[3, 12, 12] != lab[7, 12, 12]


def test_min_size_removes_and_renumbers():
    lab = np.array([[1, 1, 0, 3], [1, 1, 0, 0], [0, 0, 0, 7]])
    out = remove_small_labels(lab, min_size=2)
    assert out.tolist() == [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]
    mask = _two_discs()
    mask[0, 0] = True
    assert split_instances(mask, min_distance=5, min_size=5).max() == 2


def test_bad_inputs():
    with pytest.raises(ValueError, match="2D"):
        split_instances(np.zeros(4, bool))
    with pytest.raises(TypeError, match="boolean"):
        split_instances(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="spacing"):
        split_instances(np.zeros((4, 4), bool), spacing=(1, 1, 1))
