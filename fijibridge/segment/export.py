"""Export of trained networks: TorchScript, and bioimage.io model packages that
deepImageJ (Fiji) and other bioimage.io consumers can run.

The exported TorchScript module includes the output activation (softmax for
multi-class and boundary heads, sigmoid for one channel), so its output is
probabilities; intensity normalisation is declared in the package's ``rdf.yaml``
(``scale_range`` with the percentiles the model was trained with), as the
bioimage.io specification wants.

References
----------
.. [1] Ouyang W et al. (2022). BioImage Model Zoo: a community-driven resource for
       accessible deep learning in bioimage analysis. bioRxiv.
       :doi:`10.1101/2022.06.07.495102`
.. [2] Gómez-de-Mariscal E et al. (2021). DeepImageJ: a user-friendly environment to
       run deep learning models in ImageJ. Nat Methods 18:1192–1195.
       :doi:`10.1038/s41592-021-01262-9`
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._core.atomic import atomic_path, atomic_write_text, file_sha256
from .._core.errors import ModelError
from .._core.modelfile import load_torchscript
from .._core.yamlsafe import load_file as load_yaml_file

__all__ = ["export_torchscript", "export_bioimageio", "validate_bioimageio", "BIOIMAGEIO_FORMAT"]

log = logging.getLogger(__name__)

BIOIMAGEIO_FORMAT = "0.5.4"
_CHANNEL_NAMES = {"boundary": ["background", "interior", "boundary"],
                  "distance": ["foreground", "distance"]}


@contextlib.contextmanager
def _torchscript_ok():
    """Silence torch's deprecation notice for TorchScript: deepImageJ and the other
    bioimage.io consumers read TorchScript files, not ``torch.export`` archives."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit\.\w+` is deprecated",
                                category=DeprecationWarning)
        yield


class _WithActivation(nn.Module):
    """Network followed by its output activation (TorchScript-compatible)."""

    def __init__(self, net: nn.Module, kind: str):
        super().__init__()
        self.net = net
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)
        if self.kind == "softmax":
            return torch.softmax(y, dim=1)
        if self.kind == "sigmoid":
            return torch.sigmoid(y)
        if self.kind == "distance":
            return torch.cat([torch.sigmoid(y[:, :1]), torch.clamp(y[:, 1:], min=0.0)], dim=1)
        return y


def _activation_kind(net) -> str:
    if net.head == "distance":
        return "distance"
    return "softmax" if net.out_channels > 1 else "sigmoid"


def _resolve(model):
    from .models import load_model

    if isinstance(model, tuple):
        return model
    if isinstance(model, nn.Module):
        if not hasattr(model, "config"):
            raise TypeError("model must be a fijibridge network, a checkpoint path/name, or a "
                            f"(network, checkpoint) pair; got {type(model).__name__}")
        return model, {"preprocessing": {"normalize": "percentile", "low": 1.0, "high": 99.8},
                       "architecture": model.config}
    return load_model(model)


def export_torchscript(model, path, *, activation: bool = True, check: bool = True) -> Path:
    """Write a TorchScript file of ``model`` (network, checkpoint path or shipped name).

    With ``activation`` the module outputs probabilities.  With ``check`` the file is
    loaded back and its output compared with the network's on a random input
    (max abs difference <= 1e-5, else ModelError).
    """
    net, _ = _resolve(model)
    net = net.cpu().eval()
    module = _WithActivation(net, _activation_kind(net) if activation else "none").eval()
    try:
        with _torchscript_ok():
            scripted = torch.jit.script(module)
    except Exception as e:  # torch.jit raises its own frontend errors
        raise ModelError(f"cannot compile the network with TorchScript: {e}") from e
    with atomic_path(path) as tmp, _torchscript_ok():
        scripted.save(str(tmp))
    if check:
        size = (2 * net.size_multiple * 4,) * net.spatial_dims
        x = torch.randn((1, net.in_channels) + size, generator=torch.Generator().manual_seed(0))
        with torch.no_grad(), _torchscript_ok():
            a = module(x)
            b = load_torchscript(path)(x)
        err = float((a - b).abs().max())
        if err > 1e-5:
            raise ModelError(f"TorchScript export differs from the network (max |diff| {err:.2e})")
    return Path(path)


