"""The numba loops of :mod:`fijibridge.deconv._numba` (imported only where numba is installed
and wanted; see there for what they compute and how they match the numpy kernels)."""

from __future__ import annotations

import math

import numba
import numpy as np

#: no fastmath: numba then contracts no multiply-add into an FMA (the numpy kernels' float32
#: operations, one rounding each); the GIL released, for the back-end's thread pool
_jit = numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=False)


@_jit
def tv_block(x, y, gx_last, gy_last, gz_last, tv, lam, eps, b0, b1):
    """``tv`` of planes ``b0:b1`` (``_TV._block``): walked from the top down, each plane's
    ``∇x / |∇x|`` computed once (``_TV._normalised``), the Z divergence from the normalised Z
    gradient of the plane above in the walk (plane ``z + 1``), carried. One function (no
    call to another jitted one: numba's cache then loads it in ~5 ms)."""
    nz, ny, nx = x.shape
    one = np.float32(1.0)
    gxn = np.empty((ny, nx), np.float32)
    gyn = np.empty((ny, nx), np.float32)
    gzn = np.empty((ny, nx), np.float32)
    above = np.empty((ny, nx), np.float32)  # the normalised Z gradient of plane z + 1
    top = b1 if b1 < nz else b1 - 1  # plane b1 only for its normalised Z gradient
    for z in range(top, b0 - 1, -1):
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
        if z < b1:
            for j in range(ny):
                for i in range(nx):
                    s = gxn[j, i] - gxn[j, i + 1] if i < nx - 1 else y[z, j, nx - 1]
                    s = s + (gyn[j, i] - gyn[j + 1, i] if j < ny - 1 else y[z, ny - 1, i])
                    s = s + (gzn[j, i] - above[j, i] if z < nz - 1 else y[z, j, i])
                    tv[z, j, i] = one / (s * lam + one)
        gzn, above = above, gzn


@_jit
def landweber_closed(H, Y, L, mode, wz, wy, wx, g, lam_g, bits):
    """``H`` (float32 pairs, any strides) ← ``γ conj(H) Y · (A^0 + … + A^(m-1))``;
    ``bits``: the doubling steps of :func:`~fijibridge.deconv._engine_numpy.geometric_sum`
    (``bin(m)[3:]``). DL2's Laplacian (TM, ICTM): ``mode`` 0 none, 1 the array ``L``, 2 from
    its float64 terms, ``float32((wy[j] + wx[i]) + wz[k])`` (``laplacian_even_axes``: the
    same value as the array). Row by row, each step a simple loop over the row (vectorised)."""
    one = np.float32(1.0)
    nb = bits.size
    n0, n1, n2 = H.shape[0], H.shape[1], H.shape[2]
    a = np.empty(n2, np.float32)
    s = np.empty(n2, np.float32)
    p = np.empty(n2, np.float32)
    xr = np.empty(n2, np.float32)
    xi = np.empty(n2, np.float32)
    for k in range(n0):
        for j in range(n1):
            h, yv = H[k, j], Y[k, j]
            for i in range(n2):
                hr, hi = h[i, 0], h[i, 1]
                v = hr * hr
                v = v + hi * hi
                v = v * -g
                a[i] = v + one
                gr = hr * g                 # conj(H) γ
                gi = -hi * g
                yr, yi = yv[i, 0], yv[i, 1]
                xr[i] = gr * yr - gi * yi   # G = conj(H) γ Y
                xi[i] = gr * yi + gi * yr
            if mode == 1:
                lv = L[k, j]
                for i in range(n2):
                    a[i] = a[i] + (lam_g * lv[i]) * lv[i]
            elif mode == 2:
                wzk, wyj = wz[k], wy[j]
                for i in range(n2):
                    v = np.float32((wyj + wx[i]) + wzk)
                    a[i] = a[i] + (lam_g * v) * v
            if nb == 0:
                s[:] = one
            else:
                for i in range(n2):
                    s[i] = a[i] + one
                for b in range(nb):
                    last = b == nb - 1
                    if b:
                        for i in range(n2):
                            s[i] = s[i] + s[i] * p[i]
                    if not last:
                        if b == 0:
                            for i in range(n2):
                                p[i] = a[i] * a[i]
                        else:
                            for i in range(n2):
                                p[i] = p[i] * p[i]
                    if bits[b]:
                        for i in range(n2):
                            s[i] = s[i] * a[i]
                        for i in range(n2):
                            s[i] = s[i] + one
                        if not last:
                            for i in range(n2):
                                p[i] = p[i] * a[i]
            for i in range(n2):
                h[i, 0] = xr[i] * s[i]
                h[i, 1] = xi[i] * s[i]


@_jit
def haar_pair(a, b, first, second, dl2, q, r):
    """``first = (a + b) / √2``, ``second = (a - b) / √2`` on 3D views of any strides
    (``_haar_numpy._pair``): DL2's float32 sum then float64 product by ``r = 1 / √2`` rounded
    to float32, or (orthonormal) float32 division by ``q = float32(√2)``; one pass instead of
    numpy's three (the float64 product through conversion buffers)."""
    n0, n1, n2 = a.shape
    for k in range(n0):
        for j in range(n1):
            for i in range(n2):
                s = a[k, j, i] + b[k, j, i]
                d = a[k, j, i] - b[k, j, i]
                if dl2:
                    first[k, j, i] = np.float32(np.float64(s) * r)
                    second[k, j, i] = np.float32(np.float64(d) * r)
                else:
                    first[k, j, i] = s / q
                    second[k, j, i] = d / q


@_jit
def haar_soft(w, t, dl2):
    """The shrinkage of the flat coefficients ``w`` in place (``Shrinkage.__call__``): DL2's
    ``thresholdSoft`` (``|v| >= t`` → ``v - t``, else ``(v - t)·0``; NaN → 0) or the
    orthonormal ``copysign(max(|v| - t, 0), v)`` (NaN stays NaN), the numpy path's values."""
    zero = np.float32(0.0)
    for i in range(w.size):
        v = w[i]
        m = abs(v)
        if dl2:
            if m != m:
                w[i] = zero
            elif m >= t:
                w[i] = v - t
            else:
                w[i] = (v - t) * zero
        else:
            m = m - t
            if m < zero:
                m = zero
            w[i] = np.float32(math.copysign(m, v))
