"""pix2pix (2D): U-Net generator, PatchGAN discriminator, adversarial + L1 loss.

torch only (no torchvision); importing this module imports torch, so
:mod:`fijibridge.synth` never imports it.

References
----------
.. [1] Isola P, Zhu J-Y, Zhou T, Efros AA (2017) Image-to-image translation with
   conditional adversarial networks. CVPR, 1125–1134. doi:10.1109/CVPR.2017.632
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from ..._core.options import check_positive

__all__ = ["UNetGenerator", "PatchDiscriminator", "Pix2Pix", "Pix2PixLosses"]


def _down(cin, cout, norm=True):
    layers = [nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=not norm)]
    if norm:
        layers.append(nn.InstanceNorm2d(cout, affine=True))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return nn.Sequential(*layers)


def _up(cin, cout, dropout=False):
    layers = [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1, bias=False),
              nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True)]
    if dropout:
        layers.append(nn.Dropout(0.5))
    return nn.Sequential(*layers)


class UNetGenerator(nn.Module):
    """U-Net generator of pix2pix: ``depth`` stride-2 down/up blocks with skips.

    Input height and width must be multiples of ``2**depth``.  Output in [-1, 1]
    (tanh).

    Parameters
    ----------
    in_channels, out_channels : int
    features : int
        Channels of the first block (doubled per level up to 8×).
    depth : int
        Number of down-sampling levels (8 in the paper for 256²; 4–5 for small tiles).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, *, features: int = 32,
                 depth: int = 4, dropout: bool = True):
        super().__init__()
        check_positive("in_channels", in_channels, integer=True)
        check_positive("out_channels", out_channels, integer=True)
        check_positive("features", features, integer=True)
        depth = check_positive("depth", depth, integer=True)
        if depth < 2:
            raise ValueError(f"depth must be >= 2; got {depth}")
        self.depth = depth
        chans = [min(features * 2 ** i, features * 8) for i in range(depth)]
        self.downs = nn.ModuleList([_down(in_channels, chans[0], norm=False)] +
                                   [_down(chans[i - 1], chans[i]) for i in range(1, depth)])
        ups = []
        for i in range(depth - 1, 0, -1):
            cin = chans[i] if i == depth - 1 else chans[i] * 2
            ups.append(_up(cin, chans[i - 1], dropout=dropout and i >= depth - 2))
        self.ups = nn.ModuleList(ups)
        self.final = nn.Sequential(nn.ConvTranspose2d(chans[0] * 2, out_channels, 4, stride=2,
                                                      padding=1), nn.Tanh())

    def forward(self, x):
        m = 2 ** self.depth
        if x.ndim != 4 or x.shape[-1] % m or x.shape[-2] % m:
            raise ValueError(f"input must be (N, C, H, W) with H, W multiples of {m}; "
                             f"got {tuple(x.shape)}")
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        x = skips.pop()
        for up in self.ups:
            x = torch.cat([up(x), skips.pop()], dim=1)
        return self.final(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator: a map of real/fake logits, one per receptive field.

    Takes the condition and the image concatenated along channels.  ``n_layers=3``
    gives the 70×70 PatchGAN of the paper.
    """

    def __init__(self, in_channels: int = 2, *, features: int = 32, n_layers: int = 3):
        super().__init__()
        check_positive("in_channels", in_channels, integer=True)
        n_layers = check_positive("n_layers", n_layers, integer=True)
        layers = [_down(in_channels, features, norm=False)]
        c = features
        for i in range(1, n_layers):
            layers.append(_down(c, min(c * 2, features * 8)))
            c = min(c * 2, features * 8)
        layers += [nn.Conv2d(c, min(c * 2, features * 8), 4, stride=1, padding=1, bias=False),
                   nn.InstanceNorm2d(min(c * 2, features * 8), affine=True),
                   nn.LeakyReLU(0.2, inplace=True),
                   nn.Conv2d(min(c * 2, features * 8), 1, 4, stride=1, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, condition, image):
        return self.net(torch.cat([condition, image], dim=1))


@dataclasses.dataclass
class Pix2PixLosses:
    """Losses of one training step."""

    generator_adv: float
    generator_l1: float
    discriminator: float


class Pix2Pix(nn.Module):
    """Generator, discriminator, their optimisers and one training step.

    Parameters
    ----------
    in_channels, out_channels : int
    features : int
    depth : int
        Generator depth (see :class:`UNetGenerator`).
    l1_weight : float
        Weight of the L1 term (100 in the paper).
    lr : float
        Adam learning rate (2e-4, betas (0.5, 0.999) as in the paper).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, *, features: int = 32,
                 depth: int = 4, l1_weight: float = 100.0, lr: float = 2e-4):
        super().__init__()
        self.generator = UNetGenerator(in_channels, out_channels, features=features, depth=depth)
        self.discriminator = PatchDiscriminator(in_channels + out_channels, features=features)
        self.l1_weight = check_positive("l1_weight", l1_weight, allow_zero=True)
        lr = check_positive("lr", lr)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
        self._bce = nn.BCEWithLogitsLoss()

    def forward(self, condition):
        return self.generator(condition)

    def train_step(self, condition, target) -> Pix2PixLosses:
        """One update of the discriminator then the generator on a batch.

        ``condition`` (e.g. masks) and ``target`` (images scaled to [-1, 1]) are
        ``(N, C, H, W)`` tensors of the same N, H, W.
        """
        if condition.shape[0] != target.shape[0] or condition.shape[-2:] != target.shape[-2:]:
            raise ValueError(f"condition {tuple(condition.shape)} and target "
                             f"{tuple(target.shape)} must have the same N, H and W")
        self.train()
        fake = self.generator(condition)
        # discriminator
        self.opt_d.zero_grad(set_to_none=True)
        real_logits = self.discriminator(condition, target)
        fake_logits = self.discriminator(condition, fake.detach())
        loss_d = 0.5 * (self._bce(real_logits, torch.ones_like(real_logits))
                        + self._bce(fake_logits, torch.zeros_like(fake_logits)))
        loss_d.backward()
        self.opt_d.step()
        # generator
        self.opt_g.zero_grad(set_to_none=True)
        fake_logits = self.discriminator(condition, fake)
        loss_adv = self._bce(fake_logits, torch.ones_like(fake_logits))
        loss_l1 = torch.mean(torch.abs(fake - target))
        (loss_adv + self.l1_weight * loss_l1).backward()
        self.opt_g.step()
        return Pix2PixLosses(loss_adv.item(), loss_l1.item(), loss_d.item())
