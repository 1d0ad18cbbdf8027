"""ImageJ's 16 automatic threshold methods, reproducing ``setAutoThreshold`` exactly.

:func:`threshold` returns the ``(lower, upper)`` pair that ImageJ 1.x reports with
``setAutoThreshold("<Method> [dark] [stack]"); getThreshold(lower, upper);`` for the
same pixels: same 256-bin histogram, same arithmetic (including ImageJ's integer
overflow and tie-breaking quirks), same mapping of the bin back to pixel values.

ImageJ's histogram conventions (ImageJ 1.53t, ``ij/process``), reproduced here:

* **8-bit**: one bin per grey value; ``(lower, upper)`` are bin numbers.
* **16-bit** (one plane): the display range is reset to the plane's min and max, the
  plane is converted to 8 bits with ``bin = min(int((v - min) * 256 / (max - min + 1)
  + 0.5), 255)`` (``TypeConverter``), the threshold bin ``t`` is mapped back with
  ``min + t / 255 * (max - min)`` and rounded to an integer (``ShortProcessor``).
  ``lower`` is 0 for a light background and ``upper`` 65535 for a dark one.
* **32-bit** (one plane): ``bin = min(int((v - min) * 255 / (max - min) + 0.5), 255)``
  with min and max ignoring NaN (NaN pixels fall into bin 0, as in ImageJ); mapped
  back without rounding; ``lower`` is ``-1e30`` for a light background and ``upper``
  ``1e30`` for a dark one.  A plane with +inf/-inf pixels raises ``ValueError``: ImageJ
  1.53t reports ``-Infinity``/``NaN`` for it (checked with the real ImageJ), which is no
  threshold; its *stack* histogram leaves infinite pixels out, and so does ``stack=True``.
* An all-zero 16- or 32-bit image gets no threshold: ``(-1.0, -1.0)``, ImageJ's
  ``getThreshold`` value for "not thresholded".
* **stack** (``stack=True``): one histogram of all planes (``StackStatistics``):
  8-bit sums the planes' histograms; 16-bit bins ``int((v - min) * 256 / (max - min))``;
  32-bit bins ``int(256 * (v - min) / (max - min))`` over the finite pixels. Both ends
  are mapped back with ``min + t / 255 * (max - min)``.

Without ``stack``, ImageJ thresholds the *current* plane of a stack, which is plane 1
for an image just opened; :func:`threshold` uses ``plane=0`` (the first plane) by
default, ``plane=k`` for another one.

``full_16bit``: ImageJ 1.53t (the version Debian ships and CI compares against)
*ignores* the ``16-bit`` keyword of ``setAutoThreshold`` (its ``ImageProcessor``
parses only ``dark``, ``no-reset`` and the LUT words), so ``full_16bit=True`` returns
the same values as ``full_16bit=False`` -- the parity the CI tests check. It is accepted
so that macros written for newer ImageJ versions translate one to one.

References
----------
.. [1] G. Landini, Auto Threshold (ImageJ/Fiji), https://imagej.net/plugins/auto-threshold
.. [2] M. Sezgin and B. Sankur (2004), "Survey over image thresholding techniques and
       quantitative performance evaluation", J. Electron. Imaging 13(1):146-165,
       :doi:`10.1117/1.1631315`

Examples
--------
>>> import numpy as np
>>> from fijibridge.segment.thresholds import threshold
>>> image = np.array([[10, 10, 200], [10, 200, 200]], dtype=np.uint8)
>>> threshold(image, method="Otsu", dark=True)
(200.0, 255.0)
"""

from __future__ import annotations

import logging

import numpy as np

from .._core.options import check_choice

__all__ = ["ALL_METHODS", "threshold", "thresholds", "threshold_mask", "imagej_histogram",
           "threshold_bin"]

log = logging.getLogger(__name__)

#: ImageJ's method names, in the order of its Threshold dialog (``Default`` is the
#: variant of IsoData that ImageJ's Threshold tool uses).
ALL_METHODS = ("Default", "Huang", "Intermodes", "IsoData", "Li", "MaxEntropy", "Mean",
               "MinError", "Minimum", "Moments", "Otsu", "Percentile", "RenyiEntropy",
               "Shanbhag", "Triangle", "Yen")
_ALL_NAMES = ALL_METHODS + ("IJ_IsoData",)
_EPS = 2.220446049250313e-16
_MAX_ITER = 10000


def _i32(values):
    """Wrap int64 values to Java's 32-bit ``int`` (two's complement overflow)."""
    v = np.asarray(values, dtype=np.int64)
    return ((v + 2**31) % 2**32) - 2**31


