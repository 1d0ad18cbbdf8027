"""``fijibridge train MODEL CONFIG``: train a network from a config file.

``MODEL`` picks the trainer; each trainer is an entry of :data:`TRAINERS`, a function
``(args) -> int`` imported only when it runs (torch stays unloaded for ``--help``).
Further trainers (``pix2pix``, ``vox2vox``, ``cyclegan``) are added by appending to
:data:`TRAINERS`.
"""

from __future__ import annotations

import argparse
import json
import logging

from ..synth.gan.cli import gan_trainers  # torch-free at import

__all__ = ["add_parser", "run", "TRAINERS"]

log = logging.getLogger(__name__)


def _train_unet(args) -> int:
    from ..segment.training import load_config, train

    cfg = load_config(args.config)
    apply_output_dir(cfg, args)
    if getattr(args, "quiet", False):  # --quiet: no progress display
        cfg.training.progress = False
    result = train(cfg, resume=args.resume, max_steps=args.max_steps, device=args.device)
    summary = {"best_checkpoint": str(result.best_checkpoint), "best_metric": result.best_metric,
               "steps": result.steps, "minutes": round(result.minutes, 2),
               "stopped": result.stopped}
    if cfg.output.export:
        summary["exported"] = str(cfg.path(cfg.output.export))
    print(json.dumps(summary, indent=1))
    return 0


#: trainer name -> (function, help text)
TRAINERS = {
    "unet": (_train_unet, "U-Net / residual U-Net segmentation (fijibridge.segment)"),
}
TRAINERS.update(gan_trainers())  # pix2pix, vox2vox, cyclegan (fijibridge.synth.gan)


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train", help="train a network from a config file",
        description="Train a network from a YAML/JSON config. "
                    + "; ".join(f"{k}: {h}" for k, (_, h) in TRAINERS.items()))
    p.add_argument("model", choices=sorted(TRAINERS), metavar="MODEL",
                   help=f"what to train: {', '.join(sorted(TRAINERS))}")
    p.add_argument("config", metavar="CONFIG", help="training config (.yml/.yaml/.json)")
    p.add_argument("--resume", action="store_true",
                   help="continue from last.pt in the config's output folder")
    p.add_argument("--max-steps", type=int, default=None,
                   help="override training.max_steps (e.g. to extend a run with --resume)")
    p.add_argument("-o", "--output-dir", dest="output_dir", metavar="DIR", default=None,
                   help="override the config's output.dir (checkpoints, logs, plots)")
    p.add_argument("--device", default=None,
                   help="override training.device (auto | cpu | cuda | cuda:N | mps; the "
                   "configs' default is auto)")
    p.set_defaults(func=run)
    return p


def apply_output_dir(cfg, args) -> None:
    """``-o/--output-dir`` replaces the config's ``output.dir`` (made absolute, so it does
    not depend on the config file's folder)."""
    from pathlib import Path

    if getattr(args, "output_dir", None):
        cfg.output.dir = str(Path(args.output_dir).resolve())


def run(args) -> int:
    func, _ = TRAINERS[args.model]
    return func(args)
