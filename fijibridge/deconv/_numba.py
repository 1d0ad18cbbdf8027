"""Compiled loops (numba, optional: ``fijibridge[fast]``) for the element-wise kernels of the
numpy back-end that cost the most beside its transforms.

* :func:`tv_block`: RLTV's total-variation factor
  ``tv = 1 / (((ggx + ggy) + ggz) λ + 1)``. :class:`fijibridge.deconv._engine_numpy._TV`
  computes it with ~21 numpy operations per voxel on cache-sized chunks; each is an
  L2-bandwidth pass (~0.19 ns per voxel on 2 cores), so the factor cost more than the
  transforms it sits between. Here each plane's normalised gradient is computed once into
  three plane-sized buffers, and the divergence from them and from the normalised Z gradient
  of the plane below (carried). The arithmetic is the numpy path's, operation for operation,
  in float32 (the same differences and DL2's edges, ``sqrt((gx² + gy²) + gz²)``, ``epsilon``
  where the norm is below it, NaN kept): numba contracts no multiply-add into an FMA unless
  asked to (``fastmath``), so the factor is bit-identical to the numpy path's.
* :func:`haar_loops`: ISTA/FISTA's Haar shrinkage (:mod:`fijibridge.deconv._haar_numpy`):
  each pair ``(a ± b) / √2`` in one pass (DL2's float32 sum then float64 product by
  ``1 / √2``, or the orthonormal float32 division) instead of numpy's three, and the
  thresholding in one pass instead of four: bit-identical.
* :func:`landweber_closed`: the closed form of DL2's Landweber-type iterations (LW, NNLS,
  BVLS, TM, ICTM): ``A = 1 - γ|H|² (- λγL²)``, ``G = γ conj(H) Y``, the geometric sum of ``A``
  by doubling and ``G·S``, per element, in the numpy kernel's float32 operations and order.
  One product differs by the CPU: numpy's complex multiplication ``G·Y`` uses fused
  multiply-adds where the CPU has them (``re = fma(a, c, -(b d))``), this loop does not, so
  the two differ in the last bit of some spectrum values (results ~1e-7 apart, tested).

When: ``FIJIBRIDGE_NUMBA=1`` always (an error without numba), ``0`` never; by default where
numba is installed and either already loaded in this process or the loops are expected to
save more than numba costs a process before its first loop runs (:data:`START_SECONDS`:
importing numba, ~0.2 s, and its numpy support, which imports ``scipy.linalg``, ~0.35 s, on
2 cores, with the loops loaded from numba's on-disk cache, into which the first use after an
install compiles each of them once, ~0.6-1.0 s each; ~125 MB of resident memory): RLTV
from ~1.8e8 voxel-iterations on 2 threads (e.g. 64×256×256, 44 iterations), ISTA/FISTA from
~2.2e8, the closed form only where numba is loaded already (it runs once: ~2 ns per voxel
saved).

A batch of short runs (a pipeline, a Fiji script over a folder) counts too: the savings the
numpy path has forgone in this process are added up (:data:`_forgone`), and once they and
the next run's reach :data:`START_SECONDS` numba is started. Like renting skis until the rent
paid would have bought them, this never costs more than twice the better choice made in
hindsight, and a long batch runs on the loops from its first few items on.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import sys

import numpy as np

__all__ = ["haar_loops", "landweber_closed", "tv_block"]

log = logging.getLogger(__name__)


#: seconds numba costs a process before its first loop runs (see above; measured here)
START_SECONDS = 0.55
#: seconds each loop saves, per voxel (per iteration for RLTV, ISTA/FISTA) on one thread
#: (measured on 64×256×256: the factor 15.5 → 2.7 ms on 2 threads, the closed form 16.9 →
#: 8.2 ms on 1, the Haar shrinkage 33 → 18 ms (DL2's) and 25 → 19 ms (orthonormal) on 2)
SAVED_PER_VOXEL = {"tv": 6.0e-9, "closed": 2.0e-9, "haar": 5.0e-9}


#: why numba's loops could not be set up in this process (then not tried again by default)
_FAILED = None
#: seconds the loops would have saved the runs of this process that kept the numpy path
_forgone = 0.0
#: whether this process has loaded the loops (numba's start paid)
_started = False


def _mode() -> str:
    choice = os.environ.get("FIJIBRIDGE_NUMBA", "").strip()
    if choice not in ("", "0", "1"):
        raise ValueError(f"FIJIBRIDGE_NUMBA must be 0 or 1, got {choice!r}")
    return choice


def _kernels(saving_seconds: float):
    """:mod:`._numba_kernels` (imports numba) if the loops are wanted (see the module's
    docstring), else ``None``."""
    global _FAILED, _forgone, _started
    mode = _mode()
    if mode == "0":
        return None
    if mode == "" and (_FAILED is not None or importlib.util.find_spec("numba") is None):
        return None
    if mode == "" and not _started and "numba.np.arraymath" not in sys.modules:
        if _forgone + saving_seconds < START_SECONDS:
            _forgone += saving_seconds  # this run keeps the numpy path
            return None
        log.info("starting numba's loops (fijibridge[fast]): they save ~%.2f s in this run "
                 "and ~%.2f s were forgone by earlier runs of this process", saving_seconds,
                 _forgone)
    try:
        from . import _numba_kernels
    except ImportError:
        if mode == "1":
            raise ImportError("FIJIBRIDGE_NUMBA=1 but numba is not installed: "
                              "pip install 'fijibridge[fast]'") from None
        return None
    except Exception as e:  # e.g. numba finds no writable cache folder for its loops
        if mode == "1":
            raise RuntimeError(f"FIJIBRIDGE_NUMBA=1 but numba's loops could not be set up "
                               f"({e}); unset FIJIBRIDGE_NUMBA to use the numpy path, or set "
                               f"NUMBA_CACHE_DIR to a writable folder") from e
        _FAILED = e
        log.warning("numba's loops could not be set up (%s); the numpy path is used "
                    "(NUMBA_CACHE_DIR=<a writable folder> may help)", e)
        return None
    _started = True
    log.debug("numba loops (FIJIBRIDGE_NUMBA=%r; expected saving %.2f s)", mode, saving_seconds)
    return _numba_kernels


def tv_block(voxel_iterations: float, threads: int):
    """The compiled ``tv_block(x, y, gx_last, gy_last, gz_last, tv, lam, eps, b0, b1)``
    (``tv`` of planes ``b0:b1``, releasing the GIL) for an RLTV of ``voxel_iterations`` on
    ``threads`` threads, or ``None``."""
    saving = SAVED_PER_VOXEL["tv"] * voxel_iterations / max(1, threads)
    k = _kernels(saving)
    return None if k is None else k.tv_block


def haar_loops(voxel_iterations: float, threads: int):
    """``(pair, soft)`` for :class:`~fijibridge.deconv._haar_numpy.Shrinkage` (compiled loops:
    ``pair(a, b, first, second, dl2, both=None)`` on 3D views, 2D ones as one plane;
    ``soft(w, t, dl2)`` on flat coefficients) for ISTA/FISTA of ``voxel_iterations``, or
    ``None``."""
    k = _kernels(SAVED_PER_VOXEL["haar"] * voxel_iterations / max(1, threads))
    if k is None:
        return None
    q, r = np.float32(math.sqrt(2.0)), 1.0 / math.sqrt(2.0)
    pair_loop, soft_loop = k.haar_pair, k.haar_soft

    def pair(a, b, first, second, dl2, both=None):
        if a.ndim == 2:
            a, b, first, second = a[None], b[None], first[None], second[None]
        pair_loop(a, b, first, second, bool(dl2), q, r)

    def soft(w, t, dl2):
        soft_loop(w, np.float32(t), bool(dl2))
    return pair, soft


def landweber_closed(voxels: float, threads: int):
    """The compiled ``closed(H, Y, L, mode, wz, wy, wx, g, lam_g, bits)`` on float32 (re, im)
    views of a piece of the spectra (``H`` becomes the estimate's spectrum), or ``None``."""
    k = _kernels(SAVED_PER_VOXEL["closed"] * voxels / max(1, threads))
    return None if k is None else k.landweber_closed
