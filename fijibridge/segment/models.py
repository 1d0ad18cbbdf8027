"""Checkpoints and named models (torch).

A checkpoint is a ``torch.save`` dict that holds, next to the weights, the
architecture config (:attr:`fijibridge.segment.networks.UNet.config`) and the
pre-/post-processing the network was trained with, so that

* :func:`load_model` rebuilds the right network without being told its shape, and
* loading weights into a network of another architecture raises a
  :class:`~fijibridge.ModelError` that names the differences instead of torch's
  list of mismatched tensor names.

Shipped models live in ``models/<name>/model.pt`` at the top of the fijibridge
source tree (or in the folder named by the ``FIJIBRIDGE_MODELS`` environment
variable); :data:`SHIPPED_MODELS` lists their names.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .._core.atomic import atomic_path
from .._core.errors import ModelError
from .._core.execution import torch_device
from .._core.modelfile import load_model_file, plain
from .._core.options import did_you_mean
from .networks import UNet, build_network

__all__ = ["CHECKPOINT_FORMAT", "SHIPPED_MODELS", "models_dir", "resolve_model_path",
           "save_checkpoint", "read_checkpoint", "load_model", "load_weights"]

CHECKPOINT_FORMAT = "fijibridge.segment.checkpoint/1"
#: models shipped in ``models/<name>/model.pt``
SHIPPED_MODELS = ("nuclei2d",)
_DEFAULT_PRE = {"normalize": "percentile", "low": 1.0, "high": 99.8}


def models_dir() -> Path:
    """Folder of shipped models (``$FIJIBRIDGE_MODELS`` or ``<source tree>/models``)."""
    from ..shipped import shipped_dir

    return shipped_dir("models")  # $FIJIBRIDGE_MODELS, the installed wheel or the tree


def resolve_model_path(model) -> Path:
    """Path of a checkpoint given a shipped model name, a model folder or a file."""
    text = str(model)
    path = Path(text)
    if path.is_file():
        return path
    if path.is_dir():
        if (path / "model.pt").is_file():
            return path / "model.pt"
        raise ModelError(f"model folder {text!r} has no model.pt")
    if text in SHIPPED_MODELS:
        file = models_dir() / text / "model.pt"
        if not file.is_file():
            raise ModelError(f"shipped model {text!r} should be at {file} but is missing; "
                             "train it with: fijibridge train unet models/"
                             f"{text}/train.yml (or set FIJIBRIDGE_MODELS to its folder)")
        return file
    hint = did_you_mean(text, SHIPPED_MODELS) if os.sep not in text and "." not in text else ""
    raise ModelError(f"no model {text!r}: not a file, not a model folder, and not one of the "
                     f"shipped models ({', '.join(SHIPPED_MODELS)}).{hint}")


def save_checkpoint(path, model: UNet, *, preprocessing: dict | None = None,
                    postprocessing: dict | None = None, **extra) -> Path:
    """Write ``model``'s weights and architecture (plus ``extra`` entries) atomically."""
    if not hasattr(model, "config"):
        raise TypeError("model must be a fijibridge network (UNet/ResUNet) with a .config; "
                        f"got {type(model).__name__}")
    state = {
        "format": CHECKPOINT_FORMAT,
        "architecture": plain(dict(model.config)),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "preprocessing": plain(dict(preprocessing or _DEFAULT_PRE)),
        "postprocessing": plain(dict(postprocessing or {})),
        # optimizer/scheduler states are dicts of tensors and numbers; the rest is made
        # plain so that read_checkpoint's safe loader reads every entry back
        **{k: v if k in ("optimizer", "scheduler") else plain(v) for k, v in extra.items()},
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


def read_checkpoint(path) -> dict:
    """Read a checkpoint dict with the one safe loader (no code in the file runs);
    ModelError (one line) for missing, corrupt, foreign or code-carrying files."""
    path = Path(path)
    state = load_model_file(path, what="segmentation checkpoint")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ModelError(f"{str(path)!r} is not a fijibridge checkpoint (format "
                         f"{state.get('format') if isinstance(state, dict) else type(state).__name__!r}"
                         f", expected {CHECKPOINT_FORMAT!r})")
    return state


def _describe_difference(saved: dict, current: dict) -> str:
    keys = sorted(set(saved) | set(current))
    diffs = [f"{k}: checkpoint {saved.get(k)!r} vs model {current.get(k)!r}"
             for k in keys if saved.get(k) != current.get(k)]
    return "; ".join(diffs)


def load_weights(model: UNet, checkpoint) -> dict:
    """Load a checkpoint's weights into ``model``; return the checkpoint dict.

    Raises ModelError when the checkpoint's architecture differs from ``model``'s.
    """
    state = checkpoint if isinstance(checkpoint, dict) else read_checkpoint(checkpoint)
    saved = state["architecture"]
    if saved != model.config:
        where = "" if isinstance(checkpoint, dict) else f" {str(checkpoint)!r}"
        raise ModelError(f"checkpoint{where} was trained for another architecture "
                         f"({_describe_difference(saved, model.config)}); build the network "
                         "from the checkpoint with fijibridge.segment.models.load_model instead")
    try:
        model.load_state_dict(state["state_dict"])
    except RuntimeError as e:
        raise ModelError(f"checkpoint weights do not fit the network: {e}") from e
    return state


def load_model(model, *, device: str = "auto") -> tuple[UNet, dict]:
    """Build the network stored in a checkpoint and load its weights.

    Parameters
    ----------
    model : str or Path
        Shipped model name (``"nuclei2d"``), model folder or checkpoint file.
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}
        See :func:`~fijibridge._core.execution.resolve_device`.

    Returns
    -------
    network : UNet in eval mode on ``device``
    checkpoint : dict (architecture, preprocessing, postprocessing, training info)
    """
    dev = torch_device(device)
    state = read_checkpoint(resolve_model_path(model))
    try:
        net = build_network(state["architecture"])
    except (TypeError, ValueError) as e:
        raise ModelError(f"checkpoint architecture is invalid: {e}") from e
    load_weights(net, state)
    return net.to(dev).eval(), state
