"""Inference: sliding window with blending for any image size, 2D and 3D (torch), and
post-processing of network outputs into instance labels.

:func:`sliding_window_inference` takes any callable mapping a batch
``(B, C, *roi)`` to ``(B, C_out, *roi)`` (as MONAI's ``inferers/utils.py`` does): a
fijibridge network, a TorchScript module or a plain function.  :func:`predict` and
:func:`segment` add the model's normalisation, output activation and
post-processing.

References
----------
.. [1] Isensee F et al. (2021). nnU-Net: a self-configuring method for deep
       learning-based biomedical image segmentation. Nat Methods 18:203–211
       (Gaussian importance weighting of overlapping tiles).
       :doi:`10.1038/s41592-020-01008-z`
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Sequence

import numpy as np
import torch

from .._core.execution import resolve_device, torch_device
from .._core.options import check_choice
from .models import load_model
from .preprocess import check_finite, normalize

__all__ = ["BLEND_MODES", "AUTO_BORDER", "AUTO_MIN_WINDOW", "auto_window", "sliding_window_inference", "predict",
           "probabilities_to_labels", "segment", "run_segment"]

log = logging.getLogger(__name__)

BLEND_MODES = ("gaussian", "linear", "constant")


def _tuple(value, n: int, name: str) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)):
        value = (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) != n or min(value) < 1:
        raise ValueError(f"{name} must be a positive integer or {n} of them; got {value!r}")
    return value


def _reflect_pad(x: torch.Tensor, pads: Sequence[tuple[int, int]]) -> torch.Tensor:
    """Reflection-pad the spatial axes by ``pads`` (before, after), any amount (repeats
    the reflection when the pad exceeds the axis length; length-1 axes replicate)."""
    for axis, (before, after) in enumerate(pads):
        dim = axis + 2
        while before > 0 or after > 0:
            n = x.shape[dim]
            if n == 1:
                reps = [x] * before + [x] + [x] * after
                x = torch.cat(reps, dim=dim)
                break
            b, a = min(before, n - 1), min(after, n - 1)
            parts = []
            if b:
                parts.append(x.narrow(dim, 1, b).flip(dim))
            parts.append(x)
            if a:
                parts.append(x.narrow(dim, n - 1 - a, a).flip(dim))
            x = torch.cat(parts, dim=dim)
            before, after = before - b, after - a
    return x


def _importance(roi: tuple[int, ...], mode: str, sigma_scale: float) -> torch.Tensor:
    grids = []
    for s in roi:
        c = (s - 1) / 2
        t = torch.arange(s, dtype=torch.float32)
        if mode == "gaussian":
            w = torch.exp(-0.5 * ((t - c) / max(sigma_scale * s, 1e-6)) ** 2)
        elif mode == "linear":
            w = 1 - (t - c).abs() / (c + 1)
        else:
            w = torch.ones(s)
        grids.append(w)
    m = grids[0]
    for g in grids[1:]:
        m = m[..., None] * g
    m = m / m.max()
    return m.clamp_min(1e-3)


def _starts(size: int, roi: int, overlap: float) -> list[int]:
    if size <= roi:
        return [0]
    step = max(1, int(roi * (1 - overlap)))
    starts = list(range(0, size - roi + 1, step))
    if starts[-1] != size - roi:
        starts.append(size - roi)
    return starts


@torch.no_grad()
def sliding_window_inference(inputs: torch.Tensor, roi_size, predictor: Callable, *,
                             overlap: float = 0.25, mode: str = "gaussian",
                             sigma_scale: float = 0.125, sw_batch_size: int = 4,
                             border: int | Sequence[int] | None = None,
                             size_multiple: int | None = None,
                             device=None, progress: bool = False) -> torch.Tensor:
    """Run ``predictor`` on overlapping windows and blend the results.

    Parameters
    ----------
    inputs : Tensor ``(N, C, *spatial)``
        1, 2 or 3 spatial dimensions, any size (smaller than ``roi_size`` too).
    roi_size : int or sequence of int
        Window size.  Rounded up to a multiple of ``size_multiple`` (default: the
        predictor's ``size_multiple`` attribute if it has one, else 1).
    predictor : callable
        Maps ``(B, C, *roi)`` to ``(B, C_out, *roi)``.
    overlap : float in [0, 1)
        Fraction of the window shared by neighbours.
    mode : {"gaussian", "linear", "constant"}
        Weighting of each window's output when blending.
    sigma_scale : float
        Gaussian σ as a fraction of the window size.
    sw_batch_size : int
        Windows per predictor call.
    border : int or sequence, optional
        Reflection padding added around the image so edge pixels see context
        (default ``roi // 8``; 0 for none).  Images smaller than the window are also
        reflection-padded.
    device : str, optional
        Where the predictor runs (default: where ``inputs`` is).  The blended output
        is accumulated on the inputs' device.

    Returns
    -------
    Tensor ``(N, C_out, *spatial)`` on ``inputs.device``.
    """
    if not isinstance(inputs, torch.Tensor):
        raise TypeError(f"inputs must be a torch tensor (N, C, *spatial); got {type(inputs).__name__}")
    nd = inputs.dim() - 2
    if nd not in (1, 2, 3):
        raise ValueError(f"inputs must be (N, C, *spatial) with 1-3 spatial dims; got shape "
                         f"{tuple(inputs.shape)}")
    if not callable(predictor):
        raise TypeError(f"predictor must be callable; got {type(predictor).__name__}")
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1); got {overlap!r}")
    mode = check_choice("mode", mode, BLEND_MODES)
    if isinstance(sw_batch_size, bool) or not isinstance(sw_batch_size, int) or sw_batch_size < 1:
        raise ValueError(f"sw_batch_size must be an integer >= 1; got {sw_batch_size!r}")
    if inputs.is_floating_point() and not torch.isfinite(inputs).all():
        raise ValueError("inputs contain NaN/inf values")
    roi = _tuple(roi_size, nd, "roi_size")
    mult = size_multiple or int(getattr(predictor, "size_multiple", 1) or 1)
    roi = tuple(-(-r // mult) * mult for r in roi)
    border = _tuple(border, nd, "border") if border not in (None, 0) else (
        (0,) * nd if border == 0 else tuple(r // 8 for r in roi))
    run_device = torch_device(device) if device is not None else inputs.device

    spatial = tuple(inputs.shape[2:])
    pads = []
    for s, r, b in zip(spatial, roi, border):
        total = max(s + 2 * b, r) - s
        pads.append((total // 2, total - total // 2))
    x = _reflect_pad(inputs, pads)
    padded = tuple(x.shape[2:])
    starts = [_starts(s, r, overlap) for s, r in zip(padded, roi)]
    windows = list(itertools.product(*starts))
    if all(len(st) == 1 for st in starts) and padded == roi:
        # one window covering the (padded) image: no blending, no weight maps
        preds = []
        for n in range(x.shape[0]):
            pred = predictor(x[n:n + 1].to(run_device))
            if not isinstance(pred, torch.Tensor) or pred.shape[0] != 1 \
                    or tuple(pred.shape[2:]) != roi:
                raise ValueError(f"predictor must return (B, C, *{roi}) for a (B, C, *{roi}) "
                                 f"batch; got {getattr(pred, 'shape', type(pred).__name__)}")
            preds.append(pred.to(inputs.device, torch.float32))
        out = torch.cat(preds)
        crop = tuple(slice(p[0], p[0] + s) for p, s in zip(pads, spatial))
        return out[(slice(None), slice(None)) + crop]
    weight = _importance(roi, mode, sigma_scale).to(inputs.device)
    out = None
    norm = torch.zeros((1, 1) + padded, dtype=torch.float32, device=inputs.device)
    slices = [tuple(slice(a, a + r) for a, r in zip(w, roi)) for w in windows]
    for sl in slices:
        norm[(slice(None), slice(None)) + sl] += weight
    bar = None
    if progress:  # a bar on a terminal, a line every 5 s in a log
        from .._core.progress import Progress

        bar = Progress(len(slices) * x.shape[0], desc="windows", unit="win", every=5.0)
    for n in range(x.shape[0]):
        for i in range(0, len(slices), sw_batch_size):
            chunk = slices[i:i + sw_batch_size]
            batch = torch.cat([x[(slice(n, n + 1), slice(None)) + sl] for sl in chunk]).to(run_device)
            pred = predictor(batch)
            if not isinstance(pred, torch.Tensor) or pred.shape[0] != len(chunk) \
                    or tuple(pred.shape[2:]) != roi:
                raise ValueError(f"predictor must return (B, C, *{roi}) for a (B, C, *{roi}) "
                                 f"batch; got {getattr(pred, 'shape', type(pred).__name__)}")
            pred = pred.to(inputs.device, torch.float32)
            if out is None:
                out = torch.zeros((x.shape[0], pred.shape[1]) + padded, dtype=torch.float32,
                                  device=inputs.device)
            for k, sl in enumerate(chunk):
                out[(slice(n, n + 1), slice(None)) + sl] += pred[k:k + 1] * weight
            if bar is not None:
                bar.update(len(chunk))
    if bar is not None:
        bar.close()
    out = out / norm
    crop = tuple(slice(p[0], p[0] + s) for p, s in zip(pads, spatial))
    return out[(slice(None), slice(None)) + crop]


def _activate(logits: torch.Tensor, head: str) -> torch.Tensor:
    if head == "boundary" or (head == "logits" and logits.shape[1] > 1):
        return torch.softmax(logits, dim=1)
    if head == "distance":
        return torch.cat([torch.sigmoid(logits[:, :1]), logits[:, 1:].clamp_min(0)], dim=1)
    return torch.sigmoid(logits)


#: default reflected border (pixels per side) around a whole-image window, by spatial
#: dimensions: the border the windows used before had (256-px tiles in 2D, 128 in 3D, an
#: eighth of each), capped at an eighth of the axis (a 64-plane stack gets 8)
AUTO_BORDER = {1: 32, 2: 32, 3: 16}
#: smallest whole-image window along Y and X: a smaller image is reflection-padded to it,
#: as the 256² tiles did before (the shipped model's F1 on 61×57 planes depends on it:
#: 0.779 padded to 256, 0.761 with an 8-px border only); Z keeps its border only
AUTO_MIN_WINDOW = 256
#: activation memory of a U-Net forward pass, in float32 feature maps of the first
#: level's width (measured peak: ~6.2 for UNet depth 4 in 2D and 3D; 7 leaves room)
_ACTIVATION_FACTOR = 7
#: default cap of that estimate (bytes); half of the free memory where that is less
DEFAULT_INFERENCE_MEMORY = 4 << 30


def _memory_budget(device) -> int:
    budget = DEFAULT_INFERENCE_MEMORY
    try:
        if str(device).startswith("cuda"):
            free, _ = torch.cuda.mem_get_info(torch.device(device))
        else:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        budget = min(budget, int(free) // 2)
    except (ValueError, OSError, AttributeError, RuntimeError):
        pass  # no way to ask: keep the fixed cap
    return budget


def _network_width(network) -> int:
    config = getattr(network, "config", None) or {}
    return int(config.get("features", 32)) if isinstance(config, dict) else 32


def auto_window(spatial, *, size_multiple: int = 1, features: int = 32,
                max_memory: int | None = None, device="cpu", border=None):
    """Window and border for :func:`predict`'s ``roi_size=None``.

    The whole image plus a reflected border (:data:`AUTO_BORDER`: 32 px per side in 2D,
    16 in 3D, at most an eighth of the axis, at least ``size_multiple``), at least
    :data:`AUTO_MIN_WINDOW` along Y and X, rounded up to ``size_multiple``, when its
    estimated activation memory (``7 × features × 4`` bytes per pixel) fits in
    ``max_memory`` (default: 4 GiB or half the free memory, whichever is less);
    otherwise the largest window that does, halving the longest axis at a time.

    Returns ``(roi, border)``, tuples of ints per spatial axis.
    """
    mult = max(int(size_multiple), 1)
    if border is None:
        cap = AUTO_BORDER.get(len(spatial), 32)
        border = tuple(min(cap, max(mult, s // 8)) for s in spatial)
    else:
        border = _tuple(border, len(spatial), "border") if border else (0,) * len(spatial)
    lowest = [1] * (len(spatial) - 2) + [AUTO_MIN_WINDOW] * min(2, len(spatial))
    roi = [-(-max(s + 2 * b, low) // mult) * mult for s, b, low in zip(spatial, border, lowest)]
    budget = int(max_memory) if max_memory is not None else _memory_budget(device)
    per_pixel = _ACTIVATION_FACTOR * features * 4
    while float(np.prod(roi)) * per_pixel > budget:
        i = int(np.argmax(roi))
        half = -(-(roi[i] // 2) // mult) * mult
        if half < max(4 * mult, 64) or half >= roi[i]:
            break  # smallest sensible window: run it whatever the estimate says
        roi[i] = half
    return tuple(roi), tuple(border)


def predict(image, network, *, preprocessing: dict | None = None, roi_size=None,
            overlap: float = 0.25, mode: str = "gaussian", sw_batch_size: int = 4,
            device: str = "auto", channel_axis: int | None = None,
            tta: bool = False, backend: str = "torch", border=None,
            max_memory: int | None = None, optimize: bool = True) -> np.ndarray:
    """Probabilities of a network for one image.

    Parameters
    ----------
    image : ndarray ``(Y, X)`` / ``(Z, Y, X)``, or with a channel axis
    network : UNet, Predictor or callable
        A callable needs ``spatial_dims``, ``in_channels`` and ``head`` attributes or
        is treated as a 2D single-channel ``logits`` network.  A
        :class:`~fijibridge.segment.backends.Predictor` (made once with
        :func:`~fijibridge.segment.backends.inference_predictor`) is used as it is.
    preprocessing : dict, optional
        ``{"normalize": "percentile", "low": 1, "high": 99.8}`` (the default).
    roi_size : int, sequence of int or None
        Sliding-window size.  ``None`` (default): the whole image in one window with a
        reflected border when it fits in memory, else the largest window that does
        (:func:`auto_window`).  ``256`` gives the tiling used before version 0.3.
    border : int or sequence, optional
        Reflected border around the image (default: see :func:`auto_window` for
        ``roi_size=None``, ``roi // 8`` for a given window).
    max_memory : int, optional
        Bytes the whole-image window may take (``roi_size=None`` only).
    channel_axis : int, optional
        Axis of ``image`` holding channels (none: a single channel).
    tta : bool
        Test-time augmentation: average the probabilities over the 8 flips/90°
        rotations of the Y–X plane (8× the time; the same in 3D, in-plane only).
    backend : {"torch", "auto", "onnx", "openvino"}
        Who runs the network (:func:`fijibridge.segment.backends.resolve_backend`).
        Default torch: a network being trained changes weights between calls, and each
        new set of weights would be exported again.  ``"auto"`` takes ONNX
        Runtime/OpenVINO on the CPU when ``fijibridge[fast]`` is installed (what
        :func:`segment` does for a trained model).
    optimize : bool
        torch back-end: fold BatchNorm into the convolutions and use the channels-last
        layout (default); ``False`` runs the network as given.

    Returns
    -------
    ndarray float32 ``(C_out, *spatial)`` of probabilities (softmax/sigmoid by head).
    """
    from .backends import inference_predictor

    image = check_finite(image)
    sd = int(getattr(network, "spatial_dims", 2))
    cin = int(getattr(network, "in_channels", 1))
    head = str(getattr(network, "head", "logits"))
    if channel_axis is not None:
        image = np.moveaxis(image, channel_axis, 0)
    else:
        image = image[None]
    if image.ndim - 1 != sd:
        raise ValueError(f"the model is {sd}D (spatial_dims={sd}) but the image has "
                         f"{image.ndim - 1} spatial dimensions (shape {image.shape[1:]})"
                         + ("; give channel_axis= for a multi-channel image"
                            if channel_axis is None and image.ndim - 1 == sd + 1 else ""))
    if image.shape[0] != cin:
        raise ValueError(f"the model takes {cin} channel(s); the image has {image.shape[0]}")
    pre = dict(preprocessing or {"normalize": "percentile", "low": 1.0, "high": 99.8})
    chans = [normalize(c, mode=pre.get("normalize", "percentile"), low=pre.get("low", 1.0),
                       high=pre.get("high", 99.8)) for c in image]
    from .backends import Predictor

    dev = torch_device(network.device if isinstance(network, Predictor) else device)
    run = inference_predictor(network, device=str(dev), backend=backend, optimize=optimize)
    x = torch.from_numpy(np.stack(chans)[None].astype(np.float32))
    x = x.to(dev if run.backend == "torch" else "cpu")
    mult = int(getattr(run, "size_multiple", 1) or 1)
    width = _network_width(network)

    def infer(t):
        roi, b = roi_size, border
        if roi is None:  # per call: a rotated (TTA) image has its axes swapped
            roi, b = auto_window(tuple(t.shape[2:]), size_multiple=mult, features=width,
                                 max_memory=max_memory, device=dev, border=border)
            log.debug("window %s, border %s (backend %s)", roi, b, run.backend)
        return sliding_window_inference(t, roi, run, overlap=overlap, mode=mode,
                                        sw_batch_size=sw_batch_size, border=b)

    if not tta:
        return _activate(infer(x), head)[0].cpu().numpy()
    yx = (x.ndim - 2, x.ndim - 1)
    total = None
    for k in range(4):
        for flip in (False, True):
            xt = torch.rot90(x, k, yx)
            xt = torch.flip(xt, (yx[1],)) if flip else xt
            pt = _activate(infer(xt), head)
            pt = torch.flip(pt, (yx[1],)) if flip else pt
            pt = torch.rot90(pt, -k, yx)
            total = pt if total is None else total + pt
    return (total / 8)[0].cpu().numpy()


def probabilities_to_labels(probs, *, head: str = "boundary", threshold: float = 0.5,
                            seed_threshold: float = 0.5, seeds: str = "components",
                            min_size: int = 15, min_distance: float = 5.0,
                            spacing=None) -> np.ndarray:
    """Instance labels from network probabilities (2D or 3D).

    * ``head="boundary"``: foreground is ``1 - P(background) > threshold``; seeds are
      connected regions of ``P(interior) > seed_threshold``; a marker watershed on
      ``-P(interior)`` grows them over the foreground, so touching objects split
      along the boundary class.
    * ``head="distance"``: seeds are regions where the predicted distance exceeds
      ``seed_threshold``; watershed on the negative distance.
    * ``head="logits"`` with one channel: foreground, then a distance-transform
      watershed with seeds ``min_distance`` µm apart.

    ``seeds="distance"`` (boundary and distance heads) splits each seed region
    further at the maxima of its distance transform (``min_distance`` µm apart), for
    touching objects whose boundary the network missed.

    The watersheds are :func:`fijibridge.segment.instances.split_instances`.  Seeds
    smaller than ``min_size // 3`` and objects smaller than ``min_size`` pixels are
    removed.  Returns int32 labels numbered 1..n.
    """
    from scipy import ndimage as ndi

    from .instances import remove_small_labels, split_instances

    head = check_choice("head", head, ("boundary", "distance", "logits"))
    seeds_mode = check_choice("seeds", seeds, ("components", "distance"))
    probs = np.asarray(probs, dtype=np.float32)
    if probs.ndim not in (3, 4):
        raise ValueError(f"probs must be (C, Y, X) or (C, Z, Y, X); got shape {probs.shape}")
    if head == "logits":
        if probs.shape[0] != 1:
            raise ValueError("head='logits' post-processing handles 1 channel (binary); "
                             f"got {probs.shape[0]}: take argmax per class instead")
        return split_instances(probs[0] > threshold, method="distance", spacing=spacing,
                               min_distance=min_distance, min_size=min_size)
    if head == "boundary":
        if probs.shape[0] != 3:
            raise ValueError(f"head='boundary' needs 3 channels; got {probs.shape[0]}")
        fg = (1 - probs[0]) > threshold
        seeds = (probs[1] > seed_threshold) & fg
    else:
        if probs.shape[0] != 2:
            raise ValueError(f"head='distance' needs 2 channels; got {probs.shape[0]}")
        fg = probs[0] > threshold
        seeds = (probs[1] > seed_threshold) & fg
    if seeds_mode == "distance":
        markers = split_instances(seeds, method="distance", spacing=spacing,
                                  min_distance=min_distance)
    else:
        markers, _ = ndi.label(seeds)
    markers = remove_small_labels(markers, min_size=max(1, min_size // 3))
    if not markers.any():
        return np.zeros(fg.shape, np.int32)
    return split_instances(fg, method="marker", markers=markers, image=-probs[1],
                           spacing=spacing, min_size=min_size)


def segment(image, *, model="nuclei2d", device: str = "auto", roi_size=None,
            overlap: float = 0.25, sw_batch_size: int = 4, tta: bool = False,
            return_probabilities: bool = False, backend: str = "auto", **postprocessing):
    """Instance labels of ``image`` with a trained model (default the shipped ``nuclei2d``).

    ``model`` is a name, folder or checkpoint path (see
    :func:`fijibridge.segment.models.load_model`) or an already loaded
    ``(network, checkpoint)`` pair, where ``network`` may be a
    :class:`~fijibridge.segment.backends.Predictor` prepared once for many images
    (:func:`~fijibridge.segment.backends.inference_predictor`).  ``roi_size=None``
    (default) runs the whole image at once when it fits in memory (see :func:`predict`);
    ``backend`` chooses who runs the network (``"auto"``: ONNX Runtime/OpenVINO on the
    CPU when ``fijibridge[fast]`` is installed, else torch).  ``tta=True`` averages over
    the 8 flips/rotations.  Extra keywords override the checkpoint's post-processing (see
    :func:`probabilities_to_labels`).

    Examples
    --------
    >>> from fijibridge.data import load_sample            # doctest: +SKIP
    >>> labels = segment(load_sample("dsb2018_nuclei").data)  # doctest: +SKIP
    """
    from .backends import Predictor

    net, ckpt = model if isinstance(model, tuple) else (None, None)
    if isinstance(net, Predictor):
        device = net.device
    else:
        device = resolve_device(device)  # "auto" decided (and logged) once for the whole call
    if net is None:
        net, ckpt = load_model(model, device=device)
    image = check_finite(image)
    if float(image.max()) == float(image.min()):
        log.info("constant image: no objects")
        empty = np.zeros(image.shape, np.int32)
        return (empty, None) if return_probabilities else empty
    probs = predict(image, net, preprocessing=ckpt.get("preprocessing"), roi_size=roi_size,
                    overlap=overlap, sw_batch_size=sw_batch_size, device=device, tta=tta,
                    backend=backend)
    post = {**ckpt.get("postprocessing", {}), **postprocessing}
    labels = probabilities_to_labels(probs, head=net.head, **post)
    return (labels, probs) if return_probabilities else labels


def run_segment(image, *, model="nuclei2d", device: str = "auto", backend: str = "auto",
                **kwargs) -> tuple[np.ndarray, dict]:
    """:func:`segment`, also returning what ran it: ``(labels, info)`` with ``info`` =
    ``{"model", "device", "backend"}`` (for run records: the pipeline step, the CLI)."""
    from .backends import inference_predictor

    device = resolve_device(device)
    net, ckpt = model if isinstance(model, tuple) else load_model(model, device=device)
    run = inference_predictor(net, device=device, backend=backend)
    labels = segment(image, model=(run, ckpt), **kwargs)
    info = {"model": str(model) if not isinstance(model, tuple) else "(loaded)",
            "device": run.device, "backend": run.backend}
    return labels, info
