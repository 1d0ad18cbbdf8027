"""Training of pix2pix / Vox2Vox / CycleGAN from a :class:`~.config.GanConfig`:
fixed seeds, checkpoints with the architecture, resume, sample grids and loss curves.

Output folder (``output.dir``)::

    last.pt              full training state (networks, optimisers, RNGs, losses)
    generator.pt         the generator alone (what ``fijibridge generate`` loads)
    config.yml           the validated config
    losses.csv           one row per ``log_every`` steps
    loss_curve.png       losses over steps
    samples/step_NNNNNN.png   condition | generated | target on fixed patches

A checkpoint records ``format``, ``kind`` and the network configs; loading one of
another kind or architecture raises :class:`~fijibridge.ModelError` saying which.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import torch

from ..._core.atomic import atomic_path, atomic_write_text
from ..._core.config import as_config
from ..._core.errors import ModelError
from ..._core.execution import limit_torch_threads, torch_device
from ..._core.figures import new_figure
from ..._core.modelfile import load_model_file, plain
from .config import GanConfig, load_config, parse_config
from .data import IntensityScale, PatchSampler, check_mask, encode_mask, phantom_masks, read_source

__all__ = ["CHECKPOINT_FORMAT", "train", "TrainResult", "build_model", "load_generator",
           "save_generator", "models_dir", "resolve_model"]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "fijibridge-gan/1"
#: shipped GAN models in ``models/<name>/model.pt``
SHIPPED_MODELS = ("pix2pix_nuclei2d",)


@dataclasses.dataclass
class TrainResult:
    output_dir: Path
    generator: Path
    steps: int
    minutes: float
    stopped: str  # "steps" or "time"
    losses: dict


def build_model(cfg: GanConfig):
    """The model object (networks + optimisers) a config describes."""
    from .cyclegan import CycleGAN
    from .pix2pix import Pix2Pix

    n, lo, sd = cfg.network, cfg.loss, cfg.spatial_dims
    if cfg.model in ("pix2pix", "vox2vox"):
        return Pix2Pix(1, 1, spatial_dims=sd, features=n.features, depth=n.depth,
                       norm=n.norm or "batch", dropout=n.dropout, disc_features=n.disc_features,
                       disc_layers=n.disc_layers, l1_weight=lo.l1_weight,
                       dice_weight=lo.dice_weight,
                       gan_mode=lo.gan_mode or ("vanilla" if cfg.model == "pix2pix" else "lsgan"),
                       lr=cfg.training.lr)
    return CycleGAN(1, 1, spatial_dims=sd, features=n.features, n_blocks=n.n_blocks,
                    norm=n.norm or "instance", disc_features=n.disc_features,
                    disc_layers=n.disc_layers, cycle_weight=lo.cycle_weight,
                    identity_weight=lo.identity_weight, pool_size=lo.pool_size,
                    lr=cfg.training.lr, rng=cfg.seed)


def _architecture(cfg: GanConfig, model) -> dict:
    nets = {k: v.config for k, v in model.named_children() if hasattr(v, "config")}
    return {"kind": cfg.model, "networks": nets}


def _load_data(cfg: GanConfig):
    """(A, B, fg_A, fg_B, scale, names): A = condition, B = target (pix2pix), or A =
    images, B = masks (CycleGAN), all in [-1, 1]."""
    d, sd = cfg.data, cfg.spatial_dims
    images, names = read_source(d.images, spatial_dims=sd, base=cfg.base_dir)
    if d.masks.startswith("phantom:"):
        masks = phantom_masks(d.masks.split(":", 1)[1], count=d.phantom_count,
                              shape=d.phantom_shape, spacing=d.phantom_spacing, rng=cfg.seed)
        mnames = [f"phantom_{i}" for i in range(len(masks))]
    else:
        masks, mnames = read_source(d.masks, spatial_dims=sd, base=cfg.base_dir)
    paired = cfg.model != "cyclegan"
    if d.indices is not None:
        n = len(images)
        bad = [i for i in d.indices if not -n <= i < n]
        if bad:
            raise ValueError(f"data.indices {bad} out of range for {n} samples in {d.images!r}")
        images = [images[i] for i in d.indices]
        names = [names[i] for i in d.indices]
        if not d.masks.startswith("phantom:"):
            if len(masks) != n and paired:
                raise ValueError(f"{d.images!r} has {n} samples but {d.masks!r} has {len(masks)}")
            masks = [masks[i] for i in d.indices if -len(masks) <= i < len(masks)]
            mnames = [mnames[i] for i in d.indices if -len(mnames) <= i < len(mnames)]
    if paired:
        if len(images) != len(masks):
            raise ValueError(f"{d.images!r} has {len(images)} samples but {d.masks!r} has "
                             f"{len(masks)}; pix2pix/vox2vox need one mask per image")
        for im, m, n1, n2 in zip(images, masks, names, mnames):
            if im.shape != m.shape:
                raise ValueError(f"image {n1} has shape {im.shape} but its mask {n2} has "
                                 f"shape {m.shape}; masks and images must match")
    for m, n2 in zip(masks, mnames):
        check_mask(m, name=f"mask {n2} of {d.masks}")
    scale = IntensityScale.fit(images, low_percentile=d.low_percentile,
                               high_percentile=d.high_percentile)
    imgs = [scale.to_unit(i) for i in images]
    ms = [encode_mask(m, classes=d.mask_classes) for m in masks]
    fg = [np.asarray(m) > 0 for m in masks]
    if cfg.model == "cyclegan":
        return imgs, ms, None, fg, scale, names
    if cfg.direction == "mask_to_image":
        return ms, imgs, fg, None, scale, names
    return imgs, ms, fg, None, scale, names


def _plot_samples(path, cond, fake, target, titles):
    def view(x):
        x = x[0]
        return x[x.shape[0] // 2] if x.ndim == 3 else x

    n = cond.shape[0]
    fig, axes = new_figure(n, 3, figsize=(6, 2 * n), squeeze=False)
    for i in range(n):
        for j, arr in enumerate((cond, fake, target)):
            axes[i, j].imshow(view(arr[i]), cmap="gray", vmin=-1, vmax=1)
            axes[i, j].set_axis_off()
            if i == 0:
                axes[i, j].set_title(titles[j], fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")


def _plot_losses(path, history):
    steps = history["step"]
    fig, ax = new_figure(figsize=(6, 3.5))
    for k, v in history.items():
        if k != "step" and any(v):
            ax.plot(steps, v, label=k, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (mean over log interval)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")


def save_generator(path, cfg: GanConfig, model, scale: IntensityScale) -> Path:
    """Write the mask → image (or image → mask) generator alone, with what generation needs."""
    if cfg.model == "cyclegan":
        gen = model.generator_ba if cfg.direction == "mask_to_image" else model.generator_ab
    else:
        gen = model.generator
    state = {"format": CHECKPOINT_FORMAT, "kind": cfg.model, "role": "generator",
             "direction": cfg.direction, "network": plain(gen.config),
             "state_dict": gen.state_dict(), "intensity": plain(scale.as_dict()),
             "mask_classes": plain(cfg.data.mask_classes), "config": plain(cfg.to_dict())}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)  # atomic_path gives it normal permissions
    return Path(path)


def _read_checkpoint(path) -> dict:
    """A GAN checkpoint/generator dict, read by the one safe loader (no code runs)."""
    path = Path(path)
    state = load_model_file(path, what="GAN model or checkpoint")
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        got = state.get("format") if isinstance(state, dict) else type(state).__name__
        raise ModelError(f"{path} is not a fijibridge GAN checkpoint (format {got!r}, expected "
                         f"{CHECKPOINT_FORMAT!r}); a segmentation model is loaded with "
                         "fijibridge.segment, not as a GAN")
    return state


def models_dir() -> Path:
    """Folder of shipped models (``$FIJIBRIDGE_MODELS`` or ``<source tree>/models``)."""
    from ...shipped import shipped_dir

    return shipped_dir("models")  # $FIJIBRIDGE_MODELS, the installed wheel or the tree


def resolve_model(model) -> Path:
    """A generator file from a path, a model folder (``model.pt`` inside) or a shipped name."""
    p = Path(model)
    if p.is_dir():
        p = p / "model.pt"
    if p.is_file():
        return p
    if str(model) in SHIPPED_MODELS:
        q = models_dir() / str(model) / "model.pt"
        if q.is_file():
            return q
    raise FileNotFoundError(f"no GAN model at {str(model)!r}; give a .pt file, a folder with "
                            f"model.pt, or a shipped name ({', '.join(SHIPPED_MODELS)})")


def load_generator(model, *, kind: str | None = None, device="auto"):
    """Load a generator written by :func:`save_generator`; returns ``(network, meta)``.

    ``kind`` (``"pix2pix"``, ``"vox2vox"``, ``"cyclegan"``) if given must match the
    checkpoint's, else :class:`~fijibridge.ModelError`.  The network is in ``eval()``
    mode on ``device`` (``"auto"``: see :func:`~fijibridge._core.execution.resolve_device`).
    """
    from .networks import build_network

    path = resolve_model(model)
    state = _read_checkpoint(path)
    if state.get("role") != "generator":
        raise ModelError(f"{path} is a {state.get('kind')} training checkpoint, not an exported "
                         "generator; use generator.pt from the same folder")
    if kind is not None and state["kind"] != kind:
        raise ModelError(f"{path} holds a {state['kind']} generator, not {kind}")
    net = build_network(state["network"])
    try:
        net.load_state_dict(state["state_dict"])
    except RuntimeError as e:
        raise ModelError(f"{path}: weights do not fit the stored architecture "
                         f"{state['network']}: {str(e).splitlines()[0]}") from e
    net.to(torch_device(device)).eval()
    meta = {k: v for k, v in state.items() if k != "state_dict"}
    meta["path"] = str(path)
    return net, meta


def _rng_state(sampler):
    return {"torch": torch.get_rng_state(), "numpy": plain(sampler.state())}


def train(config, *, resume: bool = False, max_steps: int | None = None,
          device: str | None = None) -> TrainResult:
    """Train the GAN a config describes (path, dict or :class:`GanConfig`).

    Parameters
    ----------
    config : path, dict or GanConfig
    resume : bool
        Continue from ``last.pt`` in ``output.dir`` (same config architecture, else
        :class:`~fijibridge.ModelError`).  Resumed runs reproduce uninterrupted ones:
        RNG states and image pools are in the checkpoint.
    max_steps : int, optional
        Override ``training.steps``.
    device : {"auto", "cpu", "cuda", "cuda:N", "mps"}, optional
        Override ``training.device`` (default ``"auto"``).
    """
    cfg = as_config(config, GanConfig, load=load_config, parse=parse_config)
    t = cfg.training
    steps = t.steps if max_steps is None else int(max_steps)
    dev = torch_device(device or t.device)
    log.info("training %s on %s", cfg.model, dev)
    # torch's CPU threads are set for the run and restored afterwards
    with limit_torch_threads(t.num_threads):
        return _train(cfg, t, steps, dev, resume=resume)


def _train(cfg: GanConfig, t, steps: int, dev, *, resume: bool) -> TrainResult:
    out = cfg.path(cfg.output.dir)
    out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(cfg.seed)
    a_list, b_list, fg_a, fg_b, scale, _ = _load_data(cfg)
    sampler = PatchSampler(a_list, b_list, patch_size=cfg.data.patch_size,
                           paired=cfg.model != "cyclegan", rng=cfg.seed,
                           foreground=cfg.data.foreground_patches, augment=cfg.data.augment,
                           fg_a=fg_a, fg_b=fg_b)
    fixed = sampler.batch(min(4, t.batch_size * 2) if cfg.spatial_dims == 2 else 2)
    sampler = PatchSampler(a_list, b_list, patch_size=cfg.data.patch_size,
                           paired=cfg.model != "cyclegan", rng=cfg.seed + 1,
                           foreground=cfg.data.foreground_patches, augment=cfg.data.augment,
                           fg_a=fg_a, fg_b=fg_b)
    model = build_model(cfg).to(dev)
    arch = _architecture(cfg, model)
    history: dict[str, list] = {"step": []}
    step = 0
    last = out / "last.pt"
    if resume:
        if not last.is_file():
            raise ModelError(f"cannot resume: no {last} (start without --resume)")
        state = _read_checkpoint(last)
        if state.get("architecture") != plain(arch):
            raise ModelError(f"cannot resume from {last}: it was trained as "
                             f"{state.get('architecture')} but the config describes {arch}")
        model.load_state_dict(state["model"])
        model.opt_g.load_state_dict(state["opt_g"])
        model.opt_d.load_state_dict(state["opt_d"])
        torch.set_rng_state(state["rng"]["torch"])
        sampler.set_state(state["rng"]["numpy"])
        for name, pool in state.get("pools", {}).items():
            getattr(model, name).images = list(pool["images"])
            getattr(model, name).rng.bit_generator.state = pool["rng"]
        history = state["history"]
        step = state["step"]
        log.info("resumed %s at step %d", last, step)

    def save_last():
        st = {"format": CHECKPOINT_FORMAT, "kind": cfg.model, "role": "training",
              "architecture": plain(arch), "model": model.state_dict(),
              "opt_g": model.opt_g.state_dict(), "opt_d": model.opt_d.state_dict(),
              "rng": _rng_state(sampler), "history": plain(history), "step": int(step),
              "intensity": plain(scale.as_dict()), "config": plain(cfg.to_dict())}
        # only tensors and plain values: last.pt is read back by the safe loader
        if cfg.model == "cyclegan":
            st["pools"] = {n: {"images": list(getattr(model, n).images),
                               "rng": plain(getattr(model, n).rng.bit_generator.state)}
                           for n in ("pool_a", "pool_b")}
        with atomic_path(last) as tmp:
            torch.save(st, tmp)

    def samples():
        model.eval()
        with torch.no_grad():
            c = torch.from_numpy(fixed[0]).to(dev)
            fake = model.generator(c).cpu().numpy()
        titles = ("image", "generated mask", "(unpaired mask)") if cfg.model == "cyclegan" \
            else ("condition", "generated", "target")
        _plot_samples(out / "samples" / f"step_{step:06d}.png", fixed[0], fake, fixed[1], titles)

    import yaml
    atomic_write_text(out / "config.yml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    t0 = time.monotonic()
    acc: dict[str, list] = {}
    stopped = "steps"
    from ..._core.progress import Progress

    # a bar on a terminal, a line every 10 s in a log, nothing with progress: false / --quiet
    bar = Progress(steps, initial=step, desc=f"train {cfg.model}", unit="step", every=10.0,
                   enabled=t.progress)
    while step < steps:
        if t.max_minutes is not None and (time.monotonic() - t0) / 60 > t.max_minutes:
            stopped = "time"
            log.warning("stopping at step %d: training.max_minutes=%s reached", step, t.max_minutes)
            break
        a, b = sampler.batch(t.batch_size)
        losses = model.train_step(torch.from_numpy(a).to(dev), torch.from_numpy(b).to(dev))
        step += 1
        for k, v in losses.as_dict().items():
            if not np.isfinite(v):
                raise ModelError(f"training diverged at step {step}: {k} = {v}; lower "
                                 "training.lr")
            acc.setdefault(k, []).append(v)
        bar.update(1, **{k: f"{v[-1]:.4f}" for k, v in acc.items()})
        if step % t.log_every == 0 or step == steps:
            history["step"].append(step)
            for k, v in acc.items():
                history.setdefault(k, []).append(float(np.mean(v)))
            acc = {}
            log.info("step %d %s", step, {k: round(v[-1], 4) for k, v in history.items()
                                           if k != "step"})
        if step % t.sample_every == 0:
            samples()
        if step % t.checkpoint_every == 0:
            save_last()
            if history["step"]:
                _plot_losses(out / "loss_curve.png", history)
    bar.close()
    minutes = (time.monotonic() - t0) / 60
    save_last()
    samples()
    if history["step"]:
        _plot_losses(out / "loss_curve.png", history)
        lines = [",".join(history)] + [",".join(f"{history[k][i]:.6g}" for k in history)
                                       for i in range(len(history["step"]))]
        atomic_write_text(out / "losses.csv", "\n".join(lines) + "\n")
    gen = save_generator(out / "generator.pt", cfg, model, scale)
    if cfg.output.export:
        save_generator(cfg.path(cfg.output.export), cfg, model, scale)
    final = {k: v[-1] for k, v in history.items() if k != "step" and v}
    return TrainResult(out, gen, step, minutes, stopped, final)
