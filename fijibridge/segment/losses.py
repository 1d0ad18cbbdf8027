"""Segmentation losses: BCE, smoothed Dice, focal, and weighted combinations (torch).

All losses take network outputs (logits, ``(N, C, *spatial)``) and a target:

* binary (``C == 1``): a float/bool target of the same shape (or ``(N, *spatial)``),
  probabilities from a sigmoid;
* multi-class (``C >= 2``): class indices ``(N, *spatial)`` or ``(N, 1, *spatial)``
  (integer), or a one-hot/soft target ``(N, C, *spatial)``, probabilities from a
  softmax.

They work unchanged for 2D and 3D.  Reduction is the mean over the batch.

``CrossEntropyLoss`` and ``DiceLoss`` take ``ignore_index``: pixels whose class-index
target equals it take no part in the loss (labels that are unsure there, e.g. the edges of
objects in generated images).

References
----------
.. [1] Milletari F, Navab N, Ahmadi S-A (2016). V-Net: fully convolutional neural
       networks for volumetric medical image segmentation. 3DV.
       :doi:`10.1109/3DV.2016.79`
.. [2] Lin T-Y et al. (2017). Focal loss for dense object detection. ICCV.
       :doi:`10.1109/ICCV.2017.324`
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .._core.options import check_choice

__all__ = ["BCELoss", "DiceLoss", "FocalLoss", "CrossEntropyLoss", "CombinedLoss",
           "DistanceHeadLoss", "LOSSES", "build_loss", "to_one_hot"]


def _check_pair(input: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (logits, one-hot/float target) with identical shapes ``(N, C, *spatial)``."""
    if not isinstance(input, torch.Tensor) or not isinstance(target, torch.Tensor):
        raise TypeError("input and target must be torch tensors; got "
                        f"{type(input).__name__} and {type(target).__name__}")
    if input.dim() < 3:
        raise ValueError(f"input must be (N, C, *spatial) with 1-3 spatial dims; got shape "
                         f"{tuple(input.shape)}")
    n_cls = input.shape[1]
    if target.dim() == input.dim() - 1:
        target = target.unsqueeze(1)
    if target.dim() != input.dim():
        raise ValueError(f"target shape {tuple(target.shape)} does not fit input shape "
                         f"{tuple(input.shape)}")
    if target.shape[2:] != input.shape[2:] or target.shape[0] != input.shape[0]:
        raise ValueError(f"target shape {tuple(target.shape)} does not fit input shape "
                         f"{tuple(input.shape)}")
    if n_cls > 1 and target.shape[1] == 1:
        target = to_one_hot(target, n_cls)
    elif target.shape[1] != n_cls:
        raise ValueError(f"target has {target.shape[1]} channels but input has {n_cls}")
    return input, target.to(input.dtype)


