"""``fijibridge segment IMAGE… --model nuclei2d|PATH [--output-dir DIR | -o LABELS.tif]``

Instance segmentation with a trained network.  Several images or folders (their
``.tif``/``.tiff`` files) in one call; for each image ``NAME`` it writes
``NAME_labels.tif`` (instance labels, 16-bit ImageJ TIFF with the input's
calibration) and ``NAME_overlay.png`` (outlines on the contrast-stretched image)
into ``--output-dir`` (default: the current folder).  ``-o`` names the label file
of a single image (the overlay goes beside it).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

__all__ = ["add_parser", "run", "collect_images", "write_overlay"]

log = logging.getLogger(__name__)
_EXTS = (".tif", ".tiff")


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "segment", help="instance segmentation with a trained network (default nuclei2d)",
        description=__doc__.split("\n\n", 1)[1].strip(),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="TIFF files or folders of them")
    p.add_argument("--model", default="nuclei2d",
                   help="shipped model name (nuclei2d) or checkpoint file/folder")
    p.add_argument("-o", "--output-dir", "--output", dest="output_dir",
                   metavar="DIR|LABELS.tif", default=None,
                   help="folder for NAME_labels.tif and NAME_overlay.png (default: .), or, "
                   "for a single input image, the label file itself (a name ending in .tif)")
    p.add_argument("--device", default="auto",
                   help="auto (default: CUDA if available, then MPS, else CPU), cpu, cuda, "
                   "cuda:N or mps; a device that is absent is an error")
    p.add_argument("--tile", type=int, default=None,
                   help="sliding-window size in pixels (default: the whole image at once when "
                   "it fits in memory, else the largest window that does)")
    p.add_argument("--backend", default="auto", choices=("auto", "torch", "onnx", "openvino"),
                   help="who runs the network: auto (default: ONNX Runtime/OpenVINO on the CPU "
                   "when fijibridge[fast] is installed, else torch), torch, onnx or openvino")
    p.add_argument("--overlap", type=float, default=0.25, help="window overlap fraction")
    p.add_argument("--tta", action="store_true",
                   help="test-time augmentation: average the 8 flips/rotations (8x slower)")
    p.add_argument("--min-size", type=int, default=None, help="smallest object kept (pixels)")
    p.add_argument("--per-plane", action="store_true",
                   help="segment each plane of a stack with a 2D model")
    p.add_argument("--no-overlay", action="store_true", help="do not write the overlay PNG")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=run)
    return p


def collect_images(paths) -> list[Path]:
    """Expand files and folders into a sorted list of TIFF files (errors name the path)."""
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found = sorted(f for f in path.iterdir() if f.suffix.lower() in _EXTS
                           and not f.stem.endswith("_labels") and not f.name.startswith("."))
            if not found:
                raise FileNotFoundError(f"folder {text!r} holds no .tif/.tiff images")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"no image file or folder at {text!r}")
    return files


def plan_outputs(files, *, out_dir: Path, output=None, overlay=True) -> dict:
    """``{image: (labels_path, overlay_path or None)}`` for every input, checked before any
    work: no output is an input, and no two inputs share an output.

    Two inputs with the same name from different folders (``a/img.tif``, ``b/img.tif``)
    would both write ``img_labels.tif``: that is an error listing the clash, not a silent
    rename, so that every output keeps the documented ``NAME_labels.tif`` name a Fiji
    macro or a spreadsheet can match to its image.
    """
    from .._core.outputs import check_not_input, check_unique_outputs

    planned = {}
    for f in files:
        stem = f.name[: -len(f.suffix)]
        label_path = Path(output) if output else out_dir / f"{stem}_labels.tif"
        base = label_path.stem.removesuffix("_labels")
        planned[f] = (label_path, label_path.with_name(base + "_overlay.png") if overlay else None)
    check_unique_outputs((f, p) for f, paths in planned.items() for p in paths if p is not None)
    option = "-o" if output else "--output-dir"
    check_not_input([p for paths in planned.values() for p in paths if p is not None],
                    {f"IMAGE #{i + 1}": f for i, f in enumerate(files)}, name=option)
    return planned


def write_overlay(image, labels, path) -> Path:
    """PNG of ``image`` (percentile-stretched, gray) with label outlines in colour."""
    import matplotlib
    import numpy as np
    from skimage.segmentation import find_boundaries

    from .._core.atomic import atomic_path
    from ..segment.preprocess import contrast_stretch

    gray = contrast_stretch(image, low=1, high=99.8, clip=True)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    edges = find_boundaries(labels, mode="inner")
    cmap = matplotlib.colormaps["hsv"]
    colours = cmap((labels * 0.618034) % 1.0)[..., :3]
    rgb[edges] = colours[edges]
    import matplotlib.image

    with atomic_path(path) as tmp:
        matplotlib.image.imsave(tmp, rgb)
    return Path(path)


def run(args) -> int:
    import numpy as np

    from .._core.tiff import read_tiff, write_tiff
    from ..segment.inference import segment
    from ..segment.models import load_model

    files = collect_images(args.images)
    target = Path(args.output_dir) if args.output_dir else Path(".")
    as_file = target.suffix.lower() in (".tif", ".tiff") and not target.is_dir()
    if as_file and len(files) != 1:
        raise ValueError(f"-o {str(target)!r} names one label file but {len(files)} images "
                         "were given; give a folder for several")
    out_dir = target.parent if as_file else target
    planned = plan_outputs(files, out_dir=out_dir, output=target if as_file else None,
                           overlay=not args.no_overlay)
    from .._core.execution import resolve_device

    device = resolve_device(args.device)  # "auto" decided once, logged, reported
    from ..segment.backends import inference_predictor

    net, ckpt = load_model(args.model, device=device)
    run_net = inference_predictor(net, device=device, backend=args.backend)  # once, all images
    model = (run_net, ckpt)
    post = {} if args.min_size is None else {"min_size": args.min_size}
    summary = []
    from .._core.progress import progress
    from ._common import is_quiet

    # a bar on a terminal, one line per image in a log, nothing with --quiet (stderr)
    for f in progress(files, desc="segment", unit="image", enabled=not is_quiet(args),
                      label=lambda p: p.name):
        tif = read_tiff(f)
        data = tif.data
        channel_axis = tif.axes.index("C") if "C" in tif.axes else None
        spatial = data.ndim - (channel_axis is not None)
        planes = None
        if spatial == net.spatial_dims + 1 and args.per_plane:
            planes = data.shape[0]
        elif spatial != net.spatial_dims:
            hint = " (add --per-plane to segment each plane)" if spatial == net.spatial_dims + 1 else ""
            raise ValueError(f"{f}: the model is {net.spatial_dims}D but the image has axes "
                             f"{tif.axes!r} (shape {data.shape}){hint}")
        if channel_axis is not None and net.in_channels == 1:
            raise ValueError(f"{f}: the model takes 1 channel; the image has "
                             f"{data.shape[channel_axis]} (axes {tif.axes!r}); split the channels first")
        if planes is None:
            labels = segment(data, model=model, device=device, roi_size=args.tile,
                             overlap=args.overlap, tta=args.tta, **post)
            shown = data
        else:
            labels = np.stack([segment(p, model=model, device=device, roi_size=args.tile,
                                       overlap=args.overlap, tta=args.tta, **post)
                               for p in data])
            shown = data[0]
        n = int(labels.max()) if planes is None else [int(p.max()) for p in labels]
        if int(labels.max()) > 65535:
            raise ValueError(f"{f}: {int(labels.max())} objects do not fit a 16-bit label image")
        label_path, overlay = planned[f]
        write_tiff(label_path, labels.astype(np.uint16), spacing=tif.spacing, unit=tif.unit,
                   axes=None if planes is None else tif.axes)  # uncalibrated stays so
        if overlay is not None:
            write_overlay(shown, labels if planes is None else labels[0], overlay)
        summary.append({"image": str(f), "objects": n, "labels": str(label_path), "device": device,
                        "backend": run_net.backend,
                        "overlay": None if overlay is None else str(overlay)})
        if not args.json and not is_quiet(args):
            print(f"{f}: {n} objects -> {label_path}")
    if args.json:
        print(json.dumps(summary, indent=1))
    return 0
