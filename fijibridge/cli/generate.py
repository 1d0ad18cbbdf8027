"""``fijibridge generate --model M --masks DIR -o DIR``: images from masks with a GAN.

``M`` is a generator file (``generator.pt`` of a training run), a folder holding
``model.pt``, or a shipped name (``pix2pix_nuclei2d``).  ``--masks`` is a folder of
TIFF masks (or one TIFF); a 2D model turns a 3D TIFF into a stack of planes.  Large
images are generated in overlapping tiles, blended linearly.  Each output is an
ImageJ TIFF named after its mask, written atomically; all masks are checked (shape,
foreground) before anything is written.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "generate", help="generate images from masks with a trained GAN",
        description="Generate synthetic images from label/class masks with a trained "
                    "pix2pix / Vox2Vox / CycleGAN generator, tiled over large images.")
    p.add_argument("--model", required=True, metavar="M",
                   help="generator .pt, model folder, or shipped name (pix2pix_nuclei2d)")
    p.add_argument("--masks", required=True, metavar="DIR",
                   help="folder of TIFF masks (labels or classes), or one TIFF")
    p.add_argument("-o", "--output-dir", "--output", dest="output", required=True, metavar="DIR",
                   help="output folder")
    p.add_argument("--tile", type=int, default=256, help="tile size in pixels (default 256)")
    p.add_argument("--overlap", type=float, default=0.25,
                   help="fraction of a tile shared with its neighbour (default 0.25)")
    p.add_argument("--device", default="auto",
                   help="auto (default: CUDA if available, then MPS, else CPU), cpu, cuda, "
                   "cuda:N or mps; a device that is absent is an error")
    p.add_argument("--allow-empty", action="store_true",
                   help="accept all-background masks (they give background-only images)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    import numpy as np

    from .._core.tiff import read_tiff, write_tiff
    from ..synth.gan.data import check_mask
    from ..synth.gan.inference import generate_from_mask
    from ..synth.gan.training import load_generator

    from .._core.execution import resolve_device

    device = resolve_device(args.device)
    net, meta = load_generator(args.model, device=device)
    if meta.get("direction") != "mask_to_image":
        raise ValueError(f"{meta['path']} generates masks from images "
                         f"(direction {meta.get('direction')!r}); generate needs a mask -> "
                         "image model")
    src = Path(args.masks)
    if src.is_dir():
        files = sorted(f for f in src.iterdir() if f.suffix.lower() in (".tif", ".tiff"))
        if not files:
            raise FileNotFoundError(f"no .tif/.tiff masks in folder {str(src)!r}")
    elif src.is_file():
        files = [src]
    else:
        raise FileNotFoundError(f"no mask folder or file at {str(src)!r}")
    sd = net.spatial_dims
    jobs = []
    for f in files:
        t = read_tiff(f)
        m = np.asarray(t.data)
        if m.ndim not in (sd, sd + 1):
            raise ValueError(f"{f}: mask of shape {m.shape} does not fit a {sd}D model "
                             f"({sd}D masks or stacks of them)")
        if not np.issubdtype(m.dtype, np.integer) and not np.issubdtype(m.dtype, np.bool_):
            if not np.all(m == np.round(m)):
                raise ValueError(f"{f}: masks must hold integer labels or classes; got "
                                 f"non-integer {m.dtype} values")
        if not args.allow_empty:
            check_mask(m, name=f"mask {f.name}")
        jobs.append((f, t, m))
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for f, t, m in jobs:
        planes = [m] if m.ndim == sd else list(m)
        imgs = [generate_from_mask(p, net, meta, tile=args.tile, overlap=args.overlap,
                                   device=device, check=False) for p in planes]
        img = imgs[0] if m.ndim == sd else np.stack(imgs)
        if img.dtype not in (np.uint8, np.uint16, np.float32):
            img = img.astype(np.float32)
        dest = out_dir / f"{f.stem}.tif"
        write_tiff(dest, img, spacing=t.spacing, axes=t.axes if t.axes and len(t.axes) == img.ndim
                   else None)
        written.append(str(dest))
        log.info("wrote %s", dest)
    print(json.dumps({"model": meta["path"], "kind": meta["kind"], "device": device,
                      "written": written}, indent=1))
    return 0
