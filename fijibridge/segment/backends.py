"""Inference back-ends for the U-Nets: optimised torch, and (optional) ONNX Runtime and
OpenVINO.

The core stays pure torch: :func:`fold_batchnorm` folds each eval-mode BatchNorm into
the convolution before it (``w' = w·γ/√(σ²+ε)``, ``b' = (b-μ)·γ/√(σ²+ε)+β``, exact up
to float32 rounding) and the network runs in the channels-last memory layout, which
oneDNN's CPU convolutions prefer.  With ``pip install "fijibridge[fast]"`` the same
(folded) network is exported once to ONNX Runtime or OpenVINO, which run it faster on a
CPU; ``backend="auto"`` takes them when they are installed and the device is the CPU.

An exported model is data, not code: an ``.onnx`` file or an OpenVINO IR (``.xml`` +
``.bin``), kept in the user's cache folder (``$FIJIBRIDGE_CACHE``, else
``$XDG_CACHE_HOME/fijibridge/compiled``, else ``~/.cache/fijibridge/compiled``) under a
key made of the weights, the architecture and the library versions, so that a
changed model is never served from an old file.  Nothing is pickled.

OpenVINO is run in float32 (``INFERENCE_PRECISION_HINT="f32"``): on CPUs with bf16
units its default would be bfloat16, which changes the labels.

Examples
--------
>>> from fijibridge.segment.networks import UNet
>>> net = UNet(2, 1, head="boundary", depth=2, features=4).eval()
>>> run = inference_predictor(net, device="cpu", backend="torch")
>>> run.backend, tuple(run(torch.zeros(1, 1, 16, 16)).shape)
('torch', (1, 3, 16, 16))
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import io
import json
import logging
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from .._core.atomic import atomic_write_bytes
from .._core.options import check_choice

__all__ = ["BACKENDS", "FAST_BACKENDS", "available_backends", "resolve_backend",
           "fold_batchnorm", "inference_predictor", "Predictor", "compiled_cache_dir"]

log = logging.getLogger(__name__)

#: values of ``backend=``
BACKENDS = ("auto", "torch", "onnx", "openvino")
#: optional back-ends, in the order ``"auto"`` prefers them (fastest measured first)
FAST_BACKENDS = ("openvino", "onnx")
#: bump when the exported graphs change meaning (invalidates cached files)
_CACHE_FORMAT = "fijibridge.segment.compiled/1"
_NEEDS = {"onnx": ("onnxruntime", "onnx"), "openvino": ("openvino",)}
_INSTALL = 'pip install "fijibridge[fast]"'


def available_backends() -> tuple[str, ...]:
    """Back-ends usable here: ``"torch"`` always, then those of :data:`FAST_BACKENDS`
    whose packages are installed (checked without importing them)."""
    found = [b for b in FAST_BACKENDS
             if all(importlib.util.find_spec(m) is not None for m in _NEEDS[b])]
    return ("torch", *found)


def resolve_backend(backend: str = "auto", device: str = "cpu") -> str:
    """The concrete back-end for ``device`` (an already resolved device name).

    ``"auto"``: on the CPU the first installed of :data:`FAST_BACKENDS`, else torch; on a
    GPU torch.  The choice is logged.  An explicit ONNX/OpenVINO request raises
    ValueError when its packages are missing or the device is not the CPU (no silent
    fallback).
    """
    name = check_choice("backend", backend, BACKENDS)
    dev = str(device)
    if name == "auto":
        fast = [b for b in available_backends() if b != "torch"]
        chosen = fast[0] if fast and dev == "cpu" else "torch"
        why = ("installed, device cpu" if chosen != "torch" else
               f"device {dev}" if dev != "cpu" else f"no fast back-end installed ({_INSTALL})")
        log.info("backend 'auto' -> %r (%s)", chosen, why)
        return chosen
    if name == "torch":
        return name
    if dev != "cpu":
        raise ValueError(f"backend={name!r} runs on the CPU only; got device={dev!r} (use "
                         "backend='torch' or 'auto' on a GPU)")
    missing = [m for m in _NEEDS[name] if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"backend={name!r} needs {' and '.join(missing)}, which "
                         f"{'is' if len(missing) == 1 else 'are'} not installed: {_INSTALL} "
                         "(or use backend='torch' or 'auto')")
    return name


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """An eval-mode copy of ``net`` with every BatchNorm that directly follows a
    convolution inside an ``nn.Sequential`` folded into that convolution (the BatchNorm
    becomes ``nn.Identity``).  ``net`` itself is not changed.

    Exact in eval mode up to float32 rounding (~1e-6 relative); other normalisations
    (instance, group) depend on the input and are left as they are.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module; got {type(net).__name__}")
    out = copy.deepcopy(net).eval()
    convs = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
    norms = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)
    n = 0
    for module in out.modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module)
        for i in range(len(children) - 1):
            conv, bn = children[i], children[i + 1]
            if isinstance(conv, convs) and isinstance(bn, norms) and bn.track_running_stats \
                    and bn.running_mean is not None:
                module[i] = fuse_conv_bn_eval(conv, bn)
                module[i + 1] = nn.Identity()
                children[i + 1] = module[i + 1]
                n += 1
    log.debug("folded %d BatchNorm layers", n)
    return out


