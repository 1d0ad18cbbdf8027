"""Segmentation metrics on cases with hand-computed answers."""

import numpy as np
import pytest

from fijibridge.segment.metrics import (
    aggregated_jaccard_index,
    average_precision,
    hausdorff_distance,
    instance_errors,
    iou_matrix,
    match_instances,
    pixel_metrics,
    seg_measure,
)


def test_pixel_metrics_by_hand():
    truth = np.array([[0, 1, 1, 1], [2, 2, 0, 0]])
    pred = np.array([[0, 0, 1, 1], [2, 1, 0, 0]])
    m = pixel_metrics(truth, pred)
    assert m["accuracy"] == 6 / 8
    c1 = m["per_class"][1]  # tp=2, fp=1, fn=1
    assert (c1["dice"], c1["iou"], c1["precision"], c1["recall"]) == (4 / 6, 2 / 4, 2 / 3, 2 / 3)
    c2 = m["per_class"][2]  # tp=1, fp=0, fn=1
    assert (c2["dice"], c2["iou"], c2["precision"], c2["recall"]) == (2 / 3, 1 / 2, 1.0, 1 / 2)


def test_pixel_metrics_absent_class():
    m = pixel_metrics(np.zeros((2, 2), int), np.zeros((2, 2), int), classes=[0, 1])
    assert m["per_class"][1]["dice"] == 1.0 and np.isnan(m["per_class"][1]["precision"])


def _two_squares():
    truth = np.zeros((10, 10), int)
    truth[0:4, 0:4] = 1           # 16 px
    truth[6:10, 6:10] = 2         # 16 px
    pred = np.zeros((10, 10), int)
    pred[0:4, 1:4] = 5            # 12 px inside object 1: IoU 12/16 = 0.75
    pred[6:10, 8:10] = 7          # 8 px inside object 2: IoU 8/16 = 0.5
    pred[5, 0:3] = 9              # 3 px false positive
    return truth, pred


def test_iou_matrix_and_matching_by_hand():
    truth, pred = _two_squares()
    iou, t_ids, p_ids = iou_matrix(truth, pred)
    assert t_ids.tolist() == [1, 2] and p_ids.tolist() == [5, 7, 9]
    np.testing.assert_array_equal(iou, [[0.75, 0, 0], [0, 0.5, 0]])
    for strategy in ("hungarian", "greedy"):
        m = match_instances(truth, pred, thresh=0.5, strategy=strategy)
        assert (m["tp"], m["fp"], m["fn"]) == (2, 1, 0)
        assert m["f1"] == 4 / 5 and m["accuracy"] == 2 / 3
        assert m["mean_matched_iou"] == 0.625
        m = match_instances(truth, pred, thresh=0.6, strategy=strategy)
        assert (m["tp"], m["fp"], m["fn"]) == (1, 2, 1) and m["f1"] == 2 / 5


def test_hungarian_beats_greedy_at_low_threshold():
    # truth A overlaps pred X (0.5) and Y (0.4); truth B overlaps only X (0.45)
    iou = np.array([[0.5, 0.4], [0.45, 0.0]])
    ids = (np.array([1, 2]), np.array([1, 2]))
    greedy = match_instances(None, None, thresh=0.3, strategy="greedy", _iou=(iou, *ids))
    optimal = match_instances(None, None, thresh=0.3, strategy="hungarian", _iou=(iou, *ids))
    assert greedy["tp"] == 1 and optimal["tp"] == 2


def test_average_precision_by_hand():
    truth, pred = _two_squares()
    ap = average_precision(truth, pred)
    # t=0.50: tp2 fp1 fn0 -> 2/3; t=0.55..0.75 (5 thresholds): 1/(1+2+1)=1/4; t>=0.8 (4): 0
    expected = (2 / 3 + 5 * 0.25) / 10
    assert ap["ap"] == pytest.approx(expected, abs=1e-12)
    assert ap["f1"][0.5] == 0.8


