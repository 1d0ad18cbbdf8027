"""Skeleton overlays of 2D/3D images as PNG: a max projection, and orthogonal views.

* :func:`skeleton_projection_png` — the image's maximum projection along z (grey,
  1–99.8 percentile stretch) with the skeleton's projection on top, each connected
  skeleton component in its own colour (the largest in red), so a component that
  spreads through the background shows at a glance.
* :func:`skeleton_orthogonal_png` — the three orthogonal maximum projections (XY, XZ
  below, ZY at the right, as Fiji's *Orthogonal Views* lay them out), drawn at the
  voxel's physical aspect (``spacing``), so a slab in z looks like one.

Both return :class:`~fijibridge._core.steps.Png` bytes (matplotlib, Agg).
"""

from __future__ import annotations

import numpy as np

from .._core.options import check_spacing

__all__ = ["skeleton_projection_png", "skeleton_orthogonal_png", "skeleton_components"]


def _stretch(img):
    lo, hi = np.percentile(img, (1, 99.8))
    return np.clip((img - lo) / max(float(hi - lo), 1e-12), 0, 1)


def skeleton_components(skeleton) -> np.ndarray:
    """Labels of the skeleton's connected components (all neighbours), numbered by
    decreasing size (1 = largest)."""
    from scipy import ndimage as ndi

    sk = np.asarray(skeleton) != 0
    lab, n = ndi.label(sk, structure=np.ones((3,) * sk.ndim, bool))
    if n == 0:
        return lab
    sizes = np.bincount(lab.ravel())[1:]
    order = np.argsort(-sizes, kind="stable")
    remap = np.zeros(n + 1, np.int32)
    remap[order + 1] = np.arange(1, n + 1)
    return remap[lab]


def _colours(lab2d):
    """RGBA of projected component labels: largest red, the others a qualitative cycle."""
    import matplotlib

    cycle = matplotlib.colormaps["tab10"](np.arange(10))
    cycle = np.delete(cycle, 3, axis=0)  # tab10's red is the largest's colour
    rgba = np.zeros(lab2d.shape + (4,))
    on = lab2d > 0
    idx = lab2d[on]
    rgba[on] = np.where((idx == 1)[:, None], np.array([1.0, 0.1, 0.1, 1.0]),
                        cycle[(idx - 2) % len(cycle)])
    return rgba


def _project(lab, axis):
    """Projection of a label image along ``axis``: the smallest non-zero label wins
    (the largest component stays visible where pieces overlap)."""
    big = np.where(lab > 0, lab, np.iinfo(np.int32).max)
    out = big.min(axis=axis)
    out[out == np.iinfo(np.int32).max] = 0
    return out


def _title(skeleton):
    lab = skeleton_components(skeleton)
    n = int(lab.max())
    return lab, f"{n} skeleton component{'s' if n != 1 else ''}"


def skeleton_projection_png(image, skeleton, *, spacing=None, title: str | None = None):
    """PNG: maximum projection of ``image`` with the projected skeleton (see module doc)."""
    from .._core.figures import new_figure
    from .._core.steps import figure_png

    img = np.asarray(image, np.float32)
    sk = np.asarray(skeleton) != 0
    if img.shape != sk.shape or img.ndim not in (2, 3):
        raise ValueError(f"image and skeleton must be 2D or 3D of one shape; got {img.shape} "
                         f"and {sk.shape}")
    sp = check_spacing(spacing, img.ndim)
    lab, text = _title(sk)
    if img.ndim == 3:
        img, lab = img.max(0), _project(lab, 0)
    h, w = img.shape
    fig, ax = new_figure(figsize=(6, 6 * h * sp[-2] / (w * sp[-1])))
    extent = (0, w * sp[-1], h * sp[-2], 0)
    ax.imshow(_stretch(img), cmap="gray", extent=extent, interpolation="nearest")
    ax.imshow(_colours(lab), extent=extent, interpolation="nearest")
    ax.set_title(title or f"max projection: {text}", fontsize=9)
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("y (µm)")
    return figure_png(fig)


def skeleton_orthogonal_png(image, skeleton, *, spacing=None, title: str | None = None):
    """PNG: XY, XZ and ZY maximum projections with the skeleton, at physical aspect."""
    from .._core.figures import new_figure
    from .._core.steps import figure_png

    img = np.asarray(image, np.float32)
    sk = np.asarray(skeleton) != 0
    if img.ndim == 2:
        return skeleton_projection_png(img, sk, spacing=spacing, title=title)
    if img.shape != sk.shape or img.ndim != 3:
        raise ValueError(f"image and skeleton must be 3D of one shape; got {img.shape} and "
                         f"{sk.shape}")
    sz, sy, sx = check_spacing(spacing, 3)
    lab, text = _title(sk)
    nz, ny, nx = img.shape
    zw, yh, xw = nz * sz, ny * sy, nx * sx  # µm
    # keep the thin views readable when z is small: at least 15 % of the figure
    zv = max(zw, 0.15 * max(yh, xw))
    fig = new_figure(figsize=(7, 7 * (yh + zv) / (xw + zv)), axes=False)
    gs = fig.add_gridspec(2, 2, width_ratios=(xw, zv), height_ratios=(yh, zv),
                          wspace=0.12, hspace=0.12)
    views = [((0, 0), 0, (0, xw, yh, 0), "XY", None),
             ((1, 0), 1, (0, xw, zw, 0), "XZ", None),
             ((0, 1), 2, (0, zw, yh, 0), "ZY", "T")]
    for pos, axis, extent, name, transpose in views:
        ax = fig.add_subplot(gs[pos])
        pi, pl = img.max(axis), _project(lab, axis)
        if transpose:
            pi, pl = pi.T, pl.T
        ax.imshow(_stretch(pi), cmap="gray", extent=extent, interpolation="nearest",
                  aspect="auto")
        ax.imshow(_colours(pl), extent=extent, interpolation="nearest", aspect="auto")
        ax.text(0.02, 0.97, name, transform=ax.transAxes, color="white", fontsize=8,
                va="top")
        ax.tick_params(labelsize=6)
    fig.suptitle(title or f"orthogonal max projections (µm): {text}", fontsize=9)
    return figure_png(fig)
