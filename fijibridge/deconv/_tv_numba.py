"""RLTV's total-variation factor as one compiled loop (numba, optional: ``fijibridge[fast]``).

:class:`fijibridge.deconv._engine_numpy._TV` computes DL2's factor
``tv = 1 / (((ggx + ggy) + ggz) λ + 1)`` with ~21 numpy operations per voxel on cache-sized
chunks; each is an L2-bandwidth pass (~0.19 ns per voxel on 2 cores), so the factor costs
more than the transforms it sits between. Here every voxel's value is computed in one loop
nest: the normalised gradient of a plane once, in three plane-sized buffers, and the
divergence from it and from the normalised Z gradient of the plane below it (carried).

The arithmetic is the numpy path's, operation for operation, in float32: the same
differences and edges (DL2's unwritten last column / row / plane), ``sqrt((gx² + gy²) + gz²)``,
``epsilon`` where the norm is below it (NaN stays NaN), each component divided by the norm,
``((ggx + ggy) + ggz)`` times λ (float32) plus 1, then its reciprocal. Numba does not contract
multiplications and additions into fused multiply-adds unless asked to (``fastmath``), so the
results are bit-identical to the numpy path (``tests/deconv/test_tv_numba.py``).

Used where numba imports and ``FIJIBRIDGE_NUMBA`` is not ``0``. The first call in a process
compiles the loop, or loads it from numba's on-disk cache (~0.2 s to import numba, ~0.1 s
to load); a run short enough for that to matter is the user's to switch off with
``FIJIBRIDGE_NUMBA=0``.
"""

from __future__ import annotations

import functools
import logging
import os

__all__ = ["tv_block"]

log = logging.getLogger(__name__)


@functools.cache
def tv_block():
    """The compiled ``tv_block(x, y, gx_last, gy_last, gz_last, tv, lam, eps, b0, b1)``
    (``tv`` of planes ``b0:b1``, releasing the GIL), or ``None`` without numba or with
    ``FIJIBRIDGE_NUMBA=0``."""
    choice = os.environ.get("FIJIBRIDGE_NUMBA", "").strip()
    if choice not in ("", "0", "1"):
        raise ValueError(f"FIJIBRIDGE_NUMBA must be 0 or 1, got {choice!r}")
    if choice == "0":
        return None
    try:
        import numba
    except ImportError:
        if choice == "1":
            raise ImportError("FIJIBRIDGE_NUMBA=1 but numba is not installed: "
                              "pip install 'fijibridge[fast]'") from None
        return None
    log.debug("RLTV's factor: numba %s", numba.__version__)
    return _compile(numba)


def _compile(numba):
    import numpy as np

    jit = numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=False)

    @jit
    def normalise(x, z, gx_last, gy_last, gz_last, eps, gxn, gyn, gzn):
        """``∇x / |∇x|`` of plane ``z`` into ``gxn``, ``gyn``, ``gzn`` (``_TV._normalised``)."""
        nz, ny, nx = x.shape
        for j in range(ny):
            for i in range(nx):
                v = x[z, j, i]
                gx = v - x[z, j, i + 1] if i < nx - 1 else gx_last[z, j]
                gy = v - x[z, j + 1, i] if j < ny - 1 else gy_last[z, i]
                gz = v - x[z + 1, j, i] if z < nz - 1 else gz_last[j, i]
                n = np.sqrt((gx * gx + gy * gy) + gz * gz)
                if n < eps:
                    gxn[j, i] = eps
                    gyn[j, i] = eps
                    gzn[j, i] = eps
                else:
                    gxn[j, i] = gx / n
                    gyn[j, i] = gy / n
                    gzn[j, i] = gz / n

    @jit
    def block(x, y, gx_last, gy_last, gz_last, tv, lam, eps, b0, b1):
        nz, ny, nx = x.shape
        one = np.float32(1.0)
        gxn = np.empty((ny, nx), np.float32)
        gyn = np.empty((ny, nx), np.float32)
        gzn = np.empty((ny, nx), np.float32)
        above = np.empty((ny, nx), np.float32)  # the normalised Z gradient of plane z + 1
        if b1 < nz:
            normalise(x, b1, gx_last, gy_last, gz_last, eps, gxn, gyn, above)
        for z in range(b1 - 1, b0 - 1, -1):
            normalise(x, z, gx_last, gy_last, gz_last, eps, gxn, gyn, gzn)
            for j in range(ny):
                for i in range(nx):
                    s = gxn[j, i] - gxn[j, i + 1] if i < nx - 1 else y[z, j, nx - 1]
                    s = s + (gyn[j, i] - gyn[j + 1, i] if j < ny - 1 else y[z, ny - 1, i])
                    s = s + (gzn[j, i] - above[j, i] if z < nz - 1 else y[z, j, i])
                    tv[z, j, i] = one / (s * lam + one)
            gzn, above = above, gzn

    return block
