"""Training images for nuclei2d v3: phantom nuclei masks rendered by the shipped
mask → image pix2pix (``models/pix2pix_nuclei2d``, found with the installed package).

The phantoms (``fijibridge.synth.nuclei``) place many touching and some overlapping
nuclei of 14–28 px.  The generator sees only a binary mask: with ``--seams`` (the
default) touching nuclei get a 1-px cut in its input
(:func:`fijibridge.synth.gan.data.carve_contacts`) and come out with a dim gap, as in
most real images; with ``--no-seams`` they come out as one blob.  The full instance
labels of the phantom are the training target.  Writes (atomically)
``gan_data/images.tif`` (float32, N×256×256) and ``gan_data/labels.tif`` (uint16)
next to this file; ``train.yml`` reads them.  ~1 min on one CPU core::

    python experiments/nuclei2d_v3_gan/make_gan_data.py [--count 300] [--seed 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from fijibridge.shipped import shipped_dir

HERE = Path(__file__).resolve().parent


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--shape", type=int, default=256)
    ap.add_argument("--model", default=str(shipped_dir("models") / "pix2pix_nuclei2d"))
    ap.add_argument("--out", default=str(HERE / "gan_data"))
    ap.add_argument("--seams", action=argparse.BooleanOptionalAction, default=True,
                    help="cut a 1-px seam between touching nuclei in the generator input")
    args = ap.parse_args(argv)
    import torch

    from tqdm.auto import tqdm

    from fijibridge._core.tiff import write_tiff
    from fijibridge.synth import nuclei
    from fijibridge.synth.gan.data import carve_contacts
    from fijibridge.synth.gan.inference import generate_from_mask
    from fijibridge.synth.gan.training import load_generator

    torch.manual_seed(args.seed)
    net, meta = load_generator(args.model)
    rng = np.random.default_rng(args.seed)
    images, labels = [], []
    t0 = time.monotonic()
    for _ in tqdm(range(args.count), desc="pix2pix nuclei", unit="image"):
        ph = nuclei((args.shape, args.shape), radius_um=float(rng.uniform(3.5, 7.0)),
                    radius_cv=float(rng.uniform(0.1, 0.25)), aspect=(0.55, 1.0),
                    touching=float(rng.uniform(0.3, 0.8)), overlapping=float(rng.uniform(0.0, 0.2)),
                    spacing=(0.5, 0.5), rng=rng)
        lab = np.asarray(ph.labels).astype(np.uint16)
        if not lab.any():
            continue
        source = carve_contacts(lab) if args.seams else lab
        images.append(generate_from_mask(source, net, meta, tile=256).astype(np.float32))
        labels.append(lab)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_tiff(out / "images.tif", np.stack(images))
    write_tiff(out / "labels.tif", np.stack(labels))
    print(f"{len(images)} images in {time.monotonic() - t0:.0f} s -> {out}")


if __name__ == "__main__":
    main()
