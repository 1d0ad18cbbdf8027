"""Honest evaluation of the shipped mask → nuclei-image pix2pix (issue 4).

1. Held-out pairs (Fluo-N2DL-HeLa frames not used for training): SSIM / PSNR of the
   generated vs the real image and the distance between their intensity histograms
   (1-D Wasserstein on [-1, 1]-scaled intensities), for the trained generator, the
   same generator untrained, and the plain microscope model (``simulate_microscope``
   of the binary mask, gain/offset fitted to the training frames' background and
   nucleus means).
2. Usefulness: the same instance-aware U-Net (``fijibridge.segment.networks.UNet``,
   boundary head: background / interior / boundary), same augmentation, steps and
   seeds, trained on (a) real frames + masks, (b) microscope-model images of the same
   masks, (c) pix2pix images of the same masks, (d) real frames + pix2pix images of new
   masks (elastic deformations of the training masks and nuclei phantoms with touching
   nuclei), half of each batch from either, and, as a control for (d), (e) real frames +
   microscope-model images of the same new masks (same mix; only the renderer differs).
   Instances from ``predict`` +
   ``probabilities_to_labels`` with the shipped nuclei2d post-processing; foreground Dice
   and instance F1 (IoU 0.5) on the held-out real frames and on the stardist DSB 2018
   image (never used for any choice).

Writes ``experiments/gan_eval/results/gan_eval.json`` and ``gan_eval_*.png``.  Runs on one CPU
thread (``nice -n 10`` recommended on shared machines)::

    nice -n 10 python experiments/gan_eval/gan_eval.py [--steps 1500] [--seeds 0,1]
                                             [--name gan_eval] [--reuse gan_eval]
                                             [--model models/pix2pix_nuclei2d]

(the default model is the shipped one, found by :func:`fijibridge.shipped.shipped_dir`).

Post-processing chosen on validation frames: HeLa scores are also computed for each
smallest-object size in ``MIN_SIZE_GRID``.  A validation run trains on frames 0-11 and
scores frames 12-15 (the held-out frames play no part)::

    python experiments/gan_eval/gan_eval.py --seeds 0,1,2 --held-out 12,13,14,15 \
        --exclude 16,17,18,19 --conditions a_real,d_real_plus_pix2pix_new_masks \
        --name gan_eval_validation
    python experiments/gan_eval/gan_eval.py --seeds 0,1,2 --select-post gan_eval_validation

and the second run reports, beside the a-priori scores, the held-out scores with the size
that maximises (a)'s validation F1 (``selected_post``, ``gan_eval_selected_post.png``).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from fijibridge.shipped import shipped_dir

log = logging.getLogger("gan_eval")
RESULTS = Path(__file__).resolve().parent / "results"


def _microscope_baseline(masks, train_imgs, train_masks, rng):
    """simulate_microscope of the binary mask, linearly calibrated to the training
    frames' background and foreground means (raw units)."""
    from fijibridge.synth import simulate_microscope

    fg = np.mean([im[m > 0].mean() for im, m in zip(train_imgs, train_masks)])
    bg = np.mean([im[m == 0].mean() for im, m in zip(train_imgs, train_masks)])
    out = []
    for k, m in enumerate(masks):
        sim = simulate_microscope((m > 0).astype(np.float32), spacing=(0.645, 0.645), na=0.4,
                                  wavelength_um=0.52, psf_model="gaussian", bit_depth=None,
                                  rng=rng + k)
        # expected levels of the model: offset + gain*background (+ photons inside)
        s_bg, s_fg = np.median(sim[m == 0]), np.median(sim[m > 0])
        out.append((bg + (sim - s_bg) * (fg - bg) / (s_fg - s_bg)).astype(np.float32))
    return out


def _mean_edge_profile(images, masks):
    """edge_profile (fijibridge.synth.gan.data) averaged over frames: {ring: value}."""
    from fijibridge.synth.gan.data import edge_profile

    rows = [edge_profile(im, m) for im, m in zip(images, masks)]
    return {str(k): round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}


def part1(net, meta, untrained, held_imgs, held_masks, train_imgs, train_masks):
    from scipy.stats import wasserstein_distance
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    from fijibridge.synth.gan.data import IntensityScale
    from fijibridge.synth.gan.inference import generate_from_mask

    scale = IntensityScale(**meta["intensity"])
    micro = _microscope_baseline(held_masks, train_imgs, train_masks, rng=100)
    methods = {"pix2pix": [], "untrained": [], "microscope_model": []}
    t0 = time.monotonic()
    for m in held_masks:
        methods["pix2pix"].append(generate_from_mask(m, net, meta, tile=256))
        methods["untrained"].append(generate_from_mask(m, untrained, meta, tile=256))
    methods["microscope_model"] = micro
    gen_s = time.monotonic() - t0
    res = {}
    for name, imgs in methods.items():
        rows = []
        for im, real in zip(imgs, held_imgs):
            a, b = scale.to_unit(im), scale.to_unit(real)
            rng = np.random.default_rng(0)
            idx = rng.choice(a.size, 50000, replace=False)
            rows.append({"ssim": float(structural_similarity(b, a, data_range=2.0)),
                         "psnr": float(peak_signal_noise_ratio(b, a, data_range=2.0)),
                         "hist_wasserstein": float(wasserstein_distance(a.ravel()[idx],
                                                                        b.ravel()[idx]))})
        res[name] = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        res[name]["edge_profile"] = _mean_edge_profile(imgs, held_masks)
        res[name]["per_frame"] = rows
    return res, methods, gen_s


#: U-Net of every usefulness condition (instance-aware: background/interior/boundary)
UNET = dict(spatial_dims=2, in_channels=1, out_channels=3, depth=3, features=16, norm="batch",
            head="boundary")
#: augmentation, identical for every condition: 128² crops, flips, 90° turns, and per patch
#: gamma 0.5-2 (log-uniform), scale 0.7-1.3, shift ±0.1 of the [0, 1]-normalised image
AUGMENT = dict(patch_size=(128, 128), flip=True, rot90=True, p_affine=0.0, p_elastic=0.0,
               p_intensity=1.0, gamma=(0.5, 2.0), blur=(0.0, 0.0), p_noise=0.0)
