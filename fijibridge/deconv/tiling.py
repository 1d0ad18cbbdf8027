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
from collections.abc import Callable

import numpy as np

from ._registry import lookup_algorithm

__all__ = ["run_blockwise", "plan_blocks", "whole_volume_bytes", "memory_estimate"]

log = logging.getLogger(__name__)

#: float32-sized working arrays per voxel (complex half-spectra count as one), per algorithm,
#: with per-iteration statistics (a Monitor) on and on odd sizes (full complex spectra for
#: RIF/TM/ICTM): the numpy back-end, which the CPU uses, is measured by
#: ``tests/deconv/test_memory_model.py`` (direct methods, ISTA and FISTA: their float64
#: transforms; ISTA/FISTA measured 12.7/12.7)
_ARRAYS_PER_VOXEL = {"NIF": 8.5, "RIF": 13.5, "TRIF": 8.5, "CONV": 8.5, "SIM": 11, "RL": 8.5,
                     "RLTV": 13, "LW": 9, "NNLS": 9, "BVLS": 9, "VC": 9.5, "TM": 12.5,
                     "ICTM": 12.5, "ISTA": 13, "FISTA": 13.5}


def memory_estimate(shape, algorithm: str = "RL") -> int:
    """Bytes of working arrays a deconvolution needs for a working grid of ``shape``
    (float32; torch's own runtime, ~100 MB, not included)."""
    spec = lookup_algorithm(algorithm)
    return int(4 * _ARRAYS_PER_VOXEL[spec.name] * float(np.prod(shape)))


def whole_volume_bytes(image_shape, working_shape) -> int:
    """Bytes of the whole-volume arrays a block-wise run holds besides one block:
    the padded input and the assembled output (float32, working grid), and the cropped
    result when the grid is padded. :func:`~fijibridge.deconv.core.deconvolve` takes them
    out of the memory budget before sizing the blocks."""
    working = 4 * int(np.prod(working_shape, dtype=np.int64))
    image = 4 * int(np.prod(image_shape, dtype=np.int64))
    return 2 * working + (image if tuple(image_shape) != tuple(working_shape) else 0)


def plan_blocks(shape, psf_shape, *, max_memory: int, algorithm: str = "RL", block_shape=None,
                overlap=None):
    """Core block shape and margin per axis for a volume of ``shape``."""
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


def run_blockwise(y, psf_shape, solve: Callable, *, max_memory: int, algorithm: str = "RL",
                  block_shape=None, overlap=None) -> np.ndarray:
    """Deconvolve the prepared (padded, apodized) volume ``y`` block by block.

    ``solve(block)`` deconvolves one block (an array view of ``y``) and returns an array of
    the block's shape; the caller (:func:`fijibridge.deconv.core.deconvolve_options`) gives
    it, so this module knows nothing of the algorithms. Returns the assembled volume on
    ``y``'s grid.
    """
    core, margin = plan_blocks(y.shape, psf_shape, max_memory=max_memory, algorithm=algorithm,
                               block_shape=block_shape, overlap=overlap)
    out = np.empty_like(y)
    starts = [range(0, n, c) for n, c in zip(y.shape, core)]
    blocks = list(itertools.product(*starts))
    log.info("%s block-wise: %d block(s) of core %s with margin %s", algorithm,
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
        res = solve(y[tuple(slice(a, b) for a, b in zip(lo, hi))])
        src = tuple(slice(s - a, min(s + c, n) - a) for s, a, c, n in zip(start, lo, core, y.shape))
        dst = tuple(slice(s, min(s + c, n)) for s, c, n in zip(start, core, y.shape))
        out[dst] = res[src]
    return out
