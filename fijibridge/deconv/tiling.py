"""Block-wise deconvolution of volumes larger than a memory budget.

The (padded, apodized) volume is cut into blocks; each block is extended by a PSF-sized
margin on every side where the volume has data, deconvolved alone, and only its core is kept.
Every block has the volume's parity along each axis, because DL2's PSF centring (voxel
``n // 2`` to the origin) is one voxel off for an even grid and an odd PSF; all blocks then
carry the same offset as the whole-volume run. The margin absorbs the periodic-boundary
artefacts of each block, so the result agrees with
the whole-volume result in the interior (away from the volume's own border, where the
whole-volume run wraps around the volume and a block does not): tested ≤ 1e-3 relative error.

Memory: one block's working arrays (see :func:`~fijibridge.deconv.core.memory_estimate`) plus
the input and output volumes (float32).
"""

from __future__ import annotations

import itertools
import logging
import math

import numpy as np

from ._prepare import apodize, crop_image, pad_image

__all__ = ["deconvolve_tiled", "plan_blocks", "whole_volume_bytes"]

log = logging.getLogger(__name__)


def whole_volume_bytes(image_shape, working_shape) -> int:
    """Bytes of the whole-volume arrays :func:`deconvolve_tiled` holds besides one block:
    the padded input and the assembled output (float32, working grid), and the cropped
    result when the grid is padded. :func:`~fijibridge.deconv.core.deconvolve` takes them
    out of ``max_memory`` before sizing the blocks."""
    working = 4 * int(np.prod(working_shape, dtype=np.int64))
    image = 4 * int(np.prod(image_shape, dtype=np.int64))
    return 2 * working + (image if tuple(image_shape) != tuple(working_shape) else 0)


def plan_blocks(shape, psf_shape, *, max_memory: int, algorithm: str = "RL", block_shape=None,
                overlap=None):
    """Core block shape and margin per axis for a volume of ``shape``."""
    from .core import memory_estimate

    nd = len(shape)
    margin = tuple(int(o) for o in overlap) if overlap is not None else tuple(int(p) for p in psf_shape)
    if len(margin) != nd:
        raise ValueError(f"overlap must have {nd} values; got {overlap!r}")
    if block_shape is not None:
        core = tuple(min(int(b), s) for b, s in zip(block_shape, shape))
        if len(core) != nd or min(core) < 1:
            raise ValueError(f"block_shape must be {nd} positive integers; got {block_shape!r}")
        return core, margin
    core = list(shape)
    while memory_estimate([c + 2 * m if c < s else c for c, m, s in zip(core, margin, shape)],
                          algorithm) > max_memory:
        axis = int(np.argmax(core))
        if core[axis] <= max(8, margin[axis]):
            smallest = memory_estimate([min(c, 8) + 2 * m if c < s else c
                                        for c, m, s in zip(core, margin, shape)], algorithm)
            raise ValueError(f"max_memory leaves {max_memory / 2**20:.4g} MB for one block, too "
                             f"little for a block with a PSF-sized margin {margin} (~"
                             f"{smallest / 2**20:.4g} MB); raise max_memory (--max-memory MB)")
        core[axis] = math.ceil(core[axis] / 2)
    return tuple(core), margin


def deconvolve_tiled(image, psf, *, options=None, block_shape=None, overlap=None,
                     max_memory: int | None = None, device="cpu", max_growth=None, haar="dl2",
                     rng=None, backend="auto", threads=None, **kwargs):
    """Deconvolve ``image`` block by block (see module doc); same arguments as
    :func:`~fijibridge.deconv.deconvolve` (``algorithm=``, ``num_iter=`` …) or ``options=``.

    Parameters
    ----------
    block_shape : tuple of int, optional
        Core size of a block; default: the largest that fits ``max_memory``.
    overlap : tuple of int, optional
        Margin per side and axis; default: the PSF's shape (a full PSF width per side).
    max_memory : int, optional
        Bytes for one block's working arrays (default
        :data:`~fijibridge.deconv.core.DEFAULT_MAX_MEMORY`).
    """
    from . import _engine
    from .core import DEFAULT_MAX_MEMORY, check_inputs, deconvolve_options
    from .options import DeconvOptions

    if options is None:
        from .core import deconvolve

        # build the options the way deconvolve() does, without running
        captured = {}

        def _capture(opts, *a, **k):
            captured["o"] = opts
            return None

        import fijibridge.deconv.core as core_mod

        real = core_mod.deconvolve_options
        core_mod.deconvolve_options = _capture
        try:
            deconvolve(image, psf, **kwargs)
        finally:
            core_mod.deconvolve_options = real
        options = captured["o"]
    elif kwargs:
        raise ValueError(f"give either options= or algorithm keywords, not both: {sorted(kwargs)}")
    if max_growth is None:
        max_growth = _engine.MAX_GROWTH
    max_memory = DEFAULT_MAX_MEMORY if max_memory is None else int(max_memory)
    image = np.asarray(image, dtype=np.float32)
    working = options.pad.padded_shape(image.shape) if options.pad is not None else image.shape
    image, psf = check_inputs(image, psf, working_shape=working)
    y = pad_image(image, options.pad)
    apodize(y, options.apo)
    inner = DeconvOptions(options.algorithm, options.params, norm=options.norm,
                          constraint=options.constraint, residu=options.residu,
                          epsilon=options.epsilon)
    core, margin = plan_blocks(y.shape, psf.shape, max_memory=max_memory,
                               algorithm=options.algorithm, block_shape=block_shape, overlap=overlap)
    out = np.empty_like(y)
    starts = [range(0, n, c) for n, c in zip(y.shape, core)]
    blocks = list(itertools.product(*starts))
    log.info("%s block-wise: %d block(s) of core %s with margin %s", options.algorithm,
             len(blocks), core, margin)
    for start in blocks:
        lo = [max(0, s - m) for s, m in zip(start, margin)]
        hi = [min(n, s + c + m) for s, c, m, n in zip(start, core, margin, y.shape)]
        # DL2 centres the PSF at voxel n // 2 of the grid: one voxel off when the grid is even
        # and the PSF odd. Blocks keep the volume's parity so that every block shifts alike.
        for axis, n in enumerate(y.shape):
            if (hi[axis] - lo[axis]) % 2 != n % 2:
                if hi[axis] < n:
                    hi[axis] += 1
                else:
                    lo[axis] -= 1
        block = y[tuple(slice(a, b) for a, b in zip(lo, hi))]
        res = deconvolve_options(inner, block, psf, device=device, max_growth=max_growth,
                                 haar=haar, max_memory=None, rng=rng, backend=backend,
                                 threads=threads)
        src = tuple(slice(s - a, min(s + c, n) - a) for s, a, c, n in zip(start, lo, core, y.shape))
        dst = tuple(slice(s, min(s + c, n)) for s, c, n in zip(start, core, y.shape))
        out[dst] = res[src]
    return np.ascontiguousarray(crop_image(out, image.shape))
