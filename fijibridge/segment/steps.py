"""Pipeline steps of the segment package: ``threshold``, ``instances``, ``segment``
(a trained network), ``territories`` (cells grown from their nuclei), ``rois`` (an
ImageJ ROI set of labels) and ``overlay`` (outlines of labels on the image).

Thin adapters: image in, mask/labels out; sizes and smoothing in µm through the
``spacing`` of the item's image.  Torch is imported only when ``segment`` runs.
"""

from __future__ import annotations

import numpy as np

from .._core.steps import check_param, choice, figure_png, make_step, positive

__all__ = ["STEPS", "threshold", "instances", "segment", "territories", "rois", "overlay"]


def _labels_dtype(labels):
    return labels.astype(np.uint16 if labels.max() < 65536 else np.float32)


def threshold(*, image, spacing=None, method: str = "Li", dark: bool = True,
              smooth_um: float = 0.0):
    """ImageJ auto-threshold (bit-exact, :func:`fijibridge.segment.threshold_mask`),
    optionally after Gaussian smoothing of ``smooth_um`` µm; in 3D the threshold comes
    from the whole stack's histogram. Output ``mask`` (0/255)."""
    from .thresholds import threshold_mask

    data = np.asarray(image, np.float32)
    if smooth_um > 0:
        from scipy import ndimage as ndi

        sp = np.asarray(spacing if spacing is not None else (1.0,) * data.ndim, float)
        data = ndi.gaussian_filter(data, smooth_um / sp[-data.ndim:])
    # 3D: one threshold from the histogram of the whole stack (ImageJ's "stack" option)
    mask = threshold_mask(data, method=method, dark=dark, stack=data.ndim == 3)
    return {"mask": (mask > 0).astype(np.uint8) * 255}


def instances(*, mask, image=None, spacing=None, method: str = "connected",
              min_size_um: float = 0.0, fill_holes: bool = False, min_distance: float = 1.0):
    """Instance labels of a mask: connected components, or split touching objects
    (``distance``/``intensity`` watershed, :func:`fijibridge.segment.split_instances`);
    objects smaller than ``min_size_um`` (µm² or µm³) removed."""
    from scipy import ndimage as ndi

    from .instances import remove_small_labels, split_instances

    m = np.asarray(mask) > 0
    if fill_holes:
        m = ndi.binary_fill_holes(m)
    sp = spacing if spacing is not None else (1.0,) * m.ndim
    if method == "connected":
        labels, _ = ndi.label(m)
    else:
        labels = split_instances(m, method=method, image=image, spacing=sp,
                                 min_distance=min_distance)
    if min_size_um > 0:
        from skimage.segmentation import relabel_sequential

        labels = remove_small_labels(labels, min_size=int(np.ceil(min_size_um /
                                                                  float(np.prod(sp)))))
        labels = relabel_sequential(labels)[0]
    return {"labels": _labels_dtype(labels)}


def segment(*, image, model: str = "nuclei2d", device: str = "auto", backend: str = "auto"):
    """Instance segmentation with a trained network (default the shipped ``nuclei2d``);
    ``device`` "auto" takes the GPU when there is one, ``backend`` "auto" ONNX Runtime or
    OpenVINO on the CPU when installed. Output ``inference`` records which ran."""
    from .inference import run_segment

    labels, info = run_segment(np.asarray(image), model=model, device=device, backend=backend)
    return {"labels": _labels_dtype(labels), "inference": info}


def territories(*, nuclei, image, mask=None, spacing=None, method: str = "intensity",
                smooth_um: float = 0.5, threshold: str = "Otsu"):
    """Cells from their nuclei: a nucleus-seeded watershed on the cytoplasmic signal
    ``image`` within the cell ``mask`` (default: ``threshold`` of the signal smoothed by
    ``smooth_um`` µm); :func:`fijibridge.segment.territories.cell_territories`.
    Output ``labels``: cell ``k`` holds nucleus ``k``."""
    from .territories import cell_territories

    return {"labels": cell_territories(np.asarray(nuclei), np.asarray(image), mask=mask,
                                       spacing=spacing, method=method, smooth_um=smooth_um,
                                       threshold=threshold)}


def rois(*, labels):
    """An ImageJ ROI set (``.zip`` for the ROI Manager): the outline of each label on the
    max projection, named ``cell_<label>``."""
    from .._core.steps import RoiZip
    from .territories import rois_zip

    return {"rois": RoiZip(rois_zip(np.asarray(labels)))}


def overlay(*, image, labels):
    """PNG of the image (max projection in 3D) with the outlines of the labels."""
    from skimage.segmentation import find_boundaries

    from .._core.figures import new_figure

    img = np.asarray(image, np.float32)
    lab = np.asarray(labels).astype(np.int64)
    if img.ndim == 3:
        img, lab = img.max(0), lab.max(0)
    lo, hi = np.percentile(img, (1, 99.8))
    fig, ax = new_figure(figsize=(5, 5))
    ax.imshow(np.clip((img - lo) / max(hi - lo, 1e-12), 0, 1), cmap="gray")
    edge = np.ma.masked_where(~find_boundaries(lab, mode="inner"), lab)
    ax.imshow(edge, cmap="autumn", interpolation="nearest")
    ax.set_title(f"{int(len(np.unique(lab)) - 1)} objects")
    ax.axis("off")
    return {"png": figure_png(fig)}


def _check_threshold(p):
    from .thresholds import _ALL_NAMES  # the names threshold_mask accepts

    check_param(p, "method", choice("method", _ALL_NAMES))
    check_param(p, "smooth_um", positive("smooth_um", allow_zero=True))


def _check_instances(p):
    check_param(p, "method", choice("method", ["connected", "distance", "marker"]))
    check_param(p, "min_size_um", positive("min_size_um", allow_zero=True))
    check_param(p, "min_distance", positive("min_distance"))


def _check_territories(p):
    from .territories import TERRITORY_METHODS

    from .thresholds import _ALL_NAMES

    check_param(p, "method", choice("method", TERRITORY_METHODS))
    check_param(p, "smooth_um", positive("smooth_um", allow_zero=True))
    check_param(p, "threshold", choice("threshold", _ALL_NAMES))


def _check_segment(p):
    # the model name is checked when the step loads it: its resolver lives beside torch
    # (fijibridge.segment.models), which validation must not import
    from .._core.execution import device_name

    check_param(p, "device", device_name)
    check_param(p, "backend", choice("backend", ["auto", "torch", "onnx", "openvino"]))


STEPS = {s.name: s for s in (
    make_step(threshold, "image", ("mask",), check=_check_threshold),
    make_step(instances, "image", ("labels",), check=_check_instances),
    make_step(segment, "image", ("labels", "inference"), check=_check_segment,
              default_outputs=("labels",)),
    make_step(territories, "image", ("labels",), check=_check_territories),
    make_step(rois, "image", ("rois",)),
    make_step(overlay, "image", ("png",)),
)}
