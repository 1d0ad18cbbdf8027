"""pix2pix (2D) and Vox2Vox (3D): conditional GAN, U-Net generator, PatchGAN
discriminator, adversarial + L1 loss (+ the Dice term of Vox2Vox).

torch only (no torchvision); importing this module imports torch, so
:mod:`fijibridge.synth` never imports it.  Networks live in
:mod:`fijibridge.synth.gan.networks`; this module holds the training step.

References
----------
Isola et al. (2017), pix2pix, doi:10.1109/CVPR.2017.632, and Cirillo et al. (2021),
Vox2Vox, doi:10.1007/978-3-030-72084-1_25 (full entries in
:mod:`fijibridge.synth.gan.networks`).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from ..._core.options import check_choice, check_positive
from .networks import PatchDiscriminator, UNetGenerator

__all__ = ["UNetGenerator", "PatchDiscriminator", "Pix2Pix", "Vox2Vox", "Pix2PixLosses",
           "GAN_MODES", "adversarial_loss", "soft_dice_loss"]

#: adversarial objectives: ``"vanilla"`` (binary cross-entropy, pix2pix) or
#: ``"lsgan"`` (least squares, CycleGAN and Vox2Vox).
GAN_MODES = ("vanilla", "lsgan")


def adversarial_loss(logits: torch.Tensor, real: bool, mode: str = "vanilla") -> torch.Tensor:
    """GAN loss of discriminator ``logits`` against the label real (1) or fake (0)."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if mode == "lsgan":
        return torch.mean((logits - target) ** 2)
    return nn.functional.binary_cross_entropy_with_logits(logits, target)


def soft_dice_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """1 − soft Dice of tensors in [-1, 1] (mapped to [0, 1]), per channel, averaged."""
    p = (pred + 1) / 2
    t = (target + 1) / 2
    axes = tuple(range(2, p.ndim))
    inter = (p * t).sum(axes)
    denom = p.sum(axes) + t.sum(axes)
    return 1 - torch.mean((2 * inter + eps) / (denom + eps))


@dataclasses.dataclass
class Pix2PixLosses:
    """Losses of one training step."""

    generator_adv: float
    generator_l1: float
    discriminator: float
    generator_dice: float = 0.0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class Pix2Pix(nn.Module):
    """Generator, discriminator, their optimisers and one training step.

    Parameters
    ----------
    in_channels, out_channels : int
    spatial_dims : {2, 3}
        2 for pix2pix, 3 for Vox2Vox.
    features, depth, norm, dropout :
        Generator (see :class:`~fijibridge.synth.gan.networks.UNetGenerator`).
    disc_features, disc_layers, disc_norm :
        Discriminator (see :class:`~fijibridge.synth.gan.networks.PatchDiscriminator`).
    l1_weight : float
        Weight of the L1 term (100 in the paper).
    dice_weight : float
        Weight of a soft-Dice term between output and target (Vox2Vox, for
        image → mask use; 0 for mask → image).
    gan_mode : {"vanilla", "lsgan"}
    lr : float
        Adam learning rate (2e-4, betas (0.5, 0.999) as in the paper).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, *, spatial_dims: int = 2,
                 features: int = 32, depth: int = 4, norm: str = "instance", dropout: bool = True,
                 disc_features: int | None = None, disc_layers: int = 3,
                 disc_norm: str = "instance", l1_weight: float = 100.0,
                 dice_weight: float = 0.0, gan_mode: str = "vanilla", lr: float = 2e-4):
        super().__init__()
        self.generator = UNetGenerator(in_channels, out_channels, spatial_dims=spatial_dims,
                                       features=features, depth=depth, norm=norm,
                                       dropout=dropout)
        self.discriminator = PatchDiscriminator(
            in_channels + out_channels, spatial_dims=spatial_dims,
            features=features if disc_features is None else disc_features,
            n_layers=disc_layers, norm=disc_norm)
        self.spatial_dims = self.generator.spatial_dims
        self.l1_weight = check_positive("l1_weight", l1_weight, allow_zero=True)
        self.dice_weight = check_positive("dice_weight", dice_weight, allow_zero=True)
        self.gan_mode = check_choice("gan_mode", gan_mode, GAN_MODES)
        lr = check_positive("lr", lr)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(0.5, 0.999))

    def forward(self, condition):
        return self.generator(condition)

    def train_step(self, condition, target) -> Pix2PixLosses:
        """One update of the discriminator then the generator on a batch.

        ``condition`` (e.g. masks) and ``target`` (images scaled to [-1, 1]) are
        ``(N, C, …)`` tensors of the same N and spatial shape.
        """
        if condition.shape[0] != target.shape[0] or condition.shape[2:] != target.shape[2:]:
            raise ValueError(f"condition {tuple(condition.shape)} and target "
                             f"{tuple(target.shape)} must have the same N, H and W"
                             + (" (and Z)" if self.spatial_dims == 3 else ""))
        self.train()
        fake = self.generator(condition)
        # discriminator
        self.opt_d.zero_grad(set_to_none=True)
        loss_d = 0.5 * (adversarial_loss(self.discriminator(condition, target), True, self.gan_mode)
                        + adversarial_loss(self.discriminator(condition, fake.detach()), False,
                                           self.gan_mode))
        loss_d.backward()
        self.opt_d.step()
        # generator
        self.opt_g.zero_grad(set_to_none=True)
        loss_adv = adversarial_loss(self.discriminator(condition, fake), True, self.gan_mode)
        loss_l1 = torch.mean(torch.abs(fake - target))
        loss = loss_adv + self.l1_weight * loss_l1
        loss_dice = torch.zeros(())
        if self.dice_weight:
            loss_dice = soft_dice_loss(fake, target)
            loss = loss + self.dice_weight * loss_dice
        loss.backward()
        self.opt_g.step()
        return Pix2PixLosses(loss_adv.item(), loss_l1.item(), loss_d.item(), loss_dice.item())


class Vox2Vox(Pix2Pix):
    """Vox2Vox: :class:`Pix2Pix` in 3D (``spatial_dims=3``), LSGAN by default, with an
    optional Dice term (``dice_weight``) for image → mask use.

    Examples
    --------
    >>> m = Vox2Vox(features=4, depth=2)
    >>> m(torch.zeros(1, 1, 8, 8, 8)).shape
    torch.Size([1, 1, 8, 8, 8])
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, **kwargs):
        kwargs.setdefault("gan_mode", "lsgan")
        sd = kwargs.pop("spatial_dims", 3)
        if sd != 3:
            raise ValueError(f"Vox2Vox is 3D (spatial_dims=3); got spatial_dims={sd!r} "
                             "(use Pix2Pix for 2D)")
        super().__init__(in_channels, out_channels, spatial_dims=3, **kwargs)
