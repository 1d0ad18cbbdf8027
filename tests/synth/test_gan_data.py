"""Mask helpers of the GAN data pipeline."""

from __future__ import annotations

import numpy as np
import pytest

from fijibridge.synth.gan.data import carve_contacts, edge_profile, encode_mask


def test_carve_contacts_cuts_a_seam_only_where_objects_touch():
    labels = np.zeros((12, 20), np.uint16)
    labels[2:10, 2:9] = 1
    labels[2:10, 9:16] = 2      # touches 1 along column 8/9
    labels[0:2, 17:20] = 3      # alone
    out = carve_contacts(labels)
    assert (out[2:10, 8] == 0).all()              # the lower label lost its contact column
    assert (out[2:10, 9:16] == 2).all()           # the higher one is intact
    assert (out[2:10, 2:8] == 1).all() and (out == 3).sum() == 6
    assert (labels[2:10, 8] == 1).all()           # input untouched
    # binary encoding now shows two objects, not one blob
    from scipy import ndimage as ndi

    assert ndi.label(encode_mask(out) > 0)[1] == 3
    assert ndi.label(encode_mask(labels) > 0)[1] == 2
    mask = labels > 0
    assert np.array_equal(carve_contacts(mask), mask)  # a binary mask has no contacts to cut


def _disk(shape=(64, 64), r=18):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - shape[0] // 2) ** 2 + (xx - shape[1] // 2) ** 2 <= r * r


def test_edge_profile_reads_the_ring_values_hand_built():
    from scipy import ndimage as ndi

    m = _disk()
    inner = m & ~ndi.binary_erosion(m)            # outermost object pixels
    outer = ndi.binary_dilation(m) & ~m           # first background pixels (4-connected)
    img = np.full(m.shape, 10.0)                  # background 10
    img[m] = 40.0                                 # objects 40
    img[inner] = 30.0                             # edge pixels 2/3 of the way up
    img[outer] = 20.0                             # first ring outside 1/3
    p = edge_profile(img, m, rings=(-2, -1, 1, 2))
    assert p[-2] == pytest.approx(1.0)
    assert p[-1] == pytest.approx(2 / 3)
    # ring +1 (distance <= 1) is exactly the 4-connected dilation ring
    assert p[1] == pytest.approx(1 / 3)
    assert p[2] == pytest.approx(0.0)


def test_edge_profile_sees_a_softer_edge_3d():
    from scipy import ndimage as ndi

    zz, yy, xx = np.mgrid[:24, :40, :40]
    m = (zz - 12) ** 2 + (yy - 20) ** 2 + (xx - 20) ** 2 <= 8 ** 2
    sharp = edge_profile(m * 100.0 + 5, m)
    soft = edge_profile(ndi.gaussian_filter(m * 100.0, 1.5) + 5, m)
    assert sharp[-1] == pytest.approx(1.0) and sharp[1] == pytest.approx(0.0)
    assert soft[-1] < 0.8 and soft[1] > 0.1 and soft[1] > soft[2]


def test_edge_profile_bad_inputs_name_the_problem():
    m = _disk()
    with pytest.raises(ValueError, match="shape"):
        edge_profile(np.zeros((10, 10)), m)
    with pytest.raises(ValueError, match="all background"):
        edge_profile(np.zeros(m.shape), np.zeros(m.shape))
    with pytest.raises(ValueError, match="all foreground"):
        edge_profile(np.zeros(m.shape), np.ones(m.shape))
    with pytest.raises(ValueError, match="rings"):
        edge_profile(m * 1.0, m, rings=(0, 1))
    with pytest.raises(ValueError, match="background_margin"):
        edge_profile(m * 1.0, m, background_margin=100)
    with pytest.raises(ValueError, match="as bright"):
        edge_profile(np.ones(m.shape), m)


def test_grow_some_grows_the_chosen_objects_by_one_pixel_and_never_joins_them():
    from scipy import ndimage as ndi

    from fijibridge.synth.gan.data import grow_some

    lab = np.zeros((20, 30), np.int32)
    lab[4:10, 4:10] = 1
    lab[4:10, 11:17] = 2          # one background column (10) between 1 and 2
    lab[14:18, 22:26] = 3
    before = lab.copy()
    all_grown = grow_some(lab, 1.0, rng=0)
    assert np.array_equal(lab, before)                       # input untouched
    assert (all_grown[4:10, 10] == 0).all()                  # no new contact between 1 and 2
    ring3 = ndi.binary_dilation(lab == 3) & ~(lab == 3)      # 4-connected ring
    assert (all_grown[ring3] == 3).all() and (all_grown == 3).sum() == 16 + 16
    assert (all_grown[3, 4:10] == 1).all() and all_grown[3, 3] == 0  # no diagonal growth
    assert np.array_equal(grow_some(lab, 0.0, rng=0), lab)
    # a fraction of many objects: about that share grows, the same for the same rng
    many = ndi.label(np.kron(np.eye(40, dtype=np.uint8)[:, :40] | np.eye(40, k=20,
                                                                         dtype=np.uint8),
                             np.ones((4, 4), np.uint8)))[0]
    a, b = grow_some(many, 0.3, rng=5), grow_some(many, 0.3, rng=5)
    assert np.array_equal(a, b)
    grew = [i for i in range(1, many.max() + 1) if (a == i).sum() > (many == i).sum()]
    assert 0.1 < len(grew) / many.max() < 0.5
    zz, yy, xx = np.mgrid[:12, :12, :12]
    ball = ((zz - 6) ** 2 + (yy - 6) ** 2 + (xx - 6) ** 2 <= 9).astype(np.uint16)
    g3 = grow_some(ball, 1.0, rng=0)
    assert g3.dtype == np.uint16 and (g3 > 0).sum() > (ball > 0).sum()


def test_fit_growth_recovers_the_mixing_fraction():
    from fijibridge.synth.gan.data import fit_growth

    as_is = {-2: 0.69, -1: 0.40, 1: 0.17, 2: 0.07}
    grown = {-2: 0.86, -1: 0.64, 1: 0.37, 2: 0.17}
    real = {k: 0.7 * as_is[k] + 0.3 * grown[k] for k in as_is}
    assert fit_growth(real, as_is, grown) == pytest.approx(0.3)
    assert fit_growth(grown, as_is, grown) == pytest.approx(1.0)
    too_bright = {k: v + 1 for k, v in grown.items()}
    assert fit_growth(too_bright, as_is, grown) == 1.0          # clipped to [0, 1]


def test_grow_some_and_fit_growth_bad_inputs_name_the_problem():
    from fijibridge.synth.gan.data import fit_growth, grow_some

    lab = np.zeros((8, 8), np.int32)
    lab[2:5, 2:5] = 1
    with pytest.raises(ValueError, match="integer instance image"):
        grow_some(lab > 0, 0.5)
    with pytest.raises(ValueError, match=r"fraction must be in \[0, 1\]"):
        grow_some(lab, 1.5)
    p = {-1: 0.4, 1: 0.2}
    with pytest.raises(ValueError, match="no ring in common"):
        fit_growth(p, {2: 0.1}, p)
    with pytest.raises(ValueError, match="NaN"):
        fit_growth(p, {-1: float("nan"), 1: 0.1}, p)
    with pytest.raises(ValueError, match="nothing to fit"):
        fit_growth(p, p, dict(p))
