"""Data for GAN training and generation (numpy only): reading image/mask sources,
intensity scaling to [-1, 1] and back, mask encoding, random patches.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

__all__ = ["read_source", "encode_mask", "check_mask", "IntensityScale", "PatchSampler",
           "phantom_masks", "carve_contacts", "edge_profile", "grow_some", "fit_growth"]

log = logging.getLogger(__name__)

_TIFF = (".tif", ".tiff")


def read_source(spec: str, *, spatial_dims: int,
                base=Path(".")) -> tuple[list[np.ndarray], list[str]]:
    """Samples of ``spatial_dims`` dimensions from a TIFF file, folder or ``sample:NAME``.

    A file with one axis more than ``spatial_dims`` (T×Y×X for 2D, T×Z×Y×X for 3D) gives
    one sample per leading index.  Returns the arrays and a name for each.
    """
    from ..._core.tiff import read_tiff

    if spec.startswith("sample:"):
        from ...data import load_sample
        arrays, stem = [load_sample(spec.split(":", 1)[1]).data], spec.split(":", 1)[1]
        names = [stem]
    else:
        p = Path(spec)
        p = p if p.is_absolute() else Path(base) / p
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.suffix.lower() in _TIFF)
            if not files:
                raise FileNotFoundError(f"no .tif/.tiff files in folder {str(p)!r}")
            arrays, names = [read_tiff(f).data for f in files], [f.stem for f in files]
        elif p.is_file():
            arrays, names = [read_tiff(p).data], [p.stem]
        else:
            raise FileNotFoundError(f"no TIFF file or folder at {str(p)!r}")
    out, out_names = [], []
    for a, n in zip(arrays, names):
        a = np.asarray(a)
        if a.ndim == spatial_dims:
            out.append(a)
            out_names.append(n)
        elif a.ndim == spatial_dims + 1:
            out += list(a)
            out_names += [f"{n}_{i:03d}" for i in range(len(a))]
        else:
            raise ValueError(f"{spec}: {n} has shape {a.shape}; a {spatial_dims}D model needs "
                             f"{spatial_dims}D images or stacks of them ({spatial_dims + 1}D)")
    return out, out_names


def check_mask(mask, *, name: str = "mask") -> None:
    """Raise ValueError if ``mask`` is empty or has no foreground."""
    mask = np.asarray(mask)
    if mask.size == 0:
        raise ValueError(f"{name} is empty (shape {mask.shape})")
    if not np.any(mask > 0):
        raise ValueError(f"{name} is all background (no pixel > 0; shape {mask.shape}); a GAN "
                         "needs objects to draw — remove it or check the file")


def encode_mask(mask, *, classes: int = 1) -> np.ndarray:
    """Labels or class mask → float32 in [-1, 1] (background -1, top class +1).

    ``classes=1`` binarises (instance labels → foreground); otherwise class ``k``
    maps to ``2k/classes − 1`` and values above ``classes`` are clipped.
    """
    m = np.asarray(mask)
    if classes == 1:
        v = (m > 0).astype(np.float32)
    else:
        v = np.clip(m, 0, classes).astype(np.float32) / classes
    return v * 2 - 1


def carve_contacts(labels) -> np.ndarray:
    """Instance labels with a 1-px seam cut where two objects touch.

    A mask → image generator trained on binary masks draws touching nuclei as one
    blob; with the seam it draws two, as in a microscope image where touching nuclei
    keep a dim gap.  Of each contact, the lower-numbered object loses its pixels next
    to the higher one.  Meant for the generator's input; training targets keep the
    full labels.
    """
    from scipy import ndimage as ndi

    labels = np.asarray(labels)
    if labels.dtype == bool:
        return labels.copy()
    hi = ndi.maximum_filter(labels, size=3, mode="nearest")
    out = labels.copy()
    out[(labels > 0) & (hi != labels)] = 0
    return out


def edge_profile(image, mask, *, rings=(-2, -1, 1, 2), background_margin: float = 5.0) -> dict:
    """Mean intensity in rings around the objects' edges, relative to the objects.

    Ring ``-k`` holds the foreground pixels at distance ``k - 1 < d <= k`` from the
    background (``-1``: the objects' outermost pixels), ring ``+k`` the background
    pixels at that distance from the foreground (``1``: the first pixels outside).
    Each value is ``(mean(ring) - bg) / (fg - bg)`` with ``fg`` the median inside the
    mask and ``bg`` the median of pixels farther than ``background_margin`` px from it:
    1 = as bright as the objects, 0 = as dark as the background.  Comparing a generated
    image with the real one for the same mask shows whether the generator draws edges
    that are too sharp or too soft, which moves the boundaries a segmenter trained on
    generated images draws.  Works in 2D and 3D (distances in pixels/voxels).
    """
    from scipy import ndimage as ndi

    image = np.asarray(image, dtype=np.float64)
    m = np.asarray(mask) > 0
    if image.shape != m.shape:
        raise ValueError(f"image shape {image.shape} and mask shape {m.shape} differ; pass "
                         "the mask of this image")
    check_mask(m)
    if m.all():
        raise ValueError("mask is all foreground: there is no edge or background to measure")
    rings = [int(k) for k in rings]
    if 0 in rings:
        raise ValueError(f"rings are signed distances >= 1 px from the edge; got {rings}")
    d_in = ndi.distance_transform_edt(m)
    d_out = ndi.distance_transform_edt(~m)
    far = d_out > background_margin
    if not far.any():
        raise ValueError(f"no background pixel is farther than background_margin="
                         f"{background_margin} px from the mask; lower it")
    fg, bg = float(np.median(image[m])), float(np.median(image[far]))
    if fg == bg:
        raise ValueError("the image is as bright inside the mask as in the background: "
                         "the edge profile is undefined")
    out = {}
    for k in rings:
        d, where = (d_in, m) if k < 0 else (d_out, ~m)
        ring = where & (d > abs(k) - 1) & (d <= abs(k))
        out[k] = float((image[ring].mean() - bg) / (fg - bg)) if ring.any() else float("nan")
    return out


def grow_some(labels, fraction: float, *, rng=None) -> np.ndarray:
    """Instance labels with a random ``fraction`` of the objects grown by one pixel.

    A mask → image generator can draw its objects a little smaller than the mask it was
    given (:func:`edge_profile` of its images darker at the edge than that of real
    images with the same masks); a segmenter trained on such pairs then draws objects
    too large on real images.  Growing some objects of the generator's *input* by 1 px
    (each object either as drawn or grown, so none gets ragged edges; the training
    targets keep the original labels) moves the drawn edges out by ``fraction`` px on
    average.  :func:`fit_growth` finds the fraction from edge profiles.  Objects grow
    into background only (4-connected in 2D, 6-connected in 3D), never into each other.
    Works in 2D and 3D.
    """
    from scipy import ndimage as ndi

    labels = np.asarray(labels)
    if labels.dtype == bool or labels.dtype.kind not in "iu":
        raise ValueError(f"labels must be an integer instance image; got dtype "
                         f"{labels.dtype} (label a binary mask with scipy.ndimage.label first)")
    fraction = float(fraction)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1]; got {fraction}")
    ids = np.unique(labels[labels > 0])
    rng = np.random.default_rng(rng)
    chosen = ids[rng.random(len(ids)) < fraction]
    if not len(chosen):
        return labels.copy()
    grown = np.where(np.isin(labels, chosen), labels, 0)
    cross = ndi.generate_binary_structure(labels.ndim, 1)
    bigger = ndi.grey_dilation(grown, footprint=cross)
    # a pixel between two grown objects goes to neither (no new contacts)
    big = int(grown.max()) + 1
    smaller = ndi.grey_erosion(np.where(grown > 0, grown, big).astype(np.int64),
                               footprint=cross)
    out = labels.copy()
    new = (labels == 0) & (bigger > 0) & (bigger == smaller)
    out[new] = bigger[new]
    return out


def fit_growth(real: dict, as_is: dict, grown: dict) -> float:
    """The fraction ``p`` in [0, 1] for :func:`grow_some` with which the generator's edge
    profile best matches the real one: least squares of ``(1 - p) * as_is + p * grown``
    against ``real`` over their common rings (:func:`edge_profile` dicts of real images,
    of images generated from the masks as they are, and from the masks all grown by
    1 px)."""
    rings = sorted(set(real) & set(as_is) & set(grown))
    if not rings:
        raise ValueError("the three edge profiles have no ring in common; compute them "
                         "with the same rings")
    r, a, g = (np.array([d[k] for k in rings], float) for d in (real, as_is, grown))
    if not np.all(np.isfinite(np.concatenate([r, a, g]))):
        raise ValueError(f"an edge profile has NaN rings ({rings}); use masks whose objects "
                         "are large enough for every ring")
    step = g - a
    if not np.any(step):
        raise ValueError("growing the masks did not change the generated edges: nothing "
                         "to fit")
    return float(np.clip(np.dot(r - a, step) / np.dot(step, step), 0.0, 1.0))


class IntensityScale:
    """Linear map of intensities [low, high] → [-1, 1] (clipped), and back.

    ``low``/``high`` are percentiles of the training images, stored with the model so
    generated images come back in the training data's range and dtype.
    """

    def __init__(self, low: float, high: float, dtype: str = "float32"):
        if not high > low:
            raise ValueError(f"intensity high ({high}) must exceed low ({low})")
        self.low, self.high, self.dtype = float(low), float(high), str(np.dtype(dtype))

    @classmethod
    def fit(cls, images, *, low_percentile=0.1, high_percentile=99.9):
        sample = np.concatenate([np.asarray(i, np.float32).ravel()[::7] for i in images])
        lo, hi = np.percentile(sample, [low_percentile, high_percentile])
        if hi <= lo:
            raise ValueError(f"training images are constant between percentiles "
                             f"{low_percentile} and {high_percentile} (value {lo})")
        return cls(lo, hi, np.asarray(images[0]).dtype)

    def to_unit(self, image) -> np.ndarray:
        x = (np.asarray(image, np.float32) - self.low) / (self.high - self.low)
        return np.clip(x * 2 - 1, -1, 1).astype(np.float32)

    def from_unit(self, x) -> np.ndarray:
        v = (np.asarray(x, np.float64) + 1) / 2 * (self.high - self.low) + self.low
        dt = np.dtype(self.dtype)
        if dt.kind in "ui":
            info = np.iinfo(dt)
            return np.clip(np.rint(v), info.min, info.max).astype(dt)
        return v.astype(np.float32)

    def as_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "dtype": self.dtype}


def phantom_masks(kind: str, *, count: int, shape, spacing: float, rng) -> list[np.ndarray]:
    """Class masks of synthetic phantoms (``nuclei``: 1; ``golgi``: 1 nucleus, 2 Golgi)."""
    from .. import golgi, nuclei

    fn = {"nuclei": nuclei, "golgi": golgi}[kind]
    seeds = np.random.SeedSequence(rng).spawn(count)
    radius = 5.0 if kind == "nuclei" else 4.5
    return [fn(tuple(shape), spacing=spacing, radius_um=radius,
               rng=np.random.default_rng(s)).class_mask for s in seeds]


class PatchSampler:
    """Random patches (with flips / 90° turns in the last two axes) from pairs.

    ``sources`` are lists of equally-shaped arrays (the condition and the target of
    each sample); with ``paired=False`` the lists are sampled independently
    (CycleGAN).  Patches hold foreground in ``foreground`` of the draws (up to 20
    tries), judged on ``fg_arrays``.
    """

    def __init__(self, a_list, b_list, *, patch_size, paired=True, rng=None,
                 foreground=0.9, augment=True, fg_a=None, fg_b=None):
        self.a, self.b = a_list, b_list
        self.patch = tuple(int(p) for p in patch_size)
        self.paired, self.foreground, self.augment = paired, foreground, augment
        self.fg_a, self.fg_b = fg_a, fg_b
        self.rng = np.random.default_rng(rng)
        for lst in (a_list, b_list):
            for arr in lst:
                if any(s < p for s, p in zip(arr.shape, self.patch)):
                    raise ValueError(f"patch_size {list(self.patch)} exceeds an image of shape "
                                     f"{arr.shape}; lower data.patch_size")

    def _crop(self, arrays, fg):
        shape = arrays[0].shape
        want_fg = fg is not None and self.rng.random() < self.foreground
        for _ in range(20):
            start = [int(self.rng.integers(0, s - p + 1)) for s, p in zip(shape, self.patch)]
            sl = tuple(slice(s, s + p) for s, p in zip(start, self.patch))
            if not want_fg or np.any(fg[sl] > 0):
                break
        return [a[sl] for a in arrays]

    def _augment(self, arrays):
        if not self.augment:
            return arrays
        square = self.patch[-1] == self.patch[-2]
        k = int(self.rng.integers(4)) if square else 2 * int(self.rng.integers(2))
        flip = bool(self.rng.integers(2))
        out = []
        for a in arrays:
            a = np.rot90(a, k, axes=(-2, -1))
            if flip:
                a = a[..., ::-1]
            out.append(np.ascontiguousarray(a))
        return out

    def batch(self, n: int):
        """Two float32 arrays ``(n, 1, *patch)``."""
        xa, xb = [], []
        for _ in range(n):
            i = int(self.rng.integers(len(self.a)))
            if self.paired:
                pa, pb = self._augment(self._crop([self.a[i], self.b[i]],
                                                  None if self.fg_a is None else self.fg_a[i]))
            else:
                j = int(self.rng.integers(len(self.b)))
                fa = None if self.fg_a is None else self.fg_a[i]
                fb = None if self.fg_b is None else self.fg_b[j]
                (pa,) = self._augment(self._crop([self.a[i]], fa))
                (pb,) = self._augment(self._crop([self.b[j]], fb))
            xa.append(pa)
            xb.append(pb)
        return np.stack(xa)[:, None].astype(np.float32), np.stack(xb)[:, None].astype(np.float32)

    def state(self):
        return self.rng.bit_generator.state

    def set_state(self, state):
        self.rng.bit_generator.state = state