def to_one_hot(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """One-hot encode class indices ``(N, 1, *spatial)`` into ``(N, C, *spatial)``."""
    if target.is_floating_point() and not torch.equal(target, target.round()):
        raise ValueError("class-index targets must hold integers; got fractional values")
    idx = target.long()
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
        raise ValueError(f"class indices must be in [0, {num_classes - 1}]; got range "
                         f"[{int(idx.min())}, {int(idx.max())}]")
    out = torch.zeros((idx.shape[0], num_classes) + tuple(idx.shape[2:]), dtype=torch.float32,
                      device=target.device)
    return out.scatter_(1, idx, 1.0)


def _split_ignored(input: torch.Tensor, target: torch.Tensor, ignore_index: int | None
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(target with ignored pixels set to class 0, valid mask (N, 1, *spatial))``; the mask
    is ``None`` when ``ignore_index`` is ``None`` (the target is then left as it is)."""
    if ignore_index is None:
        return target, None
    if target.is_floating_point() or target.dim() not in (input.dim() - 1, input.dim()) or \
            (target.dim() == input.dim() and target.shape[1] != 1):
        raise ValueError("ignore_index needs class-index targets (N, *spatial) or "
                         f"(N, 1, *spatial) of an integer type; got {target.dtype} "
                         f"{tuple(target.shape)}")
    if target.dim() == input.dim() - 1:
        target = target.unsqueeze(1)
    valid = target != ignore_index
    return torch.where(valid, target, torch.zeros_like(target)), valid


def _check_ignore_index(ignore_index):
    if ignore_index is not None and (isinstance(ignore_index, bool)
                                     or not isinstance(ignore_index, int)):
        raise ValueError(f"ignore_index must be an integer or None; got {ignore_index!r}")
    return ignore_index


def _probs(logits: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(logits) if logits.shape[1] == 1 else torch.softmax(logits, dim=1)


class BCELoss(nn.Module):
    """Binary cross-entropy on logits (sigmoid).  ``pos_weight`` weights foreground."""

    def __init__(self, *, pos_weight: float | None = None):
        super().__init__()
        if pos_weight is not None and not pos_weight > 0:
            raise ValueError(f"pos_weight must be > 0; got {pos_weight!r}")
        self.pos_weight = pos_weight

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        input, target = _check_pair(input, target)
        pw = None if self.pos_weight is None else torch.tensor(self.pos_weight, dtype=input.dtype)
        return F.binary_cross_entropy_with_logits(input, target, pos_weight=pw)


class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy; ``weight`` is an optional per-class weight list; pixels whose
    class index is ``ignore_index`` are left out of the mean."""

    def __init__(self, *, weight: list[float] | None = None, ignore_index: int | None = None):
        super().__init__()
        if weight is not None and (len(weight) == 0 or any(not w >= 0 for w in weight)):
            raise ValueError(f"weight must be a non-empty list of numbers >= 0; got {weight!r}")
        self.weight = None if weight is None else list(map(float, weight))
        self.ignore_index = _check_ignore_index(ignore_index)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target, valid = _split_ignored(input, target, self.ignore_index)
        input, target = _check_pair(input, target)
        if input.shape[1] == 1:
            raise ValueError("CrossEntropyLoss needs >= 2 classes; use BCELoss for 1 channel")
        w = None
        if self.weight is not None:
            if len(self.weight) != input.shape[1]:
                raise ValueError(f"weight has {len(self.weight)} entries but input has "
                                 f"{input.shape[1]} classes")
            w = torch.tensor(self.weight, dtype=input.dtype, device=input.device)
        logp = F.log_softmax(input, dim=1)
        per = -(target * logp)
        if w is not None:
            per = per * w.view(1, -1, *([1] * (input.dim() - 2)))
        if valid is None:
            return per.sum(1).mean()
        valid = valid[:, 0].to(per.dtype)
        return (per.sum(1) * valid).sum() / valid.sum().clamp_min(1.0)


class DiceLoss(nn.Module):
    """Soft Dice loss ``1 - (2|P∩T| + s) / (|P| + |T| + s)`` [1]_, averaged over classes.

    Parameters
    ----------
    smooth : float
        ``s`` in the formula; keeps the loss defined (0) for empty prediction and target.
    include_background : bool
        For multi-class input, whether channel 0 takes part.
    batch : bool
        Sum over the whole batch before dividing (stabler for small objects) instead of
        per image.
    ignore_index : int, optional
        Class index whose pixels count neither in ``P`` nor in ``T`` (class-index
        targets only).
    """

    def __init__(self, *, smooth: float = 1.0, include_background: bool = True,
                 batch: bool = False, ignore_index: int | None = None):
        super().__init__()
        if not smooth >= 0:
            raise ValueError(f"smooth must be >= 0; got {smooth!r}")
        self.smooth = float(smooth)
        self.include_background = bool(include_background)
        self.batch = bool(batch)
        self.ignore_index = _check_ignore_index(ignore_index)

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        target, valid = _split_ignored(input, target, self.ignore_index)
        input, target = _check_pair(input, target)
        p = _probs(input)
        if valid is not None:
            valid = valid.to(p.dtype)
            p, target = p * valid, target * valid
        if p.shape[1] > 1 and not self.include_background:
            p, target = p[:, 1:], target[:, 1:]
        dims = tuple(range(2, p.dim()))
        if self.batch:
            dims = (0,) + dims
        inter = (p * target).sum(dims)
        denom = p.sum(dims) + target.sum(dims)
        dice = (2 * inter + self.smooth) / (denom + self.smooth).clamp_min(1e-8)
        return (1 - dice).mean()


class FocalLoss(nn.Module):
    """Focal loss ``-α (1 - p_t)^γ log p_t`` [2]_ (sigmoid for 1 channel, softmax otherwise).

    ``gamma=0`` and ``alpha=None`` give plain (binary) cross-entropy.
    """

    def __init__(self, *, gamma: float = 2.0, alpha: float | None = None):
        super().__init__()
        if not gamma >= 0:
            raise ValueError(f"gamma must be >= 0; got {gamma!r}")
        if alpha is not None and not 0 <= alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1]; got {alpha!r}")
        self.gamma = float(gamma)
        self.alpha = alpha

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        input, target = _check_pair(input, target)
        if input.shape[1] == 1:
            logp = F.logsigmoid(input)
            log1mp = F.logsigmoid(-input)
            logpt = target * logp + (1 - target) * log1mp
            pt = logpt.exp()
            loss = -((1 - pt) ** self.gamma) * logpt
            if self.alpha is not None:
                loss = loss * (self.alpha * target + (1 - self.alpha) * (1 - target))
            return loss.mean()
        logp = F.log_softmax(input, dim=1)
        pt = logp.exp()
        loss = -(target * (1 - pt) ** self.gamma * logp).sum(1)
        if self.alpha is not None:
            loss = loss * self.alpha
        return loss.mean()


class DistanceHeadLoss(nn.Module):
    """Loss for ``head="distance"``: BCE + Dice on channel 0, smooth-L1 on channel 1.

    The target is ``(N, 2, *spatial)``: foreground mask and normalised distance map.
    The distance term counts only foreground pixels.
    """

    def __init__(self, *, distance_weight: float = 1.0):
        super().__init__()
        if not distance_weight >= 0:
            raise ValueError(f"distance_weight must be >= 0; got {distance_weight!r}")
        self.distance_weight = float(distance_weight)
        self.bce, self.dice = BCELoss(), DiceLoss()

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if input.dim() < 3 or input.shape[1] != 2 or target.shape != input.shape:
            raise ValueError("DistanceHeadLoss needs input and target of shape (N, 2, *spatial); "
                             f"got {tuple(input.shape)} and {tuple(target.shape)}")
        fg = target[:, :1]
        loss = self.bce(input[:, :1], fg) + self.dice(input[:, :1], fg)
        err = F.smooth_l1_loss(input[:, 1:], target[:, 1:], reduction="none") * fg
        return loss + self.distance_weight * err.sum() / fg.sum().clamp_min(1.0)


LOSSES = {"bce": BCELoss, "ce": CrossEntropyLoss, "dice": DiceLoss, "focal": FocalLoss,
          "distance": DistanceHeadLoss}


class CombinedLoss(nn.Module):
    """Weighted sum of losses: ``CombinedLoss({"ce": 1.0, "dice": 1.0})``.

    Parameters
    ----------
    weights : mapping of name or loss module -> weight
        Names are those of :data:`LOSSES` (``bce``, ``ce``, ``dice``, ``focal``,
        ``distance``); a value may also be ``(weight, {kwargs})``.

    Attributes
    ----------
    last_terms : dict
        Value of each term from the last call (for logging).
    """

    def __init__(self, weights: Mapping):
        super().__init__()
        if not isinstance(weights, Mapping) or not weights:
            raise ValueError(f"weights must be a non-empty mapping name -> weight; got {weights!r}")
        self.names: list[str] = []
        self.weights: list[float] = []
        self.terms = nn.ModuleList()
        for key, value in weights.items():
            kwargs = {}
            if isinstance(value, (tuple, list)):
                value, kwargs = value
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"loss weight for {key!r} must be a number >= 0; got {value!r}")
            if isinstance(key, nn.Module):
                module, name = key, type(key).__name__
            else:
                name = check_choice("loss", key, list(LOSSES))
                module = LOSSES[name](**kwargs)
            self.names.append(name)
            self.weights.append(float(value))
            self.terms.append(module)
        self.last_terms: dict[str, float] = {}

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        total = input.new_zeros(())
        terms = {}
        for name, w, term in zip(self.names, self.weights, self.terms):
            if w == 0:
                continue
            value = term(input, target)
            terms[name] = float(value.detach())
            total = total + w * value
        self.last_terms = terms
        return total


def build_loss(spec: Mapping) -> nn.Module:
    """Build a loss from ``{"name": weight, …}`` (see :class:`CombinedLoss`)."""
    return CombinedLoss(spec)