def compiled_cache_dir() -> Path:
    """Folder of exported models (see the module doc)."""
    env = os.environ.get("FIJIBRIDGE_CACHE")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "fijibridge" / "compiled"


class Predictor:
    """A network ready for inference: ``predictor(batch)`` maps a float32 tensor
    ``(B, C, *spatial)`` to ``(B, C_out, *spatial)`` float32 logits on the CPU (torch:
    on ``device``).

    Carries what :func:`fijibridge.segment.inference.predict` reads from a network
    (``spatial_dims``, ``in_channels``, ``head``, ``size_multiple``, ``config``) plus
    :attr:`backend` and :attr:`device`.
    """

    def __init__(self, net, run, *, backend: str, device: str):
        self.spatial_dims = int(getattr(net, "spatial_dims", 2))
        self.in_channels = int(getattr(net, "in_channels", 1))
        self.head = str(getattr(net, "head", "logits"))
        self.size_multiple = int(getattr(net, "size_multiple", 1) or 1)
        self.config = dict(getattr(net, "config", {}) or {})
        self.backend = backend
        self.device = device
        self._run = run

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return self._run(batch)

    def __repr__(self) -> str:
        return f"Predictor(backend={self.backend!r}, device={self.device!r}, head={self.head!r})"


def inference_predictor(net, *, device: str = "cpu", backend: str = "auto",
                        optimize: bool = True, cache: bool = True) -> Predictor:
    """Wrap ``net`` for inference on ``device`` (a resolved device name).

    Parameters
    ----------
    net : torch.nn.Module or callable
        A fijibridge U-Net (or any module); a plain callable runs as it is (torch only).
    backend : {"auto", "torch", "onnx", "openvino"}
        See :func:`resolve_backend`.
    optimize : bool
        torch: fold BatchNorm (:func:`fold_batchnorm`) and use the channels-last layout.
        ``False`` runs the network as given (the path before these optimisations; kept
        as the benchmarks' baseline).
    cache : bool
        Keep exported ONNX/OpenVINO models in :func:`compiled_cache_dir` (``False``:
        export in memory every time).
    """
    if isinstance(net, Predictor):
        return net
    dev = str(device)
    if not isinstance(net, nn.Module):
        if backend not in ("auto", "torch"):
            raise ValueError(f"backend={backend!r} needs a torch.nn.Module to export; got a "
                             f"{type(net).__name__} (use backend='torch')")
        return Predictor(net, net, backend="torch", device=dev)
    name = resolve_backend(backend, dev)
    if name == "torch":
        return _torch_predictor(net, dev, optimize)
    folded = fold_batchnorm(net.to("cpu"))
    if name == "onnx":
        return Predictor(net, _onnx_runner(folded, cache), backend="onnx", device="cpu")
    return Predictor(net, _openvino_runner(folded, cache), backend="openvino", device="cpu")


class _OneDnnConv3d(nn.Module):
    """A Conv3d that always takes oneDNN's kernel on the CPU.

    torch picks its slow reference kernel for a 5D input when ``N·C·D·H ≤ 20480`` (a
    heuristic written for 2D, ``N·C·H·W``): the first convolution of a 3D U-Net (1
    channel) and those of the deep levels.  oneDNN runs them 1.5–5× faster (measured on
    a 40×144×144 input), to the same float32 result up to summation order.
    """

    def __init__(self, conv: nn.Conv3d):
        super().__init__()
        self.weight = conv.weight
        self.bias = conv.bias
        self.stride, self.padding = tuple(conv.stride), tuple(conv.padding)
        self.dilation, self.groups = tuple(conv.dilation), conv.groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mkldnn_convolution(x, self.weight, self.bias, self.padding, self.stride,
                                        self.dilation, self.groups)


