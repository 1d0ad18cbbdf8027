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
spectrum), and one real + one half-spectrum temporary (the inverse transform works in the
spectrum it consumes, ``overwrite_x``), i.e. ~5 float32 arrays of the working grid.
Element-wise steps run slab by slab (cache-sized, no full-size boolean mask) on ``threads``
threads; numpy releases the GIL in its loops. The last one of an iteration also applies the
constraint and sums ``x²`` for the divergence guard while the slab is in cache.

Speed: each transform returns a new array; :func:`recycled_heap` lets glibc reuse the freed
ones instead of page-faulting fresh memory in for every transform. RL then runs within ~10 %
of the time of its own transforms (``benchmarks/deconv_speed.py``).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["RUNNERS", "default_threads", "recycled_heap", "run_numpy"]

log = logging.getLogger(__name__)

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
        """Inverse transform; ``X`` is consumed (pocketfft works in it instead of a copy)."""
        return self.fft.irfftn(X, s=self.shape, workers=self.threads, overwrite_x=True)

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
        np.copyto(u, 0.0, where=small)  # ~1.5x faster than u[small] = 0
    return kernel


def _update_kernel(constraint, bounds):
    """``x <- x * u``, the constraint, and ``sum(x**2)`` of the slab while it is in cache (the
    controller's divergence guard then needs no pass of its own)."""

    def kernel(x, u):
        np.multiply(x, u, out=x)
        if constraint == "nonnegativity":
            np.maximum(x, 0, out=x)
        elif constraint == "clipped":
            np.clip(x, bounds[0], bounds[1], out=x)
        a = x.ravel()
        return float(np.dot(a, a))
    return kernel


def _mul(a, b):
    np.multiply(a, b, out=a)


def _mul_conj(a, b):
    np.multiply(a, np.conjugate(b), out=a)  # a slab-sized temporary instead of a conj(H) array


def _run_rl(ops, y, h, p, eps, ctrl, **kw):
    H = ops.fwd(h)
    x = y.copy()
    ratio = _ratio_kernel(eps)
    # without a residual the last pass of an iteration also applies the constraint and sums
    # x**2 for the divergence guard (one pass over x fewer per iteration)
    fused = not ctrl.spatial
    update = _update_kernel(ctrl.constraint, ctrl.bounds) if fused else None
    norm = None
    while not ctrl.ends(x=x, norm=norm):
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
        if fused:
            norm = math.sqrt(sum(ops.each(update, x, u)))
        else:
            ops.each(_mul, x, u)
        del u
    return x


#: algorithms with a numpy runner
RUNNERS = {"RL": _run_rl}


# glibc mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: what glibc's own dynamic thresholds grow to (64-bit): left in place after a run
_GLIBC_MMAP_MAX, _GLIBC_TRIM_AFTER = 32 * 2**20, 64 * 2**20


def _libc():
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - not glibc/Linux
        return None
    try:
        libc = ctypes.CDLL(name)
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:  # pragma: no cover
        return None


@contextlib.contextmanager
def recycled_heap(array_bytes: int):
    """Let glibc reuse the memory of freed working arrays instead of returning it to the OS.

    scipy.fft returns a new array from every transform; by default glibc serves arrays of
    more than ~32 MB with ``mmap`` and unmaps them when freed (smaller ones from the heap,
    which it trims), so every transform page-faults its output in afresh: on a 64×256×256
    grid that costs as much as a third of the transform itself. Inside this context arrays
    up to ``array_bytes`` come from the heap and freed ones are kept for the next
    transform. Afterwards the heap is trimmed (``malloc_trim``) and the thresholds left at
    the values glibc's dynamic thresholds grow to on their own (mmap above 32 MB, trim at
    64 MB). Not glibc (macOS, musl): nothing is changed.
    """
    libc = _libc()
    if libc is None:
        log.debug("not glibc: the allocator's thresholds are left as they are")
        yield False
        return
    want = max(_GLIBC_MMAP_MAX, int(array_bytes) + (1 << 20))
    ok = libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(min(want, 2**31 - 1))) == 1
    if not ok:  # an older glibc refuses thresholds above 32 MB
        ok = libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(_GLIBC_MMAP_MAX)) == 1
    libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(min(8 * want, 2**31 - 1)))
    try:
        yield ok
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(_GLIBC_MMAP_MAX))
        libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(_GLIBC_TRIM_AFTER))
        libc.malloc_trim(ctypes.c_size_t(0))


def run_numpy(spec, params, y, h, ctrl_factory, *, epsilon, threads):
    """Run ``spec`` on float32 numpy arrays ``y`` (not modified) and ``h`` (working PSF)."""
    ops = _Ops(y.shape, threads)
    # the largest working array: the half spectrum (complex64)
    spectrum = int(np.prod(y.shape[:-1], dtype=np.int64)) * (y.shape[-1] // 2 + 1) * 8
    try:
        with recycled_heap(spectrum):
            ctrl = ctrl_factory(ops)
            x = RUNNERS[spec.name](ops, y, h, params, epsilon, ctrl)
    finally:
        ops.close()
    return x, ctrl
