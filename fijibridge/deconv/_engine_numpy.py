"""Richardson-Lucy on numpy + ``scipy.fft`` (pocketfft, float32) for the CPU, without torch.

Why a second backend: on the CPU, scipy's pocketfft computes the float32 real transforms of a
64×256×256 grid ~1.3× faster than torch 2.13 (``benchmarks/deconv_speed.py``), and not
importing torch saves ~1.2 s of start-up and ~160 MB of resident memory per process (a
process that imports torch holds ~220 MB; one that imports what this backend needs ~60 MB). :func:`fijibridge.deconv._engine.run`
chooses this backend for the algorithms in :data:`RUNNERS` when ``device="cpu"`` (unless
``Execution(backend="torch")`` is asked for); CUDA and the other algorithms use torch.

The arithmetic is DL2's, operation for operation in float32, as in the torch runner
(:func:`fijibridge.deconv._engine._run_rl`): the two back-ends differ by FFT rounding only
(relative L2 ~5e-7 after 20 iterations, ~2e-6 after 50 on the benchmark volume; each is within
~1e-6 of DL2, whose own float32 rounding puts it 4e-7…8e-7 from an exact float64 RL).

Memory: the working set is the image ``y``, the estimate ``x``, the OTF ``H`` (half
spectrum), and one real + one half-spectrum temporary (+ pocketfft's copy of the spectrum in
the inverse transform), i.e. ~6 float32 arrays of the working grid. Element-wise steps run slab by slab (cache-sized, no full-size boolean
mask) on ``threads`` threads; numpy releases the GIL in its loops.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["RUNNERS", "default_threads", "run_numpy"]

#: voxels per element-wise work item (~1 MB of float32: stays in L2/L3 cache)
_SLAB_VOXELS = 1 << 18


def default_threads() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _Ops:
    """FFTs and slab-parallel element-wise kernels on one working grid (holds a thread pool)."""

    def __init__(self, shape, threads: int):
        import scipy.fft

        self.fft = scipy.fft
        self.shape = tuple(shape)
        self.threads = max(1, int(threads))
        lead = self.shape[0]
        per_row = int(np.prod(self.shape[1:], dtype=np.int64)) or 1
        step = max(1, _SLAB_VOXELS // per_row)
        self.slabs = [slice(i, min(i + step, lead)) for i in range(0, lead, step)]
        self.pool = ThreadPoolExecutor(self.threads) if self.threads > 1 and len(self.slabs) > 1 else None

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def fwd(self, x):
        return self.fft.rfftn(x, workers=self.threads)

    def inv(self, X):
        return self.fft.irfftn(X, s=self.shape, workers=self.threads)

    def each(self, fn, *arrays):
        """``fn(*slabs)`` on matching leading-axis slabs of ``arrays``; list of results."""
        if len(arrays[0]) != self.shape[0]:  # a half spectrum shares the leading axis
            raise ValueError(f"arrays must share the leading axis of {self.shape}")

        def one(s):
            # errstate is per thread: y / u where u ~ 0 is expected (masked to 0 after), and
            # NaN/inf from a diverging run are caught by the controller, not by warnings
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return fn(*(a[s] for a in arrays))

        if self.pool is None:
            return [one(s) for s in self.slabs]
        return list(self.pool.map(one, self.slabs))

    def norm(self, x) -> float:
        """L2 norm, float64 sum of per-slab float32 sums of squares (no BLAS thread pool)."""
        parts = self.each(lambda a: float(np.einsum("i,i->", a.ravel(), a.ravel())), x)
        return float(np.sqrt(sum(parts)))


def _ratio_kernel(eps):
    e = np.float32(eps)

    def kernel(y, u):
        # u <- y / u, and 0 where u < epsilon (DL2 RichardsonLucy)
        small = u < e
        np.divide(y, u, out=u)
        u[small] = 0.0
    return kernel


def _mul(a, b):
    np.multiply(a, b, out=a)


def _mul_conj(a, b):
    np.multiply(a, np.conjugate(b), out=a)  # a slab-sized temporary instead of a conj(H) array


def _run_rl(ops, y, h, p, eps, ctrl, **kw):
    H = ops.fwd(h)
    x = y.copy()
    ratio = _ratio_kernel(eps)
    while not ctrl.ends(x=x):
        U = ops.fwd(x)
        ops.each(_mul, U, H)
        u = ops.inv(U)
        del U
        ops.each(ratio, y, u)
        U = ops.fwd(u)
        del u
        ops.each(_mul_conj, U, H)
        u = ops.inv(U)
        del U
        ops.each(_mul, x, u)
        del u
    return x


#: algorithms with a numpy runner
RUNNERS = {"RL": _run_rl}


def run_numpy(spec, params, y, h, ctrl_factory, *, epsilon, threads):
    """Run ``spec`` on float32 numpy arrays ``y`` (not modified) and ``h`` (working PSF)."""
    ops = _Ops(y.shape, threads)
    try:
        ctrl = ctrl_factory(ops)
        x = RUNNERS[spec.name](ops, y, h, params, epsilon, ctrl)
    finally:
        ops.close()
    return x, ctrl
