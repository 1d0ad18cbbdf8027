"""``fijibridge synth phantoms``: synthetic images with their ground truth.

Writes, for each sample ``i`` of kind ``K`` into ``DIR``::

    K_<i>_image.tif    simulated microscope image (uint16; calibrated ImageJ TIFF)
    K_<i>_labels.tif   instance labels (uint16, or float32 beyond 65535 labels)
    K_<i>_mask.tif     class mask (uint8; classes in params.json)
    K_<i>.graphml      ground-truth network (mito, cells)
    params.json        command, optics and every sample's parameters
    preview.png        first sample: image and labels (max projection in 3D)

Every file is written atomically.
"""

from __future__ import annotations

import argparse
import logging

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)

KIND_NAMES = ("nuclei", "mito", "golgi", "cells")


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "synth", help="synthetic phantoms and microscope images",
        description="Generate synthetic fluorescence data with ground truth.")
    sub = parser.add_subparsers(dest="synth_command", metavar="SUBCOMMAND")
    p = sub.add_parser(
        "phantoms", help="phantoms (nuclei, mito, golgi, cells) through a microscope model",
        description="Generate N phantoms, image them with a microscope model, write images, "
                    "labels, class masks, graphs and params.json.")
    p.add_argument("--kind", required=True,
                   help=f"phantom kind: {', '.join(KIND_NAMES)}")
    p.add_argument("--ndim", type=int, default=2, help="2 or 3 (default 2)")
    p.add_argument("--n", type=int, default=1, help="number of samples (default 1)")
    p.add_argument("--shape", type=int, nargs="+", metavar="N",
                   help="image shape (Y X or Z Y X); default depends on kind")
    p.add_argument("--spacing", type=float, nargs="+", metavar="UM",
                   help="voxel size in µm (Z Y X, or Y X in 2D); default depends on kind")
    p.add_argument("--phenotype", default=None,
                   help="mito/cells: fused, intermediate or fragmented")
    p.add_argument("--fusion", type=float, default=None,
                   help="mito/cells: degree of fusion in [0, 1] (overrides --phenotype)")
    p.add_argument("--psf", default="gaussian",
                   help="gaussian, BW (Born & Wolf from fijibridge.psf), auto, none "
                        "(no microscope: write the ground-truth density as float32), "
                        "or a PSF TIFF file sampled at --spacing")
    p.add_argument("--na", type=float, default=1.4, help="numerical aperture (default 1.4)")
    p.add_argument("--wavelength", type=float, default=520.0,
                   help="emission wavelength in nm (default 520)")
    p.add_argument("--refractive-index", type=float, default=1.518,
                   help="immersion refractive index (default 1.518, oil)")
    p.add_argument("--mode", default="widefield", help="widefield or confocal")
    p.add_argument("--photons", type=float, default=200.0,
                   help="expected photons per voxel at density 1 (default 200)")
    p.add_argument("--background", type=float, default=10.0,
                   help="background photons per voxel (default 10)")
    p.add_argument("--gain", type=float, default=1.0, help="ADU per electron (default 1)")
    p.add_argument("--offset", type=float, default=100.0, help="camera offset, ADU (default 100)")
    p.add_argument("--read-noise", type=float, default=2.0, help="read noise, ADU (default 2)")
    p.add_argument("--bit-depth", type=int, default=16, choices=(8, 16),
                   help="8 or 16 (default 16)")
    p.add_argument("--z-step", type=int, default=1,
                   help="3D: keep every Nth plane after blurring (z undersampling)")
    p.add_argument("--elastic", type=float, default=0.0, metavar="ALPHA_UM",
                   help="elastic deformation, RMS displacement in µm (default 0: none)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder")
    p.add_argument("--no-preview", action="store_true", help="do not write preview.png")
    p.set_defaults(func=run)
    parser.set_defaults(func=lambda args: _no_sub(parser))
    return parser


def _no_sub(parser) -> int:
    parser.print_help()
    return 2


