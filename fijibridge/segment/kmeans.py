"""K-means segmentation of an image by intensity, optionally position and texture.

Clusters are numbered by increasing mean intensity, so label 0 is the darkest and
``k - 1`` the brightest cluster, whatever the random start.

References
----------
.. [1] D. Arthur and S. Vassilvitskii (2007), "k-means++: the advantages of careful
       seeding", SODA '07, :doi:`10.1145/1283383.1283494`
"""

from __future__ import annotations

import numpy as np

from .._core.options import check_choice, check_positive, check_spacing

__all__ = ["kmeans_segment", "FEATURES"]

#: feature names accepted by :func:`kmeans_segment`
FEATURES = ("intensity", "position", "texture")


def _features(image, features, spacing, texture_sigma):
    from scipy import ndimage as ndi

    img = image.astype(np.float64)
    cols = [img.ravel()]
    if "position" in features:
        grids = np.meshgrid(*[np.arange(n) * s for n, s in zip(image.shape, spacing)],
                            indexing="ij")
        cols += [g.ravel() for g in grids]
    if "texture" in features:
        sigma = [texture_sigma / s for s in spacing]
        mean = ndi.gaussian_filter(img, sigma)
        var = ndi.gaussian_filter(img * img, sigma) - mean * mean
        cols += [mean.ravel(), np.sqrt(np.maximum(var, 0)).ravel()]
    x = np.stack(cols, axis=1)
    x = x - x.mean(axis=0)
    std = x.std(axis=0)
    if "position" in features:  # one scale for all axes keeps physical (µm) distances
        pos = slice(1, 1 + image.ndim)
        std[pos] = np.sqrt((std[pos] ** 2).sum())
    std[std == 0] = 1.0
    return x / std


def _kmeans(x, k, num_iter, rng):
    n = x.shape[0]
    centers = np.empty((k, x.shape[1]))
    centers[0] = x[rng.integers(n)]
    d2 = ((x - centers[0]) ** 2).sum(axis=1)
    for j in range(1, k):  # k-means++ seeding
        total = d2.sum()
        idx = rng.integers(n) if total == 0 else rng.choice(n, p=d2 / total)
        centers[j] = x[idx]
        d2 = np.minimum(d2, ((x - centers[j]) ** 2).sum(axis=1))
    labels = np.zeros(n, np.intp)
    for _ in range(num_iter):
        dist = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
        new = dist.argmin(axis=1)
        sums = np.zeros_like(centers)
        np.add.at(sums, new, x)
        counts = np.bincount(new, minlength=k)
        moved = counts > 0
        centers[moved] = sums[moved] / counts[moved, None]
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
    return centers


def kmeans_segment(image, *, k=2, features=("intensity",), spacing=None, num_iter=100,
                   texture_sigma=1.0, max_samples=200_000, foreground=None, rng=None):
    """Cluster the pixels of ``image`` into ``k`` classes with k-means.

    Parameters
    ----------
    image : ndarray
        2D ``(Y, X)`` or 3D ``(P, Y, X)`` grey-level image (no NaN).
    k : int
        Number of clusters, >= 2.
    features : sequence of str
        Any of ``"intensity"`` (always used), ``"position"`` (pixel coordinates in
        µm, scaled by ``spacing``), ``"texture"`` (local mean and standard deviation
        in a Gaussian window of ``texture_sigma`` µm). Features are standardised.
    spacing : float or sequence, optional
        Voxel size in µm, ``(z, y, x)`` or ``(y, x)``; default 1.
    num_iter : int
        Maximum Lloyd iterations.
    max_samples : int
        Centres are fitted on at most this many randomly drawn pixels; every pixel is
        then assigned to its nearest centre.
    foreground : {None, "brightest"}
        ``"brightest"``: return a boolean mask of the brightest cluster instead of
        labels.
    rng : int or numpy.random.Generator, optional
        Seed or generator; the same seed gives the same result.

    Returns
    -------
    ndarray
        ``int32`` labels ``0 .. k-1`` ordered by mean intensity, or a boolean mask.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((10, 10)); img[2:5, 2:5] = 100
    >>> int(kmeans_segment(img, k=2, rng=0).sum())
    9
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be 2D (Y, X) or 3D (P, Y, X); got shape {image.shape}")
    if image.dtype.kind not in "uif":
        raise TypeError(f"image must be a real-valued grey image; got dtype {image.dtype}")
    if image.size == 0:
        raise ValueError(f"image is empty (shape {image.shape})")
    if image.dtype.kind == "f" and not np.isfinite(image).all():
        raise ValueError("image contains NaN or infinite values; replace them first "
                         "(e.g. numpy.nan_to_num)")
    k = check_positive("k", k, integer=True)
    if k < 2:
        raise ValueError(f"k must be >= 2; got {k}")
    num_iter = check_positive("num_iter", num_iter, integer=True)
    max_samples = check_positive("max_samples", max_samples, integer=True)
    if isinstance(features, str):
        features = (features,)
    features = {check_choice("feature", f, FEATURES) for f in features} | {"intensity"}
    spacing = check_spacing(spacing, image.ndim)
    if foreground is not None:
        foreground = check_choice("foreground", foreground, ["brightest"])
    rng = np.random.default_rng(rng)
    x = _features(image, features, spacing, check_positive("texture_sigma", texture_sigma))
    sample = x if x.shape[0] <= max_samples else x[rng.choice(x.shape[0], max_samples,
                                                              replace=False)]
    centers = _kmeans(sample, k, num_iter, rng)
    labels = np.empty(x.shape[0], np.intp)
    for start in range(0, x.shape[0], 65536):  # nearest centre, in chunks
        chunk = x[start:start + 65536]
        labels[start:start + 65536] = ((chunk[:, None] - centers[None]) ** 2).sum(2).argmin(1)
    means = np.array([image.ravel()[labels == j].mean() if (labels == j).any() else -np.inf
                      for j in range(k)])
    rank = np.empty(k, np.int32)
    rank[np.argsort(means, kind="stable")] = np.arange(k, dtype=np.int32)
    out = rank[labels].reshape(image.shape)
    if foreground == "brightest":
        return out == k - 1
    return out
