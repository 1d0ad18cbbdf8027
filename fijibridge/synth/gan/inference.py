"""Generation over whole images and stacks with tiling (overlap + linear blending).

Tiles start at multiples of the generator's stride (:attr:`size_multiple`), so a
generator with tile-independent normalisation (``norm="batch"`` in ``eval()``) gives
the same interior values tiled as whole, except within its receptive field of a tile
edge; the blending weight is ~0 in the outer quarter of the overlap and rises
linearly to 1, so those pixels hardly count.  (``norm="instance"`` generators depend
on each tile's statistics; use a tile as large as memory allows for them.)
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from ..._core.execution import torch_device
from ..._core.options import check_positive
from .data import IntensityScale, check_mask, encode_mask

__all__ = ["generate_tiled", "generate_from_mask"]


def _axis_plan(size: int, tile: int, step: int) -> tuple[int, list[int]]:
    """(padded size, tile starts) with starts multiples of ``step``."""
    if size <= tile:
        return tile, [0]
    n = int(np.ceil((size - tile) / step)) + 1
    return (n - 1) * step + tile, [i * step for i in range(n)]


def _ramp(tile: int, overlap: int) -> np.ndarray:
    if overlap <= 0:
        return np.ones(tile, np.float32)
    # trapezoid: ~0 in the outer quarter of the overlap (where the tile's zero padding
    # reaches the output), rising linearly to 1 at three quarters
    margin = overlap // 4
    i = np.arange(tile, dtype=np.float32)
    d = np.minimum(i, tile - 1 - i) + 0.5
    r = np.clip((d - margin) / max(overlap - 2 * margin, 1), 0.0, 1.0)
    return np.maximum(r, 1e-6)


def generate_tiled(x, generator, *, tile=256, overlap: float = 0.25, pad_value: float = -1.0,
                   device=None, batch_size: int = 4) -> np.ndarray:
    """Run ``generator`` over a ``(C, *spatial)`` array in tiles; returns ``(C_out, *spatial)``.

    Parameters
    ----------
    x : ndarray
        Input scaled as in training (masks: :func:`~.data.encode_mask`).
    generator : torch.nn.Module
        Takes ``(N, C, *tile)``; needs ``spatial_dims`` and ``size_multiple``.
    tile : int or sequence of int
        Tile size per spatial axis, rounded up to a multiple of ``size_multiple``.
    overlap : float
        Fraction of a tile shared with its neighbour, in [0, 1).
    pad_value : float
        Fill beyond the image (-1: background of an encoded mask).
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}, optional
        Where to run (the generator is moved there); default: where the generator's
        weights are.
    """
    x = np.asarray(x, np.float32)
    sd = generator.spatial_dims
    if x.ndim != sd + 1:
        raise ValueError(f"x must be (C, {'Z, ' if sd == 3 else ''}Y, X) for a {sd}D generator; "
                         f"got shape {x.shape}")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1); got {overlap!r}")
    m = generator.size_multiple
    tiles = (tile,) * sd if np.isscalar(tile) else tuple(tile)
    if len(tiles) != sd:
        raise ValueError(f"tile must be one int or {sd} ints; got {tile!r}")
    for t_ in tiles:
        check_positive("tile", t_, integer=True)
    spatial = x.shape[1:]
    # a tile no larger than needed, rounded to the stride
    tiles = tuple(int(np.ceil(min(t_, s) / m) * m) for t_, s in zip(tiles, spatial))
    steps = tuple(max(m, int((t_ * (1 - overlap)) // m) * m) for t_ in tiles)
    plans = [_axis_plan(s, t_, st) for s, t_, st in zip(spatial, tiles, steps)]
    padded = tuple(p for p, _ in plans)
    xp = np.full((x.shape[0],) + padded, pad_value, np.float32)
    xp[(slice(None),) + tuple(slice(0, s) for s in spatial)] = x
    ov = [t_ - st for t_, st in zip(tiles, steps)]
    w = np.ones(tiles, np.float32)
    for ax, (t_, o) in enumerate(zip(tiles, ov)):
        shape = [1] * sd
        shape[ax] = t_
        w = w * _ramp(t_, o).reshape(shape)
    out = None
    norm = np.zeros(padded, np.float32)
    starts = list(itertools.product(*[s for _, s in plans]))
    if device is None:
        first = next(generator.parameters(), None)
        dev = first.device if first is not None else torch.device("cpu")
    else:
        dev = torch_device(device)
        generator.to(dev)
    generator.eval()
    with torch.no_grad():
        for k in range(0, len(starts), batch_size):
            chunk = starts[k:k + batch_size]
            sls = [tuple(slice(s, s + t_) for s, t_ in zip(st, tiles)) for st in chunk]
            batch = torch.from_numpy(np.stack([xp[(slice(None),) + sl] for sl in sls])).to(dev)
            y = generator(batch).float().cpu().numpy()
            if out is None:
                out = np.zeros((y.shape[1],) + padded, np.float32)
            for yi, sl in zip(y, sls):
                out[(slice(None),) + sl] += yi * w
                norm[sl] += w
    out /= norm
    return out[(slice(None),) + tuple(slice(0, s) for s in spatial)]


def generate_from_mask(mask, generator, meta: dict, *, tile=256, overlap: float = 0.25,
                       device=None, check: bool = True) -> np.ndarray:
    """Image from a label/class mask with a generator loaded by
    :func:`~.training.load_generator`, in the training data's intensity range/dtype."""
    mask = np.asarray(mask)
    if check:
        check_mask(mask)
    x = encode_mask(mask, classes=int(meta.get("mask_classes", 1)))[None]
    y = generate_tiled(x, generator, tile=tile, overlap=overlap, device=device)[0]
    return IntensityScale(**meta["intensity"]).from_unit(y)
