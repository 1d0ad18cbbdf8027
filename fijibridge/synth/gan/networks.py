"""GAN networks for 2D and 3D (``spatial_dims``): U-Net and ResNet generators,
PatchGAN discriminator.

One class serves 2D ``(N, C, Y, X)`` and 3D ``(N, C, Z, Y, X)`` tensors, as in MONAI.
Every network keeps the arguments it was built with in :attr:`config` (a plain
dict, saved in checkpoints and used to rebuild it with :func:`build_network`).

References
----------
.. [1] Isola P, Zhu J-Y, Zhou T, Efros AA (2017) Image-to-image translation with
   conditional adversarial networks. CVPR, 1125–1134. doi:10.1109/CVPR.2017.632
.. [2] Cirillo MD, Abramian D, Eklund A (2021) Vox2Vox: 3D-GAN for brain tumour
   segmentation. BrainLes 2020, LNCS 12658, 274–284. doi:10.1007/978-3-030-72084-1_25
.. [3] Zhu J-Y, Park T, Isola P, Efros AA (2017) Unpaired image-to-image translation
   using cycle-consistent adversarial networks. ICCV, 2223–2232.
   doi:10.1109/ICCV.2017.244
"""

from __future__ import annotations

import torch
from torch import nn

from ..._core.options import check_choice, check_positive

__all__ = ["UNetGenerator", "ResNetGenerator", "PatchDiscriminator", "build_network", "NORMS"]

#: normalisation layers.  ``"batch"`` (running statistics at inference) keeps a
#: generator's output independent of the tile it sees, so tiled generation matches
#: whole-image generation; ``"instance"`` is the usual choice for CycleGAN and for
#: discriminators.
NORMS = ("batch", "instance", "none")


def _check_dims(spatial_dims) -> int:
    if spatial_dims not in (2, 3) or isinstance(spatial_dims, bool):
        raise ValueError(f"spatial_dims must be 2 or 3; got {spatial_dims!r}")
    return int(spatial_dims)


def _conv(sd):
    return nn.Conv2d if sd == 2 else nn.Conv3d


def _tconv(sd):
    return nn.ConvTranspose2d if sd == 2 else nn.ConvTranspose3d


def _norm(kind, sd, c):
    if kind == "batch":
        return (nn.BatchNorm2d if sd == 2 else nn.BatchNorm3d)(c)
    if kind == "instance":
        return (nn.InstanceNorm2d if sd == 2 else nn.InstanceNorm3d)(c, affine=True)
    return nn.Identity()


def _down(sd, cin, cout, norm):
    layers = [_conv(sd)(cin, cout, 4, stride=2, padding=1, bias=norm == "none")]
    layers += [_norm(norm, sd, cout), nn.LeakyReLU(0.2, inplace=True)]
    return nn.Sequential(*layers)


def _up(sd, cin, cout, norm, dropout):
    layers = [_tconv(sd)(cin, cout, 4, stride=2, padding=1, bias=norm == "none"),
              _norm(norm, sd, cout), nn.ReLU(inplace=True)]
    if dropout:
        layers.append(nn.Dropout(0.5))
    return nn.Sequential(*layers)


def _check_input(net, x):
    sd = net.spatial_dims
    m = net.size_multiple
    if x.ndim != sd + 2:
        axes = "(N, C, Z, Y, X)" if sd == 3 else "(N, C, Y, X)"
        raise ValueError(f"{type(net).__name__}(spatial_dims={sd}) expects a {sd + 2}D tensor "
                         f"{axes}; got shape {tuple(x.shape)}")
    if x.shape[1] != net.in_channels:
        raise ValueError(f"{type(net).__name__} expects {net.in_channels} input channel(s); "
                         f"got {x.shape[1]} (shape {tuple(x.shape)})")
    if any(s % m for s in x.shape[2:]):
        raise ValueError(f"input must be (N, C, {'Z, ' if sd == 3 else ''}Y, X) with spatial "
                         f"sizes multiples of {m}; got {tuple(x.shape)}")


