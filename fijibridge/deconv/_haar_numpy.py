"""Haar wavelet shrinkage for the numpy back-end's ISTA/FISTA: the operator of
:mod:`fijibridge.deconv._haar` (DL2's form with its defects, or the orthonormal one; see there),
computed in cache-sized blocks on the back-end's thread pool.

DL2 computes each Haar pair as ``(float)((a + b) / q)``: a float sum, a double division by
``q = Math.sqrt(2)``, rounded to float. Here the sum is a float32 ufunc and the division a
float64 multiplication by ``1 / q`` writing float32 (numpy converts in cache-sized buffers,
no float64 copy of the volume): for every finite float32 ``s``, ``(float)(s * (1 / q))`` is
``(float)(s / q)`` (checked exhaustively, ``tests/deconv/test_haar_numpy.py``), and the
multiplication costs 2.8 ms per 4M values where the division costs 4.4 ms.

Every level transforms its region axis by axis from one buffer into the other: x and y on a
block of whole planes while the block is in cache, then z on a block of rows through all
planes. A shrinkage is ~2 passes over memory per level instead of a dozen whole-array
operations.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["Shrinkage"]

_Q = math.sqrt(2.0)
#: ``1 / q`` in double (not ``math.sqrt(0.5)``, which is one ulp above it)
_R = 1.0 / _Q
#: bytes of a work item (a few planes, or a few rows through all planes), read from one
#: buffer and written to the other: 2 MB in all, in L2 (the shrinkage of 64×256×256 on 2
#: threads: 128 KB blocks 43 ms, 512 KB 29 ms, 1 MB 28 ms, 4 MB 31 ms)
_BLOCK_BYTES = 1 << 20


def _along(ndim: int, axis: int, s: slice):
    idx = [slice(None)] * ndim
    idx[axis] = s
    return tuple(idx)


def _pair(a, b, first, second, dl2: bool, both=None):
    """``first = (a + b) / √2``, ``second = (a - b) / √2``: DL2's float sum then double
    division rounded to float; orthonormal: float32 throughout (as the torch twin).
    ``both``: a view covering exactly ``first`` and ``second`` (scaled in one call)."""
    np.add(a, b, out=first)
    np.subtract(a, b, out=second)
    for out in ((both,) if both is not None else (first, second)):
        if dl2:
            np.multiply(out, _R, out=out, dtype=np.float64)
        else:
            np.divide(out, np.float32(_Q), out=out)


def _split(src, dst, axis: int, dl2: bool, pair=_pair):
    """One analysis step along ``axis``: ``src`` → ``dst`` (same shape, distinct memory)."""
    n = src.shape[axis]
    n2 = n // 2
    nd = src.ndim
    e, o = src[_along(nd, axis, slice(0, 2 * n2, 2))], src[_along(nd, axis, slice(1, 2 * n2, 2))]
    if dl2 or n % 2 == 0:  # DL2 writes 0 at an odd length's last sample
        pair(e, o, dst[_along(nd, axis, slice(0, n2))],
             dst[_along(nd, axis, slice(n2, 2 * n2))], dl2,
             both=dst[_along(nd, axis, slice(0, 2 * n2))])
        if n % 2:
            dst[_along(nd, axis, slice(2 * n2, None))] = 0
        return
    # orthonormal, odd: [pair sums, last sample (an approximation coefficient), differences]
    pair(e, o, dst[_along(nd, axis, slice(0, n2))],
         dst[_along(nd, axis, slice(n2 + 1, None))], dl2)
    dst[_along(nd, axis, slice(n2, n2 + 1))] = src[_along(nd, axis, slice(n - 1, n))]


def _merge(src, dst, axis: int, dl2: bool, pair=_pair):
    """One synthesis step along ``axis``: ``src`` → ``dst`` (the inverse of :func:`_split`
    where DL2's levels match)."""
    n = src.shape[axis]
    n2 = n // 2
    nd = src.ndim
    a = src[_along(nd, axis, slice(0, n2))]
    # DL2: details at [n2, 2 n2) (an odd length's last sample ignored); orthonormal, odd:
    # after the middle sample, the approximation coefficient kept by _split
    d = src[_along(nd, axis, slice(n2, 2 * n2) if dl2 else slice(n - n2, n))]
    pair(a, d, dst[_along(nd, axis, slice(0, 2 * n2, 2))],
         dst[_along(nd, axis, slice(1, 2 * n2, 2))], dl2,
         both=dst[_along(nd, axis, slice(0, 2 * n2))])
    if n % 2:
        dst[_along(nd, axis, slice(n - 1, n))] = (
            0 if dl2 else src[_along(nd, axis, slice(n2, n2 + 1))])


def _blocks(length: int, item_bytes: int):
    step = max(1, _BLOCK_BYTES // max(1, item_bytes))
    return [slice(i, min(i + step, length)) for i in range(0, length, step)]


class Shrinkage:
    """``W⁻¹ S_t W z`` for arrays of ``shape`` (2D or 3D float32), in ``z`` and one scratch
    array.

    ``run_parts(fn, parts)``: runs ``fn`` on each part (the back-end's thread pool);
    ``mode``: ``"dl2"`` or ``"orthonormal"`` (:mod:`fijibridge.deconv._haar`).
    """

    def __init__(self, shape, scales: int, mode: str, run_parts, pair=None, soft=None):
        self.shape = tuple(shape)
        # ``pair``, ``soft``: the same arithmetic as _pair and the thresholding below, another
        # implementation (numba's loops: fijibridge.deconv._numba.haar_loops)
        self.pair = _pair if pair is None else pair
        self.soft = soft
        self.scales = int(scales)
        self.dl2 = mode == "dl2"
        self._run_parts = run_parts
        self.tmp = np.empty(self.shape, np.float32)
        self.analysis, self.synthesis = self._levels()

    def run_parts(self, fn, parts):
        def one(p):
            # a diverging run's inf/NaN are for the controller to catch, not warnings (errstate
            # is per thread)
            with np.errstate(invalid="ignore", over="ignore"):
                return fn(p)
        return self._run_parts(one, parts)

    def _axes(self, sizes):
        """DL2's order: x (last), y, then z when there is more than one slice."""
        nd = len(sizes)
        axes = [nd - 1, nd - 2] + ([0] if nd == 3 else [])
        if self.dl2:
            return [a for a in axes if not (nd == 3 and a == 0 and sizes[0] <= 1)]
        return [a for a in axes if sizes[a] > 1]

    def _levels(self):
        """(region sizes, axes) of each analysis level and of each synthesis level, in order."""
        sizes, analysis = list(self.shape), []
        for _ in range(self.scales):
            done = self._axes(sizes)
            analysis.append((tuple(sizes), done))
            if self.dl2:
                sizes = [max(1, s // 2) for s in sizes]
            else:
                sizes = [(s + 1) // 2 if ax in done else s for ax, s in enumerate(sizes)]
        if not self.dl2:
            return analysis, [(s, list(reversed(d))) for s, d in reversed(analysis)]
        # DL2's synthesis starts from n // 2**(scales-1) and doubles: not the inverse of the
        # analysis where a size is not divisible by it (see _haar's defect 3)
        div = 2 ** (self.scales - 1)
        sizes, synthesis = [max(1, s // div) for s in self.shape], []
        three = len(self.shape) == 3
        for _ in range(self.scales):
            synthesis.append((tuple(sizes), self._axes(sizes)))
            sizes = [s * 2 if (ax != 0 or not three or s > 1) else s for ax, s in enumerate(sizes)]
        return analysis, synthesis

    def _level(self, x, spare, sizes, axes, step):
        """Transform the region ``sizes`` of ``x`` along ``axes`` in order (``step``: _split or
        _merge), between ``x`` and ``spare``; returns ``(result, spare)``. Axes other than the
        leading one run together on blocks of leading-axis planes, the leading one on blocks of
        rows through all planes. A region that is the whole array may end in ``spare`` (the
        two swap roles); a smaller one is copied back into ``x``, which holds the rest."""
        dl2, nd = self.dl2, x.ndim
        region = tuple(slice(0, s) for s in sizes)
        a, b = x[region], spare[region]
        groups = []
        for ax in axes:
            if ax != 0 and groups and groups[-1][0] != 0:
                groups[-1].append(ax)
            else:
                groups.append([ax])
        total = int(np.prod(sizes))
        cur, other = a, b
        for group in groups:
            along = 1 if group[0] == 0 else 0

            def work(s, src=cur, dst=other, group=group, along=along):
                idx = _along(nd, along, s)
                src, dst = src[idx], dst[idx]
                for ax in group:
                    step(src, dst, ax, dl2, pair=self.pair)
                    src, dst = dst, src
            self.run_parts(work, _blocks(sizes[along], total // sizes[along] * 4))
            if len(group) % 2:
                cur, other = other, cur
        if cur is a:
            return x, spare
        if tuple(sizes) == x.shape:
            return spare, x
        self.run_parts(lambda s: np.copyto(a[s], b[s]), _blocks(sizes[0], total // sizes[0] * 4))
        return x, spare

    def __call__(self, z, threshold: float):
        """Shrink ``z`` (float32, C-contiguous, ``shape``) and return the result: ``z`` itself
        or this object's scratch array, which ``z`` then replaces (``z`` is consumed: it may be
        written by a later call)."""
        if self.scales < 1:
            return z
        spare = self.tmp
        for sizes, axes in self.analysis:
            z, spare = self._level(z, spare, sizes, axes, _split)
        t = np.float32(threshold)
        dl2 = self.dl2
        flat = z.reshape(-1)

        def shrink(s):
            w = flat[s]
            if self.soft is not None:
                self.soft(w, t, dl2)
            elif dl2:  # RealSignal.thresholdSoft(-t, t): v <= -t → v - t (sic), v >= t → v - t
                mag = np.abs(w)
                keep = np.greater_equal(mag, t)
                if np.isnan(mag.max()):  # NaN becomes 0 (NaN >= t is false), not NaN·0
                    w[np.isnan(mag)] = t
                np.subtract(w, t, out=mag)
                np.multiply(mag, keep, out=w)  # 3× faster than copyto(..., where=)
            else:  # sign(v) max(|v| - t, 0)
                mag = np.abs(w)
                mag -= t
                np.maximum(mag, 0, out=mag)
                np.copysign(mag, w, out=w)
        self.run_parts(shrink, _blocks(flat.size, 4))
        for sizes, axes in self.synthesis:
            z, spare = self._level(z, spare, sizes, axes, _merge)
        self.tmp = spare
        return z