def test_perfect_and_empty_segmentations():
    truth, _ = _two_squares()
    assert average_precision(truth, truth)["ap"] == 1.0
    assert aggregated_jaccard_index(truth, truth) == 1.0
    empty = np.zeros_like(truth)
    assert match_instances(truth, empty)["f1"] == 0.0
    assert match_instances(empty, empty)["f1"] == 1.0


def test_aji_by_hand():
    truth, pred = _two_squares()
    # pairs: (1,5): I=12, U=16; (2,7): I=8, U=16; unused pred 9 adds 3 to U
    assert aggregated_jaccard_index(truth, pred) == pytest.approx(20 / 35, abs=1e-12)


def test_hausdorff_with_anisotropic_spacing():
    a = np.zeros((3, 6, 6), bool)
    b = np.zeros((3, 6, 6), bool)
    a[0, 2, 2] = True
    b[2, 2, 2] = True
    assert hausdorff_distance(a, b) == 2.0
    assert hausdorff_distance(a, b, spacing=(2.5, 1, 1)) == 5.0
    sq = np.zeros((20, 20), bool)
    sq[5:10, 5:10] = True
    big = np.zeros((20, 20), bool)
    big[5:13, 5:10] = True  # bottom edge moves by 3 px
    assert hausdorff_distance(sq, big) == 3.0
    assert hausdorff_distance(sq, np.zeros_like(sq)) == np.inf


def _error_zoo():
    """One truth object of each error kind (20 x 20 image)."""
    truth = np.zeros((20, 20), np.int32)
    pred = np.zeros_like(truth)
    truth[0:4, 0:4], truth[0:4, 5:9] = 1, 2  # A, B: merged by one prediction
    pred[0:4, 0:9] = 11                      # 36 px, 16 of A and 16 of B
    truth[10:14, 0:4] = 3                    # C: outline too large -> shape
    pred[8:16, 0:5] = 12                     # 40 px, IoU 16/40
    truth[10:14, 10:14] = 4                  # D: missed
    truth[16:20, 0:8] = 5                    # E: split in three pieces
    pred[16:20, 0:3], pred[16:20, 3:6], pred[16:20, 6:8] = 13, 14, 17
    truth[16:20, 12:16] = pred[16:20, 12:16] = 6  # F: matched exactly
    pred[0:3, 17:20] = 15                    # extra, touching the border
    pred[6:8, 12:14] = 16                    # extra, inside
    return truth, pred


def test_instance_errors_sorts_every_kind():
    truth, pred = _error_zoo()
    e = instance_errors(truth, pred)
    assert e["ids"] == {"merged": [1, 2], "split": [5], "missed": [4], "shape": [3],
                        "extra": [15, 16], "mismatched": [11, 12, 13, 14, 17]}
    assert (e["matched"], e["extra_at_border"]) == (1, 1)
    m = match_instances(truth, pred)
    # every unmatched object is sorted into exactly one kind
    assert m["fn"] == sum(e[k] for k in ("merged", "split", "missed", "shape"))
    assert m["fp"] == e["extra"] + e["mismatched"]


def test_seg_measure_by_hand():
    truth, pred = _error_zoo()
    # A, B: 16/36 each (P11 covers more than half); C: 16/40; D: 0; E: no single
    # prediction covers more than half -> 0; F: 1. Extra predictions do not count.
    expected = (16 / 36 + 16 / 36 + 16 / 40 + 0 + 0 + 1) / 6
    assert seg_measure(truth, pred) == pytest.approx(expected, abs=1e-12)
    assert seg_measure(truth, truth) == 1.0
    extra = truth.copy()
    extra[6:8, 12:14] = 99
    assert seg_measure(truth, extra) == 1.0
    assert seg_measure(truth, np.zeros_like(truth)) == 0.0
    assert np.isnan(seg_measure(np.zeros_like(truth), pred))


def test_bad_inputs():
    with pytest.raises(ValueError, match="same shape"):
        pixel_metrics(np.zeros((2, 2), int), np.zeros((3, 2), int))
    with pytest.raises(TypeError, match="integer labels"):
        iou_matrix(np.zeros((2, 2)), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="Did you mean 'greedy'"):
        match_instances(np.zeros((2, 2), int), np.zeros((2, 2), int), strategy="gredy")
