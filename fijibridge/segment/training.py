"""Training of segmentation networks from a config file (YAML or JSON).

The config is parsed into pydantic models with ``extra="forbid"``: a misspelt key is
an error that names the key, the section and the allowed keys (with "did you mean").
Relative paths in it are relative to the config file's folder.

Example (``models/nuclei2d/train.yml`` is a full one)::

    model:    {name: UNet, spatial_dims: 2, depth: 4, features: 16, head: boundary}
    data:
      synthetic: {count: 200, shape: [256, 256], seed: 1}
      samples:   [{image: hela, labels: hela_mask, frames: [0, 1, 2]}]
      validation_fraction: 0.15
    augment:  {patch_size: [128, 128]}
    loss:     {ce: 1.0, dice: 1.0}
    training: {batch_size: 8, max_steps: 2000, lr: 0.002, lr_schedule: cosine, seed: 0}
    output:   {dir: run, export: model.pt}

What a run writes into ``output.dir``: ``last.pt`` (everything needed to resume:
weights, optimiser, scheduler, random states, history), ``best.pt`` (best validation
score), ``history.json``, ``curves.png`` (loss and metric curves), ``config.json``
(the validated config).  ``output.export`` (optional) receives the best weights
without optimiser state, the file a shipped model consists of.

``training.init_from`` (a checkpoint path, relative to the config file) starts from
trained weights of the same architecture (fine-tuning) instead of random ones.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._core.atomic import atomic_path, atomic_write_text
from .._core.errors import ModelError
from .._core.config import as_config, explain_validation_error, read_config_file
from .._core.execution import device_field
from .._core.options import did_you_mean

__all__ = ["TrainConfig", "load_config", "parse_config", "train", "TrainResult",
           "calibrate_postprocessing"]

log = logging.getLogger(__name__)


#: a config's device: checked when the file is read
DeviceName = device_field()

class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelSection(_Section):
    name: Literal["UNet", "ResUNet"] = "UNet"
    spatial_dims: int = Field(2, ge=2, le=3)
    in_channels: int = Field(1, ge=1)
    out_channels: int | None = None
    depth: int = Field(4, ge=1, le=6)
    features: int = Field(16, ge=1)
    norm: Literal["batch", "instance", "group", "none"] = "batch"
    dropout: float = Field(0.0, ge=0, lt=1)
    head: Literal["logits", "boundary", "distance"] = "boundary"
    num_groups: int = Field(8, ge=1)


class SyntheticSource(_Section):
    count: int = Field(0, ge=0)
    validation_count: int | None = Field(None, ge=0)
    shape: list[int] = [256, 256]
    seed: int = 0


class SampleSource(_Section):
    """A named sample (:mod:`fijibridge.data`) or files; ``frames`` picks planes of a
    T×Y×X stack (default: all).  For a T×Z×Y×X stack given to a 2D model, ``planes``
    picks the Z planes of each frame (each one a training image).  ``scale`` resizes
    the images (and, by nearest neighbour, the labels) before training, e.g. to bring
    large nuclei into the size range of the other sources."""

    image: str
    labels: str
    frames: list[int] | None = None
    validation_frames: list[int] | None = None
    planes: list[int] | None = None
    scale: float = Field(1.0, gt=0)
    weight: float = Field(1.0, ge=0)


class DataSection(_Section):
    synthetic: SyntheticSource = SyntheticSource()
    synthetic_weight: float = Field(1.0, ge=0)
    phantoms: SyntheticSource = SyntheticSource()
    phantoms_weight: float = Field(1.0, ge=0)
    samples: list[SampleSource] = []
    validation_fraction: float = Field(0.15, ge=0, lt=1)
    normalize: Literal["percentile", "zscore", "minmax", "none"] = "percentile"
    low: float = Field(1.0, ge=0, le=100)
    high: float = Field(99.8, ge=0, le=100)
    boundary_width: int = Field(2, ge=1)


class AugmentSection(_Section):
    patch_size: list[int] = [128, 128]
    flip: bool = True
    rot90: bool = True
    p_affine: float = Field(0.7, ge=0, le=1)
    zoom: tuple[float, float] = (0.7, 1.4)
    shear: float = Field(0.15, ge=0)
    rotate: bool = True
    p_elastic: float = Field(0.3, ge=0, le=1)
    elastic_alpha: float = Field(6.0, ge=0)
    elastic_sigma: float = Field(10.0, gt=0)
    p_intensity: float = Field(0.9, ge=0, le=1)
    gamma: tuple[float, float] = (0.6, 1.6)
    blur: tuple[float, float] = (0.0, 2.0)
    p_noise: float = Field(0.6, ge=0, le=1)
    gaussian_noise: tuple[float, float] = (0.0, 0.08)
    poisson: tuple[float, float] | None = (3.0, 300.0)


class TrainingSection(_Section):
    batch_size: int = Field(8, ge=1)
    max_steps: int = Field(2000, ge=1)
    steps_per_epoch: int = Field(100, ge=1)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    lr_schedule: Literal["cosine", "step", "plateau", "none"] = "cosine"
    warmup_steps: int = Field(0, ge=0)
    step_size: int = Field(1000, ge=1)
    step_gamma: float = Field(0.5, gt=0, le=1)
    early_stopping_patience: int | None = Field(8, ge=1)
    monitor: Literal["f1", "loss"] = "f1"
    seed: int = 0
    num_threads: int | None = Field(1, ge=1)
    init_from: str | None = None
    max_minutes: float | None = Field(None, gt=0)
    device: DeviceName = "auto"
    val_roi_size: int = Field(256, ge=8)
    calibrate_postprocessing: bool = True
    progress: bool = True


class OutputSection(_Section):
    dir: str = "run"
    export: str | None = None


class TrainConfig(_Section):
    """Validated training config; see the module docstring."""

    model: ModelSection = ModelSection()
    data: DataSection = DataSection()
    augment: AugmentSection = AugmentSection()
    loss: dict[str, float] = {"ce": 1.0, "dice": 1.0}
    training: TrainingSection = TrainingSection()
    output: OutputSection = OutputSection()
    base_dir: str = "."

    @field_validator("loss")
    @classmethod
    def _check_loss(cls, value):
        from .losses import LOSSES

        for k, w in value.items():
            if k not in LOSSES:
                raise ValueError(f"unknown loss {k!r}; allowed: {', '.join(LOSSES)}."
                                 f"{did_you_mean(k, LOSSES)}")
            if w < 0:
                raise ValueError(f"loss weight for {k!r} must be >= 0; got {w}")
        if not value:
            raise ValueError("loss must name at least one loss")
        return value

    def path(self, p: str) -> Path:
        q = Path(p)
        return q if q.is_absolute() else Path(self.base_dir) / q


_SECTIONS = {"": TrainConfig, "model": ModelSection, "data": DataSection,
             "augment": AugmentSection, "training": TrainingSection, "output": OutputSection,
             "data.synthetic": SyntheticSource, "data.phantoms": SyntheticSource,
             "data.samples": SampleSource}


def parse_config(data: dict, *, base_dir=".") -> TrainConfig:
    """Validate a config dict; raise ValueError that names each bad key and the fix."""
    if not isinstance(data, dict):
        raise ValueError(f"a training config must be a mapping of sections; got {type(data).__name__}")
    if "base_dir" in data:
        raise ValueError("'base_dir' is set from the config file's location; remove it")
    try:
        return TrainConfig(**data, base_dir=str(base_dir))
    except ValidationError as e:
        raise ValueError(explain_validation_error(e, _SECTIONS,
                                                  title="invalid training config")) from None


def load_config(path) -> TrainConfig:
    """Read and validate a YAML (``.yml``/``.yaml``) or JSON training config."""
    path = Path(path)
    return parse_config(read_config_file(path), base_dir=path.resolve().parent)


# ----------------------------------------------------------------------------- data
def _load_pairs(cfg: TrainConfig):
    """(source name, weight, [(image, labels), …], explicit validation pairs or None) per
    source, images normalised."""
    from .._core.tiff import read_tiff
    from ..data import SAMPLES, load_sample
    from .preprocess import normalize
    from .synthetic_nuclei import render_nuclei, render_phantom_nuclei

    d = cfg.data

    def norm(img):
        return normalize(img, mode=d.normalize, low=d.low, high=d.high)

    sources = []
    for name, src, weight, render in (("synthetic", d.synthetic, d.synthetic_weight, render_nuclei),
                                      ("phantoms", d.phantoms, d.phantoms_weight,
                                       render_phantom_nuclei)):
        if not src.count:
            continue
        if cfg.model.spatial_dims != 2:
            raise ValueError(f"data.{name} renders 2D images; set its count to 0 for a 3D model")
        rng = np.random.default_rng(src.seed)
        pairs, val = [], None
        for _ in range(src.count):
            img, lab = render(tuple(src.shape), rng=rng)
            pairs.append((norm(img), lab.astype(np.int32)))
        if src.validation_count is not None:
            val = []
            for _ in range(src.validation_count):
                img, lab = render(tuple(src.shape), rng=rng)
                val.append((norm(img), lab.astype(np.int32)))
        sources.append((name, weight, pairs, val))
    for s in d.samples:
        def read(name):
            if name in SAMPLES:
                return load_sample(name).data
            return read_tiff(cfg.path(name)).data
        img, lab = read(s.image), read(s.labels)
        if img.shape != lab.shape:
            raise ValueError(f"data.samples: {s.image!r} has shape {img.shape} but its labels "
                             f"{s.labels!r} have {lab.shape}")
        sd = cfg.model.spatial_dims
        if img.ndim == sd:
            img, lab = img[None], lab[None]
        planes = s.planes
        if planes is not None and img.ndim != sd + 2:
            raise ValueError(f"data.samples: planes needs a T×Z×Y×X stack for a {sd}D model; "
                             f"{s.image!r} has shape {img.shape}")
        if img.ndim == sd + 2 and planes is None:
            raise ValueError(f"data.samples: {s.image!r} has shape {img.shape}; give planes "
                             f"(Z indices) to train a {sd}D model on its planes")
        if img.ndim != sd + (1 if planes is None else 2):
            raise ValueError(f"data.samples: {s.image!r} has shape {img.shape}; a "
                             f"{sd}D model needs {sd}D images or a stack of them")
        val_frames = s.validation_frames
        frames = [f for f in range(len(img)) if f not in (val_frames or [])] \
            if s.frames is None else s.frames
        if val_frames and set(val_frames) & set(frames):
            raise ValueError(f"data.samples: frames {sorted(set(val_frames) & set(frames))} of "
                             f"{s.image!r} are in both frames and validation_frames")

        def take(fs):
            out = []
            for f in fs:
                if not 0 <= f < len(img):
                    raise ValueError(f"data.samples: frame {f} out of range for {s.image!r} "
                                     f"({len(img)} frames)")
                for z in ([None] if planes is None else planes):
                    im, lb = (img[f], lab[f]) if z is None else (img[f, z], lab[f, z])
                    if s.scale != 1.0:
                        from scipy import ndimage as ndi

                        im = ndi.zoom(im.astype(np.float32), s.scale, order=1)
                        lb = ndi.zoom(lb, s.scale, order=0)
                    out.append((norm(im), lb.astype(np.int32)))
            return out
        sources.append((s.image, s.weight, take(frames),
                        None if val_frames is None else take(val_frames)))
    if not sources:
        raise ValueError("the config has no training data: give data.synthetic.count > 0 or "
                         "data.samples")
    return sources


def _split(sources, fraction: float, rng: np.random.Generator):
    train, val = [], []
    for name, weight, pairs, explicit in sources:
        if explicit is not None:
            val += [(name, p) for p in explicit]
            train.append((name, weight, pairs))
            continue
        idx = rng.permutation(len(pairs))
        n_val = int(round(fraction * len(pairs))) if len(pairs) > 1 else 0
        if fraction > 0 and len(pairs) > 1:
            n_val = max(1, n_val)
        val += [(name, pairs[i]) for i in sorted(idx[:n_val])]
        train.append((name, weight, [pairs[i] for i in sorted(idx[n_val:])]))
    return [t for t in train if t[2]], val


# --------------------------------------------------------------------------- result
@dataclasses.dataclass
class TrainResult:
    """What :func:`train` returns."""

    best_checkpoint: Path
    last_checkpoint: Path
    best_metric: float | None
    steps: int
    minutes: float
    stopped: str
    history: dict[str, list] = dataclasses.field(repr=False)


def _plot(history: dict, path: Path) -> None:
    from .._core.figures import new_figure

    fig, axes = new_figure(1, 2, figsize=(10, 4))
    axes[0].plot(history["step"], history["train_loss"], label="train")
    if any(v is not None for v in history["val_loss"]):
        axes[0].plot(history["step"], history["val_loss"], label="validation")
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("loss")
    axes[0].set_yscale("log")
    axes[0].legend()
    axes[1].plot(history["step"], history["val_f1"], "o-", label="validation F1@0.5")
    axes[1].plot(history["step"], history["lr"], alpha=0)  # keep x range
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("instance F1 @ IoU 0.5")
    axes[1].set_ylim(0, 1)
    axes[1].legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)


def _scheduler(opt, t: TrainingSection):
    import torch

    def warm(step):
        return min(1.0, (step + 1) / t.warmup_steps) if t.warmup_steps else 1.0

    if t.lr_schedule == "cosine":
        fn = lambda s: warm(s) * 0.5 * (1 + math.cos(math.pi * min(s, t.max_steps) / t.max_steps))  # noqa: E731
        return torch.optim.lr_scheduler.LambdaLR(opt, fn)
    if t.lr_schedule == "step":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warm(s) * t.step_gamma ** (s // t.step_size))
    if t.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max" if t.monitor == "f1" else "min",
                                                          factor=0.5, patience=2)
    return torch.optim.lr_scheduler.LambdaLR(opt, warm)


def train(config, *, resume: bool = False, max_steps: int | None = None,
          device: str | None = None) -> TrainResult:
    """Train a network as described by ``config`` (a :class:`TrainConfig`, dict or path).

    Parameters
    ----------
    resume : bool
        Continue from ``output.dir/last.pt`` (weights, optimiser, scheduler, random
        states, history).  A ``last.pt`` of another architecture raises ModelError.
    max_steps : int, optional
        Override ``training.max_steps`` (e.g. to extend a finished run).
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}, optional
        Override ``training.device`` (default ``"auto"``, see
        :func:`~fijibridge._core.execution.resolve_device`).
    """
    from .._core.execution import limit_torch_threads

    cfg = as_config(config, TrainConfig, load=load_config, parse=parse_config)
    t = cfg.training
    update = {}
    if max_steps is not None:
        update["max_steps"] = int(max_steps)
    if device is not None:
        update["device"] = device
    if update:
        t = t.model_copy(update=update)
    # torch's CPU threads are set for the run and restored afterwards
    with limit_torch_threads(t.num_threads):
        return _train(cfg, t, resume=resume)


def _train(cfg: TrainConfig, t: TrainingSection, *, resume: bool) -> TrainResult:
    import torch

    from .._core.execution import torch_device
    from .augment import Augmenter
    from .inference import predict, probabilities_to_labels
    from .metrics import match_instances
    from .losses import CombinedLoss, DistanceHeadLoss
    from .models import load_weights, read_checkpoint, save_checkpoint
    from .networks import build_network
    from .targets import labels_to_target

    device = torch_device(t.device)
    log.info("training on %s", device)
    sd = cfg.model.spatial_dims
    if len(cfg.augment.patch_size) != sd:
        raise ValueError(f"augment.patch_size {cfg.augment.patch_size} must have {sd} values for "
                         f"spatial_dims={sd}")
    out_dir = cfg.path(cfg.output.dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()

    torch.manual_seed(t.seed)
    rng = np.random.default_rng(t.seed)
    net_cfg = cfg.model.model_dump()
    net = build_network(net_cfg).to(device)
    if t.init_from and not resume:
        init_path = cfg.path(t.init_from)
        load_weights(net, read_checkpoint(init_path))
        log.info("weights initialised from %s", init_path)
    head = net.head
    pre = {"normalize": cfg.data.normalize, "low": cfg.data.low, "high": cfg.data.high}
    post = {"threshold": 0.5, "seed_threshold": 0.5, "seeds": "components", "min_size": 15,
            "min_distance": 5.0}

    sources = _load_pairs(cfg)
    train_sources, val_pairs = _split(sources, cfg.data.validation_fraction, rng)
    if not train_sources:
        raise ValueError("no training images left after the validation split")
    weights = np.array([w for _, w, _ in train_sources], float)
    if weights.sum() <= 0:
        raise ValueError("all data source weights are 0")
    weights /= weights.sum()
    log.info("training images: %s; validation images: %d",
             ", ".join(f"{n}={len(p)}" for n, _, p in train_sources), len(val_pairs))

    aug = Augmenter(**cfg.augment.model_dump())
    if head == "distance":
        loss_fn = DistanceHeadLoss()
    else:
        loss_fn = CombinedLoss(cfg.loss)
    opt = torch.optim.AdamW(net.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    sched = _scheduler(opt, t)
    history: dict[str, list] = {"step": [], "train_loss": [], "val_loss": [], "val_f1": [],
                                "lr": [], "minutes": []}
    step, epoch, best, bad_epochs = 0, 0, None, 0
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    elapsed_before = 0.0

    if resume:
        if not last_path.is_file():
            raise ModelError(f"cannot resume: no {last_path} (start without --resume)")
        state = read_checkpoint(last_path)
        load_weights(net, state)
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        step, epoch = int(state["step"]), int(state["epoch"])
        best, bad_epochs = state["best_metric"], int(state["bad_epochs"])
        history = state["history"]
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])
        elapsed_before = float(state.get("minutes", 0.0))
        log.info("resumed at step %d (epoch %d, best %s)", step, epoch, best)

    def batch():
        xs, ys = [], []
        for _ in range(t.batch_size):
            s = rng.choice(len(train_sources), p=weights)
            pairs = train_sources[s][2]
            img, lab = pairs[int(rng.integers(len(pairs)))]
            a, b = aug(img, lab, rng=rng)
            xs.append(a[None])
            tgt = labels_to_target(b, head=head, width=cfg.data.boundary_width)
            ys.append(tgt if tgt.ndim == sd + 1 else tgt[None])
        x = torch.from_numpy(np.stack(xs)).to(device)
        y = torch.from_numpy(np.stack(ys)).to(device)
        if head == "boundary":
            y = y[:, 0].long()
        return x, y

    def validate():
        if not val_pairs:
            return None, None
        net.eval()
        losses, f1s = [], []
        with torch.no_grad():
            for _, (img, lab) in val_pairs:
                probs = predict(img, net, preprocessing={"normalize": "none"},
                                roi_size=t.val_roi_size, device=str(device))
                pred = probabilities_to_labels(probs, head=head, **post) if head != "logits" \
                    or probs.shape[0] == 1 else None
                if pred is not None:
                    f1s.append(match_instances(lab, pred, thresh=0.5)["f1"])
                # loss on the same probabilities' logits is not available: use a centre crop
                crop = tuple(slice(max(0, (s - p) // 2), max(0, (s - p) // 2) + p)
                             for s, p in zip(img.shape, [min(s, p) - min(s, p) % net.size_multiple
                                                         for s, p in zip(img.shape, cfg.augment.patch_size)]))
                x = torch.from_numpy(np.ascontiguousarray(img[crop])[None, None]).to(device)
                tgt = labels_to_target(lab[crop], head=head, width=cfg.data.boundary_width)
                y = torch.from_numpy(tgt if tgt.ndim == sd + 1 else tgt[None])[None].to(device)
                if head == "boundary":
                    y = y[:, 0].long()
                losses.append(float(loss_fn(net(x), y)))
        net.train()
        return float(np.mean(losses)), (float(np.mean(f1s)) if f1s else None)

    from .._core.progress import Progress

    # a bar on a terminal, a line every 10 s in a log, nothing with progress: false / --quiet
    bar = Progress(t.max_steps, initial=step, desc="train", unit="step", every=10.0,
                   enabled=t.progress)
    stopped = "max_steps"
    net.train()
    running = []
    while step < t.max_steps:
        x, y = batch()
        loss = loss_fn(net(x), y)
        if not torch.isfinite(loss):
            raise ModelError(f"training diverged at step {step}: loss is {float(loss)}; "
                             "lower training.lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if t.lr_schedule != "plateau":
            sched.step()
        step += 1
        running.append(float(loss.detach()))
        bar.update(1, loss=f"{np.mean(running[-20:]):.4f}")
        end_epoch = step % t.steps_per_epoch == 0 or step == t.max_steps
        minutes = elapsed_before + (time.monotonic() - t0) / 60
        out_of_time = t.max_minutes is not None and minutes >= t.max_minutes
        if not (end_epoch or out_of_time):
            continue
        epoch += 1
        val_loss, val_f1 = validate()
        score = val_f1 if t.monitor == "f1" else (None if val_loss is None else -val_loss)
        if t.lr_schedule == "plateau" and score is not None:
            sched.step(score)
        history["step"].append(step)
        history["train_loss"].append(float(np.mean(running)))
        history["val_loss"].append(val_loss)
        history["val_f1"].append(val_f1)
        history["lr"].append(opt.param_groups[0]["lr"])
        history["minutes"].append(round(minutes, 3))
        running = []
        improved = score is not None and (best is None or score > best)
        if improved or score is None:
            best = score if score is not None else best
            bad_epochs = 0
            save_checkpoint(best_path, net, preprocessing=pre, postprocessing=post,
                            training={"step": step, "epoch": epoch, "score": score,
                                      "monitor": t.monitor, "minutes": round(minutes, 2)})
        else:
            bad_epochs += 1
        log.info("epoch %d step %d: train loss %.4f, val loss %s, val F1 %s, lr %.2e%s", epoch, step,
                 history["train_loss"][-1], f"{val_loss:.4f}" if val_loss is not None else "-",
                 f"{val_f1:.3f}" if val_f1 is not None else "-", history["lr"][-1],
                 " (best)" if improved else "")
        save_checkpoint(last_path, net, preprocessing=pre, postprocessing=post,
                        optimizer=opt.state_dict(), scheduler=sched.state_dict(), step=step,
                        epoch=epoch, best_metric=best, bad_epochs=bad_epochs, history=history,
                        numpy_rng=rng.bit_generator.state, torch_rng=torch.get_rng_state(),
                        minutes=minutes, config=cfg.model_dump(mode="json"))
        atomic_write_text(out_dir / "history.json", json.dumps(history, indent=1))
        _plot(history, out_dir / "curves.png")
        if t.early_stopping_patience and bad_epochs >= t.early_stopping_patience:
            stopped = "early_stopping"
            break
        if out_of_time:
            stopped = "max_minutes"
            break
    bar.close()
    atomic_write_text(out_dir / "config.json", json.dumps(cfg.model_dump(mode="json"), indent=1))
    if t.calibrate_postprocessing and best_path.is_file() and head != "logits" and val_pairs:
        calibrate_postprocessing(cfg, best_path, val_pairs=val_pairs)
    minutes = elapsed_before + (time.monotonic() - t0) / 60
    if cfg.output.export and best_path.is_file():
        state = read_checkpoint(best_path)
        net2 = build_network(state["architecture"])
        load_weights(net2, state)
        save_checkpoint(cfg.path(cfg.output.export), net2, preprocessing=state["preprocessing"],
                        postprocessing=state["postprocessing"], training=state.get("training", {}),
                        calibration=state.get("calibration", {}))
    return TrainResult(best_checkpoint=best_path, last_checkpoint=last_path, best_metric=best,
                       steps=step, minutes=minutes, stopped=stopped, history=history)


#: grid searched by :func:`calibrate_postprocessing`
CALIBRATION_GRID = {"threshold": (0.4, 0.5, 0.6), "seed_threshold": (0.5, 0.7, 0.9),
                    "seeds": ("components", "distance")}


def calibrate_postprocessing(config, checkpoint, *, val_pairs=None) -> dict:
    """Choose the post-processing thresholds that maximise the mean instance F1@0.5 on
    the validation images of ``config`` (never on test data), and store them in
    ``checkpoint`` (rewritten in place).  Returns the chosen settings and scores.

    The grid is :data:`CALIBRATION_GRID`; ties keep the default 0.5/0.5.
    """
    from .inference import predict, probabilities_to_labels
    from .metrics import match_instances
    from .models import load_weights, read_checkpoint, save_checkpoint
    from .networks import build_network

    cfg = config if isinstance(config, TrainConfig) else load_config(config)
    if val_pairs is None:
        sources = _load_pairs(cfg)
        _, val_pairs = _split(sources, cfg.data.validation_fraction,
                              np.random.default_rng(cfg.training.seed))
    if not val_pairs:
        raise ValueError("calibration needs validation images (data.validation_fraction > 0 or "
                         "validation_frames / validation_count)")
    from .._core.execution import limit_torch_threads, resolve_device

    state = read_checkpoint(checkpoint)
    net = build_network(state["architecture"])
    load_weights(net, state)
    net.eval()
    device = resolve_device(cfg.training.device)
    with limit_torch_threads(cfg.training.num_threads):
        probs = [predict(img, net, preprocessing={"normalize": "none"}, device=device,
                         roi_size=cfg.training.val_roi_size) for _, (img, _) in val_pairs]
    post = dict(state.get("postprocessing") or {})
    table = []
    import itertools

    grid = CALIBRATION_GRID
    for th, st, sm in itertools.product(grid["threshold"], grid["seed_threshold"], grid["seeds"]):
        f1 = float(np.mean([
            match_instances(lab, probabilities_to_labels(
                p, head=net.head, threshold=th, seed_threshold=st, seeds=sm,
                min_size=post.get("min_size", 15), min_distance=post.get("min_distance", 5.0)),
                thresh=0.5)["f1"]
            for p, (_, (_, lab)) in zip(probs, val_pairs)]))
        table.append({"threshold": th, "seed_threshold": st, "seeds": sm, "val_f1": round(f1, 4)})
    default = next(r for r in table if r["threshold"] == 0.5 and r["seed_threshold"] == 0.5
                   and r["seeds"] == "components")
    best = max(table, key=lambda r: (r["val_f1"], r is default))
    post.update(threshold=best["threshold"], seed_threshold=best["seed_threshold"],
                seeds=best["seeds"])
    extra = {k: v for k, v in state.items()
             if k not in ("format", "architecture", "state_dict", "preprocessing", "postprocessing")}
    extra["calibration"] = {"grid": table, "chosen": best, "images": len(val_pairs)}
    save_checkpoint(checkpoint, net, preprocessing=state["preprocessing"], postprocessing=post,
                    **extra)
    log.info("post-processing calibrated on %d validation images: %s (val F1 %.3f; default "
             "0.5/0.5: %.3f)", len(val_pairs), post, best["val_f1"], default["val_f1"])
    return {"postprocessing": post, "val_f1": best["val_f1"], "default_val_f1": default["val_f1"],
            "grid": table}
