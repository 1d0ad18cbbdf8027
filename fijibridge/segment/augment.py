"""Data augmentation for segmentation training (numpy/scipy, 2D and 3D).

Spatial transforms act on the image and its label image together (labels with
nearest-neighbour interpolation, so instance ids stay whole numbers and no new ids
appear); intensity transforms act on the image only.  Randomness comes only from the
``rng`` argument (a :class:`numpy.random.Generator` or seed), so a run is
reproducible.

Functions take ``image`` first, ``labels`` (or ``None``) second; arrays have no channel
axis (``(Y, X)`` or ``(Z, Y, X)``).  :class:`Augmenter` chains them with
probabilities and crops a training patch.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage as ndi

__all__ = ["random_flip", "random_rot90", "random_affine", "elastic_deform", "random_intensity",
           "add_noise", "random_crop", "Augmenter"]


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _check(image, labels):
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be 2D (Y, X) or 3D (Z, Y, X); got shape {image.shape}")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != image.shape:
            raise ValueError(f"labels shape {labels.shape} differs from image shape {image.shape}")
    return image, labels


def random_flip(image, labels=None, *, rng=None, axes=None):
    """Flip along each axis in ``axes`` (default all) with probability 1/2."""
    image, labels = _check(image, labels)
    rng = _rng(rng)
    for ax in range(image.ndim) if axes is None else axes:
        if rng.random() < 0.5:
            image = np.flip(image, ax)
            labels = None if labels is None else np.flip(labels, ax)
    return np.ascontiguousarray(image), None if labels is None else np.ascontiguousarray(labels)


def random_rot90(image, labels=None, *, rng=None):
    """Rotate by a random multiple of 90° in the (Y, X) plane (needs Y == X to keep shape
    for batching; any shape works)."""
    image, labels = _check(image, labels)
    k = int(_rng(rng).integers(4))
    axes = (-2, -1)
    image = np.rot90(image, k, axes)
    labels = None if labels is None else np.rot90(labels, k, axes)
    return np.ascontiguousarray(image), None if labels is None else np.ascontiguousarray(labels)


def _affine_matrix(ndim, rng, zoom, shear, rotate):
    m = np.eye(ndim)
    # in-plane rotation (Y, X)
    if rotate:
        a = rng.uniform(0, 2 * np.pi)
        r = np.eye(ndim)
        c, s = np.cos(a), np.sin(a)
        r[-2:, -2:] = [[c, -s], [s, c]]
        m = r @ m
    if shear:
        sh = np.eye(ndim)
        sh[-2, -1] = rng.uniform(-shear, shear)
        sh[-1, -2] = rng.uniform(-shear, shear)
        m = sh @ m
    if zoom is not None:
        lo, hi = zoom
        z = np.exp(rng.uniform(np.log(lo), np.log(hi)))
        m = np.diag([z] * ndim) @ m  # output pixel -> input pixel: z > 1 shrinks objects
    return m


def random_affine(image, labels=None, *, rng=None, zoom=(0.8, 1.25), shear=0.1, rotate=True,
                  output_shape=None, mode="reflect"):
    """Random zoom, shear and in-plane rotation about the centre.

    ``zoom=(lo, hi)`` is the range of the scale factor (log-uniform); ``shear`` the
    largest shear coefficient.  ``output_shape`` (default: input shape) is centred on
    the input centre, so a larger input can be cropped down without border effects.
    """
    image, labels = _check(image, labels)
    rng = _rng(rng)
    if zoom is not None and not (0 < zoom[0] <= zoom[1]):
        raise ValueError(f"zoom must be (lo, hi) with 0 < lo <= hi; got {zoom!r}")
    if shear is not None and shear < 0:
        raise ValueError(f"shear must be >= 0; got {shear!r}")
    out_shape = tuple(image.shape if output_shape is None else output_shape)
    m = _affine_matrix(image.ndim, rng, zoom, shear, rotate)
    c_in = (np.array(image.shape) - 1) / 2
    c_out = (np.array(out_shape) - 1) / 2
    offset = c_in - m @ c_out
    img = ndi.affine_transform(image.astype(np.float32, copy=False), m, offset=offset,
                               output_shape=out_shape, order=1, mode=mode)
    lab = None
    if labels is not None:
        lab = ndi.affine_transform(labels, m, offset=offset, output_shape=out_shape, order=0,
                                   mode=mode)
    return img, lab


def elastic_deform(image, labels=None, *, rng=None, alpha: float = 10.0, sigma: float = 8.0):
    """Elastic deformation: a random displacement field (Gaussian-smoothed noise with
    standard deviation ``sigma`` pixels, scaled so its largest displacement is about
    ``alpha`` pixels)."""
    image, labels = _check(image, labels)
    rng = _rng(rng)
    if alpha < 0 or sigma <= 0:
        raise ValueError(f"need alpha >= 0 and sigma > 0; got alpha={alpha}, sigma={sigma}")
    # coarse field then zoom up: much cheaper than smoothing full-size noise
    step = max(1, int(sigma))
    coarse = tuple(max(2, s // step + 2) for s in image.shape)
    grid = np.meshgrid(*[np.arange(s, dtype=np.float32) for s in image.shape], indexing="ij")
    coords = []
    for g in grid:
        d = ndi.gaussian_filter(rng.standard_normal(coarse).astype(np.float32), 1.0)
        d = ndi.zoom(d, [s / c for s, c in zip(image.shape, coarse)], order=1)
        d = d[tuple(slice(0, s) for s in image.shape)]
        d *= alpha / max(float(np.abs(d).max()), 1e-6)
        coords.append(g + d)
    img = ndi.map_coordinates(image.astype(np.float32, copy=False), coords, order=1, mode="reflect")
    lab = None if labels is None else ndi.map_coordinates(labels, coords, order=0, mode="reflect")
    return img, lab


def random_intensity(image, *, rng=None, gamma=(0.7, 1.5), scale=(0.7, 1.3), shift=(-0.1, 0.1),
                     blur=(0.0, 1.5)):
    """Random gamma (on the [0, 1]-clipped positive part), scale, shift and Gaussian blur."""
    rng = _rng(rng)
    image = np.asarray(image, dtype=np.float32)
    if gamma is not None:
        g = float(np.exp(rng.uniform(np.log(gamma[0]), np.log(gamma[1]))))
        pos = np.clip(image, 0, None)
        image = np.where(image > 0, pos ** g, image).astype(np.float32)
    if blur is not None and blur[1] > 0:
        s = rng.uniform(*blur)
        if s > 0.3:
            image = ndi.gaussian_filter(image, s)
    if scale is not None:
        image = image * rng.uniform(*scale)
    if shift is not None:
        image = image + rng.uniform(*shift)
    return image.astype(np.float32, copy=False)


def add_noise(image, *, rng=None, gaussian=(0.0, 0.08), poisson=(5.0, 200.0)):
    """Add Gaussian noise (σ drawn from ``gaussian``) and/or Poisson shot noise (photon
    count at intensity 1 drawn log-uniformly from ``poisson``; ``None`` skips)."""
    rng = _rng(rng)
    image = np.asarray(image, dtype=np.float32)
    if poisson is not None:
        n = float(np.exp(rng.uniform(np.log(poisson[0]), np.log(poisson[1]))))
        pos = np.clip(image, 0, None)
        image = image + (rng.poisson(pos * n) / n - pos).astype(np.float32)
    if gaussian is not None:
        image = image + rng.normal(0, rng.uniform(*gaussian), image.shape).astype(np.float32)
    return image.astype(np.float32, copy=False)


def random_crop(image, labels=None, *, size, rng=None, mode="reflect"):
    """Crop a random patch of ``size`` (reflection-padding images smaller than it)."""
    image, labels = _check(image, labels)
    rng = _rng(rng)
    size = tuple(int(s) for s in (size if np.ndim(size) else (size,) * image.ndim))
    if len(size) != image.ndim or min(size) < 1:
        raise ValueError(f"size must be {image.ndim} positive integers; got {size!r}")
    pad = [(0, max(0, s - n)) for s, n in zip(size, image.shape)]
    if any(p[1] for p in pad):
        image = np.pad(image, pad, mode=mode)
        if labels is not None:
            labels = np.pad(labels, pad, mode=mode)
    start = [int(rng.integers(0, n - s + 1)) for s, n in zip(size, image.shape)]
    sl = tuple(slice(a, a + s) for a, s in zip(start, size))
    return image[sl].copy(), None if labels is None else labels[sl].copy()


@dataclasses.dataclass
class Augmenter:
    """Chain of augmentations producing one training patch from an image and its labels.

    Each stage runs with its probability ``p_*``.  The spatial stages work on a region
    larger than the patch (so rotation and zoom never sample outside the image, except
    where the image itself is smaller, then reflection), and the result is cropped to
    ``patch_size``.

    Examples
    --------
    >>> aug = Augmenter(patch_size=(32, 32))
    >>> img, lab = aug(np.random.rand(64, 64), np.zeros((64, 64), int), rng=0)
    >>> img.shape, lab.shape
    ((32, 32), (32, 32))
    """

    patch_size: tuple[int, ...] = (128, 128)
    flip: bool = True
    rot90: bool = True
    p_affine: float = 0.7
    zoom: tuple[float, float] = (0.7, 1.4)
    shear: float = 0.15
    rotate: bool = True
    p_elastic: float = 0.3
    elastic_alpha: float = 6.0
    elastic_sigma: float = 10.0
    p_intensity: float = 0.9
    gamma: tuple[float, float] = (0.6, 1.6)
    blur: tuple[float, float] = (0.0, 2.0)
    p_noise: float = 0.6
    gaussian_noise: tuple[float, float] = (0.0, 0.08)
    poisson: tuple[float, float] | None = (3.0, 300.0)

    def __post_init__(self):
        self.patch_size = tuple(int(s) for s in self.patch_size)
        if len(self.patch_size) not in (2, 3) or min(self.patch_size) < 1:
            raise ValueError(f"patch_size must be 2 or 3 positive integers; got {self.patch_size!r}")
        for name in ("p_affine", "p_elastic", "p_intensity", "p_noise"):
            v = getattr(self, name)
            if not 0 <= v <= 1:
                raise ValueError(f"{name} must be a probability in [0, 1]; got {v!r}")
        if not 0 < self.zoom[0] <= self.zoom[1]:
            raise ValueError(f"zoom must be (lo, hi) with 0 < lo <= hi; got {self.zoom!r}")

    def __call__(self, image, labels, *, rng=None):
        image, labels = _check(image, labels)
        rng = _rng(rng)
        if image.ndim != len(self.patch_size):
            raise ValueError(f"patch_size {self.patch_size} is {len(self.patch_size)}D but the "
                             f"image is {image.ndim}D (shape {image.shape})")
        do_affine = rng.random() < self.p_affine
        # region big enough for any rotation/zoom/shear of the patch
        grow = (np.sqrt(2) * self.zoom[1] * (1 + self.shear) + 0.1) if do_affine else 1.0
        region = tuple(int(np.ceil(s * grow)) + 2 for s in self.patch_size)
        if image.ndim == 3:  # rotation is in-plane only: Z needs no margin
            region = (int(np.ceil(self.patch_size[0] * (self.zoom[1] if do_affine else 1))) + 2,) + region[1:]
        img, lab = random_crop(image, labels, size=region, rng=rng)
        if do_affine:
            img, lab = random_affine(img, lab, rng=rng, zoom=self.zoom, shear=self.shear,
                                     rotate=self.rotate, output_shape=self.patch_size)
        else:
            c = [(r - s) // 2 for r, s in zip(region, self.patch_size)]
            sl = tuple(slice(a, a + s) for a, s in zip(c, self.patch_size))
            img, lab = img[sl], lab[sl]
        if rng.random() < self.p_elastic:
            img, lab = elastic_deform(img, lab, rng=rng, alpha=self.elastic_alpha,
                                      sigma=self.elastic_sigma)
        if self.flip:
            img, lab = random_flip(img, lab, rng=rng)
        if self.rot90 and self.patch_size[-1] == self.patch_size[-2]:
            img, lab = random_rot90(img, lab, rng=rng)
        if rng.random() < self.p_intensity:
            img = random_intensity(img, rng=rng, gamma=self.gamma, blur=self.blur)
        if rng.random() < self.p_noise:
            img = add_noise(img, rng=rng, gaussian=self.gaussian_noise, poisson=self.poisson)
        return np.ascontiguousarray(img, dtype=np.float32), np.ascontiguousarray(lab)