def run(args) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from .._core.atomic import atomic_write_text
    from .._core.options import check_choice, check_positive
    from .._core.tiff import read_tiff, write_tiff
    from ..synth._base import jsonable
    from ..synth._kinds import make_phantom
    from ..synth.deform import elastic_deform
    from ..synth.microscope import make_psf, simulate_microscope
    from ..synth.networks import graph_to_graphml

    kind = check_choice("kind", args.kind, KIND_NAMES)
    if args.ndim not in (2, 3):
        raise ValueError(f"--ndim must be 2 or 3; got {args.ndim}")
    n = check_positive("--n", args.n, integer=True)
    if args.shape is not None and len(args.shape) != args.ndim:
        raise ValueError(f"--shape needs {args.ndim} values for --ndim {args.ndim}; "
                         f"got {len(args.shape)}: {args.shape}")
    if args.spacing is not None and len(args.spacing) != args.ndim:
        order = "Z Y X" if args.ndim == 3 else "Y X"
        raise ValueError(f"--spacing needs {args.ndim} values ({order}) for --ndim {args.ndim}; "
                         f"got {len(args.spacing)}: {args.spacing}")
    if args.z_step != 1 and args.ndim != 3:
        raise ValueError(f"--z-step applies to 3D (--ndim 3); got --z-step {args.z_step}")
    if args.wavelength < 100:
        raise ValueError(f"--wavelength is in nm (e.g. 520); got {args.wavelength}")
    kwargs = {}
    if args.shape is not None:
        kwargs["shape"] = tuple(args.shape)
    if args.spacing is not None:
        kwargs["spacing"] = tuple(args.spacing)
    if kind in ("mito", "cells"):
        if args.fusion is not None:
            kwargs["fusion"] = args.fusion
        elif args.phenotype is not None:
            kwargs["phenotype"] = args.phenotype
    elif args.phenotype is not None or args.fusion is not None:
        raise ValueError(f"--phenotype/--fusion apply to mito and cells, not {kind}")

    psf_arg = args.psf
    psf_choice = psf_arg.lower() if psf_arg.lower() in ("gaussian", "bw", "born_wolf", "auto",
                                                         "none") else None
    psf_file = None
    if psf_choice is None:
        path = Path(psf_arg)
        if path.suffix.lower() not in (".tif", ".tiff"):
            raise ValueError(f"--psf must be gaussian, BW, auto, none or a .tif file; got "
                             f"{psf_arg!r}")
        psf_file = read_tiff(path)  # FileNotFoundError / ImageFormatError speak for themselves
    model = {"bw": "born_wolf", "born_wolf": "born_wolf", "gaussian": "gaussian",
             "auto": "auto"}.get(psf_choice or "", None)

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o {str(out)!r} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    master = np.random.SeedSequence(args.seed)
    children = master.spawn(n)
    samples, psf, preview = [], None, None
    for i, child in enumerate(children):
        rng = np.random.default_rng(child)
        ph = make_phantom(kind, ndim=args.ndim, rng=rng, **kwargs)
        if args.elastic > 0:
            ph = elastic_deform(ph, alpha_um=args.elastic, rng=rng)
        spacing = tuple(ph.spacing)
        if psf_choice == "none":
            image, out_spacing = ph.image.astype(np.float32), spacing
        else:
            if psf is None:
                if psf_file is not None:
                    psf = _psf_from_file(psf_file, spacing, args.ndim)
                else:
                    psf = make_psf(spacing=spacing, na=args.na,
                                   wavelength_um=args.wavelength / 1000.0,
                                   refractive_index=args.refractive_index, model=model,
                                   mode=args.mode)
            image = simulate_microscope(
                ph.image, spacing=spacing, psf=psf, photons=args.photons,
                background=args.background, gain=args.gain, offset=args.offset,
                read_noise=args.read_noise, bit_depth=args.bit_depth, z_step=args.z_step,
                rng=rng)
            out_spacing = spacing if args.z_step == 1 else (spacing[0] * args.z_step,
                                                             *spacing[1:])
        stem = f"{kind}_{i}"
        write_tiff(out / f"{stem}_image.tif", image, spacing=out_spacing)
        labels = ph.labels
        labels = labels.astype(np.uint16) if labels.max() < 65536 else labels.astype(np.float32)
        write_tiff(out / f"{stem}_labels.tif", labels, spacing=spacing)
        write_tiff(out / f"{stem}_mask.tif", ph.class_mask.astype(np.uint8), spacing=spacing)
        files = {"image": f"{stem}_image.tif", "labels": f"{stem}_labels.tif",
                 "mask": f"{stem}_mask.tif"}
        if ph.graph is not None:
            graph_to_graphml(ph.graph, out / f"{stem}.graphml")
            files["graph"] = f"{stem}.graphml"
        samples.append({"index": i, "files": files, "image_spacing": list(out_spacing),
                        "params": ph.params})
        if i == 0:
            preview = (image, ph.labels)
        log.info("wrote %s (%d/%d)", stem, i + 1, n)
    record = {
        "command": "fijibridge synth phantoms",
        "kind": kind, "ndim": args.ndim, "n": n, "seed": args.seed,
        "psf": psf_arg if psf_file is None else str(Path(psf_arg).resolve()),
        "optics": {"na": args.na, "wavelength_nm": args.wavelength,
                   "refractive_index": args.refractive_index, "mode": args.mode},
        "camera": {"photons": args.photons, "background": args.background, "gain": args.gain,
                   "offset": args.offset, "read_noise": args.read_noise,
                   "bit_depth": args.bit_depth, "z_step": args.z_step},
        "elastic_alpha_um": args.elastic,
        "psf_shape": None if psf is None else list(psf.shape),
        "samples": samples,
    }
    atomic_write_text(out / "params.json", json.dumps(jsonable(record), indent=1))
    if not args.no_preview and preview is not None:
        _preview(out / "preview.png", *preview, title=f"{kind} {args.ndim}D, sample 0")
    print(f"wrote {n} {kind} sample(s) to {out}")
    return 0


def _psf_from_file(tiff, spacing, ndim):
    import numpy as np

    psf = np.asarray(tiff.data, dtype=np.float64)
    if psf.ndim != ndim:
        raise ValueError(f"PSF file has {psf.ndim} dimensions but the images have {ndim}")
    if tiff.calibrated and not np.allclose(tiff.spacing, spacing, rtol=0.01):
        raise ValueError(f"PSF file is sampled at {tuple(tiff.spacing)} µm but the images at "
                         f"{tuple(spacing)} µm; resample the PSF or pass --spacing "
                         f"{' '.join(str(s) for s in tiff.spacing)}")
    return psf


def _preview(path, image, labels, *, title):
    import numpy as np

    from .._core.atomic import atomic_path
    from .._core.figures import new_figure

    img = image.max(axis=0) if image.ndim == 3 else image
    lab = labels.max(axis=0) if labels.ndim == 3 else labels
    fig, axes = new_figure(1, 2, figsize=(8, 4))
    lo, hi = np.percentile(img, (1, 99.8))
    axes[0].imshow(img, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1)
    axes[0].set_title("image" + (" (max projection)" if image.ndim == 3 else ""))
    axes[1].imshow(lab, cmap="nipy_spectral", interpolation="nearest")
    axes[1].set_title("labels")
    for ax in axes:
        ax.set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80)