#: post-processing fixed a priori: the shipped nuclei2d model's values
POST = dict(head="boundary", threshold=0.5, seed_threshold=0.7, seeds="components", min_size=15)
#: smallest object kept (px): HeLa scores are also computed for each of these, and a run
#: with ``--held-out 12,13,14,15 --exclude 16,17,18,19`` (validation frames, training on
#: frames 0-11 only) picks the value by (a)'s F1 for ``--select-post`` (see ``selected_post``)
MIN_SIZE_GRID = (15, 50, 100, 150, 200, 250, 300)
BOUNDARY_WIDTH = 2
#: class index of the pixels a source leaves out of the loss (see ``train_unet``)
IGNORE = 255
BATCH = 4
LR = 1e-3
#: (d)'s generated masks: fixed before any run from the training masks' statistics only
#: (equivalent radius 5-95 % 9.6-16.7 px, median 13.9 px; 12 % foreground; almost no
#: touching nuclei); the DSB image and the held-out frames play no part
RECIPE_D = dict(
    elastic_per_frame=2, elastic_alpha_px=3.0, elastic_sigma_px=12.0,
    phantoms=32, phantom_shape=(512, 512), phantom_radius_px=(10.0, 18.0), phantom_radius_cv=0.2,
    phantom_aspect=(0.6, 1.0), phantom_coverage=(0.15, 0.45), phantom_touching=(0.3, 0.7),
    phantom_overlapping=0.1, seed=2024)


def render(labels, net, meta):
    """pix2pix image of a label mask (with contact seams carved, see carve_contacts)."""
    from fijibridge.synth.gan.data import carve_contacts
    from fijibridge.synth.gan.inference import generate_from_mask

    return generate_from_mask(carve_contacts(labels), net, meta, tile=256)


def new_masks(train_masks, recipe=RECIPE_D):
    """The new label masks of (d): elastic deformations of the training masks and 2D
    nuclei phantoms (sizes around HeLa's, denser, many touching).  Returns the masks and
    a description of what was made."""
    from fijibridge.synth import Phantom, elastic_deform, nuclei

    r = recipe
    seeds = iter(np.random.SeedSequence(r["seed"]).generate_state(10_000))
    out, folds = [], 0
    for m in train_masks:
        m = np.asarray(m).astype(np.int32)
        ph = Phantom(image=(m > 0).astype(np.float32), labels=m,
                     class_mask=(m > 0).astype(np.uint8), spacing=(1.0, 1.0), params={})
        made = 0
        while made < r["elastic_per_frame"]:
            try:
                d = elastic_deform(ph, alpha_um=r["elastic_alpha_px"],
                                   sigma_um=r["elastic_sigma_px"], rng=int(next(seeds)))
            except ValueError:  # the field folded: draw another one
                folds += 1
                continue
            out.append(d.labels)
            made += 1
    n_elastic = len(out)
    rng = np.random.default_rng(int(next(seeds)))
    stats = []
    h, w = r["phantom_shape"]
    for _ in range(r["phantoms"]):
        rad = float(rng.uniform(*r["phantom_radius_px"]))
        cov = float(rng.uniform(*r["phantom_coverage"]))
        tch = float(rng.uniform(*r["phantom_touching"]))
        n = max(1, int(round(cov * h * w / (np.pi * rad ** 2))))
        ph = nuclei((h, w), spacing=(1.0, 1.0), n_nuclei=n, radius_um=rad,
                    radius_cv=r["phantom_radius_cv"], aspect=r["phantom_aspect"], touching=tch,
                    overlapping=r["phantom_overlapping"], rng=int(next(seeds)))
        out.append(ph.labels)
        stats.append({"n": ph.params["n_made"], "coverage": float((ph.labels > 0).mean()),
                      "touching_pairs": len(ph.params["touching_pairs"]),
                      "overlapping_pairs": len(ph.params["overlapping_pairs"])})
    info = {"elastic_masks": n_elastic, "elastic_folds_redrawn": folds,
            "phantom_masks": len(stats),
            "phantom_nuclei_mean": float(np.mean([s["n"] for s in stats])),
            "phantom_coverage_mean": float(np.mean([s["coverage"] for s in stats])),
            "phantom_touching_pairs_mean": float(np.mean([s["touching_pairs"] for s in stats])),
            "phantom_overlapping_pairs_mean": float(np.mean([s["overlapping_pairs"]
                                                             for s in stats]))}
    return out, info


def _pairs(images, masks):
    from fijibridge.segment.preprocess import normalize

    return [(normalize(im, mode="percentile", low=1.0, high=99.8), np.asarray(m).astype(np.int32))
            for im, m in zip(images, masks)]