def _onednn_conv3d(net: nn.Module) -> int:
    """Replace (in place) each zero-padded Conv3d of ``net`` by :class:`_OneDnnConv3d`."""
    n = 0
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if type(child) is nn.Conv3d and child.padding_mode == "zeros" \
                    and not isinstance(child.padding, str):
                setattr(module, name, _OneDnnConv3d(child))
                n += 1
    return n


def _torch_predictor(net, dev, optimize):
    net = net.to(dev).eval()
    if not optimize:
        return Predictor(net, net, backend="torch", device=dev)
    folded = fold_batchnorm(net)
    if dev == "cpu" and torch.backends.mkldnn.is_available() \
            and hasattr(torch, "mkldnn_convolution"):
        _onednn_conv3d(folded)
    sd = int(getattr(net, "spatial_dims", 2))
    fmt = {2: torch.channels_last, 3: torch.channels_last_3d}.get(sd)
    if fmt is not None:
        folded = folded.to(memory_format=fmt)

    def run(batch):
        with torch.no_grad():
            x = batch.to(dev)
            if fmt is not None and x.dim() == sd + 2:
                x = x.contiguous(memory_format=fmt)
            return folded(x).contiguous()

    return Predictor(net, run, backend="torch", device=dev)


def _threads() -> int:
    return max(1, torch.get_num_threads())


def _example(net) -> torch.Tensor:
    sd = int(getattr(net, "spatial_dims", 2))
    m = max(int(getattr(net, "size_multiple", 1) or 1), 8)
    return torch.zeros((1, int(getattr(net, "in_channels", 1))) + (2 * m,) * sd)


def _cache_key(net, backend: str, version: str) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"format": _CACHE_FORMAT, "backend": backend, "version": version,
                         "torch": torch.__version__, "class": type(net).__name__,
                         "config": getattr(net, "config", None)},
                        sort_keys=True, default=str).encode())
    for k, v in net.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


@contextlib.contextmanager
def _quiet_export():
    """Tracing warnings (shape checks in ``forward`` evaluated on the example) are
    expected: the checks hold for every input the sliding window feeds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def _onnx_bytes(net) -> bytes:
    sd = int(getattr(net, "spatial_dims", 2))
    axes = {0: "n", **{2 + i: f"s{i}" for i in range(sd)}}
    buf = io.BytesIO()
    with _quiet_export():
        torch.onnx.export(net, (_example(net),), buf, dynamo=False, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": axes, "y": axes},
                          opset_version=17)
    return buf.getvalue()


def _onnx_runner(net, cache: bool):
    import onnxruntime as ort

    data = None
    path = None
    if cache:
        path = compiled_cache_dir() / f"{_cache_key(net, 'onnx', ort.__version__)}.onnx"
        if path.is_file():
            data = path.read_bytes()
            log.info("ONNX model from the cache: %s", path)
    if data is None:
        data = _onnx_bytes(net)
        if path is not None:
            try:
                atomic_write_bytes(path, data)
            except OSError as e:  # a read-only cache costs an export per call, nothing else
                log.warning("could not cache the ONNX model at %s: %s", path, e)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = _threads()
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    session = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])

    def run(batch):
        x = batch.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(session.run(None, {"x": x})[0])

    return run


def _openvino_runner(net, cache: bool):
    import openvino as ov

    core = ov.Core()
    model = None
    folder = None
    if cache:
        folder = compiled_cache_dir() / f"{_cache_key(net, 'openvino', ov.__version__)}.ov"
        if (folder / "model.xml").is_file() and (folder / "model.bin").is_file():
            model = core.read_model(str(folder / "model.xml"))
            log.info("OpenVINO model from the cache: %s", folder)
    if model is None:
        with _quiet_export():
            model = ov.convert_model(net, example_input=_example(net))
        if folder is not None:
            _save_openvino(ov, model, folder)
    compiled = core.compile_model(model, "CPU", {"INFERENCE_NUM_THREADS": _threads(),
                                                 "INFERENCE_PRECISION_HINT": "f32"})

    def run(batch):
        x = batch.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(compiled(x)[0].copy())

    return run


def _save_openvino(ov, model, folder: Path) -> None:
    """Write the IR (two files) into a temporary folder, then rename it into place, so a
    reader never sees half a model; a concurrent writer's folder wins."""
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
        try:
            ov.save_model(model, str(tmp / "model.xml"), compress_to_fp16=False)
            os.replace(tmp, folder)
        except OSError:
            if not (folder / "model.xml").is_file():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as e:
        log.warning("could not cache the OpenVINO model at %s: %s", folder, e)