class UNetGenerator(nn.Module):
    """U-Net generator of pix2pix / Vox2Vox: ``depth`` stride-2 down/up blocks with skips.

    Spatial input sizes must be multiples of ``2**depth`` (:attr:`size_multiple`).
    Output in [-1, 1] (tanh).

    Parameters
    ----------
    in_channels, out_channels : int
    spatial_dims : {2, 3}
    features : int
        Channels of the first block (doubled per level up to 8×).
    depth : int
        Number of down-sampling levels (8 in the paper for 256²; 4–5 for small tiles).
    norm : {"batch", "instance", "none"}
    dropout : bool
        Dropout 0.5 in the two deepest up-sampling blocks during training (the
        paper's noise source); off in ``eval()`` mode, so generation is deterministic.

    Examples
    --------
    >>> g = UNetGenerator(1, 1, spatial_dims=2, features=8, depth=3)
    >>> g(torch.zeros(1, 1, 32, 32)).shape
    torch.Size([1, 1, 32, 32])
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, *, spatial_dims: int = 2,
                 features: int = 32, depth: int = 4, norm: str = "instance",
                 dropout: bool = True):
        super().__init__()
        sd = _check_dims(spatial_dims)
        in_channels = check_positive("in_channels", in_channels, integer=True)
        out_channels = check_positive("out_channels", out_channels, integer=True)
        features = check_positive("features", features, integer=True)
        depth = check_positive("depth", depth, integer=True)
        if depth < 2:
            raise ValueError(f"depth must be >= 2; got {depth}")
        norm = check_choice("norm", norm, NORMS)
        self.spatial_dims, self.in_channels, self.out_channels = sd, in_channels, out_channels
        self.depth = depth
        self.size_multiple = 2 ** depth
        self.config = {"name": "UNetGenerator", "in_channels": in_channels,
                       "out_channels": out_channels, "spatial_dims": sd, "features": features,
                       "depth": depth, "norm": norm, "dropout": bool(dropout)}
        chans = [min(features * 2 ** i, features * 8) for i in range(depth)]
        self.downs = nn.ModuleList([_down(sd, in_channels, chans[0], "none")] +
                                   [_down(sd, chans[i - 1], chans[i], norm)
                                    for i in range(1, depth)])
        ups = []
        for i in range(depth - 1, 0, -1):
            cin = chans[i] if i == depth - 1 else chans[i] * 2
            ups.append(_up(sd, cin, chans[i - 1], norm, dropout and i >= depth - 2))
        self.ups = nn.ModuleList(ups)
        self.final = nn.Sequential(_tconv(sd)(chans[0] * 2, out_channels, 4, stride=2, padding=1),
                                   nn.Tanh())

    def forward(self, x):
        _check_input(self, x)
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        x = skips.pop()
        for up in self.ups:
            x = torch.cat([up(x), skips.pop()], dim=1)
        return self.final(x)


class _ResBlock(nn.Module):
    def __init__(self, sd, c, norm):
        super().__init__()
        pad = nn.ReflectionPad2d if sd == 2 else nn.ReplicationPad3d
        self.body = nn.Sequential(pad(1), _conv(sd)(c, c, 3, bias=norm == "none"),
                                  _norm(norm, sd, c), nn.ReLU(inplace=True),
                                  pad(1), _conv(sd)(c, c, 3, bias=norm == "none"),
                                  _norm(norm, sd, c))

    def forward(self, x):
        return x + self.body(x)


class ResNetGenerator(nn.Module):
    """ResNet generator of CycleGAN: c7s1-F, two stride-2 downs, ``n_blocks`` residual
    blocks, two ups, c7s1 + tanh.

    Spatial sizes must be multiples of 4 (:attr:`size_multiple`).

    Parameters
    ----------
    in_channels, out_channels : int
    spatial_dims : {2, 3}
    features : int
        Channels of the first layer (64 in the paper).
    n_blocks : int
        Residual blocks (9 in the paper for 256², 6 for 128²).
    norm : {"instance", "batch", "none"}

    Examples
    --------
    >>> g = ResNetGenerator(1, 1, spatial_dims=3, features=4, n_blocks=1)
    >>> g(torch.zeros(1, 1, 8, 16, 16)).shape
    torch.Size([1, 1, 8, 16, 16])
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, *, spatial_dims: int = 2,
                 features: int = 32, n_blocks: int = 6, norm: str = "instance"):
        super().__init__()
        sd = _check_dims(spatial_dims)
        in_channels = check_positive("in_channels", in_channels, integer=True)
        out_channels = check_positive("out_channels", out_channels, integer=True)
        f = check_positive("features", features, integer=True)
        n_blocks = check_positive("n_blocks", n_blocks, integer=True, allow_zero=True)
        norm = check_choice("norm", norm, NORMS)
        self.spatial_dims, self.in_channels, self.out_channels = sd, in_channels, out_channels
        self.size_multiple = 4
        self.config = {"name": "ResNetGenerator", "in_channels": in_channels,
                       "out_channels": out_channels, "spatial_dims": sd, "features": f,
                       "n_blocks": n_blocks, "norm": norm}
        pad = nn.ReflectionPad2d if sd == 2 else nn.ReplicationPad3d
        C, T = _conv(sd), _tconv(sd)
        b = norm == "none"
        layers = [pad(3), C(in_channels, f, 7, bias=b), _norm(norm, sd, f), nn.ReLU(True),
                  C(f, 2 * f, 3, stride=2, padding=1, bias=b), _norm(norm, sd, 2 * f), nn.ReLU(True),
                  C(2 * f, 4 * f, 3, stride=2, padding=1, bias=b), _norm(norm, sd, 4 * f),
                  nn.ReLU(True)]
        layers += [_ResBlock(sd, 4 * f, norm) for _ in range(n_blocks)]
        layers += [T(4 * f, 2 * f, 3, stride=2, padding=1, output_padding=1, bias=b),
                   _norm(norm, sd, 2 * f), nn.ReLU(True),
                   T(2 * f, f, 3, stride=2, padding=1, output_padding=1, bias=b),
                   _norm(norm, sd, f), nn.ReLU(True),
                   pad(3), C(f, out_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        _check_input(self, x)
        return self.net(x)


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator: a map of real/fake logits, one per receptive field.

    ``forward(image)`` or ``forward(condition, image)`` (conditional GAN: the two are
    concatenated along channels, so ``in_channels`` counts both).  ``n_layers=3``
    gives the 70×70 PatchGAN of the paper.
    """

    def __init__(self, in_channels: int = 2, *, spatial_dims: int = 2, features: int = 32,
                 n_layers: int = 3, norm: str = "instance"):
        super().__init__()
        sd = _check_dims(spatial_dims)
        in_channels = check_positive("in_channels", in_channels, integer=True)
        features = check_positive("features", features, integer=True)
        n_layers = check_positive("n_layers", n_layers, integer=True)
        norm = check_choice("norm", norm, NORMS)
        self.spatial_dims, self.in_channels = sd, in_channels
        self.config = {"name": "PatchDiscriminator", "in_channels": in_channels,
                       "spatial_dims": sd, "features": features, "n_layers": n_layers,
                       "norm": norm}
        layers = [_down(sd, in_channels, features, "none")]
        c = features
        for _ in range(1, n_layers):
            layers.append(_down(sd, c, min(c * 2, features * 8), norm))
            c = min(c * 2, features * 8)
        c2 = min(c * 2, features * 8)
        layers += [_conv(sd)(c, c2, 4, stride=1, padding=1, bias=norm == "none"),
                   _norm(norm, sd, c2), nn.LeakyReLU(0.2, inplace=True),
                   _conv(sd)(c2, 1, 4, stride=1, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, condition, image=None):
        x = condition if image is None else torch.cat([condition, image], dim=1)
        if x.ndim != self.spatial_dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(f"PatchDiscriminator expects (N, {self.in_channels}, …) with "
                             f"{self.spatial_dims} spatial axes; got {tuple(x.shape)}")
        need = 3 * 2 ** self.config["n_layers"]
        if min(x.shape[2:]) < need:
            raise ValueError(f"PatchDiscriminator(n_layers={self.config['n_layers']}) needs "
                             f"spatial sizes >= {need}; got {tuple(x.shape[2:])} (use larger "
                             "patches or fewer disc_layers)")
        return self.net(x)


_CLASSES = {"UNetGenerator": UNetGenerator, "ResNetGenerator": ResNetGenerator,
            "PatchDiscriminator": PatchDiscriminator}


def build_network(config: dict) -> nn.Module:
    """Rebuild a network from its :attr:`config` dict (as stored in a checkpoint)."""
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError(f"network config must be a dict with a 'name'; got {config!r}")
    name = check_choice("network name", config["name"], list(_CLASSES), case_sensitive=True)
    kwargs = {k: v for k, v in config.items() if k != "name"}
    args = [kwargs.pop(k) for k in ("in_channels", "out_channels") if k in kwargs]
    return _CLASSES[name](*args, **kwargs)