def train_unet(schedule, *, steps, seed):
    """Train the boundary-head U-Net.  ``schedule`` is a list of ``(fraction, sources)``
    run one after the other, each over that fraction of the steps (one cosine learning-rate
    schedule over all of them); ``sources`` is a list of ``(pairs, n)``: each batch takes
    ``n`` patches from that list of (normalised image, labels) pairs.  A source may be
    ``(pairs, n, edge)``: its patches' pixels within ``edge`` px of the object/background
    edge (``edge_band``) are left out of the loss.  Every condition here uses one phase
    and no edge; ``gan_eval_variants.py`` tries others."""
    import torch

    from fijibridge.segment.augment import Augmenter
    from fijibridge.segment.losses import CombinedLoss
    from fijibridge.segment.networks import UNet
    from fijibridge.segment.targets import edge_band, labels_to_boundary_classes

    if abs(sum(f for f, _ in schedule) - 1.0) > 1e-9:
        raise ValueError(f"schedule fractions must add up to 1; got "
                         f"{[f for f, _ in schedule]}")
    for _, sources in schedule:
        if sum(src[1] for src in sources) != BATCH:
            raise ValueError(f"sources must fill a batch of {BATCH}; got "
                             f"{[src[1] for src in sources]}")
    edges = any(len(src) > 2 and src[2] for _, sources in schedule for src in sources)
    ends = np.round(np.cumsum([f for f, _ in schedule]) * steps).astype(int)
    ends[-1] = steps
    phase = [sources for (_, sources), end, start in
             zip(schedule, ends, np.r_[0, ends[:-1]]) for _ in range(start, end)]
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = UNet(**UNET)
    aug = Augmenter(**AUGMENT)
    ignore = {"ignore_index": IGNORE} if edges else {}  # no edges: the plain loss, as before
    loss_fn = CombinedLoss({"ce": (1.0, ignore), "dice": (1.0, ignore)})
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    net.train()
    losses = []
    for step in range(steps):
        xs, ys = [], []
        for pairs, n, *edge in phase[step]:
            for _ in range(n):
                img, lab = pairs[int(rng.integers(len(pairs)))]
                a, b = aug(img, lab, rng=rng)
                xs.append(a[None])
                y = labels_to_boundary_classes(b, width=BOUNDARY_WIDTH)
                if edge and edge[0]:
                    y[edge_band(b, width=edge[0])] = IGNORE
                ys.append(y)
        x = torch.from_numpy(np.stack(xs))
        y = torch.from_numpy(np.stack(ys)).long()
        loss = loss_fn(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    return net.eval(), float(np.mean(losses[-50:]))


def segment_eval(net, image, truth, min_sizes=()):
    """Scores of the network's instances against ``truth``: foreground Dice, instance F1
    (IoU 0.5), the same F1 without the objects that touch the image border (on both
    sides: the HeLa reference leaves most cut nuclei out), the CTC's SEG measure and the
    errors sorted by kind (``instance_errors``); ``by_min_size``: Dice and F1 of the same
    probabilities post-processed with each of ``min_sizes`` as smallest object."""
    from skimage.segmentation import clear_border

    from fijibridge.segment.inference import predict, probabilities_to_labels
    from fijibridge.segment.metrics import (instance_errors, match_instances, pixel_metrics,
                                            seg_measure)

    probs = predict(image, net, roi_size=256)  # percentile 1 / 99.8, as in training
    labels = probabilities_to_labels(probs, **POST)
    truth = np.asarray(truth).astype(np.int32)

    def fg_dice(lab):
        return float(pixel_metrics((truth > 0).astype(np.uint8), (lab > 0).astype(np.uint8),
                                   classes=[1])["per_class"][1]["dice"])

    errors = instance_errors(truth, labels, thresh=0.5)
    errors.pop("ids")
    by_size = {}
    for ms in min_sizes:
        lab = labels if ms == POST["min_size"] else \
            probabilities_to_labels(probs, **dict(POST, min_size=ms))
        by_size[str(ms)] = {"dice": fg_dice(lab),
                            "instance_f1": float(match_instances(truth, lab)["f1"])}
    return {"_labels": labels, "_probs": probs, "by_min_size": by_size,
            "dice": fg_dice(labels), "instance_f1": float(match_instances(truth, labels)["f1"]),
            "instance_f1_interior": float(match_instances(clear_border(truth),
                                                          clear_border(labels))["f1"]),
            "seg": seg_measure(truth, labels), "errors": errors}


CONDITIONS = ("a_real", "b_microscope_model", "c_pix2pix", "d_real_plus_pix2pix_new_masks",
              "e_real_plus_microscope_new_masks")
#: recipe entries that only one condition depends on: a stored run without them can still
#: be reused for the other conditions (see ``_reusable``)
CONDITION_RECIPE_KEYS = {"e_real_plus_microscope_new_masks": ("e_rendering",)}
METRICS = ("hela_dice", "hela_instance_f1", "dsb_dice", "dsb_instance_f1")
#: reported beside METRICS: scores that do not count objects the reference leaves out
EXTRA_METRICS = ("hela_instance_f1_interior", "hela_seg", "dsb_seg")


def targets(rows, keys=METRICS):
    """The issue's targets on {condition: scores}: (c) >= 0.9 x (a) and (d) > (a) per
    metric; empty if a row is missing."""
    if {"a_real", "c_pix2pix", "d_real_plus_pix2pix_new_masks"} - set(rows):
        return {}
    a, c, d = rows["a_real"], rows["c_pix2pix"], rows["d_real_plus_pix2pix_new_masks"]
    out = {}
    for k in keys:
        out[f"c_ge_0.9a_{k}"] = bool(c[k] >= 0.9 * a[k])
        out[f"d_gt_a_{k}"] = bool(d[k] > a[k])
    return out


def paired(per_seed, keys=METRICS, a="a_real", d="d_real_plus_pix2pix_new_masks"):
    """(d) - (a) per metric over the seeds that have both: the per-seed differences,
    their mean, sample SD, standard error, 95 % t-interval, how many seeds have (d) ahead,
    and one-sided p-values for "(d) > (a)" (paired t-test and exact sign test).  Seeds are
    the unit: each trains both conditions from the same initial weights.  Empty with
    fewer than 2 such seeds."""
    from scipy import stats

    seeds = sorted((s for s, rows in per_seed.items() if a in rows and d in rows), key=int)
    if len(seeds) < 2:
        return {}
    out = {"seeds": [int(s) for s in seeds]}
    for k in keys:
        diff = np.array([per_seed[s][d][k] - per_seed[s][a][k] for s in seeds])
        n, mean, sd = len(diff), float(diff.mean()), float(diff.std(ddof=1))
        se = sd / np.sqrt(n)
        half = float(stats.t.ppf(0.975, n - 1) * se)
        ahead = int((diff > 0).sum())
        out[k] = {"per_seed": {s: round(float(v), 6) for s, v in zip(seeds, diff)},
                  "mean": mean, "sd": sd, "se": float(se),
                  "ci95": [mean - half, mean + half], "d_ahead": ahead, "n": n,
                  "p_t_one_sided": float(stats.ttest_1samp(diff, 0.0,
                                                           alternative="greater").pvalue),
                  "p_sign_one_sided": float(stats.binomtest(ahead, int((diff != 0).sum()),
                                                            alternative="greater").pvalue)}
    return out


def micro_new(gen_masks, train_imgs, train_masks):
    """(e)'s images: the microscope model of (d)'s new masks, calibrated as in (b), fed the
    same seam-carved masks as the generator in (d), so that only the renderer differs."""
    from fijibridge.synth.gan.data import carve_contacts

    return _microscope_baseline([carve_contacts(m) for m in gen_masks], train_imgs,
                                train_masks, rng=1000)


def part2(held_imgs, held_masks, train_imgs, train_masks, pix_train, micro_train, gen_imgs,
          gen_masks, micro_gen, dsb, steps, seeds, done=None, conditions=CONDITIONS,
          name_prefix="gan_eval"):
    """Train and score every condition for each seed; ``done`` maps seeds (str) to
    {condition: row} of an earlier run with the same recipe and steps: those rows are kept,
    not rerun, and only the missing conditions are trained.  Seeds in ``done`` that are not
    in ``seeds`` are kept too."""
    real = _pairs(train_imgs, train_masks)
    half = BATCH // 2
    sets = {  # one phase each: (fraction of the steps, sources)
        "a_real": [(1.0, [(real, BATCH)])],
        "b_microscope_model": [(1.0, [(_pairs(micro_train, train_masks), BATCH)])],
        "c_pix2pix": [(1.0, [(_pairs(pix_train, train_masks), BATCH)])],
        "d_real_plus_pix2pix_new_masks": [(1.0, [(real, half),
                                                 (_pairs(gen_imgs, gen_masks), BATCH - half)])],
        "e_real_plus_microscope_new_masks": [(1.0, [(real, half), (_pairs(micro_gen, gen_masks),
                                                                   BATCH - half)])],
    }
    assert tuple(sets) == CONDITIONS
    conds = [c for c in CONDITIONS if c in conditions]
    done = done or {}
    all_seeds = sorted(set(int(s) for s in seeds) | set(int(s) for s in done))
    per_seed, reused, overlay = {}, {}, {}
    for seed in all_seeds:
        rows = {c: done[str(seed)][c] for c in CONDITIONS if c in done.get(str(seed), {})}
        if rows:
            reused[str(seed)] = sorted(rows)
            log.info("seed %d: kept %s from the earlier run", seed, sorted(rows))
        for name, schedule in sets.items():
            if name in rows or name not in conds:
                continue
            t0 = time.monotonic()
            net, last_loss = train_unet(schedule, steps=steps, seed=seed)
            train_min = (time.monotonic() - t0) / 60
            t0 = time.monotonic()
            hela = [segment_eval(net, im, m, MIN_SIZE_GRID)
                    for im, m in zip(held_imgs, held_masks)]
            d = segment_eval(net, *dsb)
            if seed == all_seeds[0] and len(hela) > 1:
                overlay[name] = hela[1]["_labels"]
            for h in hela + [d]:
                del h["_labels"], h["_probs"]
            rows[name] = {"hela_dice": float(np.mean([h["dice"] for h in hela])),
                          "hela_instance_f1": float(np.mean([h["instance_f1"] for h in hela])),
                          "dsb_dice": d["dice"], "dsb_instance_f1": d["instance_f1"],
                          "hela_instance_f1_interior": float(np.mean(
                              [h["instance_f1_interior"] for h in hela])),
                          "hela_seg": float(np.mean([h["seg"] for h in hela])),
                          "dsb_seg": d["seg"],
                          "hela_by_min_size": {
                              ms: {k: float(np.mean([h["by_min_size"][ms][k] for h in hela]))
                                   for k in ("dice", "instance_f1")}
                              for ms in hela[0]["by_min_size"]},
                          "hela_errors": {k: int(sum(h["errors"][k] for h in hela))
                                          for k in hela[0]["errors"]},
                          "dsb_errors": d["errors"],
                          "hela_per_frame": hela,
                          "final_train_loss": round(last_loss, 4),
                          "train_minutes": round(train_min, 2),
                          "eval_minutes": round((time.monotonic() - t0) / 60, 2)}
            log.info("seed %d %s: %s", seed, name,
                     {k: v for k, v in rows[name].items() if k != "hela_per_frame"})
        per_seed[str(seed)] = {c: rows[c] for c in conds}
    keys = METRICS + EXTRA_METRICS
    mean = {c: {k: float(np.mean([per_seed[s][c][k] for s in per_seed])) for k in keys}
            for c in conds}
    spread = {c: {k: float(np.std([per_seed[s][c][k] for s in per_seed])) for k in keys}
              for c in conds}
    errors = {c: {f"{where}_{k}": float(np.mean([per_seed[s][c][f"{where}_errors"][k]
                                                  for s in per_seed]))
                  for where in ("hela", "dsb")
                  for k in per_seed[next(iter(per_seed))][c][f"{where}_errors"]}
              for c in conds}

    def controls(rows):
        if {"d_real_plus_pix2pix_new_masks", "e_real_plus_microscope_new_masks"} - set(rows):
            return {}
        d, e = rows["d_real_plus_pix2pix_new_masks"], rows["e_real_plus_microscope_new_masks"]
        return {f"d_gt_e_{k}": bool(d[k] > e[k]) for k in keys} | \
            {f"d_minus_e_{k}": round(float(d[k] - e[k]), 4) for k in keys}

    if {"a_real", "d_real_plus_pix2pix_new_masks"} <= set(overlay):
        error_overlay(held_imgs[1], held_masks[1],
                      {"(a) real frames": overlay["a_real"],
                       "(d) real + pix2pix of new masks":
                           overlay["d_real_plus_pix2pix_new_masks"]},
                      RESULTS / f"{name_prefix}_error_overlay.png",
                      title=f"second held-out HeLa frame (lower right quarter), seed "
                            f"{all_seeds[0]}")
    return {"per_seed": per_seed, "mean": mean, "std_over_seeds": spread,
            "mean_error_counts": errors,
            "targets": targets(mean),
            "targets_per_seed": {s: targets(r) for s, r in per_seed.items()},
            "d_minus_a_paired": paired(per_seed, keys),
            "reference_aware": {
                "why": "The HeLa reference (CTC ERR_SEG) leaves out most nuclei cut by the "
                       "image border and some dim ones, so instance F1 counts correct "
                       "detections of those as false positives. instance_f1_interior drops "
                       "border-touching objects from both sides; SEG (the CTC's own measure) "
                       "scores each reference object and ignores objects the reference lacks. "
                       "Added after the 3-seed run of the original metrics, from its error "
                       "analysis; reported beside, not instead of, the issue's metrics.",
                "targets": targets(mean, EXTRA_METRICS),
                "targets_per_seed": {s: targets(r, EXTRA_METRICS)
                                     for s, r in per_seed.items()}},
            "controls": {"question": "is the DSB gain of (d) due to pix2pix rendering or to "
                                     "the new mask layouts? (e) = (d) with the microscope "
                                     "model instead of pix2pix",
                         "mean": controls(mean),
                         "per_seed": {s: controls(r) for s, r in per_seed.items()}},
            "steps": steps, "seeds": [int(s) for s in per_seed], "reused_rows": reused,
            "train_minutes_all_rows": round(sum(r["train_minutes"] + r["eval_minutes"]
                                                for rows in per_seed.values()
                                                for r in rows.values()), 2)}


#: colours of instance_errors' kinds in error_overlay
ERROR_COLOURS = {"merged": (1, 0.2, 0.2), "split": (1, 0.6, 0), "missed": (1, 0, 1),
                 "shape": (1, 1, 0), "extra": (0, 0.8, 1), "mismatched": (0.6, 0.6, 1)}


def error_overlay(image, truth, labels, path, *, title, crop=(slice(350, 700),
                                                               slice(550, 1100))):
    """Outlines of each condition's instances on ``image``, coloured by error kind
    (``instance_errors``): truth-side kinds outline the reference object, prediction-side
    kinds the predicted one, matched predictions are green."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage.segmentation import find_boundaries

    from fijibridge._core.atomic import atomic_path
    from fijibridge.segment.metrics import instance_errors

    truth = np.asarray(truth).astype(np.int32)
    lo, hi = np.percentile(image, [1, 99.8])
    g = np.clip((np.asarray(image, float) - lo) / (hi - lo), 0, 1)
    fig, axes = plt.subplots(1, len(labels), figsize=(7 * len(labels), 5.6))
    for ax, (cond, lab) in zip(np.atleast_1d(axes), labels.items()):
        e = instance_errors(truth, lab)
        rgb = np.dstack([g, g, g])
        rgb[find_boundaries(lab, mode="inner")] = (0, 0.7, 0)
        for kind, ids in e["ids"].items():
            src = truth if kind in ("merged", "split", "missed", "shape") else lab
            rgb[find_boundaries(np.where(np.isin(src, ids), src, 0), mode="thick")] = \
                ERROR_COLOURS[kind]
        ax.imshow(rgb[crop], interpolation="nearest")
        ax.set_axis_off()
        ax.set_title(f"{cond}: " + ", ".join(f"{k} {e[k]}" for k in ERROR_COLOURS)
                     + f" (extra at border {e['extra_at_border']})", fontsize=8)
    handles = [plt.Line2D([], [], color=c, lw=3, label=k) for k, c in ERROR_COLOURS.items()]
    handles.append(plt.Line2D([], [], color=(0, 0.7, 0), lw=3, label="matched prediction"))
    fig.legend(handles=handles, loc="lower center", ncol=7, fontsize=8)
    fig.suptitle(f"{title}; counts are for the whole frame", fontsize=9)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def _plots(methods, held_imgs, held_masks, p1, p2, scale, name="gan_eval"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fijibridge._core.atomic import atomic_path

    sl = (slice(150, 450), slice(300, 700))
    cols = [("mask", held_masks[0] > 0), ("real", scale.to_unit(held_imgs[0]))] + \
        [(k, scale.to_unit(v[0])) for k, v in methods.items()]
    fig, axes = plt.subplots(1, len(cols), figsize=(3 * len(cols), 3))
    for ax, (t, im) in zip(axes, cols):
        ax.imshow(im[sl], cmap="gray", vmin=-1 if t != "mask" else 0, vmax=1)
        ax.set_title(t, fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    with atomic_path(RESULTS / f"{name}_examples.png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)

    fig, axes = plt.subplots(1, 3, figsize=(10, 3))
    names = list(p1)
    for ax, key in zip(axes, ("ssim", "psnr", "hist_wasserstein")):
        ax.bar(names, [p1[n][key] for n in names], color=["C0", "C7", "C1"])
        ax.set_title(key + (" (lower is better)" if key == "hist_wasserstein" else ""), fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    with atomic_path(RESULTS / f"{name}_similarity.png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)

    if p2:
        fig, ax = plt.subplots(figsize=(12, 3.8))
        w = 0.16
        keys = METRICS + EXTRA_METRICS
        x = np.arange(len(keys))
        conds = [c for c in CONDITIONS if c in p2["mean"]]
        for i, c in enumerate(conds):
            ax.bar(x + i * w, [p2["mean"][c][k] for k in keys], w, label=c,
                   color=f"C{CONDITIONS.index(c)}")
            for s in p2["per_seed"].values():  # one dot per seed
                ax.plot(x + i * w, [s[c][k] for k in keys], "k.", ms=4)
        ax.axvline(len(METRICS) - 0.5 + (len(conds) - 1) / 2 * w, color="0.5", lw=0.8)
        ax.set_xticks(x + (len(conds) - 1) / 2 * w, [k.replace("_instance", "") for k in keys],
                      fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(f"boundary-head U-Net, {p2['steps']} steps; bars: mean of seeds "
                     f"{p2['seeds']}, dots: single seeds", fontsize=9)
        ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.1))
        fig.tight_layout()
        with atomic_path(RESULTS / f"{name}_usefulness.png") as tmp:
            fig.savefig(tmp, dpi=90, format="png", bbox_inches="tight")
        plt.close(fig)

        # what the HeLa errors are, per condition (mean over seeds, 4 held-out frames)
        err = p2["mean_error_counts"]
        kinds = ["merged", "split", "missed", "shape", "extra_interior", "extra_at_border",
                 "mismatched"]
        fig, ax = plt.subplots(figsize=(10, 3.6))
        x = np.arange(len(kinds))
        for i, c in enumerate(conds):
            e = dict(err[c])
            e["hela_extra_interior"] = e["hela_extra"] - e["hela_extra_at_border"]
            ax.bar(x + i * w, [e[f"hela_{k}"] for k in kinds], w, label=c,
                   color=f"C{CONDITIONS.index(c)}")
        ax.set_xticks(x + (len(conds) - 1) / 2 * w, kinds, fontsize=8)
        ax.set_ylabel("objects (4 frames)")
        ax.set_title("held-out HeLa errors by kind (segment.metrics.instance_errors), "
                     "mean over seeds; 'extra' = detections the reference does not have",
                     fontsize=9)
        ax.legend(fontsize=7, ncol=3)
        fig.tight_layout()
        with atomic_path(RESULTS / f"{name}_errors.png") as tmp:
            fig.savefig(tmp, dpi=90, format="png", bbox_inches="tight")
        plt.close(fig)


def _plot_paired(pr, name, title):
    """(d) - (a) per seed for each metric: one dot per seed, the mean and its 95 %
    t-interval, and zero."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fijibridge._core.atomic import atomic_path

    keys = [k for k in pr if k != "seeds"]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.4))
    for ax, k in zip(np.atleast_1d(axes), keys):
        r = pr[k]
        vals = list(r["per_seed"].values())
        jitter = np.linspace(-0.15, 0.15, len(vals))
        ax.plot(jitter, vals, "k.", ms=5)
        ax.errorbar([0.45], [r["mean"]], yerr=[[r["mean"] - r["ci95"][0]],
                                               [r["ci95"][1] - r["mean"]]],
                    fmt="o", color="C3", capsize=4)
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_xlim(-0.4, 0.8)
        ax.set_xticks([])
        ax.set_title(f"{k}\n(d) ahead {r['d_ahead']}/{r['n']}, p(t) {r['p_t_one_sided']:.2f}",
                     fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("(d) - (a); red: mean, 95 % CI")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(RESULTS / f"{name}_paired.png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def _plot_selected(sp, p2, name="gan_eval"):
    """Validation F1 vs smallest-object size (the choice) beside held-out F1 vs the same,
    all conditions and zoomed on those trained with real frames."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fijibridge._core.atomic import atomic_path

    seeds = list(p2["per_seed"])
    held = {}
    for c in p2["mean"]:
        grid = list(p2["per_seed"][seeds[0]][c]["hela_by_min_size"])
        held[c] = {ms: float(np.mean([p2["per_seed"][s][c]["hela_by_min_size"][ms]
                                      ["instance_f1"] for s in seeds])) for ms in grid}
    with_real = [c for c in held if c.startswith(("a_", "d_", "e_"))]
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.6))
    panels = [(sp["validation_f1_by_min_size"],
               f"validation frames (choice by a_real: {sp['min_size']} px)"),
              (held, f"held-out frames {sp['held_out_frames']} (not used for the choice)"),
              ({c: held[c] for c in with_real}, "held-out, conditions with real frames")]
    for ax, (curves, title) in zip(axes, panels):
        for c, curve in curves.items():
            ax.plot([int(k) for k in curve], list(curve.values()), "o-",
                    color=f"C{CONDITIONS.index(c)}", label=c)
        ax.axvline(sp["min_size"], color="0.5", lw=0.8, ls="--")
        ax.set_xlabel("smallest object kept (px)")
        ax.set_title(title, fontsize=9)
    axes[0].set_ylabel("HeLa instance F1 (mean over seeds)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(RESULTS / f"{name}_selected_post.png") as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def _reusable(prev, recipe, steps, name):
    """The rows of a stored usefulness result that this run may keep: {seed: {condition:
    row}}.  Steps must match, and every recipe entry stored must equal this run's.  An
    entry this run has and the stored run lacks is allowed only if it belongs to a
    condition (``CONDITION_RECIPE_KEYS``) with no stored rows; such conditions are then
    trained for every seed."""
    if prev["steps"] != steps:
        raise ValueError(f"--reuse {name}: {prev['steps']} steps, this run {steps}")
    old = prev["recipe"]
    differ = sorted(k for k in old if old[k] != recipe.get(k))
    if differ:
        raise ValueError(f"--reuse {name}: recipe entries {differ} differ from this run's; "
                         "rerun all seeds instead")
    stored = {c for rows in prev["per_seed"].values() for c in rows}
    unknown = sorted(stored - set(CONDITIONS))
    if unknown:
        raise ValueError(f"--reuse {name}: unknown conditions {unknown}")
    owner = {k: c for c, keys in CONDITION_RECIPE_KEYS.items() for k in keys}
    for k in sorted(set(recipe) - set(old)):
        if k not in owner or owner[k] in stored:
            raise ValueError(f"--reuse {name}: recipe entry {k!r} is new but rows it affects "
                             "are stored; rerun all seeds instead")
    return {s: {c: r for c, r in rows.items()
                if all(k in r for k in EXTRA_METRICS + ("hela_by_min_size",))}
            for s, rows in prev["per_seed"].items()}


#: recipe entries that must agree between the validation run and the run it selects for
#: (``d_generated_masks`` also records how many masks were made, which depends on the
#: number of training frames; its RECIPE_D part is compared separately)
SELECT_RECIPE_KEYS = ("network", "targets", "loss", "optimiser", "augment", "normalisation",
                      "postprocessing", "e_rendering")


def _load_run(name, flag):
    """The stored usefulness run experiments/gan_eval/results/NAME.json, or a clear exit."""
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        raise SystemExit(f"{flag} {name}: no {path}; run gan_eval.py --name {name} first")
    run = json.loads(path.read_text())
    if "usefulness" not in run:
        raise SystemExit(f"{flag} {name}: {path} has no usefulness part (it was run with "
                         "--skip-usefulness)")
    return run


def check_validation(validation, held, steps, recipe):
    """Raise ValueError unless ``validation`` may choose for a run with these held-out
    frames, steps and recipe: it must not have touched the held-out frames, and its steps
    and recipe must be this run's (``d_generated_masks`` is compared on its RECIPE_D part:
    the mask counts depend on the number of training frames)."""
    vu = validation["usefulness"]
    used = set(held) & (set(validation["held_out_frames"]) | set(validation["train_frames"]))
    if used:
        raise ValueError(f"--select-post: the validation run used held-out frames "
                         f"{sorted(used)}; rerun it with --held-out 12,13,14,15 --exclude "
                         + ",".join(str(f) for f in sorted(held)))
    if vu["steps"] != steps:
        raise ValueError(f"--select-post: validation run has {vu['steps']} steps, this run "
                         f"{steps}")
    differ = [k for k in SELECT_RECIPE_KEYS if vu["recipe"].get(k) != recipe.get(k)]
    differ += [f"d_generated_masks.{k}" for k in RECIPE_D
               if json.dumps(vu["recipe"]["d_generated_masks"].get(k))
               != json.dumps(recipe["d_generated_masks"].get(k))]
    if differ:
        raise ValueError(f"--select-post: recipe entries {differ} differ from the validation "
                         "run's; rerun the validation with this recipe")
    if any("a_real" not in rows for rows in vu["per_seed"].values()):
        raise ValueError("--select-post: the validation run must have condition a_real for "
                         "every seed")


def selected_post(validation, result):
    """Post-processing chosen on validation frames and the held-out scores it gives.

    ``validation`` is the JSON of a run evaluated on validation frames (training frames
    disjoint from this run's held-out frames); the smallest-object size is the value of
    ``MIN_SIZE_GRID`` with the highest mean instance F1 of condition (a), the real-data
    baseline (ties: the smaller value), so the choice favours no condition with generated
    data.  Applied to HeLa only: the DSB image (other pixel size, nuclei from 25 px) has no
    validation image and keeps the a-priori value."""
    grid_key = "hela_by_min_size"
    vu, u = validation["usefulness"], result["usefulness"]
    check_validation(validation, result["held_out_frames"], u["steps"], u["recipe"])
    vseeds = vu["per_seed"]
    if any("a_real" not in rows for rows in vseeds.values()):
        raise ValueError("--select-post: the validation run must have condition a_real for "
                         "every seed")
    grid = list(next(iter(vseeds.values()))["a_real"][grid_key])
    val_mean = {c: {ms: float(np.mean([vseeds[s][c][grid_key][ms]["instance_f1"]
                                       for s in vseeds]))
                    for ms in grid}
                for c in CONDITIONS if all(c in rows for rows in vseeds.values())}
    chosen = grid[0]
    for ms in grid:
        if val_mean["a_real"][ms] > val_mean["a_real"][chosen]:
            chosen = ms
    per_seed = {s: {c: {"hela_dice": r[grid_key][chosen]["dice"],
                        "hela_instance_f1": r[grid_key][chosen]["instance_f1"],
                        "dsb_dice": r["dsb_dice"], "dsb_instance_f1": r["dsb_instance_f1"]}
                    for c, r in rows.items()}
                for s, rows in u["per_seed"].items()}
    conds = list(next(iter(per_seed.values())))
    mean = {c: {k: float(np.mean([per_seed[s][c][k] for s in per_seed])) for k in METRICS}
            for c in conds}

    return {"how": "smallest object kept (min_size, px) chosen among MIN_SIZE_GRID by (a)'s "
                   f"mean validation F1 over seeds {sorted(int(s) for s in vseeds)} on HeLa "
                   f"frames {validation['held_out_frames']} (training frames "
                   f"{validation['train_frames']}, never the held-out frames); applied to "
                   "HeLa only, DSB keeps the a-priori post-processing",
            "validation_run": validation.get("name", ""),
            "held_out_frames": result["held_out_frames"],
            "min_size": int(chosen), "a_priori_min_size": POST["min_size"],
            "validation_f1_by_min_size": val_mean,
            "per_seed": per_seed, "mean": mean, "targets": targets(mean),
            "targets_per_seed": {s: targets(r) for s, r in per_seed.items()},
            "d_minus_a_paired": paired(per_seed)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(shipped_dir("models") / "pix2pix_nuclei2d"))
    ap.add_argument("--steps", type=int, default=1500, help="U-Net training steps per set")
    ap.add_argument("--seeds", default="0,1",
                    help="training seeds of the usefulness part, comma-separated (default "
                         "0,1; each seed takes about 22 min for the five conditions at 1 "
                         "thread with 1500 steps)")
    ap.add_argument("--held-out", default="16,17,18,19", help="HeLa frames held out")
    ap.add_argument("--exclude", default="",
                    help="HeLa frames used neither for training nor for scoring (e.g. the "
                         "held-out frames in a validation run: --held-out 12,13,14,15 "
                         "--exclude 16,17,18,19)")
    ap.add_argument("--select-post", metavar="NAME",
                    help="experiments/gan_eval/results/NAME.json of a validation run: report the "
                         "held-out scores also with the smallest-object size it selects "
                         "('selected_post')")
    ap.add_argument("--skip-usefulness", action="store_true")
    ap.add_argument("--reuse", metavar="NAME[,NAME]",
                    help="keep the usefulness rows already in experiments/gan_eval/results/NAME.json "
                         "(same steps and recipe required; all its seeds are kept; rows "
                         "without this version's metrics are retrained) and train only the "
                         "missing seeds and conditions; several names merge runs made in "
                         "parallel")
    ap.add_argument("--conditions", default=",".join(CONDITIONS),
                    help="conditions to train (default: all); a run of a subset can be "
                         "merged with --reuse")
    ap.add_argument("--name", default="gan_eval",
                    help="prefix of the files in experiments/gan_eval/results (default gan_eval)")
    args = ap.parse_args(argv)
    validation = _load_run(args.select_post, "--select-post") if args.select_post else None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(1)
    from fijibridge.data import load_sample
    from fijibridge.synth.gan.data import IntensityScale
    from fijibridge.synth.gan.networks import build_network
    from fijibridge.synth.gan.training import load_generator

    t_all = time.monotonic()
    imgs, masks = load_sample("hela").data, load_sample("hela_mask").data
    held = [int(i) for i in args.held_out.split(",")]
    excluded = [int(i) for i in args.exclude.split(",") if i.strip()]
    if set(excluded) & set(held):
        raise SystemExit(f"--exclude {excluded} overlaps --held-out {held}")
    train_idx = [i for i in range(len(imgs)) if i not in held and i not in excluded]
    net, meta = load_generator(args.model)
    torch.manual_seed(0)
    untrained = build_network(meta["network"]).eval()
    held_imgs, held_masks = [imgs[i] for i in held], [masks[i] for i in held]
    train_imgs, train_masks = [imgs[i] for i in train_idx], [masks[i] for i in train_idx]
    p1, methods, gen_s = part1(net, meta, untrained, held_imgs, held_masks, train_imgs,
                               train_masks)
    log.info("part 1: %s", {k: {m: v if m == "edge_profile" else round(v, 4)
                                for m, v in d.items() if m != "per_frame"}
                            for k, d in p1.items()})
    result = {"name": args.name, "model": meta["path"], "held_out_frames": held,
              "train_frames": train_idx, "excluded_frames": excluded,
              "similarity": p1,
              "similarity_note": "held-out Fluo-N2DL-HeLa frames; SSIM/PSNR on intensities "
                                 "scaled to [-1, 1] with the model's training percentiles; "
                                 "hist_wasserstein: 1-D Wasserstein distance of 50k sampled "
                                 "intensities (lower = closer histograms)",
              "generation_seconds_8_frames": round(gen_s, 1),
              "edge_profile_real": _mean_edge_profile(held_imgs, held_masks),
              "edge_profile_note": "fijibridge.synth.gan.data.edge_profile of each method's "
                                   "images and of the real frames, same held-out masks: mean "
                                   "intensity in rings -2, -1 (inside) and 1, 2 px (outside) "
                                   "the mask edge, 0 = background, 1 = nucleus median"}
    p2 = None
    if not args.skip_usefulness:
        t0 = time.monotonic()
        pix_train = [render(m, net, meta) for m in train_masks]
        micro_train = _microscope_baseline(train_masks, train_imgs, train_masks, rng=0)
        gen_masks, gen_info = new_masks(train_masks)
        gen_imgs = [render(m, net, meta) for m in gen_masks]
        micro_gen = micro_new(gen_masks, train_imgs, train_masks)
        dsb = (load_sample("dsb2018_nuclei").data, load_sample("dsb2018_nuclei_mask").data)
        gen_min = (time.monotonic() - t0) / 60
        log.info("training sets generated in %.1f min: %s", gen_min, gen_info)
        seeds = [int(v) for v in args.seeds.split(",")]
        recipe = {
            "network": "fijibridge.segment.networks.UNet(" + ", ".join(
                f"{k}={v!r}" for k, v in UNET.items()) + ")",
            "targets": f"labels_to_boundary_classes(width={BOUNDARY_WIDTH})",
            "loss": "CombinedLoss({'ce': 1, 'dice': 1}) (softmax CE + soft Dice over 3 classes)",
            "optimiser": f"Adam lr {LR}, cosine decay to 0 over the steps, batch {BATCH}, "
                         "final weights (no checkpoint selection)",
            "augment": "fijibridge.segment.augment.Augmenter(" + ", ".join(
                f"{k}={v!r}" for k, v in AUGMENT.items()) + "): 128² crops, flips, rot90, "
                "gamma 0.5-2, scale 0.7-1.3, shift ±0.1; identical for every condition",
            "normalisation": "percentile 1 / 99.8 per whole image (training and inference)",
            "postprocessing": dict(POST),
            "d_generated_masks": dict(RECIPE_D, **gen_info),
            "e_rendering": "_microscope_baseline (as (b): simulate_microscope NA 0.4, 0.645 "
                           "um, gaussian PSF, gain/offset fitted to the training frames) of "
                           "carve_contacts(d's new masks), noise rng 1000 + mask index",
        }
        conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
        unknown = sorted(set(conditions) - set(CONDITIONS))
        if unknown:
            raise SystemExit(f"--conditions: unknown {unknown}; choose from {list(CONDITIONS)}")
        if validation is not None:  # checked now, not after hours of training
            try:
                check_validation(validation, held, args.steps, json.loads(json.dumps(recipe)))
            except ValueError as e:
                raise SystemExit(str(e)) from None
        done = {}
        for name in (args.reuse.split(",") if args.reuse else []):
            prev = _load_run(name, "--reuse")["usefulness"]
            for s, rows in _reusable(prev, json.loads(json.dumps(recipe)), args.steps,
                                     name).items():
                clash = sorted(set(done.get(s, {})) & set(rows))
                if clash:
                    raise SystemExit(f"--reuse: seed {s} {clash} stored in two runs")
                done.setdefault(s, {}).update(rows)
            log.info("reusing from %s: %s", name, {s: sorted(r) for s, r in done.items()})
        t0 = time.monotonic()
        p2 = part2(held_imgs, held_masks, train_imgs, train_masks, pix_train, micro_train,
                   gen_imgs, gen_masks, micro_gen, dsb, args.steps, seeds, done=done,
                   conditions=conditions, name_prefix=args.name)
        p2["minutes_training_sets"] = round(gen_min, 2)
        p2["minutes_train_and_eval_this_run"] = round((time.monotonic() - t0) / 60, 2)
        p2["recipe"] = recipe
        result["usefulness"] = p2
        if validation is not None:
            result["selected_post"] = selected_post(validation, result)
            log.info("selected post-processing: %s", {k: result["selected_post"][k] for k in
                                                      ("min_size", "mean", "targets")})
        result["usefulness_note"] = (
            "Same boundary-head U-Net, same steps, same augmentation and same seeds for "
            "every condition; instances from predict + probabilities_to_labels with the "
            "shipped nuclei2d post-processing fixed a priori (threshold 0.5, seed 0.7, "
            "component seeds, >= 15 px); Dice = foreground Dice of the instances; F1 = "
            f"match_instances at IoU 0.5; HeLa = mean over held-out frames {held}; DSB 2018 "
            "image never used for any choice. (a) real frames "
            f"{train_idx[0]}-{train_idx[-1]} + masks. (b) microscope "
            "model of the same masks. (c) pix2pix of the same masks. (d) each batch of 4 = "
            f"2 patches of real frames {train_idx[0]}-{train_idx[-1]} + 2 patches of pix2pix "
            "images of NEW masks: "
            f"{RECIPE_D['elastic_per_frame']} elastic deformations per training mask "
            "(fijibridge.synth.elastic_deform, RMS displacement "
            f"{RECIPE_D['elastic_alpha_px']} px, smoothness {RECIPE_D['elastic_sigma_px']} px; "
            f"a folding field is redrawn) and {RECIPE_D['phantoms']} fijibridge.synth.nuclei "
            f"phantoms of {RECIPE_D['phantom_shape'][0]}² px (per phantom: radius uniform "
            f"{RECIPE_D['phantom_radius_px']} px, radius cv {RECIPE_D['phantom_radius_cv']}, "
            f"foreground {RECIPE_D['phantom_coverage']}, touching fraction "
            f"{RECIPE_D['phantom_touching']}, overlapping {RECIPE_D['phantom_overlapping']}), "
            f"sampled uniformly over these {len(gen_masks)} images; parameters chosen from "
            "the training masks' statistics only (median radius 13.9 px, 12 % foreground, "
            "almost no touching nuclei). pix2pix input everywhere ((c) and (d)): the label "
            "mask with a 1-px seam cut where two nuclei touch (the generator takes binary "
            "masks, so without the seam touching nuclei would be drawn as one blob); targets "
            "keep the full labels. (e), control for (d): the same batch mix and the same new "
            "masks as (d), but rendered with the microscope model of (b) (same calibration to the "
            "training frames, fed the same seam-carved masks as the generator) instead of "
            "pix2pix; 'controls' says whether d > e (mean and per seed), i.e. whether (d)'s "
            "gains come from the pix2pix rendering rather than from the new mask layouts. "
            "Targets: (c) >= 0.9 x (a) and (d) > (a), on the mean over seeds "
            "('targets') and per seed ('targets_per_seed'); std_over_seeds: population "
            "std of the per-seed scores.")
    result["total_minutes"] = round((time.monotonic() - t_all) / 60, 2)
    result["threads"] = 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    _plots(methods, held_imgs, held_masks, p1, p2, IntensityScale(**meta["intensity"]),
           args.name)
    if "selected_post" in result:
        _plot_selected(result["selected_post"], p2, args.name)
    pr = (result.get("selected_post") or (p2 or {})).get("d_minus_a_paired")
    if pr:
        _plot_paired(pr, args.name, f"held-out HeLa frames {held} (smallest object "
                     f"{result.get('selected_post', {}).get('min_size', POST['min_size'])} "
                     f"px) and DSB; seeds {pr['seeds']}")
    from fijibridge._core.atomic import atomic_write_text

    atomic_write_text(RESULTS / f"{args.name}.json", json.dumps(result, indent=1))
    log.info("wrote %s (%.1f min)", RESULTS / f"{args.name}.json", result["total_minutes"])
    return result


if __name__ == "__main__":
    main()
