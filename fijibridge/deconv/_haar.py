"""Haar wavelet shrinkage for ISTA/FISTA (torch), in DL2's form and in a corrected form
(the numpy back-end's twin, bit-identical in DL2's form: :mod:`fijibridge.deconv._haar_numpy`).

``mode="dl2"`` reproduces DeconvolutionLab2 2.1.2 (``wavelets.AbstractWavelets``,
``wavelets.haar.HaarWavelets``, ``RealSignal.thresholdSoft``) including three defects:

1. ``thresholdSoft(-t, t)`` maps a coefficient ``v <= -t`` to ``v - t`` instead of ``v + t``
   (negative coefficients are pushed *away* from zero);
2. ``split``/``merge`` on an odd length ignore the last sample and write 0 there;
3. ``synthesis`` starts from ``n // 2**(scales-1)`` and doubles, while ``analysis`` halves with
   ``max(1, n // 2)``: for a size not divisible by ``2**(scales-1)`` the levels do not match
   (27 slices: analysis 27 → 13 → 6, synthesis 6 → 12 → 24), so synthesis is not the inverse
   of analysis and the shrinkage is not a proximal step.

For sizes divisible by ``2**(scales-1)`` (and even at every level), defects 2–3 do not occur.
Defect 1 occurs always; it is what DL2 computes, so "dl2" keeps it.

``mode="orthonormal"`` is the textbook operator: an orthonormal Haar transform on any size
(an odd level keeps its last sample as an approximation coefficient), and the true soft
threshold ``sign(v) max(|v| - t, 0)``. It is a proper proximal operator, so ISTA/FISTA converge.
"""

from __future__ import annotations

import math

__all__ = ["shrinkage", "HAAR_MODES"]

HAAR_MODES = ("dl2", "orthonormal")
_Q = math.sqrt(2.0)


def _dl2_pair(torch, a, b, first, second):
    """``first = (float)((a + b) / q)``, ``second = (float)((a - b) / q)`` as DL2's Java: a
    float sum, a double division, rounded to float by the copy (~2x faster than building
    each half with ``.to()`` and assigning it, and bit-identical)."""
    first.copy_(torch.add(a, b).double().div_(_Q))
    second.copy_(torch.sub(a, b).double().div_(_Q))


def _split(torch, v, axis, mode):
    w = v.movedim(axis, -1)
    n = w.shape[-1]
    n2 = n // 2
    e = w[..., 0:2 * n2:2]
    o = w[..., 1:2 * n2:2]
    if mode == "dl2":
        out = torch.empty_like(w)
        if n % 2:
            out[..., 2 * n2:] = 0
        # Java: (float)((vin[j] + vin[j + 1]) / q): float sum, double division
        _dl2_pair(torch, e, o, out[..., :n2], out[..., n2:2 * n2])
        return out.movedim(-1, axis)
    out = torch.zeros_like(w)
    if n % 2 == 0:
        out[..., :n2] = (e + o) / _Q
        out[..., n2:2 * n2] = (e - o) / _Q
    else:  # odd: [pair sums, last sample, differences]
        out[..., :n2] = (e + o) / _Q
        out[..., n2] = w[..., n - 1]
        out[..., n2 + 1:] = (e - o) / _Q
    return out.movedim(-1, axis)


def _merge(torch, v, axis, mode):
    w = v.movedim(axis, -1)
    n = w.shape[-1]
    n2 = n // 2
    if mode == "dl2":
        out = torch.empty_like(w)
        if n % 2:
            out[..., 2 * n2:] = 0
        _dl2_pair(torch, w[..., :n2], w[..., n2:2 * n2], out[..., 0:2 * n2:2],
                  out[..., 1:2 * n2:2])
        return out.movedim(-1, axis)
    out = torch.zeros_like(w)
    if n % 2 == 0:
        a, d = w[..., :n2], w[..., n2:2 * n2]
    else:
        a, d = w[..., :n2], w[..., n2 + 1:]
        out[..., n - 1] = w[..., n2]
    out[..., 0:2 * n2:2] = (a + d) / _Q
    out[..., 1:2 * n2:2] = (a - d) / _Q
    return out.movedim(-1, axis)


def _axes(ndim):
    # DL2 order: x (last), then y, then z (first) when the image is 3D
    return [ndim - 1, ndim - 2] + ([0] if ndim == 3 else [])


def _analysis(torch, x, scales, mode):
    out = x.clone()
    sizes = list(x.shape)
    levels = []
    for _ in range(scales):
        region = tuple(slice(0, s) for s in sizes)
        sub = out[region].clone()
        done = []
        for axis in _axes(x.ndim):
            if axis == 0 and x.ndim == 3 and sizes[0] <= 1:
                continue  # DL2 splits z only when nz > 1
            if mode == "orthonormal" and sizes[axis] <= 1:
                continue
            sub = _split(torch, sub, axis, mode)
            done.append(axis)
        out[region] = sub
        levels.append((tuple(sizes), tuple(done)))
        if mode == "dl2":
            sizes = [max(1, s // 2) for s in sizes]
        else:
            sizes = [(s + 1) // 2 if ax in done else s for ax, s in enumerate(sizes)]
    return out, levels


def _synthesis(torch, w, scales, mode, levels):
    out = w.clone()
    if mode == "dl2":
        div = 2 ** (scales - 1)
        sizes = [max(1, s // div) for s in w.shape]
        for _ in range(scales):
            region = tuple(slice(0, s) for s in sizes)
            sub = out[region].clone()
            for axis in _axes(w.ndim):
                if axis == 0 and w.ndim == 3 and sizes[0] <= 1:
                    continue
                sub = _merge(torch, sub, axis, mode)
            out[region] = sub
            sizes = [s * 2 if (ax != 0 or w.ndim != 3 or s > 1) else s for ax, s in enumerate(sizes)]
        return out
    for sizes, done in reversed(levels):
        region = tuple(slice(0, s) for s in sizes)
        sub = out[region].clone()
        for axis in reversed(done):
            sub = _merge(torch, sub, axis, mode)
        out[region] = sub
    return out


def shrinkage(torch, z, threshold: float, scales: int, mode: str = "dl2"):
    """Wavelet-domain soft thresholding of ``z`` (torch tensor, 2D or 3D): ``W⁻¹ S_t W z``."""
    if scales < 1:
        return z.clone()
    w, levels = _analysis(torch, z, scales, mode)
    t = float(threshold)
    if mode == "dl2":
        # RealSignal.thresholdSoft(-t, t): v <= -t -> v - t (sic), v >= t -> v - t, else 0
        # (v <= -t is |v| >= t for v < 0; NaN compares false both ways and becomes 0)
        keep = w.abs() >= t
        w.sub_(t).masked_fill_(keep.logical_not_(), 0.0)
    else:
        w = torch.sign(w) * torch.clamp(w.abs() - t, min=0)
    return _synthesis(torch, w, scales, mode, levels)
