"""Parameter study: which algorithm, how many iterations and which λ restore reference
case A (64x64x32, ground truth ``A_gt.tif``) best?  Algorithms × iterations × λ, scored
by PSNR and SSIM against the ground truth, as a lab does when it chooses a method.
Writes ``experiments/deconv_study/results/deconv_study.{csv,json,png}``.  Runs with the
installed package::

    python experiments/deconv_study/deconv_study.py [--reference ../shared/reference]

(``--reference`` defaults to ``$FIJIBRIDGE_REFERENCE``, as for the parity tests.)
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import os
import time
from pathlib import Path

import numpy as np

from fijibridge import DivergenceError
from fijibridge._core.atomic import atomic_path, atomic_write_text
from fijibridge.deconv import deconvolve

log = logging.getLogger("deconv_study")
HERE = Path(__file__).resolve().parent

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
    import pandas as pd

    from fijibridge._core.figures import new_figure

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


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reference", default=os.environ.get(
        "FIJIBRIDGE_REFERENCE", str(HERE.parents[2] / "shared" / "reference")),
        help="reference folder (default: $FIJIBRIDGE_REFERENCE, else ../shared/reference)")
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import tifffile
    import torch

    torch.set_num_threads(args.threads)
    d = Path(args.reference) / "dl2" / "input"
    img, psf, gt = (tifffile.imread(d / f"A_{k}.tif") for k in ("image", "psf", "gt"))
    rows = parameter_study(img, psf, gt)
    paths = write_study(rows, args.out)
    best = max((r for r in rows if r["status"] == "ok"), key=lambda r: r["psnr"])
    print(f"{len(rows)} settings; best PSNR {best}; wrote {', '.join(map(str, paths))}")


if __name__ == "__main__":
    main()
