"""Parameter study on reference case A (64x64x32, ground truth A_gt.tif): algorithms ×
iterations × λ, PSNR and SSIM. Writes benchmarks/results/deconv_study.{csv,json,png}.

    python benchmarks/deconv_study.py [--reference ../shared/reference]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import tifffile
import torch

from fijibridge.deconv.study import parameter_study, write_study

HERE = Path(__file__).resolve().parent


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reference", default=str(HERE.parents[1] / "shared" / "reference"))
    ap.add_argument("--out", default=str(HERE / "results"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    d = Path(args.reference) / "dl2" / "input"
    img, psf, gt = (tifffile.imread(d / f"A_{k}.tif") for k in ("image", "psf", "gt"))
    rows = parameter_study(img, psf, gt)
    paths = write_study(rows, args.out)
    best = max((r for r in rows if r["status"] == "ok"), key=lambda r: r["psnr"])
    print(f"{len(rows)} settings; best PSNR {best}; wrote {', '.join(map(str, paths))}")


if __name__ == "__main__":
    main()
