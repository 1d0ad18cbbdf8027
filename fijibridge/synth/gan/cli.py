"""Command-line glue for the GAN trainers (no torch at import).

:func:`gan_trainers` returns the entries ``fijibridge train`` adds to its
``TRAINERS`` table: ``name -> (function(args), help)``, where ``args`` carries
``config``, ``resume``, ``max_steps`` and ``device`` as parsed by
:mod:`fijibridge.cli.train`.
"""

from __future__ import annotations

import json

__all__ = ["gan_trainers", "run_train"]

_HELP = {
    "pix2pix": "pix2pix mask -> image GAN, 2D (fijibridge.synth.gan)",
    "vox2vox": "Vox2Vox mask -> image GAN, 3D, patch-based (fijibridge.synth.gan)",
    "cyclegan": "CycleGAN unpaired image <-> mask, 2D or 3D (fijibridge.synth.gan)",
}


def run_train(kind: str, args) -> int:
    """Train GAN ``kind`` from ``args.config``; print a JSON summary; return 0."""
    from .config import load_config
    from .training import train

    cfg = load_config(args.config, model=kind)
    if getattr(args, "output_dir", None):  # -o/--output-dir replaces output.dir
        from pathlib import Path

        cfg.output.dir = str(Path(args.output_dir).resolve())
    if getattr(args, "quiet", False):  # --quiet: no progress display
        cfg.training.progress = False
    result = train(cfg, resume=bool(getattr(args, "resume", False)),
                   max_steps=getattr(args, "max_steps", None),
                   device=getattr(args, "device", None))
    summary = {"model": kind, "output_dir": str(result.output_dir),
               "generator": str(result.generator), "steps": result.steps,
               "minutes": round(result.minutes, 2), "stopped": result.stopped,
               "final_losses": {k: round(v, 5) for k, v in result.losses.items()}}
    if cfg.output.export:
        summary["exported"] = str(cfg.path(cfg.output.export))
    print(json.dumps(summary, indent=1))
    return 0


def _trainer(kind):
    def func(args):
        return run_train(kind, args)

    func.__name__ = f"_train_{kind}"
    return func


def gan_trainers() -> dict:
    """``{"pix2pix": (func, help), "vox2vox": …, "cyclegan": …}`` for ``fijibridge train``."""
    return {k: (_trainer(k), h) for k, h in _HELP.items()}
