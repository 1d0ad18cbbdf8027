"""Speed of label morphology and skeleton graphs, against scikit-image and skan.

In one run on one machine:

* :func:`fijibridge.features.label_morphology` on a 64×512×512 label stack with
  2,000 ellipsoids (with an intensity image) against
  :func:`skimage.measure.regionprops_table` with comparable properties (target ≤ 10 s);
* :func:`fijibridge.features.skeleton_graph` plus :func:`network_metrics` on a
  64×512×512 mitochondria mask (:func:`fijibridge.synth.mitochondria`, intermediate
  phenotype) against skan (``Skeleton`` + ``summarize``), when skan is installed
  (target ≤ 30 s); skan's first call includes numba compilation, so it is timed
  cold and warm;
* the graph counts against the phantom's ground-truth graph.

Writes ``benchmarks/results/features_speed.json``; timings are best of ``--repeat``.

    python benchmarks/features_speed.py [--repeat 2]
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


def label_stack(shape=(64, 512, 512), n=2000, seed=0):
    """``n`` non-overlapping-first ellipsoids (semi-axes 2.5–5 voxels) in a stack."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(shape, np.uint16)
    for i in range(n):
        r = rng.uniform(2.5, 5, 3)
        c = rng.uniform([6, 6, 6], np.array(shape) - 6)
        lo = np.maximum(np.floor(c - r).astype(int), 0)
        hi = np.minimum(np.ceil(c + r).astype(int) + 1, shape)
        g = np.ogrid[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        inside = sum(((g[k] - c[k]) / r[k]) ** 2 for k in range(3)) <= 1
        sub = labels[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        sub[inside & (sub == 0)] = i + 1
    image = rng.normal(100, 10, shape).astype(np.float32)
    return labels, image


def main(argv=None):
    import networkx as nx
    import scipy
    import skimage
    from skimage.measure import regionprops_table

    from fijibridge._core.atomic import atomic_write_text
    from fijibridge.features import label_morphology, network_metrics, skeleton_graph
    from fijibridge.features.skeleton import skeletonize_mask, trace_skeleton
    from fijibridge.synth import mitochondria

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" /
                                                 "features_speed.json"))
    args = parser.parse_args(argv)
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "python": platform.python_version(), "numpy": np.__version__,
                          "scipy": scipy.__version__, "skimage": skimage.__version__,
                          "networkx": nx.__version__},
              "repeat": args.repeat}

    # --- morphology
    spacing = (0.5, 0.1, 0.1)
    labels, image = label_stack()
    n_obj = int(len(np.unique(labels)) - 1)
    t_ours, table = best_of(lambda: label_morphology(labels, spacing=spacing, image=image),
                            args.repeat)
    t_shape, _ = best_of(lambda: label_morphology(labels, spacing=spacing), args.repeat)
    props = ("label", "area", "centroid", "bbox", "inertia_tensor_eigvals", "intensity_mean",
             "intensity_max", "intensity_min", "feret_diameter_max")
    t_sk, _ = best_of(lambda: regionprops_table(labels, intensity_image=image, spacing=spacing,
                                                properties=props), args.repeat)
    t_sk_nof, _ = best_of(lambda: regionprops_table(labels, intensity_image=image,
                                                    spacing=spacing, properties=props[:-1]),
                          args.repeat)
    result["morphology"] = {
        "shape": list(labels.shape), "n_objects": n_obj, "spacing_um": list(spacing),
        "n_columns": int(table.shape[1]),
        "fijibridge_s": t_ours, "fijibridge_shape_only_s": t_shape,
        "skimage_regionprops_s": t_sk, "skimage_properties": list(props),
        "skimage_regionprops_without_feret_s": t_sk_nof,
        "ratio_skimage_over_fijibridge": t_sk / t_ours, "target_s": 10.0,
        "meets_target": bool(t_ours <= 10.0)}
    print(json.dumps(result["morphology"], indent=1))
    del labels, image

    # --- skeleton graph of a mitochondria mask
    t_gen = time.perf_counter()
    ph = mitochondria((64, 512, 512), phenotype="intermediate", spacing=(0.2, 0.1, 0.1), rng=0)
    t_gen = time.perf_counter() - t_gen
    mask = ph.class_mask > 0
    sp = ph.spacing

    def ours():
        g = skeleton_graph(mask, spacing=sp, image=ph.image)
        return g, network_metrics(g)

    t_total, (graph, metrics) = best_of(ours, args.repeat)
    t_skel, skel = best_of(lambda: skeletonize_mask(mask), args.repeat)
    t_trace, _ = best_of(lambda: trace_skeleton(skel, spacing=sp, mask=mask, image=ph.image),
                         args.repeat)
    t_metrics, _ = best_of(lambda: network_metrics(graph), args.repeat)
    truth = ph.graph
    deg = dict(truth.degree())
    result["skeleton"] = {
        "shape": list(mask.shape), "spacing_um": list(sp), "foreground_fraction":
        float(mask.mean()), "skeleton_voxels": int(skel.sum()), "phantom_s": t_gen,
        "fijibridge_total_s": t_total, "skeletonize_s": t_skel, "trace_s": t_trace,
        "metrics_s": t_metrics, "target_s": 30.0, "meets_target": bool(t_total <= 30.0),
        "measured": {k: metrics[k] for k in ("n_nodes", "n_edges", "n_endpoints",
                                              "n_junctions", "n_components", "n_cycles",
                                              "total_length_um", "mean_branch_length_um")},
        "ground_truth": {"n_nodes": truth.number_of_nodes(), "n_edges": truth.number_of_edges(),
                         "n_endpoints": sum(1 for v in deg.values() if v == 1),
                         "n_junctions": sum(1 for v in deg.values() if v >= 3),
                         "n_components": nx.number_connected_components(truth),
                         "total_length_um": float(sum(d["length_um"] for *_, d in
                                                      truth.edges(data=True)))},
    }
    try:
        import skan
    except ImportError:
        result["skeleton"]["skan"] = "not installed"
    else:
        from skan import Skeleton, summarize

        def run_skan():
            s = Skeleton(skel, spacing=sp, source_image=ph.image)
            return summarize(s, separator="_")

        t_cold, summary = best_of(run_skan, 1)
        t_warm, _ = best_of(run_skan, args.repeat)
        result["skeleton"]["skan"] = {
            "version": skan.__version__, "trace_and_summarize_cold_s": t_cold,
            "trace_and_summarize_warm_s": t_warm, "n_paths": int(len(summary)),
            "total_length_um": float(summary["branch_distance"].sum()),
            "ratio_skan_warm_over_fijibridge_trace": t_warm / t_trace,
            "note": "skan timed on the same skeleton (skeletonize excluded); fijibridge "
                    "trace includes widths and intensities, not the graph metrics"}
    print(json.dumps(result["skeleton"], indent=1))
    out = Path(args.output)
    atomic_write_text(out, json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
