"""Simple renderer of synthetic fluorescence-nuclei images with instance labels (2D).

Used to train the shipped ``nuclei2d`` model next to real images.  It draws
irregular ellipses (some clustered and touching, some small and bright like mitotic
nuclei) with per-nucleus brightness and texture, unlabelled out-of-focus haze, an
uneven background, optical blur and Poisson + Gaussian noise.  It is a stand-in for
the fuller microscope model in :mod:`fijibridge.synth`; everything is driven by
``rng`` and reproducible.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

__all__ = ["render_nuclei"]


def _smooth_noise(shape, sigma, rng):
    n = ndi.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    sd = float(n.std())
    return n / sd if sd > 0 else n


def render_nuclei(shape=(256, 256), *, rng=None, count=None, radius=(7.0, 17.0)):
    """Render one image.

    Parameters
    ----------
    shape : (int, int)
    rng : numpy Generator or seed
    count : int, optional
        Number of nuclei to try to place (default random, 8–50 per 256×256).
    radius : (float, float)
        Range of the long semi-axis in pixels.

    Returns
    -------
    image : ndarray of float32, values roughly in [0, 1]
    labels : ndarray of uint16, instance ids 1..n
    """
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    h, w = shape
    area_scale = h * w / 256 ** 2
    if count is None:
        count = int(rng.integers(8, 51) * area_scale)
    labels = np.zeros(shape, np.uint16)
    signal = np.zeros(shape, np.float32)
    centres: list[tuple[float, float, float]] = []
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r_scale = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))  # per-image size
    nid = 0
    for _ in range(count * 4):
        if nid >= count:
            break
        a = rng.uniform(*radius) * r_scale
        mitotic = rng.random() < 0.06
        if mitotic:
            a *= 0.5
        b = a * rng.uniform(0.55, 1.0)
        if centres and rng.random() < 0.5:  # cluster next to an existing nucleus
            cy, cx, cr = centres[int(rng.integers(len(centres)))]
            ang = rng.uniform(0, 2 * np.pi)
            d = (cr + a) * rng.uniform(0.65, 1.0)
            y0, x0 = cy + d * np.sin(ang), cx + d * np.cos(ang)
        else:
            y0, x0 = rng.uniform(-a / 2, h + a / 2), rng.uniform(-a / 2, w + a / 2)
        if any((y0 - cy) ** 2 + (x0 - cx) ** 2 < (0.62 * (a + cr)) ** 2 for cy, cx, cr in centres):
            continue
        theta = rng.uniform(0, np.pi)
        m = int(a + 4)
        ys = slice(max(0, int(y0) - m), min(h, int(y0) + m + 1))
        xs = slice(max(0, int(x0) - m), min(w, int(x0) + m + 1))
        if ys.start >= ys.stop or xs.start >= xs.stop:
            continue
        dy, dx = yy[ys, xs] - y0, xx[ys, xs] - x0
        u = dx * np.cos(theta) + dy * np.sin(theta)
        v = -dx * np.sin(theta) + dy * np.cos(theta)
        phi = np.arctan2(v, u)
        wobble = 1 + sum(rng.normal(0, 0.05) * np.cos(k * phi + rng.uniform(0, 2 * np.pi))
                         for k in (2, 3, 4))
        rr = np.sqrt((u / a) ** 2 + (v / b) ** 2) / wobble
        inside = (rr <= 1) & (labels[ys, xs] == 0)
        if inside.sum() < 15:
            continue
        nid += 1
        centres.append((y0, x0, a))
        labels[ys, xs][inside] = nid
        bright = float(np.exp(rng.uniform(np.log(0.15), 0.0)))
        if mitotic:
            bright = min(1.0, bright * 2.5)
        # brighter rim or centre, plus texture
        profile = 1 + rng.uniform(-0.3, 0.2) * rr ** 2
        signal[ys, xs][inside] = (bright * profile)[inside]
    texture = 1 + rng.uniform(0.05, 0.35) * _smooth_noise(shape, rng.uniform(1.0, 3.0), rng)
    image = signal * np.clip(texture, 0.2, None)
    # unlabelled out-of-focus haze: blurred dim blobs
    if rng.random() < 0.6:
        haze = np.zeros(shape, np.float32)
        for _ in range(int(rng.integers(3, 15) * area_scale)):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            r = rng.uniform(6, 18)
            haze += ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) * rng.uniform(0.02, 0.12)
        image += ndi.gaussian_filter(haze, rng.uniform(4, 10))
    image = ndi.gaussian_filter(image, rng.uniform(0.5, 2.5))
    # uneven background
    bg = rng.uniform(0.0, 0.15) + rng.uniform(0, 0.08) * (
        np.cos(rng.uniform(0, np.pi) + yy / h * rng.uniform(0, 3))
        * np.cos(rng.uniform(0, np.pi) + xx / w * rng.uniform(0, 3)))
    image = image + bg.astype(np.float32)
    photons = float(np.exp(rng.uniform(np.log(20), np.log(2000))))
    image = rng.poisson(np.clip(image, 0, None) * photons).astype(np.float32) / photons
    image += rng.normal(0, rng.uniform(0.0, 0.03), shape).astype(np.float32)
    return image.astype(np.float32), labels


def render_phantom_nuclei(shape=(256, 256), *, rng=None):
    """Nuclei from :func:`fijibridge.synth.nuclei` imaged by
    :func:`fijibridge.synth.simulate_microscope` (widefield PSF, Poisson and camera
    noise), with randomised size, crowding, optics and photon budget.

    Returns ``(image float32, labels uint16)``; the image is in camera units.
    """
    from ..synth import nuclei, simulate_microscope

    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    spacing = 0.5
    ph = nuclei(tuple(shape), radius_um=float(rng.uniform(3.5, 7.0)),
                radius_cv=float(rng.uniform(0.1, 0.25)), aspect=(0.55, 1.0),
                touching=float(rng.uniform(0.2, 0.6)), overlapping=float(rng.uniform(0.0, 0.2)),
                texture=float(rng.uniform(0.1, 0.5)), brightness_cv=float(rng.uniform(0.1, 0.5)),
                spacing=(spacing, spacing), rng=rng)
    image = simulate_microscope(ph.image, spacing=(spacing, spacing),
                                na=float(rng.uniform(0.5, 1.4)),
                                photons=float(np.exp(rng.uniform(np.log(20), np.log(1000)))),
                                background=float(rng.uniform(1, 50)), rng=rng)
    return np.asarray(image, np.float32), np.asarray(ph.labels).astype(np.uint16)
