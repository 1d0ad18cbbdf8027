"""Grouped-CV accuracy of every classifier on a synthetic control-vs-patient cohort.

Cohort: ``--individuals`` per group (control, patient), ``--cells`` monocyte-like
cells per individual, 2D, from :func:`fijibridge.synth.monocyte_cohort`.  Each
individual's degree of mitochondrial fusion is drawn from Beta(8, 3) (control, fused)
or Beta(3, 8) (patient, fragmented): the distributions overlap, and a classifier that
knew each individual's fusion exactly and split at 0.5 would be right for 94.5 % of
individuals (``bayes_accuracy_fusion_split`` in the JSON; the value for the
individuals actually drawn is ``realized_fusion_split_accuracy``); the cells of one
individual share its fusion but differ in their random networks.

Features per cell: skeleton network metrics inside the cell mask
(:func:`fijibridge.features.cell_table`) and the mean morphology of its
mitochondrial pieces (:func:`label_morphology` → :func:`aggregate_by_cell`).
Cross-validation: 5-fold :class:`~sklearn.model_selection.StratifiedGroupKFold` by
individual; a non-grouped 5-fold CV of the same table is reported beside it to show
how much mixing an individual's cells into train and test inflates accuracy.

Writes ``benchmarks/results/classify_cohort.json``, the feature table
(``classify_cohort_table.csv``) and per-model plots in
``benchmarks/results/classify_cohort/``.

    python benchmarks/classify_cohort.py [--individuals 20] [--cells 6]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

FUSION_CONTROL = (8.0, 3.0)
FUSION_PATIENT = (3.0, 8.0)


def cohort_table(n_individuals, n_cells, seed=0):
    import pandas as pd

    from fijibridge.features import (aggregate_by_cell, assign_cells, cell_table,
                                     label_morphology, skeleton_graph)
    from fijibridge.synth import monocyte_cohort

    tables = []
    for ph in monocyte_cohort(n_control=n_individuals, n_patient=n_individuals, ndim=2,
                              n_cells=n_cells, fusion_control=FUSION_CONTROL,
                              fusion_patient=FUSION_PATIENT, rng=seed):
        cells = ph.labels
        mito = ph.class_mask == 3
        graph = skeleton_graph(mito, spacing=ph.spacing, image=ph.image, cells=cells,
                               prune_um=0.2)
        net = cell_table(graph, np.unique(cells), rng=seed)
        pieces = ph.masks["mito_labels"]
        morph = label_morphology(pieces, spacing=ph.spacing)
        morph["cell"] = assign_cells(pieces, cells).reindex(morph["label"]).to_numpy()
        keep = ["cell", "area_um2", "perimeter_um", "circularity", "elongation",
                "feret_diameter_um"]
        agg = aggregate_by_cell(morph[keep])
        table = net.merge(agg, on="cell", how="left")
        cell_area = np.bincount(cells.ravel())[table["cell"]] * float(np.prod(ph.spacing))
        table["mito_area_fraction"] = table["total_area_um2"] / cell_area
        table.insert(0, "individual", f"ind{ph.params['sample']:03d}")
        table.insert(1, "condition", ph.params["group"])
        table.insert(2, "fusion", ph.params["fusion"])
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def main(argv=None):
    import sklearn
    from scipy import stats

    from fijibridge._core.atomic import atomic_write_text
    from fijibridge.classify import MODELS, cross_validate, write_plots

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--individuals", type=int, default=20, help="per group")
    parser.add_argument("--cells", type=int, default=6, help="per individual")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" /
                                                 "classify_cohort.json"))
    args = parser.parse_args(argv)
    out = Path(args.output)
    t0 = time.perf_counter()
    table = cohort_table(args.individuals, args.cells, seed=args.seed)
    t_features = time.perf_counter() - t0
    table = table.fillna({"assortativity": 0.0, "modularity": 0.0})
    atomic_write_text(out.with_name(out.stem + "_table.csv"), table.to_csv(index=False))
    exclude = ["fusion"]  # the hidden truth, never a feature
    bayes = 0.5 * ((1 - stats.beta(*FUSION_CONTROL).cdf(0.5))
                   + stats.beta(*FUSION_PATIENT).cdf(0.5))
    per_ind = table.groupby("individual").first()
    realized = float(((per_ind["fusion"] > 0.5) == (per_ind["condition"] == "control")).mean())
    result = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                          "sklearn": sklearn.__version__},
              "cohort": {"individuals_per_group": args.individuals,
                         "cells_per_individual": args.cells, "ndim": 2,
                         "n_cells": int(len(table)), "fusion_control_beta": FUSION_CONTROL,
                         "fusion_patient_beta": FUSION_PATIENT,
                         "bayes_accuracy_fusion_split": float(bayes),
                         "realized_fusion_split_accuracy": float(realized),
                         "generator": "fijibridge.synth.monocyte_cohort",
                         "features_s": t_features},
              "target_accuracy": 0.90, "models": {}}
    plots = out.with_name(out.stem)
    for model in MODELS:
        t = time.perf_counter()
        rep = cross_validate(table, label="condition", group="individual", model=model,
                             rng=args.seed, exclude=exclude)
        elapsed = time.perf_counter() - t
        leaky = cross_validate(table, label="condition", model=model, rng=args.seed,
                               exclude=exclude + ["individual"])
        write_plots(rep, plots / model)
        top = sorted(rep["importance"]["values"].items(), key=lambda kv: -kv[1])[:5]
        result["models"][model] = {
            "grouped_cv": rep["metrics"], "group_majority_vote_accuracy": rep["group_accuracy"],
            "confusion_matrix": rep["confusion_matrix"], "classes": rep["classes"],
            "meets_target": bool(rep["metrics"]["accuracy"] >= 0.90),
            "non_grouped_cv_accuracy": leaky["metrics"]["accuracy"],
            "top_features": top, "importance_kind": rep["importance"]["kind"],
            "cv_s": elapsed}
        print(f"{model:7s} grouped accuracy {rep['metrics']['accuracy']:.3f} "
              f"± {rep['metrics']['accuracy_std']:.3f}  balanced "
              f"{rep['metrics']['balanced_accuracy']:.3f}  AUC {rep['metrics']['roc_auc']:.3f}  "
              f"(non-grouped {leaky['metrics']['accuracy']:.3f})")
    result["features"] = rep["features"]
    atomic_write_text(out, json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