_sha256 = file_sha256


def _cover(image, probs, path: Path) -> None:
    from .._core.figures import new_figure

    fig, axes = new_figure(1, 2, figsize=(8, 4))
    axes[0].imshow(image, cmap="gray")
    axes[0].set_title("input")
    if probs.shape[0] == 3:  # boundary head: interior green, boundary red
        show = np.stack([probs[2], probs[1], np.zeros_like(probs[0])], axis=-1)
    else:
        show = probs[-1] if probs.shape[0] > 1 else probs[0]
    axes[1].imshow(np.clip(show, 0, 1) if show.ndim == 3 else show,
                   cmap=None if show.ndim == 3 else "magma")
    axes[1].set_title("output")
    for a in axes:
        a.axis("off")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=60)


def export_bioimageio(model, out_dir, *, test_image, name: str = "fijibridge nuclei2d",
                      description: str | None = None, authors: list[str] | None = None,
                      documentation: str | None = None, license: str = "BSD-3-Clause",
                      test_size: int = 256, validate: bool = True) -> Path:
    """Write a bioimage.io model package (format 0.5) into ``out_dir``.

    Files: ``rdf.yaml``, ``weights_torchscript.pt``, ``test_input.npy``,
    ``test_output.npy``, ``cover.png``, ``README.md``.

    Parameters
    ----------
    model : network, checkpoint path, shipped name or (network, checkpoint)
        A 2D single-channel network (3D and multi-channel packages are not written yet).
    test_image : ndarray (Y, X)
        Raw image; its top-left ``test_size``² crop becomes the test input, and the
        test output is what the TorchScript module gives on it after the declared
        ``scale_range`` preprocessing.
    validate : bool
        Run :func:`validate_bioimageio` and raise ModelError if it fails.

    Returns
    -------
    Path of ``rdf.yaml``.
    """
    import yaml

    net, ckpt = _resolve(model)
    if net.spatial_dims != 2 or net.in_channels != 1:
        raise ValueError("export_bioimageio writes 2D single-channel models; got "
                         f"spatial_dims={net.spatial_dims}, in_channels={net.in_channels}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weights = export_torchscript((net, ckpt), out / "weights_torchscript.pt")
    img = np.asarray(test_image, dtype=np.float32)
    if img.ndim != 2:
        raise ValueError(f"test_image must be 2D (Y, X); got shape {img.shape}")
    s = min(test_size, *img.shape)
    s -= s % net.size_multiple
    if s < 2 * net.size_multiple:
        raise ValueError(f"test_image is too small (shape {img.shape})")
    crop = img[:s, :s][None, None].copy()
    pre = ckpt.get("preprocessing", {"normalize": "percentile", "low": 1.0, "high": 99.8})
    if pre.get("normalize", "percentile") != "percentile":
        raise ValueError(f"only percentile normalisation maps onto bioimage.io's scale_range; "
                         f"the model uses {pre.get('normalize')!r}")
    lo_p, hi_p, eps = float(pre.get("low", 1.0)), float(pre.get("high", 99.8)), 1e-6
    lo, hi = np.percentile(crop, [lo_p, hi_p])
    x = ((crop - lo) / (hi - lo + eps)).astype(np.float32)
    with _torchscript_ok():
        scripted = load_torchscript(weights)
    with torch.no_grad():
        y = scripted(torch.from_numpy(x)).numpy().astype(np.float32)
    np.save(out / "test_input.npy", crop.astype(np.float32))
    np.save(out / "test_output.npy", y)
    import tifffile

    tifffile.imwrite(out / "sample_input.tif", crop[0, 0].astype(np.float32))
    tifffile.imwrite(out / "sample_output.tif", y[0].astype(np.float32), photometric="minisblack")
    _cover(x[0, 0], y[0], out / "cover.png")
    channel_names = _CHANNEL_NAMES.get(net.head, [f"class{i}" for i in range(net.out_channels)])
    readme = documentation or (
        f"# {name}\n\n{description or 'U-Net exported by fijibridge.'}\n\n"
        "## Validation\n\nSee the fijibridge model card (models/nuclei2d/model_card.md) for "
        "held-out metrics.\n")
    atomic_write_text(out / "README.md", readme)
    m = net.size_multiple
    torch_version = ".".join(torch.__version__.split("+")[0].split(".")[:2])
    rdf = {
        "format_version": BIOIMAGEIO_FORMAT,
        "type": "model",
        "name": name,
        "description": description or f"{net.config['name']} ({net.head} head) exported by fijibridge",
        "authors": [{"name": a} for a in (authors or ["fijibridge developers"])],
        "cite": [{"text": "Ronneberger O, Fischer P, Brox T (2015). U-Net: convolutional networks "
                          "for biomedical image segmentation. MICCAI.",
                  "doi": "10.1007/978-3-319-24574-4_28"}],
        "license": license,
        "documentation": "README.md",
        "covers": ["cover.png"],
        "tags": ["fijibridge", "unet", "2d", "segmentation", "fluorescence-light-microscopy",
                 "nuclei", "instance-segmentation", "deepimagej"],
        "inputs": [{
            "id": "raw",
            "description": "raw fluorescence image (one channel)",
            "axes": [{"type": "batch"},
                     {"type": "channel", "channel_names": ["raw_intensity"]},
                     {"type": "space", "id": "y", "size": {"min": 8 * m, "step": m}},
                     {"type": "space", "id": "x", "size": {"min": 8 * m, "step": m}}],
            "test_tensor": {"source": "test_input.npy", "sha256": _sha256(out / "test_input.npy")},
            "sample_tensor": {"source": "sample_input.tif",
                              "sha256": _sha256(out / "sample_input.tif")},
            "data": {"type": "float32"},
            "preprocessing": [{"id": "scale_range",
                               "kwargs": {"axes": ["y", "x"], "min_percentile": lo_p,
                                          "max_percentile": hi_p, "eps": eps}}],
        }],
        "outputs": [{
            "id": "probabilities",
            "description": "per-pixel class probabilities (softmax): " + ", ".join(channel_names),
            "axes": [{"type": "batch"},
                     {"type": "channel", "channel_names": channel_names},
                     {"type": "space", "id": "y", "size": {"tensor_id": "raw", "axis_id": "y"},
                      "halo": m * 2},
                     {"type": "space", "id": "x", "size": {"tensor_id": "raw", "axis_id": "x"},
                      "halo": m * 2}],
            "test_tensor": {"source": "test_output.npy", "sha256": _sha256(out / "test_output.npy")},
            "sample_tensor": {"source": "sample_output.tif",
                              "sha256": _sha256(out / "sample_output.tif")},
            "data": {"type": "float32"},
        }],
        "weights": {"torchscript": {"source": "weights_torchscript.pt", "sha256": _sha256(weights),
                                    "pytorch_version": torch_version}},
        "config": {"fijibridge": {"architecture": dict(net.config),
                                  "postprocessing": dict(ckpt.get("postprocessing", {}))}},
    }
    rdf_path = out / "rdf.yaml"
    atomic_write_text(rdf_path, yaml.safe_dump(rdf, sort_keys=False))
    if validate:
        ok, report = validate_bioimageio(rdf_path)
        if not ok:
            raise ModelError(f"the bioimage.io package in {out} does not validate: {report}")
    return rdf_path


def validate_bioimageio(rdf_path, *, run_test: bool = True) -> tuple[bool, str]:
    """Validate a model package.

    1. Format: with ``bioimageio.spec`` when it is installed (schema, file hashes; no
       network), else a structural check of the rdf and its files (logged).
    2. With ``run_test``: load the TorchScript weights, apply the declared
       ``scale_range`` to ``test_input.npy`` and compare with ``test_output.npy``
       (max abs difference <= 1e-4), the test bioimage.io consumers run.

    Returns ``(ok, report)``; the report says which checks ran.
    """
    rdf_path = Path(rdf_path)
    if not rdf_path.is_file():
        raise FileNotFoundError(f"no rdf.yaml at {str(rdf_path)!r}")
    try:
        from bioimageio.spec import ValidationContext, build_description
    except ImportError:
        log.warning("bioimageio.spec is not installed; checking the package structure only "
                    "(pip install bioimageio.spec for the full validation)")
        ok, report = _structural_check(rdf_path)
    else:
        data = load_yaml_file(rdf_path, what="model RDF")
        with ValidationContext(root=rdf_path.parent, perform_io_checks=True):
            descr = build_description(data)
        summary = descr.validation_summary
        ok = summary.status in ("passed", "valid-format")
        errors = [f"{'.'.join(map(str, e.loc))}: {e.msg}" for d in summary.details for e in d.errors]
        report = f"bioimageio.spec {summary.status}" + (f": {'; '.join(errors)}" if errors else "")
    if ok and run_test:
        ok_t, msg = _reproduce_test(rdf_path)
        ok = ok and ok_t
        report += f"; {msg}"
    return ok, report


def _reproduce_test(rdf_path: Path) -> tuple[bool, str]:
    rdf = load_yaml_file(rdf_path, what="model RDF")
    root = rdf_path.parent
    ipt, opt = rdf["inputs"][0], rdf["outputs"][0]
    x = np.load(root / ipt["test_tensor"]["source"]).astype(np.float32)
    expected = np.load(root / opt["test_tensor"]["source"])
    for step in ipt.get("preprocessing", []):
        if step["id"] != "scale_range":
            return False, f"test not run: preprocessing {step['id']!r} not supported here"
        k = step["kwargs"]
        lo, hi = np.percentile(x, [k.get("min_percentile", 0), k.get("max_percentile", 100)])
        x = ((x - lo) / (hi - lo + k.get("eps", 1e-6))).astype(np.float32)
    with _torchscript_ok():
        module = load_torchscript(root / rdf["weights"]["torchscript"]["source"],
                                  what="bioimage.io TorchScript weights file")
    with torch.no_grad():
        y = module(torch.from_numpy(x)).numpy()
    if y.shape != expected.shape:
        return False, f"test output shape {y.shape} != expected {expected.shape}"
    err = float(np.abs(y - expected).max())
    return err <= 1e-4, f"test tensors reproduced (max |diff| {err:.1e}, tolerance 1e-4)"


def _structural_check(rdf_path: Path) -> tuple[bool, str]:
    rdf = load_yaml_file(rdf_path, what="model RDF")
    problems = []
    for key in ("format_version", "type", "name", "description", "authors", "cite", "license",
                "inputs", "outputs", "weights", "covers", "documentation"):
        if key not in rdf:
            problems.append(f"missing {key}")
    files = [rdf.get("documentation")] + list(rdf.get("covers", []))
    for t in rdf.get("inputs", []) + rdf.get("outputs", []):
        files.append(t.get("test_tensor", {}).get("source"))
    for w in rdf.get("weights", {}).values():
        files.append(w.get("source"))
    for f in files:
        if f and not (rdf_path.parent / f).is_file():
            problems.append(f"missing file {f}")
    return (not problems), "structural check (bioimageio.spec not installed)" + (
        ": " + "; ".join(problems) if problems else ": passed")
