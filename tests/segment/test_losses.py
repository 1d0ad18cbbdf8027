"""Losses on cases with known values, multi-class handling, and bad input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from fijibridge.segment.losses import (
    BCELoss,
    CombinedLoss,
    CrossEntropyLoss,
    DiceLoss,
    DistanceHeadLoss,
    FocalLoss,
    to_one_hot,
)


def _target(shape=(2, 1, 8, 8)):
    t = torch.zeros(shape)
    t[..., 2:6, 2:6] = 1
    return t


def test_dice_perfect_and_opposite_binary():
    t = _target()
    perfect = (t * 2 - 1) * 50  # logits: ±50 -> probabilities 0/1
    assert DiceLoss(smooth=0)(perfect, t).item() == pytest.approx(0, abs=1e-6)
    assert DiceLoss(smooth=0)(-perfect, t).item() == pytest.approx(1, abs=1e-6)


def test_dice_known_value_half_overlap():
    # prediction covers the 16 target pixels plus 16 others: dice = 2*16/(32+16) = 2/3
    t = _target((1, 1, 8, 8))
    p = torch.zeros_like(t)
    p[..., 2:6, 2:6] = 1
    p[..., 6:8, 0:8] = 1
    logits = (p * 2 - 1) * 50
    assert DiceLoss(smooth=0)(logits, t).item() == pytest.approx(1 - 2 / 3, abs=1e-6)


def test_dice_smoothing_keeps_empty_case_defined():
    t = torch.zeros(1, 1, 4, 4)
    assert DiceLoss(smooth=1.0)(torch.full_like(t, -50.0), t).item() == pytest.approx(0, abs=1e-6)


def test_bce_known_value():
    t = _target()
    assert BCELoss()(torch.zeros_like(t), t).item() == pytest.approx(math.log(2), rel=1e-6)


def test_focal_reduces_to_bce_and_downweights_easy():
    torch.manual_seed(0)
    x, t = torch.randn(2, 1, 8, 8), _target()
    assert FocalLoss(gamma=0)(x, t).item() == pytest.approx(BCELoss()(x, t).item(), rel=1e-5)
    assert FocalLoss(gamma=2)(x, t).item() < BCELoss()(x, t).item()
    xm = torch.randn(2, 3, 8, 8)
    idx = torch.randint(0, 3, (2, 8, 8))
    assert FocalLoss(gamma=0)(xm, idx).item() == pytest.approx(F.cross_entropy(xm, idx).item(), rel=1e-5)


def test_multiclass_ce_index_and_one_hot_targets_agree_with_torch():
    torch.manual_seed(1)
    x = torch.randn(2, 4, 6, 5, 3)  # 3D
    idx = torch.randint(0, 4, (2, 6, 5, 3))
    ref = F.cross_entropy(x, idx).item()
    assert CrossEntropyLoss()(x, idx).item() == pytest.approx(ref, rel=1e-5)
    assert CrossEntropyLoss()(x, idx[:, None]).item() == pytest.approx(ref, rel=1e-5)
    assert CrossEntropyLoss()(x, to_one_hot(idx[:, None], 4)).item() == pytest.approx(ref, rel=1e-5)
    w = [1.0, 2.0, 0.5, 1.0]
    ref_w = F.cross_entropy(x, idx, weight=torch.tensor(w), reduction="none").mean().item()
    assert CrossEntropyLoss(weight=w)(x, idx).item() == pytest.approx(ref_w, rel=1e-5)


def test_multiclass_dice_background_option():
    idx = torch.zeros(1, 8, 8, dtype=torch.long)
    idx[:, :4] = 1
    idx[:, 6:] = 2
    perfect = to_one_hot(idx[:, None], 3) * 100
    assert DiceLoss(smooth=0)(perfect, idx).item() == pytest.approx(0, abs=1e-6)
    assert DiceLoss(include_background=False)(perfect, idx).item() == pytest.approx(0, abs=1e-6)


def test_combined_is_weighted_sum_and_has_gradients():
    torch.manual_seed(2)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    idx = torch.randint(0, 3, (2, 8, 8))
    loss = CombinedLoss({"ce": 1.0, "dice": 2.0, "focal": 0.5})
    value = loss(x, idx)
    expect = CrossEntropyLoss()(x, idx) + 2 * DiceLoss()(x, idx) + 0.5 * FocalLoss()(x, idx)
    assert value.item() == pytest.approx(expect.item(), rel=1e-6)
    assert set(loss.last_terms) == {"ce", "dice", "focal"}
    value.backward()
    assert x.grad.abs().sum() > 0


def test_ignore_index_leaves_pixels_out_of_ce_and_dice():
    torch.manual_seed(3)
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    idx = torch.randint(0, 3, (2, 8, 8))
    idx[:, :, 5:] = 255  # the right three columns: unsure labels
    ref = F.cross_entropy(x, idx, ignore_index=255).item()
    assert CrossEntropyLoss(ignore_index=255)(x, idx).item() == pytest.approx(ref, rel=1e-6)
    # Dice over the kept columns only: the same as the loss of the cropped images
    dice = DiceLoss(ignore_index=255)(x, idx[:, None])
    crop = DiceLoss()(x[..., :5], idx[..., :5])
    assert dice.item() == pytest.approx(crop.item(), rel=1e-6)
    loss = CombinedLoss({"ce": (1.0, {"ignore_index": 255}), "dice": (1.0, {"ignore_index": 255})})
    loss(x, idx).backward()
    assert x.grad[..., 5:].abs().max() == 0 and x.grad[..., :5].abs().min() > 0
    # nothing to ignore: the same values as without ignore_index
    full = torch.randint(0, 3, (2, 8, 8))
    assert CrossEntropyLoss(ignore_index=255)(x, full).item() == \
        pytest.approx(CrossEntropyLoss()(x, full).item(), rel=1e-6)
    assert DiceLoss(ignore_index=255)(x, full).item() == \
        pytest.approx(DiceLoss()(x, full).item(), rel=1e-6)
    # everything ignored: zero CE, defined Dice
    none = torch.full((2, 8, 8), 255)
    assert CrossEntropyLoss(ignore_index=255)(x, none).item() == 0
    assert math.isfinite(DiceLoss(ignore_index=255)(x, none).item())


def test_distance_head_loss_zero_for_perfect_prediction():
    fg = _target((1, 1, 8, 8))
    dist = fg * 0.5
    target = torch.cat([fg, dist], 1)
    pred = torch.cat([(fg * 2 - 1) * 50, dist], 1)
    assert DistanceHeadLoss()(pred, target).item() == pytest.approx(0, abs=1e-5)


def test_bad_inputs():
    with pytest.raises(ValueError, match="Did you mean 'dice'"):
        CombinedLoss({"dcie": 1.0})
    with pytest.raises(ValueError, match="does not fit"):
        DiceLoss()(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9))
    with pytest.raises(ValueError, match=r"class indices must be in \[0, 2\]"):
        CrossEntropyLoss()(torch.zeros(1, 3, 4, 4), torch.full((1, 4, 4), 3))
    with pytest.raises(ValueError, match="smooth must be >= 0"):
        DiceLoss(smooth=-1)
    with pytest.raises(ValueError, match="needs >= 2 classes"):
        CrossEntropyLoss()(torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="weight for 'ce'"):
        CombinedLoss({"ce": -1})
    with pytest.raises(ValueError, match="ignore_index must be an integer"):
        DiceLoss(ignore_index=True)
    with pytest.raises(ValueError, match="ignore_index needs class-index targets"):
        DiceLoss(ignore_index=255)(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))
