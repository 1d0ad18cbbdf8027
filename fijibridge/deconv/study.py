"""Parameter study: algorithms × iterations × λ on an image with ground truth, as a lab does
when it chooses a method; a table (rows of dicts → CSV/JSON) and a PSNR/SSIM plot (PNG)."""

from __future__ import annotations

import itertools
import json
import logging
import math
import time

import numpy as np

from .._core.atomic import atomic_path, atomic_write_text
from .._core.errors import DivergenceError
from .core import deconvolve

__all__ = ["parameter_study", "write_study", "DEFAULT_GRID"]

log = logging.getLogger(__name__)

#: algorithm -> (iteration counts, λ values or (None,) when the algorithm has no λ)
DEFAULT_GRID = {
    "RL": ((5, 10, 20, 50), (None,)),
    "RLTV": ((10, 20, 50), (0.001, 0.01, 0.1)),
    "LW": ((10, 20, 50), (None,)),
    "NNLS": ((10, 20, 50), (None,)),
    "TM": ((10, 20), (0.0001, 0.001, 0.01)),
    "ICTM": ((10, 20), (0.0001, 0.001, 0.01)),
    "FISTA": ((10, 20), (0.001, 0.01, 0.1)),
    "RIF": ((None,), (0.001, 0.01, 0.1)),
    "TRIF": ((None,), (0.001, 0.01, 0.1)),
}


def _psnr(x, gt):
    rmse = math.sqrt(float(np.mean((x.astype(np.float64) - gt) ** 2)))
    return float("inf") if rmse == 0 else 20 * math.log10(float(gt.max()) / rmse)


def parameter_study(image, psf, ground_truth, *, grid=None, device="auto", haar="orthonormal"):
    """Run every combination of ``grid`` and score it against ``ground_truth``.

    Returns a list of rows ``{algorithm, num_iter, reg, psnr, ssim, seconds, status}``;
    a diverging combination is kept with ``status="diverged"`` and NaN scores.
    """
    from skimage.metrics import structural_similarity

    gt = np.asarray(ground_truth, dtype=np.float64)
    grid = DEFAULT_GRID if grid is None else grid
    rows = []
    for algorithm, (iters, regs) in grid.items():
        for num_iter, reg in itertools.product(iters, regs):
            kw = {}
            if num_iter is not None:
                kw["num_iter"] = int(num_iter)
            if reg is not None:
                kw["reg"] = float(reg)
            t0 = time.perf_counter()
            try:
                x = deconvolve(image, psf, algorithm=algorithm, device=device, haar=haar, **kw)
                status = "ok"
                psnr = _psnr(x, gt)
                rng = float(gt.max() - gt.min()) or 1.0
                ssim = float(structural_similarity(x.astype(np.float64), gt, data_range=rng))
            except DivergenceError:
                status, psnr, ssim = "diverged", float("nan"), float("nan")
            rows.append({"algorithm": algorithm, "num_iter": num_iter, "reg": reg,
                         "psnr": psnr, "ssim": ssim,
                         "seconds": round(time.perf_counter() - t0, 4), "status": status})
            log.info("%s", rows[-1])
    return rows


def write_study(rows, out_dir, *, name="deconv_study"):
    """Write ``rows`` as ``name.csv``, ``name.json`` and a PSNR/SSIM plot ``name.png``."""
    from pathlib import Path

    from .._core.figures import new_figure
    import pandas as pd

    out_dir = Path(out_dir)
    df = pd.DataFrame(rows)
    with atomic_path(out_dir / f"{name}.csv") as tmp:
        df.to_csv(tmp, index=False)
    atomic_write_text(out_dir / f"{name}.json", json.dumps(rows, indent=1, default=str))
    fig, axes = new_figure(1, 2, figsize=(12, 4.5))
    ok = df[df.status == "ok"].copy()
    ok["label"] = [f"{a} n={'' if pd.isna(n) else int(n)} λ={'' if pd.isna(r) else r:g}"
                   if not pd.isna(r) else f"{a} n={int(n)}" for a, n, r in
                   zip(ok.algorithm, ok.num_iter, ok.reg)]
    for ax, metric in zip(axes, ("psnr", "ssim")):
        for alg, g in ok.groupby("algorithm", sort=False):
            ax.plot(range(len(g)), g[metric].to_numpy(), marker="o", label=alg)
        ax.set_ylabel(metric.upper())
        ax.set_xlabel("setting (iterations × λ, increasing)")
        ax.set_title(f"{metric.upper()} vs ground truth")
    axes[1].legend(fontsize=8, ncol=2)
    fig.tight_layout()
    with atomic_path(out_dir / f"{name}.png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return out_dir / f"{name}.csv", out_dir / f"{name}.json", out_dir / f"{name}.png"
