"""U-Net and residual U-Net for 2D and 3D segmentation (torch).

One class serves 2D and 3D images through ``spatial_dims`` (as in MONAI's
``networks/nets/unet.py``); every argument is checked in the constructor, so a bad
configuration fails before any training starts.  A network's :attr:`config` is a
plain dict that rebuilds it (:func:`build_network`), and checkpoints store it so
that weights are only ever loaded into the architecture they were trained for.

Output heads (``head=``)
------------------------
``"logits"``
    ``out_channels`` raw scores: 1 channel for a binary mask (use a sigmoid),
    ``C >= 2`` channels for ``C`` classes, e.g. background / nuclei / Golgi /
    nucleus–Golgi pair (use a softmax).
``"boundary"``
    3 classes background / interior / boundary.  The boundary class separates
    touching objects; :func:`fijibridge.segment.inference.probabilities_to_labels`
    turns the probabilities into instance labels.
``"distance"``
    2 channels: a foreground logit and the (normalised) distance of each foreground
    pixel to the object edge, whose maxima seed a watershed.

References
----------
.. [1] Ronneberger O, Fischer P, Brox T (2015). U-Net: convolutional networks for
       biomedical image segmentation. MICCAI. :doi:`10.1007/978-3-319-24574-4_28`
.. [2] Çiçek Ö et al. (2016). 3D U-Net: learning dense volumetric segmentation from
       sparse annotation. MICCAI. :doi:`10.1007/978-3-319-46723-8_49`
.. [3] Zhang Z, Liu Q, Wang Y (2018). Road extraction by deep residual U-Net.
       IEEE GRSL 15(5). :doi:`10.1109/LGRS.2018.2802944`
"""

from __future__ import annotations

import torch
from torch import nn

from .._core.options import check_choice

__all__ = ["UNet", "ResUNet", "NORMS", "HEADS", "NETWORKS", "build_network"]

NORMS = ("batch", "instance", "group", "none")
HEADS = ("logits", "boundary", "distance")
#: channels a head produces (``None``: the user's ``out_channels``)
_HEAD_CHANNELS = {"logits": None, "boundary": 3, "distance": 2}


def _check_int(name: str, value, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if value < low or (high is not None and value > high):
        rng = f"{low}..{high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {rng}; got {value}")
    return value


