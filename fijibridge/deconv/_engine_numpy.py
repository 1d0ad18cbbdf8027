"""DL2's algorithms on numpy + scipy's pocketfft for the CPU, without torch: Richardson-Lucy,
RL with total variation (RLTV), the Fourier-domain iterations (LW, NNLS, BVLS, VC, TM, ICTM),
the wavelet algorithms (ISTA, FISTA: :mod:`fijibridge.deconv._haar_numpy`) and the direct
methods (NIF, RIF, TRIF, CONV, SIM). pocketfft is called
directly, without ``scipy.fft``'s front end (:mod:`fijibridge.deconv._pocketfft`).

Why a second backend: on the CPU, scipy's pocketfft computes the float32 real transforms of a
64×256×256 grid ~1.3× faster than torch 2.13 (``benchmarks/deconv_speed.py``), and not
importing torch saves ~1.2 s of start-up and ~160 MB of resident memory per process (a
process that imports torch holds ~220 MB; one that imports what this backend needs ~60 MB).
:func:`fijibridge.deconv._engine.run` chooses this backend for the algorithms in
:data:`RUNNERS` when ``device="cpu"`` (unless ``Execution(backend="torch")`` is asked for);
CUDA and MPS use torch.

The arithmetic of the iterative algorithms is DL2's, operation for operation in float32, as
in the torch runners (:func:`fijibridge.deconv._engine._run_rl`,
:func:`~fijibridge.deconv._engine._run_lw` …): the two back-ends differ by FFT rounding only
(RL: relative L2 ~5e-7 after 20 iterations, ~2e-6 after 50 on the benchmark volume; each is
within ~1e-6 of DL2, whose own float32 rounding puts it 4e-7…8e-7 from an exact float64 RL;
the Fourier-domain iterations and RLTV: 2e-7…6e-7 from each other and from DL2). The direct
methods follow DL2's own loops (the filter ``H conj(F) / |F|²`` per component, then ``Y``
times it) with their transforms in float64, since 1/H amplifies float32 FFT rounding: NIF is
then up to ~3e-5 from torch's float32 transforms, and every direct method within 6e-5 of DL2.

Memory (RL): the working set is the image ``y``, the estimate ``x``, the OTF ``H`` (half
spectrum) and one half spectrum ``B``, plus cache-sized pieces; RLTV adds its factor ``tv``
(one volume), the Fourier-domain iterations hold two spectra (three with statistics).

Speed: on a 3D grid (:class:`_Planes`) the transforms run in cache-sized pieces, Z planes
for the 2D transforms and Y columns for the Z transform, and every element-wise step runs on
a piece while it is in cache, on ``threads`` threads (numpy and pocketfft release the GIL):
RL then runs within ~10 % of the time of its own full-volume transforms
(``benchmarks/deconv_speed.py``). A 2D grid (one plane) runs on whole arrays, element-wise
steps slab by slab. The Fourier-domain iterations' closed form (:func:`_run_fourier`) and
ISTA/FISTA's Landweber step do their element-wise work inside the pieces of the Z transforms
on a 3D grid (:func:`_closed_planes`, :func:`_run_ista`), and a slab-by-slab pass in cache
between whole-array transforms otherwise; RLTV adds to RL one pass that computes its
total-variation factor in cache (:class:`_TV`). :func:`recycled_heap` lets
glibc reuse freed arrays instead of page-faulting fresh memory in for every transform.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import logging
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ._pocketfft import transforms

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


def _in_runs(ops, fn, parts):
    """``[fn(p) for p in parts]`` on ``ops``' pool, the parts in one contiguous run per thread:
    one task per thread instead of one per part (RL on 64×256×256: ~5 % less time than a
    task per part, same results)."""
    if ops.pool is None or len(parts) == 1:
        return [fn(p) for p in parts]
    k = min(ops.threads, len(parts))
    runs = [parts[i * len(parts) // k:(i + 1) * len(parts) // k] for i in range(k)]
    return [r for done in ops.pool.map(lambda run: [fn(p) for p in run], runs) for r in done]


class _Ops:
    """FFTs and slab-parallel element-wise kernels on one working grid (holds a thread pool)."""

    def __init__(self, shape, threads: int):
        self.fft = transforms()
        self.shape = tuple(shape)
        self.threads = max(1, int(threads))
        lead = self.shape[0]
        per_row = int(np.prod(self.shape[1:], dtype=np.int64)) or 1
        step = max(1, _SLAB_VOXELS // per_row)
        self.slabs = [slice(i, min(i + step, lead)) for i in range(0, lead, step)]
        self.axes = tuple(range(len(self.shape)))
        self.pool = ThreadPoolExecutor(self.threads) if self.threads > 1 and len(self.slabs) > 1 else None

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def fwd(self, x):
        return self.fft.r2c(x, self.axes, threads=self.threads)

    def inv(self, X):
        """Inverse transform of the half spectrum ``X`` (left as it is)."""
        return self.fft.c2r(X, self.axes, self.shape[-1], threads=self.threads)

    def each(self, fn, *arrays):
        """``fn(*slabs)`` on matching leading-axis slabs of ``arrays``; list of results."""
        if len(arrays[0]) != self.shape[0]:  # a half spectrum shares the leading axis
            raise ValueError(f"arrays must share the leading axis of {self.shape}")

        def one(s):
            # errstate is per thread: y / u where u ~ 0 is expected (masked to 0 after), and
            # NaN/inf from a diverging run are caught by the controller, not by warnings
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return fn(*(a[s] for a in arrays))

        return _in_runs(self, one, self.slabs)

    def norm(self, x) -> float:
        """L2 norm: float64 sum of per-slab float32 dot products (on this pool's threads)."""
        parts = self.each(lambda a: float(np.dot(a.ravel(), a.ravel())), x)
        return float(np.sqrt(sum(parts)))


def _ratio_kernel(eps):
    e = np.float32(eps)

    def kernel(y, u):
        # u <- y / u, and 0 where u < epsilon (DL2 RichardsonLucy)
        small = u < e
        np.divide(y, u, out=u)
        np.copyto(u, 0.0, where=small)  # ~1.5x faster than u[small] = 0
    return kernel


def _update_kernel(constraint, bounds, fused=True):
    """``x <- x * u`` (RLTV: ``(x * u) * tv``, DL2's order), and with ``fused`` the constraint
    and ``sum(x**2)`` of the slab while it is in cache (the controller's divergence guard then
    needs no pass of its own; without ``fused`` the controller does both)."""

    def kernel(x, u, tv=None):
        np.multiply(x, u, out=x)
        if tv is not None:
            np.multiply(x, tv, out=x)
        if not fused:
            return None
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


def _run_rl(ops, y, h, p, eps, ctrl, tv=None, **kw):
    """RL on whole arrays (element-wise steps slab by slab); with ``tv`` (:class:`_TV`), RLTV."""
    H = ops.fwd(h)
    x = y.copy()
    ratio = _ratio_kernel(eps)
    # without a residual the last pass of an iteration also applies the constraint and sums
    # x**2 for the divergence guard (one pass over x fewer per iteration)
    fused = not ctrl.spatial
    update = _update_kernel(ctrl.constraint, ctrl.bounds, fused)
    norm = None
    while not ctrl.ends(x=x, norm=norm):
        factor = () if tv is None else (tv.compute(x).reshape(x.shape),)
        U = ops.fwd(x)
        ops.each(_mul, U, H)
        u = ops.inv(U)
        del U
        ops.each(ratio, y, u)
        if tv is not None:
            tv.keep_ratio(u)
        U = ops.fwd(u)
        del u
        ops.each(_mul_conj, U, H)
        u = ops.inv(U)
        del U
        if tv is not None:
            tv.keep_correction(u)
        parts = ops.each(update, x, u, *factor)
        norm = math.sqrt(sum(parts)) if fused else None
        del u
    return x


class _Planes:
    """RL's two convolutions on a 3D grid without a full-volume pass between transforms.

    A full ``rfftn`` / ``irfftn`` pair streams the volume through memory several times, and
    each element-wise step (``U *= H``, ``y / u``, ``x *= u``) once more: on a 64×256×256
    grid those steps cost ~8 ms an iteration on 2 cores, ~18 % of the transforms' time.
    Here the same 1D transforms run in cache-sized pieces and the element-wise steps ride
    along while a piece is in cache:

    * *planes* (a few Z planes): the 2D real transform of each plane (``rfft2``), and the
      step between the inverse and the next forward transform (the ratio ``y / u``, or
      ``x *= u`` with the constraint and ``sum(x²)``);
    * *columns* (a few Y rows, all Z): the Z transform, the OTF product, the inverse Z
      transform.

    The spectrum ``B`` is the only full-size temporary. The forward transform's order
    (X, Y, then Z) differs from ``rfftn``'s (X, Z, Y): results differ from the full-volume
    runner by float32 FFT rounding only (~1e-6 relative after 50 iterations).

    The Fourier-domain iterations' closed form (:func:`_closed_planes`) and ISTA/FISTA's
    Landweber step (:func:`_run_ista`, ``B`` in complex128: float64 transforms as DL2's) use
    the same pieces (:meth:`forward`, :meth:`columns_z`, :meth:`inverse`).
    """

    def __init__(self, ops, H=None, dtype=np.complex64):
        z, y, x = ops.shape
        self.ops, self.H = ops, H
        # complex128: float64 transforms of float32 volumes (the wavelet algorithms, as DL2)
        self.B = np.empty((z, y, x // 2 + 1), dtype)
        per_plane = y * x * (1 if dtype == np.complex64 else 2)
        zc = max(1, min(_SLAB_VOXELS // per_plane, math.ceil(z / ops.threads)))
        self.planes = [slice(i, min(i + zc, z)) for i in range(0, z, zc)]
        per_row = z * self.B.shape[2] * self.B.itemsize // 4  # in float32 "voxels"
        yc = max(1, min(_SLAB_VOXELS // per_row, math.ceil(y / ops.threads)))
        self.columns = [slice(i, min(i + yc, y)) for i in range(0, y, yc)]

    def forward(self, x, B=None):
        """``B <- rfft2`` of every plane of ``x`` (into :attr:`B` unless another is given;
        in float64 where ``B`` is complex128). ``x``: an array, or a function that returns the
        planes ``s`` of the input (computed while they are in cache)."""
        fft, B = self.ops.fft, self.B if B is None else B
        wide = B.dtype == np.complex128
        piece = x if callable(x) else x.__getitem__

        def one(s):
            with np.errstate(over="ignore", invalid="ignore"):  # a diverging run: ends() tells
                v = piece(s)
            fft.r2c(v.astype(np.float64) if wide else v, (1, 2), out=B[s])
        _in_runs(self.ops, one, self.planes)

    def inverse(self):
        """The float32 volume whose planes' spectra :attr:`B` holds (``irfft2`` of each plane,
        in the precision of :attr:`B`)."""
        fft, B, width = self.ops.fft, self.B, self.ops.shape[-1]
        x = np.empty(self.ops.shape, np.float32)

        def one(s):
            x[s] = fft.c2r(B[s], (1, 2), width)
        _in_runs(self.ops, one, self.planes)
        return x

    def columns_z(self, fn, *others, transform=True):
        """Per piece of columns: the Z transform of :attr:`B` and (with ``transform``) of
        ``others`` (spectra of planes of the same shape; else full spectra, used as they
        are), ``fn(b, *other_pieces, columns)`` in cache (writes the result into ``b``), and
        the inverse Z transform of ``b``."""
        fft, B = self.ops.fft, self.B

        def one(s):
            pieces = [a[:, s] for a in (B, *others)]
            for b in pieces if transform else pieces[:1]:
                fft.c2c(b, (0,), forward=True, out=b)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                fn(*pieces, s)
            fft.c2c(pieces[0], (0,), forward=False, out=pieces[0])
        _in_runs(self.ops, one, self.columns)

    def convolve_z(self, conj: bool):
        """Finish the forward transform (Z), multiply by ``H`` (or ``conj(H)``), and undo Z."""
        fft, B, H = self.ops.fft, self.B, self.H

        def one(s):
            b = B[:, s]  # transformed where it lies: no copy in or out
            fft.c2c(b, (0,), forward=True, out=b)
            np.multiply(b, np.conjugate(H[:, s]) if conj else H[:, s], out=b)
            fft.c2c(b, (0,), forward=False, out=b)
        _in_runs(self.ops, one, self.columns)

    def through(self, kernel, *arrays, forward=True):
        """Per piece of planes: ``u = irfft2(B)``, ``kernel(u, *pieces of arrays)`` (in
        place on ``u`` or the arrays; its return values are collected), and, with
        ``forward``, ``B <- rfft2`` of what the kernel returns as the next input."""
        fft, B, width = self.ops.fft, self.B, self.ops.shape[-1]

        def one(s):
            u = fft.c2r(B[s], (1, 2), width)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                nxt, value = kernel(u, *(a[s] for a in arrays))
            if forward:
                fft.r2c(nxt, (1, 2), out=B[s])
            return value
        return _in_runs(self.ops, one, self.planes)


def _run_rl_planes(ops, y, h, p, eps, ctrl, tv=None):
    """:func:`_run_rl` for a 3D grid, by :class:`_Planes` (same arithmetic, other order)."""
    planes = _Planes(ops, ops.fwd(h))
    x = y.copy()
    ratio_kernel = _ratio_kernel(eps)
    fused = not ctrl.spatial
    update_kernel = _update_kernel(ctrl.constraint, ctrl.bounds, fused)

    def ratio(u, ys, *last_row):  # RLTV: the piece of _TV.gy_last
        ratio_kernel(ys, u)
        if last_row:
            last_row[0][...] = u[:, -1, :]
        return u, None

    def update(u, xs, *tv_and_last_column):  # RLTV: the pieces of tv and _TV.gx_last
        if tv_and_last_column:
            tv_and_last_column[1][...] = u[..., -1]
        return xs, update_kernel(xs, u, *tv_and_last_column[:1])

    norm, ready = None, False  # ready: B holds the planes' transform of x
    while not ctrl.ends(x=x, norm=norm):
        extra_ratio, extra_update = (), ()
        if tv is not None:
            extra_ratio, extra_update = (tv.gy_last,), (tv.compute(x), tv.gx_last)
        if not ready:  # first iteration, or the controller changed x (constraint)
            planes.forward(x)
        planes.convolve_z(conj=False)
        planes.through(ratio, y, *extra_ratio)
        planes.convolve_z(conj=True)
        # without a residual, the next iteration's planes are transformed in the same pass
        # (unless this is the last iteration)
        ready = fused and ctrl.iterations < ctrl.num_iter
        parts = planes.through(update, x, *extra_update, forward=ready)
        norm = math.sqrt(sum(parts)) if fused else None
    return x


def _run_rl_any(ops, y, h, p, eps, ctrl, tv=None, **kw):
    """RL: by planes on a 3D grid of several planes per thread, else on whole arrays."""
    if _by_planes(ops):
        return _run_rl_planes(ops, y, h, p, eps, ctrl, tv=tv)
    return _run_rl(ops, y, h, p, eps, ctrl, tv=tv)


def _shift_difference(a, out):
    """``out[..., :-1] = a[..., :-1] - a[..., 1:]`` on contiguous arrays, as one flat difference
    (~3x faster than over rows of n - 1); ``out[..., -1]`` is left for the caller to set."""
    flat, dst = a.reshape(-1), out.reshape(-1)
    np.subtract(flat[:-1], flat[1:], out=dst[:-1])


class _TV:
    """RLTV's total-variation factor ``tv = 1 / (1 + λ div(∇x / |∇x|))``, DL2's way.

    DL2 (``RichardsonLucyTV``) computes forward differences ``∇x`` (``x[i] - x[i+1]``), which
    leave the last column / row / plane of each gradient unwritten, and reuses the gradient
    buffers for the RL step: ``gx`` holds the correction ``u``, ``gy`` the ratio ``y / Hx``, ``gz``
    the factor ``tv``. So the last column of ``∇x`` along X is the previous iteration's ``u``
    there (the image ``y`` at the first), along Y the previous ratio, along Z the previous
    ``tv``, and the divergence's last column / row / plane is ``y``. A 2D image is DL2's
    one-plane stack: no Z difference at all, so ``gz`` is the previous ``tv`` everywhere and
    the Z divergence is ``y`` (torch runner: the same, :func:`fijibridge.deconv._engine._run_rltv`).
    These edges are kept here (:attr:`gx_last`, :attr:`gy_last`, :attr:`gz_last`) instead of
    whole buffers.

    The factor is computed on ``threads`` threads, one block of Z planes each, walked from the
    top down in chunks of a few planes, every step of a chunk while it is in cache: one pass
    over ``x`` and one over ``tv`` instead of ~20 passes over volumes. Where numba is installed
    (``fijibridge[fast]``) and pays for its start-up each block is one compiled loop instead
    (:mod:`fijibridge.deconv._numba`: bit-identical, 2.9 ms instead of 15 ms on
    64×256×256 with 2 threads).
    """

    def __init__(self, ops, y, lam, eps, iterations=1):
        self.y = y.reshape((-1,) + y.shape[-2:])  # (z, y, x); a 2D image is one plane
        nz, ny, nx = self.y.shape
        self.lam, self.eps = lam, np.float32(eps)
        self.gx_last = self.y[..., -1].copy()     # (z, y): the correction's last column
        self.gy_last = self.y[:, -1, :].copy()    # (z, x): the ratio's last row
        self.gz_last = self.y[-1].copy()          # (y, x): tv's last plane
        self.tv = np.empty_like(self.y)
        self.ops = ops
        # one block of planes per thread, walked in chunks of a few planes that stay in cache
        per = math.ceil(nz / ops.threads)
        self.blocks = [(i, min(i + per, nz)) for i in range(0, nz, per)]
        self.chunk = max(1, min(_SLAB_VOXELS // (2 * ny * nx), per))
        from ._numba import tv_block

        # the same arithmetic in one compiled loop, where numba is installed and pays
        self.compiled = tv_block(float(self.y.size) * iterations, ops.threads)

    def keep_ratio(self, u):
        """The ratio ``y / Hx`` of this iteration (whole-array runner)."""
        self.gy_last[...] = u.reshape(self.y.shape)[:, -1, :]

    def keep_correction(self, u):
        """The correction ``H^T ratio`` of this iteration (whole-array runner)."""
        self.gx_last[...] = u.reshape(self.y.shape)[..., -1]

    def compute(self, x):
        """``tv`` of the estimate ``x`` (z, y, x); returned in :attr:`tv`."""
        x = x.reshape(self.y.shape)
        if self.compiled is not None:
            lam = np.float32(self.lam)

            def block(b):
                self.compiled(x, self.y, self.gx_last, self.gy_last, self.gz_last, self.tv,
                              lam, self.eps, *b)
        else:
            def block(b):
                # errstate is per thread: NaN/inf of a diverging run reach the controller
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    self._block(x, *b)
        _in_runs(self.ops, block, self.blocks)
        self.gz_last[...] = self.tv[-1]
        return self.tv

    def _normalised(self, x, z0, z1):
        """``∇x / |∇x|`` (``epsilon`` where ``|∇x| < epsilon``) of planes ``z0:z1``: gx, gy, gz."""
        nz = x.shape[0]
        xs = x[z0:z1]
        gx = np.empty(xs.shape, np.float32)
        gy, gz = np.empty_like(gx), np.empty_like(gx)
        _shift_difference(xs, gx)
        gx[..., -1] = self.gx_last[z0:z1]
        np.subtract(xs[:, :-1], xs[:, 1:], out=gy[:, :-1])
        gy[:, -1] = self.gy_last[z0:z1]
        k = min(z1, nz - 1) - z0  # planes with a successor
        np.subtract(xs[:k], x[z0 + 1:z0 + 1 + k], out=gz[:k])
        if k < z1 - z0:
            gz[k:] = self.gz_last
        # |∇x| = sqrt((gx² + gy²) + gz²), 1 where it is below epsilon (and those get epsilon)
        norm = gx * gx
        tmp = gy * gy
        norm += tmp
        np.multiply(gz, gz, out=tmp)
        norm += tmp
        np.sqrt(norm, out=norm)
        small = norm < self.eps  # NaN is not small: it stays NaN either way (as DL2's)
        any_small = bool(small.any())
        if any_small:
            np.copyto(norm, 1.0, where=small)
        for g in (gx, gy, gz):
            np.divide(g, norm, out=g)
            if any_small:
                np.copyto(g, self.eps, where=small)
        return gx, gy, gz

    def _block(self, x, b0, b1):
        """``tv`` of planes ``b0:b1``, in chunks from the top down: the Z divergence of a
        chunk's last plane needs the normalised Z gradient of the plane above it, carried
        from the chunk above (computed for the block's top once)."""
        nz = x.shape[0]
        above = None if b1 == nz else self._normalised(x, b1, b1 + 1)[2][0]
        c1 = b1
        while c1 > b0:
            c0 = max(b0, c1 - self.chunk)
            gx, gy, gz = self._normalised(x, c0, c1)
            tv, y = self.tv[c0:c1], self.y[c0:c1]
            # tv = 1 / (((ggx + ggy) + ggz) λ + 1), gg = differences of the normalised ∇x;
            # their last column / row / plane is the image (DL2 never writes it)
            _shift_difference(gx, tv)
            tv[..., -1] = y[..., -1]
            gg = gx  # free now
            np.subtract(gy[:, :-1], gy[:, 1:], out=gg[:, :-1])
            gg[:, -1] = y[:, -1]
            tv += gg
            np.subtract(gz[:-1], gz[1:], out=gg[:-1])
            if above is None:  # the volume's last plane
                gg[-1] = y[-1]
            else:
                np.subtract(gz[-1], above, out=gg[-1])
            tv += gg
            tv *= self.lam
            tv += 1.0
            np.reciprocal(tv, out=tv)
            above, c1 = gz[0], c0


def _run_rltv(ops, y, h, p, eps, ctrl, **kw):
    """DL2's RLTV: RL whose update is ``(x * u) * tv`` (:class:`_TV`)."""
    tv = _TV(ops, y, p["reg"], eps, iterations=ctrl.num_iter)
    return _run_rl_any(ops, y, h, p, eps, ctrl, tv=tv)


# ------------------------------------------------------------ Fourier-domain iterations

class _Spectral:
    """Real (rfftn) or, where DL2's Laplacian is not Hermitian, full complex (fftn) transforms
    for the Fourier-domain runners. ``precise``: computed in float64, spectra stored in 32
    bits (as DL2 stores them), for the direct methods, whose 1/H amplifies float32 FFT
    rounding (NIF, RIF with an unnormalised PSF)."""

    def __init__(self, ops, full: bool, precise: bool = False):
        self.ops, self.full, self.precise = ops, full, precise

    def fwd(self, x):
        ops = self.ops
        if self.precise:
            x = x.astype(np.float64)
        if self.full:  # pocketfft's c2c takes real input (the Hermitian half mirrored)
            X = ops.fft.c2c(x, ops.axes, forward=True, threads=ops.threads)
        else:
            X = ops.fft.r2c(x, ops.axes, threads=ops.threads)
        return X.astype(np.complex64) if self.precise else X

    def inv(self, X, consume: bool = False):
        """The spatial estimate of ``X`` (float32); ``X`` is left as it is unless ``consume``."""
        ops = self.ops
        if self.full:  # in place: on a copy unless consumed (or already a float64 copy)
            if self.precise:
                X = X.astype(np.complex128)
            elif not consume:
                X = X.copy()
            x = ops.fft.c2c(X, ops.axes, forward=False, out=X, threads=ops.threads).real
        else:  # c2r leaves X as it is
            if self.precise:
                X = X.astype(np.complex128)
            x = ops.fft.c2r(X, ops.axes, ops.shape[-1], threads=ops.threads)
        return np.ascontiguousarray(x, dtype=np.float32)


def geometric_sum(A, m: int):
    """``A^0 + A^1 + … + A^(m-1)`` element-wise by doubling (numpy twin of
    :func:`fijibridge.deconv._engine._geometric_sum`, same operations in the same order)."""
    bits = bin(m)[3:]
    if not bits:
        return np.ones_like(A)
    S = A + 1
    P = None
    for i, bit in enumerate(bits):
        last = i == len(bits) - 1
        if i:
            S += S * P          # S_2k = S_k + S_k A^k
        if not last:
            P = A * A if P is None else np.multiply(P, P, out=P)   # A^2k
        if bit == "1":
            S *= A              # S_2k+1 = 1 + A S_2k
            S += 1
            if not last:
                P *= A
    return S


def _terms_kernel(name, p):
    """``kernel(Y, H[, L])`` for a slab: returns DL2's ``A`` and writes ``G`` into ``H``
    (Landweber: ``A = 1 - γ|H|²``, ``G = γ conj(H) Y``; Tikhonov-Miller also ``- λγ L²``;
    Van Cittert: ``A = 1 - γH``, ``G = γY``), in the float32 operations of the torch runner."""
    g = p["step"]
    if name == "VC":
        def vc(Y, H):
            A = 1.0 - g * H
            np.multiply(Y, g, out=H)
            return A
        return vc
    lam_g = -(p["reg"] * g) if name in ("TM", "ICTM") else None

    def landweber(Y, H, L=None):
        A = H.real * H.real
        A += H.imag * H.imag
        A *= -g
        A += 1.0
        if L is not None:
            A += (lam_g * L) * L
        np.conjugate(H, out=H)
        H *= g
        H *= Y
        return A
    return landweber


def _laplacian_rows(shape):
    """``(rows_of, full)``: ``rows_of(r)`` gives DL2's Laplacian for the leading-axis indices
    ``r`` (a slab) of a working grid of ``shape``, on the rfft half grid unless ``full``
    (complex transforms, where DL2's Laplacian is not Hermitian); ``rows_of(None, columns)``
    the Y indices ``columns`` (a slice) of every plane of a 3D grid. Even sizes: built piece
    by piece, in cache (:func:`~fijibridge.deconv._prepare.laplacian_even_half`), or with
    ``axes=True`` given as its separable terms (:func:`~fijibridge.deconv._prepare.
    laplacian_even_axes`, a tuple) for a loop that computes it where it needs it."""
    from ._prepare import laplacian_even_axes, laplacian_from_axes, working_laplacian

    if laplacian_even_axes(shape, slice(0, 1)) is not None:
        def even(r, columns=None, axes=False):
            terms = laplacian_even_axes(shape, None if r is None else slice(r[0], r[-1] + 1),
                                        columns)
            return terms if axes else laplacian_from_axes(*terms, len(shape))
        return even, False
    lap, full = working_laplacian(shape)
    if not full:  # Hermitian: the rfft half grid
        lap = np.ascontiguousarray(lap[..., : shape[-1] // 2 + 1])

    def cut(r, columns=None, axes=False):
        return lap[:, columns] if r is None else lap[r[0]:r[-1] + 1]
    return cut, full


def _by_planes(ops) -> bool:
    """Whether a 3D grid is worked in pieces of planes and columns (:class:`_Planes`): at
    least two planes per thread."""
    return len(ops.shape) == 3 and ops.shape[0] >= 2 * ops.threads


def _closed_step(ops, name, p, m: int, kernel):
    """``step(Hs, Ys, L)``: the closed form on a piece of the spectra, ``Hs <- G (A^0 + … +
    A^(m-1))`` (``L``: the piece of DL2's Laplacian, TM/ICTM, an array or its separable terms
    (``_laplacian_rows(..., axes=True)``); else ``None``): one compiled loop where numba is
    installed and pays (:func:`fijibridge.deconv._numba.landweber_closed`, which computes the
    Laplacian from its terms as it goes; not for VC, whose ``A`` is complex), else ``kernel``
    (:func:`_terms_kernel`) and :func:`geometric_sum`. ``step.terms``: whether it takes the
    Laplacian's terms."""
    from ._numba import landweber_closed

    voxels = float(np.prod(ops.shape))
    compiled = landweber_closed(voxels, ops.threads) if name != "VC" else None
    if compiled is None:
        def step(Hs, Ys, L):  # L: an array (step.terms is False)
            A = kernel(Ys, Hs) if L is None else kernel(Ys, Hs, L)
            Hs *= geometric_sum(A, m)
        step.terms = False
        return step
    g = np.float32(p["step"])
    lam_g = np.float32(-(p["reg"] * p["step"]) if name in ("TM", "ICTM") else 0.0)
    bits = np.array([c == "1" for c in bin(m)[3:]], np.uint8)
    no_l, no_terms = np.zeros((1, 1, 1), np.float32), np.zeros(1)

    def step(Hs, Ys, L):
        if Hs.ndim == 2:  # a 2D grid's slab: one plane
            Hs, Ys = Hs[None], Ys[None]
            if L is not None and not isinstance(L, tuple):
                L = L[None]
        terms = isinstance(L, tuple)
        mode = 0 if L is None else 2 if terms else 1
        wz, wy, wx = L if terms else (no_terms,) * 3
        compiled(_floats(Hs), _floats(Ys), no_l if mode != 1 else L, mode, wz, wy, wx, g,
                 lam_g, bits)
    step.terms = True
    return step


def _floats(Z):
    """The float32 (real, imaginary) pairs of the complex64 array ``Z`` (a view)."""
    return Z.view(np.float32).reshape(Z.shape + (2,))


def _closed_planes(ops, y, h, step, lap_rows):
    """:func:`_run_fourier`'s closed form ``X = G (A^0 + … + A^(m-1))`` on a 3D grid without a
    full-volume pass between transforms (:class:`_Planes`): the 2D transforms of ``y`` and
    ``h`` plane by plane, then per piece of columns their Z transforms, ``A``, ``G``, the
    geometric sum, ``G·S`` and the inverse Z transform while the piece is in cache, then the
    inverse 2D transforms. Same arithmetic as the whole-array form; the transforms' order
    differs (float32 FFT rounding only). ``step``: :func:`_closed_step`; ``lap_rows``: DL2's
    Laplacian (TM, ICTM: :func:`_laplacian_rows`, on the rfft half grid), else ``None``."""
    planes = _Planes(ops)
    Y = np.empty_like(planes.B)
    planes.forward(y, Y)
    planes.forward(h)  # H, then G, then the estimate's spectrum

    def closed(Hs, Ys, columns):
        step(Hs, Ys, None if lap_rows is None else lap_rows(None, columns, axes=step.terms))
    planes.columns_z(closed, Y)
    del Y
    return planes.inverse()


def _run_fourier(ops, y, h, p, eps, ctrl, *, name):
    """DL2's Fourier-domain iterations ``X_0 = G; X_k+1 = A X_k + G`` (LW, NNLS, BVLS, VC, TM,
    ICTM), as :func:`fijibridge.deconv._engine._iterate_spectrum`: in closed form,
    ``X_n = G (A^0 + … + A^n)``, where nothing observes the iterations, else the update loop.

    Every element-wise step of a slab (``A``, ``G``, the geometric sum by doubling, ``G·S``)
    runs while the slab is in cache: the work above the three transforms is one pass; on a
    3D grid none (:func:`_closed_planes`: it rides along the Z transforms).
    """
    rows = np.arange(ops.shape[0])  # a slab's rows tell its kernel which Laplacian rows to use
    lap_rows, full = _laplacian_rows(ops.shape) if name in ("TM", "ICTM") else (None, False)
    kernel = _terms_kernel(name, p)
    observed = ctrl.need_residual or (ctrl.monitor is not None and ctrl.monitor.stats)
    if not observed:
        m = ctrl.num_iter + 1
        if ctrl.monitor is not None:  # a progress display only: all iterations done at once
            for k in range(ctrl.num_iter + 1):
                ctrl.monitor.record(k, None, float("nan"))
        ctrl.iterations = ctrl.num_iter + 1
        step = _closed_step(ops, name, p, m, kernel)
        if _by_planes(ops) and not full:
            return _closed_planes(ops, y, h, step, lap_rows)
    sp = _Spectral(ops, full)
    Y = sp.fwd(y)
    GX = sp.fwd(h)  # H, then G, then the estimate's spectrum

    def terms(Ys, Hs, r):
        return kernel(Ys, Hs) if lap_rows is None else kernel(Ys, Hs, lap_rows(r))
    if not observed:
        def closed(Ys, Hs, r):
            step(Hs, Ys, None if lap_rows is None else lap_rows(r, axes=step.terms))
        ops.each(closed, Y, GX, rows)
        del Y
        return sp.inv(GX, consume=True)
    A = np.empty(GX.shape, GX.dtype if name == "VC" else np.float32)

    def split(Ys, Hs, As, r):
        As[...] = terms(Ys, Hs, r)
    ops.each(split, Y, GX, A, rows)
    del Y
    G, X = GX, GX.copy()

    def update(Xs, As, Gs):
        Xs *= As
        Xs += Gs
    while not ctrl.ends(X=X, fft=sp):
        ops.each(update, X, A, G)
    return sp.inv(X, consume=True)


# ---------------------------------------------------------------- wavelet shrinkage

def _momentum(x, prev, w, diff=None, out=None):
    """FISTA's ``s = x + w (x - x_prev)`` in DL2's float32 order: the difference into ``diff``
    (new if ``None``), the sum into ``out`` (``diff`` if ``None``)."""
    d = np.subtract(x, prev, out=diff)
    d *= w
    return np.add(x, d, out=d if out is None else out)


def _fused_momentum(ops, ctrl) -> bool:
    """Whether FISTA computes its momentum inside the next step's plane transforms: on a 3D
    grid (:class:`_Planes`) without a constraint (which ends() applies to ``x`` in place)."""
    return _by_planes(ops) and ctrl.constraint == "no"


def _run_ista(ops, y, h, p, eps, ctrl, *, fast, haar="dl2"):
    """DL2's ISTA and FISTA (:func:`fijibridge.deconv._engine._run_ista`): a Landweber step in
    the Fourier domain, then the Haar shrinkage (:class:`~._haar_numpy.Shrinkage`, on this
    pool's threads); FISTA's momentum in one slab-by-slab pass (on a 3D grid without a
    constraint, inside the next step's transform of the planes instead). Transforms in float64 with
    spectra stored in 32 bits, as DL2 computes them. On a 3D grid the step's transforms run
    by planes and columns (:class:`_Planes`): the 3D spectrum is rounded to 32 bits, stepped
    and widened again per piece of columns while in cache, instead of five passes over
    full-size float64 and complex arrays (FISTA 20 on 64×256×256: 2.0 → 1.45 s on 2 cores;
    the float64 rounding of the other transform order leaves the float32 results equal
    wherever DL2's shrinkage is continuous, ``tests/deconv/test_backends.py``)."""
    from ._engine import fista_momentum
    from ._haar_numpy import Shrinkage

    sp = _Spectral(ops, full=False, precise=True)
    Y = sp.fwd(y)
    G = sp.fwd(h)  # H, then G = γ conj(H) Y
    A = np.empty(G.shape, np.float32)
    landweber = _terms_kernel("LW", p)

    def terms(Ys, Hs, As):
        As[...] = landweber(Ys, Hs)
    ops.each(terms, Y, G, A)
    del Y
    threshold = float(np.float32(p["reg"] * p["step"] * 0.5))
    from ._numba import haar_loops

    # the Haar pairs and the thresholding as compiled loops, where numba is installed and pays
    loops = haar_loops(float(np.prod(ops.shape)) * ctrl.num_iter, ops.threads) or (None, None)
    shrink = Shrinkage(ops.shape, p["scales"], haar, lambda fn, parts: _in_runs(ops, fn, parts),
                       *loops)

    def step(Zs, As, Gs):  # Z = A Z + G
        Zs *= As
        Zs += Gs

    if _by_planes(ops):  # transforms by planes and columns, the step in cache (_Planes)
        planes = _Planes(ops, dtype=np.complex128)

        def step_columns(b, As, Gs, columns):  # the spectrum stored in 32 bits, as DL2's
            Zs = b.astype(np.complex64)
            step(Zs, As, Gs)
            b[...] = Zs

        def estimate(s):
            planes.forward(s)
            planes.columns_z(step_columns, A, G, transform=False)
            return shrink(planes.inverse(), threshold)
    else:
        def estimate(s):
            Z = sp.fwd(s)
            ops.each(step, Z, A, G)
            return shrink(sp.inv(Z, consume=True), threshold)

    x = sp.inv(G)
    if not fast:
        while not ctrl.ends(x=x):
            x = estimate(x)
        return x
    pk1 = np.float32(1.0)
    if _fused_momentum(ops, ctrl):
        # the momentum s = x + w (x - x_prev) computed piece by piece as the next step's
        # transform reads it: s is never stored (ends() leaves x as it is without a constraint)
        xprev, w = None, None
        while not ctrl.ends(x=x):
            if w is None:  # the first step starts from x itself
                source = x
            else:
                def source(sl, xc=x, xp=xprev, wk=w):
                    return _momentum(xc[sl], xp[sl], wk)
            xprev, x = x, estimate(source)
            pk1, w = fista_momentum(pk1)
        return x
    s, xprev = x.copy(), x.copy()
    # ends() applies a constraint to x in place; the momentum uses x as the shrinkage left it
    keep_prev = ctrl.constraint != "no"
    while not ctrl.ends(x=x):
        x = estimate(s)
        pk1, w = fista_momentum(pk1)

        def momentum(xs, ps, ss, w=w):  # the difference into x_prev's slab, no longer needed
            _momentum(xs, ps, w, diff=ps, out=ss)
        ops.each(momentum, x, xprev, s)
        if keep_prev:
            np.copyto(xprev, x)
        else:
            xprev = x
    return x


# ------------------------------------------------------------------------ direct methods

def _direct_kernel(name, p, eps):
    """``kernel(Y, H, L)`` for a slab: DL2's filter, the estimate's spectrum written into ``Y``
    (``H`` is clobbered), in the float32 operations and order of DL2's loops
    (``NaiveInverseFilter`` / ``Operations.divideStabilized``, ``RegularizedInverseFilter``
    and ``TikhonovRegularizedInverseFilter.filter``): the filter ``T = H conj(F) / |F|²``,
    its real and imaginary parts each divided by the real ``|F|²``, then ``X = Y T``."""
    e = np.float32(eps)
    e2 = np.float32(eps * eps)

    def divide(Z, mag):  # each component by the real magnitude, as DL2's loops
        v = Z.view(np.float32).reshape(Z.shape + (2,))
        np.divide(v, mag[..., None], out=v)

    def squared_magnitude(F):
        mag = F.real * F.real
        mag += F.imag * F.imag
        return mag

    if name in ("CONV", "SIM"):
        def conv(Y, H, L):
            Y *= H
        return conv
    if name == "NIF":
        def nif(Y, H, L):  # X = Y conj(H) / max(|H|², ε)
            mag = squared_magnitude(H)
            np.maximum(mag, e, out=mag)
            Y *= np.conjugate(H, out=H)
            divide(Y, mag)
        return nif
    reg = p["reg"]

    def regularised(Y, H, L):  # RIF: F = H² + λL² (|F|² at least ε); TRIF: F = H² + λ
        F = H * H
        if L is None:
            F.real += reg
        else:
            F.real += reg * (L * L)
        mag = squared_magnitude(F)
        if L is None:  # TRIF: |F|² below ε² becomes ε²
            np.copyto(mag, e2, where=~(mag >= e2))
        else:
            np.maximum(mag, e, out=mag)
        H *= np.conjugate(F, out=F)
        divide(H, mag)
        Y *= H
    return regularised


def _run_direct(ops, y, h, p, eps, ctrl, *, name, rng=None):
    """DL2's direct methods (NIF, RIF, TRIF, CONV, SIM): two transforms, one slab-by-slab
    pass in cache, one inverse transform; the transforms in float64 (:class:`_Spectral`):
    float32 ones put A_RIF_norm_no 1.3e-4 from DL2, float64 ones 5.8e-5 (DL2's own float32
    rounding), NIF 7e-6 → 6e-6."""
    rows = np.arange(ops.shape[0])
    lap_rows, full = _laplacian_rows(ops.shape) if name == "RIF" else (None, False)
    sp = _Spectral(ops, full, precise=True)
    Y, H = sp.fwd(y), sp.fwd(h)
    kernel = _direct_kernel(name, p, eps)

    def one(Ys, Hs, r):
        kernel(Ys, Hs, None if lap_rows is None else lap_rows(r))
    ops.each(one, Y, H, rows)
    del H
    x = sp.inv(Y, consume=True)
    if name == "SIM":
        from ._engine import add_sim_noise

        x = add_sim_noise(x, p, eps, rng)
    return x


def _direct(name):
    def run(ops, y, h, p, eps, ctrl, rng=None, **kw):
        return _run_direct(ops, y, h, p, eps, ctrl, name=name, rng=rng)
    return run


def _fourier(name):
    def run(ops, y, h, p, eps, ctrl, **kw):
        return _run_fourier(ops, y, h, p, eps, ctrl, name=name)
    return run


def _wavelets(fast):
    def run(ops, y, h, p, eps, ctrl, haar="dl2", **kw):
        return _run_ista(ops, y, h, p, eps, ctrl, fast=fast, haar=haar)
    return run


#: algorithms with a numpy runner
RUNNERS = {"RL": _run_rl_any, "RLTV": _run_rltv,
           **{n: _fourier(n) for n in ("LW", "NNLS", "BVLS", "VC", "TM", "ICTM")},
           "ISTA": _wavelets(False), "FISTA": _wavelets(True),
           **{n: _direct(n) for n in ("NIF", "RIF", "TRIF", "CONV", "SIM")}}


# glibc mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
#: what glibc's own dynamic thresholds grow to (64-bit): left in place after a run
_GLIBC_MMAP_MAX, _GLIBC_TRIM_AFTER = 32 * 2**20, 64 * 2**20


@functools.cache
def _libc():
    """glibc, or ``None`` (looked up once: ``find_library`` runs ``ldconfig``, ~1.5 ms)."""
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

    A full-volume transform returns a new array; by default glibc serves arrays of
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


def run_numpy(spec, params, y, h, ctrl_factory, *, epsilon, threads, rng=None, haar="dl2"):
    """Run ``spec`` on float32 numpy arrays ``y`` (not modified) and ``h`` (working PSF);
    ``ctrl_factory(ops)`` makes the controller of an iterative algorithm (``None`` for a
    direct method); ``rng``: the noise of SIM; ``haar``: ISTA/FISTA's shrinkage. Returns
    ``(x, ctrl, norm)``: ``norm`` is ``||x||`` of an iterative method's estimate (on the
    pool's threads), else ``None``."""
    ops = _Ops(y.shape, threads)
    # the largest working array: a full spectrum (TM/ICTM/RIF need one on some odd sizes), in
    # complex128 for the direct methods' float64 transforms
    spectrum = int(np.prod(y.shape, dtype=np.int64)) * (8 if spec.iterative else 16)
    try:
        with recycled_heap(spectrum):
            ctrl = ctrl_factory(ops)
            x = RUNNERS[spec.name](ops, y, h, params, epsilon, ctrl, rng=rng, haar=haar)
            norm = None if ctrl is None else ops.norm(x)
    finally:
        ops.close()
    return x, ctrl, norm