def _seq_sum_rows(terms):
    """Sum each row left to right, in Java's order (``np.sum`` is pairwise)."""
    return np.cumsum(terms, axis=-1)[..., -1]


# --------------------------------------------------------------------------- methods
# Each takes a 256-bin int64 histogram and returns ImageJ's bin (before -1 -> 0).

def _huang(data):
    nz = np.flatnonzero(data)
    first = int(nz[0]) if nz.size else 0
    last = 255
    if nz.size and nz[-1] >= first:
        last = int(nz[-1])
    idx = np.arange(256, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.float64(1.0) / np.float64(last - first)
        mu0 = np.zeros(256)
        num = np.cumsum(data[first:].astype(np.float64))
        mu0[first:] = np.cumsum(idx[first:] * data[first:]) / num
        mu1 = np.zeros(256)
        rev = slice(last, 0, -1)  # ih = last .. 1
        num1 = np.cumsum(data[rev].astype(np.float64))
        mu1_vals = np.cumsum(idx[rev] * data[rev]) / num1
        mu1[np.arange(last, 0, -1) - 1] = mu1_vals
        ih = idx[None, :]
        mu = np.where(ih <= idx[:, None], mu0[:, None], mu1[:, None])
        mu_x = 1.0 / (1.0 + term * np.abs(ih - mu))
        ent_t = data[None, :] * (-mu_x * np.log(mu_x) - (1.0 - mu_x) * np.log(1.0 - mu_x))
        keep = ~((mu_x < 1e-06) | (mu_x > 0.999999))
        ent = _seq_sum_rows(np.where(keep, ent_t, 0.0))
    threshold, min_ent = -1, np.finfo(np.float64).max
    below = np.flatnonzero(ent < min_ent)
    if below.size:  # first strict minimum
        vals = ent[below]
        threshold = int(below[np.argmin(vals)])
    return threshold


def _bimodal(y):
    modes = np.count_nonzero((y[:-2] < y[1:-1]) & (y[2:] < y[1:-1]))
    return modes == 2


def _intermodes(data):
    nz = np.flatnonzero(data)
    minbin, maxbin = int(nz[0]), int(nz[-1])
    hist = data[minbin:maxbin + 1].astype(np.float64)
    n = hist.size
    it = 0
    while not _bimodal(hist):
        old = hist
        hist = np.empty(n)
        if n > 1:
            prev = np.concatenate(([0.0], old[:-2]))
            hist[:-1] = (prev + old[:-1] + old[1:]) / 3
            hist[-1] = (old[-2] + old[-1]) / 3
        else:
            hist[0] = (0.0 + old[0]) / 3
        it += 1
        if it > _MAX_ITER:
            log.info("Intermodes threshold not found after 10000 iterations")
            return -1
    k = np.arange(1, n - 1)
    tt = int(k[(hist[:-2] < hist[1:-1]) & (hist[2:] < hist[1:-1])].sum())
    return int(np.floor(tt / 2.0)) + minbin


def _isodata(data):
    nz = np.flatnonzero(data[1:])
    g = int(nz[0]) + 2 if nz.size else 0  # first non-empty bin i >= 1, then g = i + 1
    idx = np.arange(256, dtype=np.int64)
    # `l` and `totl` are Java ints: sums below g, wrapping on overflow
    l_acc = np.concatenate(([0], _wrapping_cumsum(_i32(data * idx))))
    t_acc = np.concatenate(([0], _wrapping_cumsum(data)))
    f = data.astype(np.float64)
    # toth and h: sums over i > g (integer-valued doubles, exact in any order)
    suffix_n = np.concatenate((np.cumsum(f[::-1])[::-1], [0.0, 0.0]))
    suffix_s = np.concatenate((np.cumsum((f * idx)[::-1])[::-1], [0.0, 0.0]))
    while True:
        totl, lsum = int(t_acc[min(g, 256)]), int(l_acc[min(g, 256)])
        toth, h = suffix_n[min(g + 1, 257)], suffix_s[min(g + 1, 257)]
        if totl > 0 and toth > 0:
            q = abs(lsum) // abs(totl)
            lmean = q if (lsum >= 0) == (totl >= 0) else -q  # Java int division
            if g == int(np.floor((lmean + h / toth) / 2.0 + 0.5)):
                return g
        g += 1
        if g > 254:
            return -1


def _wrapping_cumsum(values):
    """Running sum in Java ``int`` arithmetic (wraps at every addition)."""
    out = np.cumsum(np.asarray(values, dtype=np.int64))
    return _i32(out)  # modular arithmetic: wrapping once at the end is the same


def _ij_isodata(data):
    data = data.astype(np.int64).copy()
    data[0] = 0
    data[-1] = 0
    nz = np.flatnonzero(data)
    if nz.size == 0:
        return 128
    lo, hi = int(nz[0]), int(nz[-1])
    if lo >= hi:
        return 128
    idx = np.arange(256, dtype=np.float64)
    f = data.astype(np.float64)
    m = np.arange(lo, hi)  # candidate moving indices
    s1 = np.cumsum(idx[lo:hi] * f[lo:hi])
    s2 = np.cumsum(f[lo:hi])
    s3 = np.cumsum((idx * f)[hi:lo:-1])[::-1]  # sum over i = m+1 .. hi
    s4 = np.cumsum(f[hi:lo:-1])[::-1]
    result = (s1 / s2 + s3 / s4) / 2.0
    go_on = ((m + 2) <= result) & ((m + 1) < hi - 1)
    stop = np.flatnonzero(~go_on)
    k = int(stop[0]) if stop.size else len(m) - 1
    return int(np.floor(result[k] + 0.5))


def _default(data):
    data2 = data.astype(np.int64).copy()
    mode = int(np.argmax(data2))
    max_count = int(data2[mode])
    others = np.delete(data2, mode)
    max_count2 = int(others.max()) if others.size else 0
    if max_count > max_count2 * 2 and max_count2 != 0:
        data2[mode] = int(max_count2 * 1.5)
    return _ij_isodata(data2)


def _li(data):
    f = data.astype(np.float64)
    idx = np.arange(256, dtype=np.float64)
    num_pixels = float(np.cumsum(f)[-1])
    cum_n = np.cumsum(f)
    cum_s = np.cumsum(idx * f)
    tot_s = cum_s[-1]
    mean = float(np.cumsum(idx[1:] * f[1:])[-1]) / num_pixels
    new = mean
    for _ in range(_MAX_ITER):
        old = new
        t = int(old + 0.5) if np.isfinite(old + 0.5) else 0
        nb = cum_n[t] if t >= 0 else 0.0
        sb = cum_s[t] if t >= 0 else 0.0
        mean_back = 0.0 if nb == 0 else sb / nb
        no = num_pixels - nb
        so = tot_s - sb
        # recompute object sums exactly as Java: sequential from t+1 (integers, exact)
        mean_obj = 0.0 if no == 0 else so / no
        with np.errstate(divide="ignore", invalid="ignore"):
            temp = (mean_back - mean_obj) / (np.log(mean_back) - np.log(mean_obj))
        if np.isnan(temp):
            new = 0.0
        elif temp < -_EPS:
            new = float(_java_int(temp - 0.5))
        else:
            new = float(_java_int(temp + 0.5))
        if not abs(new - old) > 0.5:
            return t
    raise RuntimeError("Li threshold did not converge (ImageJ would not return either)")


def _java_int(x):
    """Java's ``(int)`` cast of a double: truncation, NaN -> 0, saturation."""
    if np.isnan(x):
        return 0
    if x >= 2**31 - 1:
        return 2**31 - 1
    if x <= -(2**31):
        return -(2**31)
    return int(x)


def _norm_cum(data):
    f = data.astype(np.float64)
    total = float(np.cumsum(f)[-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        norm = f / total
    p1 = np.cumsum(norm)
    p2 = 1.0 - p1
    return norm, p1, p2


def _entropy_setup(data):
    """Normalised histogram, its cumulative sums from below and above, and the
    candidate thresholds (ImageJ's ``first_bin``..``last_bin``) of the entropy methods."""
    norm, p1, p2 = _norm_cum(data)
    first, last = _bins(p1, p2)
    return norm, p1, p2, np.arange(first, last + 1)


def _bins(p1, p2):
    nz1 = np.flatnonzero(~(np.abs(p1) < _EPS))
    first = int(nz1[0]) if nz1.size else 0
    cand = np.flatnonzero(~(np.abs(p2) < _EPS))
    cand = cand[cand >= first]
    last = int(cand[-1]) if cand.size else 255
    return first, last


def _max_entropy_curve(data, norm, p1, p2, its):
    ih = np.arange(256)[None, :]
    itc = its[:, None]
    nzd = (data != 0)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = norm[None, :] / p1[its][:, None]
        t1 = np.where(nzd & (ih <= itc), r1 * np.log(r1), 0.0)
        r2 = norm[None, :] / p2[its][:, None]
        t2 = np.where(nzd & (ih > itc), r2 * np.log(r2), 0.0)
    ent_back = np.cumsum(-t1, axis=1)[:, -1]
    ent_obj = np.cumsum(-t2, axis=1)[:, -1]
    return ent_back + ent_obj


def _first_max_above(values, start):
    """Index of the first strict running maximum above ``start`` (Java ``if (x > max)``)."""
    ok = np.flatnonzero(values > start)
    if not ok.size:
        return None
    vals = values[ok]
    return int(ok[np.argmax(vals)])


def _max_entropy(data):
    norm, p1, p2, its = _entropy_setup(data)
    if not its.size:
        return -1
    tot = _max_entropy_curve(data, norm, p1, p2, its)
    k = _first_max_above(tot, np.finfo(np.float64).tiny * 2**-52)  # Double.MIN_VALUE
    return -1 if k is None else int(its[k])


def _mean(data):
    f = data.astype(np.float64)
    tot = float(np.cumsum(f)[-1])
    s = float(np.cumsum(np.arange(256) * f)[-1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return _java_int(np.floor(s / tot))


def _min_error(data):
    idx = np.arange(256, dtype=np.int64)
    a = np.cumsum(data.astype(np.float64))
    b = np.cumsum(_i32(idx * data).astype(np.float64))
    c = np.cumsum(_i32(idx * idx * data).astype(np.float64))

    def at(arr, j):
        if j < 0:
            return 0.0
        return float(arr[min(j, 255)])

    threshold = _mean(data)
    tprev = -2
    for _ in range(_MAX_ITER):
        if threshold == tprev:
            return threshold
        at_, bt, ct = at(a, threshold), at(b, threshold), at(c, threshold)
        a_, b_, c_ = a[-1], b[-1], c[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            mu = np.float64(bt) / at_
            nu = (b_ - bt) / (a_ - at_)
            p = np.float64(at_) / a_
            q = (a_ - at_) / a_
            sigma2 = np.float64(ct) / at_ - (mu * mu)
            tau2 = (c_ - ct) / (a_ - at_) - (nu * nu)
            w0 = 1.0 / sigma2 - 1.0 / tau2
            w1 = mu / sigma2 - nu / tau2
            w2 = (mu * mu) / sigma2 - (nu * nu) / tau2 + np.log10((sigma2 * (q * q)) / (tau2 * (p * p)))
            sqterm = (w1 * w1) - w0 * w2
            if sqterm < 0:
                log.info("MinError(I): not converging")
                return threshold
            tprev = threshold
            temp = (w1 + np.sqrt(sqterm)) / w0
        if np.isnan(temp):
            log.info("MinError(I): NaN, not converging")
            threshold = tprev
        else:
            threshold = _java_int(np.floor(temp))
    raise RuntimeError("MinError threshold did not converge (ImageJ would not return either)")


def _minimum(data):
    h = data.astype(np.float64)
    it = 0
    while not _bimodal(h):
        t = np.empty(256)
        t[1:255] = (h[:-2] + h[1:-1] + h[2:]) / 3
        t[0] = (h[0] + h[1]) / 3
        t[255] = (h[254] + h[255]) / 3
        h = t
        it += 1
        if it > _MAX_ITER:
            log.info("Minimum: threshold not found after 10000 iterations")
            return -1
    ok = np.flatnonzero((h[:-2] > h[1:-1]) & (h[2:] >= h[1:-1]))
    return int(ok[0]) + 1 if ok.size else -1


def _moments(data):
    f = data.astype(np.float64)
    total = float(np.cumsum(f)[-1])
    histo = f / total
    di = np.arange(256, dtype=np.float64)
    m0 = 1.0
    m1 = float(np.cumsum(di * histo)[-1])
    m2 = float(np.cumsum(di * di * histo)[-1])
    m3 = float(np.cumsum(di * di * di * histo)[-1])
    cd = m0 * m2 - m1 * m1
    with np.errstate(divide="ignore", invalid="ignore"):
        c0 = (-m2 * m2 + m1 * m3) / np.float64(cd)
        c1 = (m0 * -m3 + m2 * m1) / np.float64(cd)
        z0 = 0.5 * (-c1 - np.sqrt(c1 * c1 - 4.0 * c0))
        z1 = 0.5 * (-c1 + np.sqrt(c1 * c1 - 4.0 * c0))
        p0 = (z1 - m1) / (z1 - z0)
    ok = np.flatnonzero(np.cumsum(histo) > p0)
    return int(ok[0]) if ok.size else -1


def _otsu(data):
    f = data.astype(np.float64)
    k = np.arange(256, dtype=np.float64)
    s = float(np.cumsum(k * f)[-1])
    n = float(np.cumsum(f)[-1])
    sk = np.cumsum(k * f)[1:255]
    n1 = np.cumsum(f)[1:255]
    denom = n1 * (n - n1)
    with np.errstate(divide="ignore", invalid="ignore"):
        num = (n1 / n) * s - sk
        bcv = np.where(denom != 0, (num * num) / denom, 0.0)
    # `if (BCV >= BCVmax)` from BCVmax = 0: the last index of the maximum
    best = np.flatnonzero(bcv >= bcv.max())
    return int(best[-1]) + 1


def _percentile(data):
    f = data.astype(np.float64)
    total = float(np.cumsum(f)[-1])
    avec = np.abs(np.cumsum(f) / total - 0.5)
    k = np.flatnonzero(avec < 1.0)
    return int(k[np.argmin(avec[k])]) if k.size else -1


def _renyi_pass(norm, p1, p2, its, alpha):
    ih = np.arange(256)[None, :]
    itc = its[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        if alpha == 0.5:
            tb = np.where(ih <= itc, np.sqrt(norm[None, :] / p1[its][:, None]), 0.0)
            to = np.where(ih > itc, np.sqrt(norm[None, :] / p2[its][:, None]), 0.0)
        else:
            tb = np.where(ih <= itc, (norm * norm)[None, :] / (p1[its] * p1[its])[:, None], 0.0)
            to = np.where(ih > itc, (norm * norm)[None, :] / (p2[its] * p2[its])[:, None], 0.0)
        eb = _seq_sum_rows(tb)
        eo = _seq_sum_rows(to)
        term = 1.0 / (1.0 - alpha)
        prod = eb * eo
        tot = term * np.where(prod > 0.0, np.log(np.where(prod > 0.0, prod, 1.0)), 0.0)
    k = _first_max_above(tot, 0.0)
    return 0 if k is None else int(its[k])


def _renyi(data):
    norm, p1, p2, its = _entropy_setup(data)
    # alpha = 1: maximum entropy, but starting from max_ent = 0 and threshold = 0
    tot = _max_entropy_curve(data, norm, p1, p2, its) if its.size else np.zeros(0)
    k = _first_max_above(tot, 0.0)
    t2 = 0 if k is None else int(its[k])
    t1 = _renyi_pass(norm, p1, p2, its, 0.5) if its.size else 0
    t3 = _renyi_pass(norm, p1, p2, its, 2.0) if its.size else 0
    if t2 < t1:
        t1, t2 = t2, t1
    if t3 < t2:
        t2, t3 = t3, t2
    if t2 < t1:
        t1, t2 = t2, t1
    if abs(t1 - t2) <= 5:
        b1, b2, b3 = (1, 2, 1) if abs(t2 - t3) <= 5 else (0, 1, 3)
    else:
        b1, b2, b3 = (3, 1, 0) if abs(t2 - t3) <= 5 else (1, 2, 1)
    omega = float(p1[t3]) - float(p1[t1])
    val = (t1 * (float(p1[t1]) + 0.25 * omega * b1) + 0.25 * t2 * omega * b2
           + t3 * (float(p2[t3]) + 0.25 * omega * b3))
    return _java_int(val)


def _shanbhag(data):
    norm, p1, p2, its = _entropy_setup(data)
    if not its.size:
        return -1
    ih = np.arange(256)[None, :]
    itc = its[:, None]
    p1_prev = np.concatenate(([0.0], p1[:-1]))[None, :]  # P1[ih - 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        term_b = 0.5 / p1[its]
        tb = np.where((ih >= 1) & (ih <= itc),
                      norm[None, :] * np.log(1.0 - term_b[:, None] * p1_prev), 0.0)
        eb = np.cumsum(-tb, axis=1)[:, -1] * term_b
        term_o = 0.5 / p2[its]
        to = np.where(ih > itc, norm[None, :] * np.log(1.0 - term_o[:, None] * p2[None, :]), 0.0)
        eo = np.cumsum(-to, axis=1)[:, -1] * term_o
        tot = np.abs(eb - eo)
    ok = np.flatnonzero(tot < np.finfo(np.float64).max)
    if not ok.size:
        return -1
    return int(its[ok[np.argmin(tot[ok])]])


def _triangle(data):
    data = data.astype(np.int64)
    nz = np.flatnonzero(data)
    lo = int(nz[0]) if nz.size else 0
    if lo > 0:
        lo -= 1
    nz1 = nz[nz > 0]
    lo2 = int(nz1[-1]) if nz1.size else 0
    if lo2 < 255:
        lo2 += 1
    mx = int(np.argmax(data)) if data.max() > 0 else 0
    inverted = False
    if (mx - lo) < (lo2 - mx):
        inverted = True
        data = data[::-1]
        lo = 255 - lo2
        mx = 255 - mx
    if lo == mx:
        return lo
    nx = float(data[mx])
    ny = float(lo - mx)
    d = np.sqrt(nx * nx + ny * ny)
    nx /= d
    ny /= d
    d = nx * lo + ny * float(data[lo])
    i = np.arange(lo + 1, mx + 1)
    dist = nx * i + ny * data[lo + 1:mx + 1] - d
    split = lo
    k = _first_max_above(dist, 0.0)
    if k is not None:
        split = int(i[k])
    split -= 1
    return 255 - split if inverted else split


def _yen(data):
    norm, p1, _ = _norm_cum(data)
    p1_sq = np.cumsum(norm * norm)
    p2_sq = np.zeros(256)
    p2_sq[:255] = np.cumsum((norm * norm)[:0:-1])[::-1]
    a = p1_sq * p2_sq
    b = p1 * (1.0 - p1)
    with np.errstate(divide="ignore", invalid="ignore"):
        crit = (-1.0 * np.where(a > 0.0, np.log(np.where(a > 0.0, a, 1.0)), 0.0)
                + 2 * np.where(b > 0.0, np.log(np.where(b > 0.0, b, 1.0)), 0.0))
    k = _first_max_above(crit, np.finfo(np.float64).tiny * 2**-52)
    return -1 if k is None else k


_METHODS = {
    "Default": _default, "IJ_IsoData": _ij_isodata, "Huang": _huang,
    "Intermodes": _intermodes, "IsoData": _isodata, "Li": _li, "MaxEntropy": _max_entropy,
    "Mean": _mean, "MinError": _min_error, "Minimum": _minimum, "Moments": _moments,
    "Otsu": _otsu, "Percentile": _percentile, "RenyiEntropy": _renyi,
    "Shanbhag": _shanbhag, "Triangle": _triangle, "Yen": _yen,
}


def threshold_bin(histogram, *, method="Default") -> int:
    """ImageJ's ``AutoThresholder.getThreshold(method, histogram)`` for 256 bins.

    Returns the bin ``t`` such that bins ``<= t`` are background of a dark-object
    image (ImageJ's convention); ``-1`` (no threshold found) is returned as 0, as
    ImageJ does.
    """
    method = check_choice("method", method, _ALL_NAMES)
    hist = np.asarray(histogram)
    if hist.shape != (256,):
        raise ValueError(f"histogram must have 256 bins (ImageJ's AutoThresholder); "
                         f"got shape {hist.shape}")
    if hist.dtype.kind not in "iu" or (hist < 0).any():
        raise ValueError("histogram must hold non-negative integer counts")
    hist = hist.astype(np.int64)
    if hist.sum() == 0:
        raise ValueError("histogram is empty (all counts are 0)")
    t = _METHODS[method](hist)
    return 0 if t == -1 else int(t)


# ------------------------------------------------------------------ histograms
def _check_image(image, plane):
    from ..filters._common import check_filter_image

    if not hasattr(image, "spacing"):  # an Image / TiffImage is checked by its data
        image = np.asarray(image)
        if image.dtype == np.bool_:
            raise TypeError("image is boolean (already a mask); convert it first, "
                            "e.g. image.astype(np.uint8) * 255")
    # ImageJ's 8-, 16- and 32-bit types, 2D or a stack, not empty: the filters' rule
    image = check_filter_image(image, dtypes=(np.uint8, np.uint16, np.float32),
                               name="threshold")
    if image.ndim == 3 and not (isinstance(plane, (int, np.integer)) and not isinstance(plane, bool)
                                and -image.shape[0] <= plane < image.shape[0]):
        raise ValueError(f"plane must be an integer index into the {image.shape[0]} planes; "
                         f"got {plane!r}")
    return image


def _float_min_max(pixels):
    n_inf = int(np.count_nonzero(np.isinf(pixels)))
    if n_inf:
        raise ValueError(
            f"image has {n_inf} infinite pixel(s) (+inf/-inf); ImageJ's threshold of one plane is "
            "then undefined (ImageJ 1.53t reports -Infinity/NaN: its 256-bin range becomes "
            "infinite). Replace them with NaN, which ImageJ leaves out (the histogram of a "
            "whole stack, stack=True / --stack, leaves them out too)")
    finite = pixels[~np.isnan(pixels)]
    if finite.size == 0:
        raise ValueError("image has only NaN pixels; ImageJ cannot threshold it")
    return float(finite.min()), float(finite.max())


def imagej_histogram(image, *, stack=False, plane=0):
    """The 256-bin histogram ImageJ thresholds, and the ``(min, max)`` it maps back with.

    Returns ``(histogram, vmin, vmax)``; for 8-bit images ``vmin, vmax = 0, 255``.
    ``image`` may be a memory map (``np.memmap``, ``tifffile.memmap``): the stack
    histogram reads it plane by plane.
    """
    image = _check_image(image, plane)
    if image.ndim == 3 and not stack:
        image = image[plane]
    bits = image.dtype.itemsize * 8
    if image.ndim == 3:  # stack=True: one histogram of all planes
        return _stack_histogram(image, bits)
    if bits == 8:
        return np.bincount(image.ravel(), minlength=256).astype(np.int64), 0.0, 255.0
    if bits == 16:
        vmin, vmax = int(image.min()), int(image.max())
        scale = 256.0 / (vmax - vmin + 1)  # never 0: integers
        b = ((image.astype(np.int64) - vmin) * scale + 0.5).astype(np.int64)
    else:
        vmin, vmax = _float_min_max(image)
        vmin, vmax = float(np.float32(vmin)), float(np.float32(vmax))
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.float64(255.0) / np.float64(vmax - vmin)
            v = image.astype(np.float64) - vmin
            v = np.where(v < 0, 0.0, v) * scale + 0.5
        b = np.where(np.isfinite(v), np.clip(np.trunc(np.nan_to_num(v)), -2**31, 2**31 - 1),
                     np.where(np.isnan(v), 0, np.where(v > 0, 2**31 - 1, -2**31)))
        b = b.astype(np.int64)
    b = np.minimum(b, 255)
    return np.bincount(b.ravel(), minlength=256).astype(np.int64), float(vmin), float(vmax)


def _stack_histogram(image, bits):
    """ImageJ's ``StackStatistics`` histogram, accumulated plane by plane.

    Two passes over the planes (range, then bins) with float64 temporaries of one plane
    only, so ``image`` may be a memory map of a stack larger than the memory: the peak is
    about one plane, where a whole-stack float64 copy needs ~15x the stack's bytes. The
    bins are those of the whole-stack computation, bit for bit.
    """
    if bits == 8:
        hist = np.zeros(256, np.int64)
        for plane in image:
            hist += np.bincount(np.asarray(plane).ravel(), minlength=256)
        return hist, 0.0, 255.0
    if bits == 16:
        vmin = min(int(np.asarray(p).min()) for p in image)
        vmax = max(int(np.asarray(p).max()) for p in image)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.float64(1.0) / (np.float64(vmax - vmin) / 256.0)
        hist = np.zeros(256, np.int64)
        for plane in image:
            with np.errstate(invalid="ignore"):
                idx = scale * (np.asarray(plane).astype(np.float64) - vmin)
            b = np.where(np.isnan(idx), 0, np.trunc(np.nan_to_num(idx, posinf=255)))
            hist += np.bincount(np.minimum(b.astype(np.int64), 255).ravel(), minlength=256)
        return hist, float(vmin), float(vmax)
    # 32-bit: only pixels within +-Float.MAX_VALUE count (NaN and +-inf are left out)
    flt = float(np.finfo(np.float32).max)
    vmin, vmax = np.inf, -np.inf
    for plane in image:
        vals = _finite_values(plane, flt)
        if vals.size:
            vmin, vmax = min(vmin, float(vals.min())), max(vmax, float(vals.max()))
    if vmin > vmax:
        raise ValueError("image has no finite pixels; ImageJ cannot threshold it")
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.float64(256) / np.float64(vmax - vmin)
    hist = np.zeros(256, np.int64)
    for plane in image:
        vals = _finite_values(plane, flt)
        with np.errstate(invalid="ignore"):
            idx = scale * (vals - vmin)
        b = np.where(np.isnan(idx), 0, np.trunc(np.nan_to_num(idx, posinf=255)))
        hist += np.bincount(np.minimum(b.astype(np.int64), 255), minlength=256)
    return hist, vmin, vmax


def _finite_values(plane, flt):
    """The pixels of one 32-bit plane within +-Float.MAX_VALUE, as a float64 vector."""
    flat = np.asarray(plane, dtype=np.float64).ravel()
    return flat[(flat >= -flt) & (flat <= flt)]


# ------------------------------------------------------------------ public API
def threshold(image, *, method="Default", dark=False, full_16bit=False, stack=False,
              plane=0) -> tuple[float, float]:
    """ImageJ's automatic threshold: what ``setAutoThreshold`` + ``getThreshold`` give.

    Parameters
    ----------
    image : ndarray
        uint8, uint16 or float32; ``(Y, X)`` or a stack ``(P, Y, X)``.
    method : str
        One of :data:`ALL_METHODS` (case-insensitive), or ``"IJ_IsoData"``.
    dark : bool
        Dark background (objects brighter than the threshold), ImageJ's ``dark``.
    full_16bit : bool
        ImageJ's ``16-bit`` keyword; ImageJ 1.53t ignores it, and so does this
        function (see the module notes).
    stack : bool
        One histogram of all planes (ImageJ's ``stack``); otherwise only ``plane``.
    plane : int
        Plane of a stack thresholded without ``stack``; 0 = ImageJ's current slice of
        a freshly opened stack.

    Returns
    -------
    (lower, upper) : tuple of float
        The pixel-value range ImageJ selects (inclusive at both ends); ``(-1, -1)``
        where ImageJ sets no threshold (an all-zero 16- or 32-bit image).

    Raises
    ------
    ValueError
        Unknown method (with "did you mean"), empty or all-NaN image, bad ``plane``,
        +inf/-inf pixels in a single-plane threshold (see the module notes).
    TypeError
        dtype other than uint8, uint16, float32.
    """
    method = check_choice("method", method, _ALL_NAMES)
    return thresholds(image, methods=(method,), dark=dark, full_16bit=full_16bit,
                      stack=stack, plane=plane)[method]


def thresholds(image, *, methods=ALL_METHODS, dark=False, full_16bit=False, stack=False,
               plane=0) -> dict[str, tuple[float, float]]:
    """:func:`threshold` for several methods at once (the histogram is built once).

    Returns ``{method: (lower, upper)}`` in the order of ``methods``.
    """
    if isinstance(methods, str):
        methods = (methods,)
    methods = [check_choice("method", m, _ALL_NAMES) for m in methods]
    for name, value in (("dark", dark), ("full_16bit", full_16bit), ("stack", stack)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False; got {value!r}")
    image = _check_image(image, plane)
    bits = image.dtype.itemsize * 8
    hist, vmin, vmax = imagej_histogram(image, stack=stack, plane=plane)
    stacked = bool(stack) and image.ndim == 3
    return {m: _to_values(_METHODS[m](hist.copy()), bits, vmin, vmax, dark, stacked)
            for m in methods}


def _to_values(t, bits, vmin, vmax, dark, stacked):
    """Map ImageJ's bin to (lower, upper) pixel values as ImageJ 1.53t does."""
    if bits != 8 and vmin == vmax == 0.0:
        # ImageJ leaves an all-zero 16/32-bit image unthresholded: getThreshold -> -1, -1
        return (-1.0, -1.0)
    if t == -1:
        t = 0
    if dark:
        lower, upper = float(t + 1), 255.0
    else:
        lower, upper = 0.0, float(t)
    if lower > 255:
        lower = 255.0
    if bits == 8 and not stacked:
        return lower, upper
    if stacked:  # IJ.setStackThreshold
        if vmax > vmin:
            lower = vmin + (lower / 255.0) * (vmax - vmin)
            upper = vmin + (upper / 255.0) * (vmax - vmin)
        else:
            lower = upper = vmin
    else:  # ImageProcessor.scaleAndSetThreshold
        if vmax > vmin:
            if lower == 0.0:
                if bits == 32:
                    lower = min(vmin, -1e30)
            else:
                lower = vmin + (lower / 255.0) * (vmax - vmin)
            if upper == 255.0:
                upper = 65535.0 if bits == 16 else max(vmax, 1e30)
            else:
                upper = vmin + (upper / 255.0) * (vmax - vmin)
        else:
            lower = upper = vmin
    if bits == 16:  # ShortProcessor.setThreshold clamps and rounds (Math.round)
        lower = max(lower, 0.0)
        upper = min(upper, 65535.0)
        return float(np.floor(lower + 0.5)), float(np.floor(upper + 0.5))
    return float(lower), float(upper)


def threshold_mask(image, *, method="Default", dark=False, full_16bit=False, stack=False,
                   plane=0) -> np.ndarray:
    """Boolean mask of the pixels inside ImageJ's threshold range.

    The range comes from :func:`threshold` with the same arguments and is applied to
    every plane of ``image`` (like ImageJ's *Convert to Mask* with one threshold for
    the whole stack); NaN pixels are never in the mask.
    """
    lower, upper = threshold(image, method=method, dark=dark, full_16bit=full_16bit,
                             stack=stack, plane=plane)
    image = np.asarray(image)
    if (lower, upper) == (-1.0, -1.0) and image.dtype != np.uint8:
        return np.zeros(image.shape, bool)  # ImageJ set no threshold
    return (image >= lower) & (image <= upper)
