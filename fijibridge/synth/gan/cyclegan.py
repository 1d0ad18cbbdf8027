"""CycleGAN (2D and 3D): unpaired translation between domain A (e.g. images) and
domain B (e.g. masks) with ResNet generators, PatchGAN discriminators, LSGAN, cycle
and identity losses and an image pool.

Trained on real images (A) and synthetic masks (B, e.g. ellipsoid nuclei + sphere
Golgi phantoms from :mod:`fijibridge.synth`), ``generator_ab`` is an unsupervised
segmenter and ``generator_ba`` a mask → image synthesiser.

References
----------
.. [1] Zhu J-Y, Park T, Isola P, Efros AA (2017) Unpaired image-to-image translation
   using cycle-consistent adversarial networks. ICCV, 2223–2232.
   doi:10.1109/ICCV.2017.244
.. [2] Shrivastava A et al. (2017) Learning from simulated and unsupervised images
   through adversarial training. CVPR. doi:10.1109/CVPR.2017.241 (image pool)
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import torch
from torch import nn

from ..._core.options import check_positive
from .networks import PatchDiscriminator, ResNetGenerator
from .pix2pix import adversarial_loss

__all__ = ["CycleGAN", "CycleGANLosses", "ImagePool"]


class ImagePool:
    """History of generated images shown to the discriminator (size 50 in the paper).

    With probability 0.5 a new image replaces a random stored one, which is returned
    instead; ``size=0`` returns the input unchanged.
    """

    def __init__(self, size: int = 50, *, rng=None):
        self.size = check_positive("size", size, integer=True, allow_zero=True)
        self.images: list[torch.Tensor] = []
        self.rng = np.random.default_rng(rng)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images.detach()  # the discriminators' loss must not reach the generators
        out = []
        for im in images.detach():
            im = im[None]
            if len(self.images) < self.size:
                self.images.append(im.clone())
                out.append(im)
            elif self.rng.random() < 0.5:
                i = int(self.rng.integers(self.size))
                out.append(self.images[i].clone())
                self.images[i] = im.clone()
            else:
                out.append(im)
        return torch.cat(out, 0)


@dataclasses.dataclass
class CycleGANLosses:
    """Losses of one training step."""

    generator_adv: float
    cycle: float
    identity: float
    discriminator_a: float
    discriminator_b: float

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


class CycleGAN(nn.Module):
    """Two ResNet generators (A→B, B→A), two PatchGAN discriminators, optimisers and
    one training step.

    Parameters
    ----------
    channels_a, channels_b : int
        Channels of domain A and B.
    spatial_dims : {2, 3}
    features, n_blocks, norm :
        Generators (see :class:`~fijibridge.synth.gan.networks.ResNetGenerator`).
    disc_features, disc_layers :
        Discriminators.
    cycle_weight : float
        λ of the cycle loss (10 in the paper).
    identity_weight : float
        Identity loss weight relative to λ (0.5 in the paper; needs
        ``channels_a == channels_b``).
    pool_size : int
    lr : float
    rng : seed of the image pools.
    """

    def __init__(self, channels_a: int = 1, channels_b: int = 1, *, spatial_dims: int = 2,
                 features: int = 32, n_blocks: int = 6, norm: str = "instance",
                 disc_features: int | None = None, disc_layers: int = 3,
                 cycle_weight: float = 10.0, identity_weight: float = 0.5,
                 pool_size: int = 50, lr: float = 2e-4, rng=None):
        super().__init__()
        kw = dict(spatial_dims=spatial_dims, features=features, n_blocks=n_blocks, norm=norm)
        self.generator_ab = ResNetGenerator(channels_a, channels_b, **kw)
        self.generator_ba = ResNetGenerator(channels_b, channels_a, **kw)
        dkw = dict(spatial_dims=spatial_dims, n_layers=disc_layers,
                   features=features if disc_features is None else disc_features)
        self.discriminator_a = PatchDiscriminator(channels_a, **dkw)
        self.discriminator_b = PatchDiscriminator(channels_b, **dkw)
        self.spatial_dims = self.generator_ab.spatial_dims
        self.cycle_weight = check_positive("cycle_weight", cycle_weight, allow_zero=True)
        self.identity_weight = check_positive("identity_weight", identity_weight, allow_zero=True)
        if self.identity_weight and channels_a != channels_b:
            raise ValueError(f"identity_weight > 0 needs channels_a == channels_b; got "
                             f"{channels_a} and {channels_b} (set identity_weight=0)")
        lr = check_positive("lr", lr)
        seeds = np.random.SeedSequence(rng if not isinstance(rng, np.random.Generator)
                                       else rng.integers(2**32)).spawn(2)
        self.pool_a = ImagePool(pool_size, rng=seeds[0])
        self.pool_b = ImagePool(pool_size, rng=seeds[1])
        self.opt_g = torch.optim.Adam(itertools.chain(self.generator_ab.parameters(),
                                                      self.generator_ba.parameters()),
                                      lr=lr, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(itertools.chain(self.discriminator_a.parameters(),
                                                      self.discriminator_b.parameters()),
                                      lr=lr, betas=(0.5, 0.999))

    @property
    def generator(self):
        """The A → B generator (image → mask for unsupervised segmentation)."""
        return self.generator_ab

    def forward(self, a):
        return self.generator_ab(a)

    def train_step(self, real_a, real_b) -> CycleGANLosses:
        """One update of both generators, then both discriminators (LSGAN)."""
        if real_a.ndim != real_b.ndim or real_a.shape[0] != real_b.shape[0]:
            raise ValueError(f"batches of A {tuple(real_a.shape)} and B {tuple(real_b.shape)} "
                             "must have the same N and number of axes")
        self.train()
        mode = "lsgan"
        # generators
        for d in (self.discriminator_a, self.discriminator_b):
            d.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        fake_b = self.generator_ab(real_a)
        fake_a = self.generator_ba(real_b)
        adv = (adversarial_loss(self.discriminator_b(fake_b), True, mode)
               + adversarial_loss(self.discriminator_a(fake_a), True, mode))
        cycle = (torch.mean(torch.abs(self.generator_ba(fake_b) - real_a))
                 + torch.mean(torch.abs(self.generator_ab(fake_a) - real_b)))
        ident = torch.zeros(())
        if self.identity_weight:
            ident = (torch.mean(torch.abs(self.generator_ab(real_b) - real_b))
                     + torch.mean(torch.abs(self.generator_ba(real_a) - real_a)))
        loss_g = adv + self.cycle_weight * cycle + self.cycle_weight * self.identity_weight * ident
        loss_g.backward()
        self.opt_g.step()
        # discriminators
        for d in (self.discriminator_a, self.discriminator_b):
            d.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        pa = self.pool_a.query(fake_a)
        pb = self.pool_b.query(fake_b)
        loss_da = 0.5 * (adversarial_loss(self.discriminator_a(real_a), True, mode)
                         + adversarial_loss(self.discriminator_a(pa), False, mode))
        loss_db = 0.5 * (adversarial_loss(self.discriminator_b(real_b), True, mode)
                         + adversarial_loss(self.discriminator_b(pb), False, mode))
        (loss_da + loss_db).backward()
        self.opt_d.step()
        return CycleGANLosses(adv.item(), cycle.item(), ident.item(), loss_da.item(),
                              loss_db.item())