def _conv(spatial_dims: int, cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Module:
    cls = nn.Conv2d if spatial_dims == 2 else nn.Conv3d
    return cls(cin, cout, kernel, stride=stride, padding=kernel // 2, bias=True)


def _norm(kind: str, spatial_dims: int, channels: int, num_groups: int) -> nn.Module:
    if kind == "batch":
        return (nn.BatchNorm2d if spatial_dims == 2 else nn.BatchNorm3d)(channels)
    if kind == "instance":
        return (nn.InstanceNorm2d if spatial_dims == 2 else nn.InstanceNorm3d)(channels, affine=True)
    if kind == "group":
        return nn.GroupNorm(min(num_groups, channels), channels)
    return nn.Identity()


class _Block(nn.Module):
    """Two 3×3(×3) convolutions with normalisation, ReLU and dropout; optionally residual."""

    def __init__(self, spatial_dims: int, cin: int, cout: int, norm: str, dropout: float,
                 num_groups: int, residual: bool):
        super().__init__()
        self.body = nn.Sequential(
            _conv(spatial_dims, cin, cout, 3), _norm(norm, spatial_dims, cout, num_groups),
            nn.ReLU(inplace=True), nn.Dropout(dropout) if dropout > 0 else nn.Identity(),
            _conv(spatial_dims, cout, cout, 3), _norm(norm, spatial_dims, cout, num_groups),
        )
        self.residual = residual
        if residual:
            self.skip = _conv(spatial_dims, cin, cout, 1) if cin != cout else nn.Identity()
        else:
            self.skip = nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        if self.residual:
            y = y + self.skip(x)
        return self.act(y)


class UNet(nn.Module):
    """U-Net for 2D or 3D images.

    Parameters
    ----------
    spatial_dims : int
        2 for ``(N, C, Y, X)`` input, 3 for ``(N, C, Z, Y, X)``.
    in_channels : int
        Channels of the input image.
    out_channels : int, optional
        Output channels for ``head="logits"`` (default 1).  Other heads fix the
        number (``"boundary"``: 3, ``"distance"``: 2); giving a different one raises.
    depth : int
        Number of resolution levels (1–6).  Spatial input sizes must be multiples of
        ``2 ** (depth - 1)`` (:attr:`size_multiple`); sliding-window inference pads
        for you.
    features : int
        Channels at the first level; doubled at every level below.
    norm : {"batch", "instance", "group", "none"}
    dropout : float
        Dropout probability inside each block, in [0, 1).
    head : {"logits", "boundary", "distance"}
        Output mode, see the module docstring.
    num_groups : int
        Groups for ``norm="group"``.

    Examples
    --------
    >>> net = UNet(spatial_dims=2, in_channels=1, head="boundary", depth=3, features=8)
    >>> net(torch.zeros(1, 1, 64, 64)).shape
    torch.Size([1, 3, 64, 64])
    """

    residual: bool = False

    def __init__(self, spatial_dims: int = 2, in_channels: int = 1, out_channels: int | None = None,
                 *, depth: int = 4, features: int = 32, norm: str = "batch",
                 dropout: float = 0.0, head: str = "logits", num_groups: int = 8):
        super().__init__()
        spatial_dims = _check_int("spatial_dims", spatial_dims, 2, 3)
        in_channels = _check_int("in_channels", in_channels, 1)
        depth = _check_int("depth", depth, 1, 6)
        features = _check_int("features", features, 1)
        num_groups = _check_int("num_groups", num_groups, 1)
        norm = check_choice("norm", norm, NORMS)
        head = check_choice("head", head, HEADS)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1); got {dropout!r}")
        fixed = _HEAD_CHANNELS[head]
        if out_channels is None:
            out_channels = fixed or 1
        out_channels = _check_int("out_channels", out_channels, 1)
        if fixed is not None and out_channels != fixed:
            raise ValueError(f"head={head!r} produces {fixed} channels; got out_channels="
                             f"{out_channels} (leave it out, or use head='logits')")
        if norm == "group" and features % min(num_groups, features):
            raise ValueError(f"norm='group' needs features divisible by num_groups="
                             f"{num_groups}; got features={features}")

        self.spatial_dims = spatial_dims
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.depth = depth
        self.size_multiple = 2 ** (depth - 1)
        self.head = head
        self.config = {
            "name": type(self).__name__, "spatial_dims": spatial_dims,
            "in_channels": in_channels, "out_channels": out_channels, "depth": depth,
            "features": features, "norm": norm, "dropout": float(dropout), "head": head,
            "num_groups": num_groups,
        }

        chans = [features * 2 ** i for i in range(depth)]
        block = lambda cin, cout: _Block(spatial_dims, cin, cout, norm, float(dropout),  # noqa: E731
                                         num_groups, self.residual)
        self.encoders = nn.ModuleList()
        cin = in_channels
        for c in chans:
            self.encoders.append(block(cin, c))
            cin = c
        pool = nn.MaxPool2d if spatial_dims == 2 else nn.MaxPool3d
        self.pool = pool(2)
        up = nn.ConvTranspose2d if spatial_dims == 2 else nn.ConvTranspose3d
        self.ups = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for c_low, c_high in zip(chans[::-1][:-1], chans[::-1][1:]):
            self.ups.append(up(c_low, c_high, 2, stride=2))
            self.decoders.append(block(2 * c_high, c_high))
        self.out = _conv(spatial_dims, chans[0], out_channels, 1)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ValueError if ``x`` does not fit this network (ndim, channels, size)."""
        if x.dim() != self.spatial_dims + 2:
            raise ValueError(
                f"{type(self).__name__}(spatial_dims={self.spatial_dims}) expects a "
                f"{self.spatial_dims + 2}D tensor (N, C, {'Z, ' if self.spatial_dims == 3 else ''}"
                f"Y, X); got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"{type(self).__name__} expects {self.in_channels} input channel(s); "
                             f"got {x.shape[1]} (shape {tuple(x.shape)})")
        bad = [s for s in x.shape[2:] if s % self.size_multiple]
        if bad:
            raise ValueError(
                f"spatial size {tuple(x.shape[2:])} is not a multiple of {self.size_multiple} "
                f"(2**(depth-1) with depth={self.depth}); pad the input or use "
                "fijibridge.segment.inference.sliding_window_inference, which pads")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_scripting():
            self.check_input(x)
        skips: list[torch.Tensor] = []
        for i, enc in enumerate(self.encoders):
            if i > 0:
                x = self.pool(x)
            x = enc(x)
            skips.append(x)
        for i, (up, dec) in enumerate(zip(self.ups, self.decoders)):
            x = up(x)
            x = dec(torch.cat([x, skips[-(i + 2)]], dim=1))
        return self.out(x)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config.items() if k != "name")


class ResUNet(UNet):
    """Residual U-Net [3]_: :class:`UNet` whose blocks add a (1×1-projected) shortcut.

    Same parameters as :class:`UNet`.

    Examples
    --------
    >>> net = ResUNet(spatial_dims=3, in_channels=1, out_channels=2, depth=2, features=4)
    >>> net(torch.zeros(1, 1, 8, 16, 16)).shape
    torch.Size([1, 2, 8, 16, 16])
    """

    residual = True


NETWORKS = {"UNet": UNet, "ResUNet": ResUNet}


def build_network(config: dict) -> UNet:
    """Rebuild a network from its :attr:`UNet.config` dict."""
    config = dict(config)
    name = check_choice("network name", str(config.pop("name", "UNet")), list(NETWORKS))
    return NETWORKS[name](**config)
