"""Other ways of using the pix2pix images in condition (d) of ``gan_eval.py``, on
validation frames only (issue 4).

Protocol of ``gan_eval.py``'s validation run: the U-Net trains on HeLa frames 0-11 and is
scored on frames 12-15 (smallest object 200 px, the validation-chosen size); frames 16-19
are never loaded into a score.  Every variant uses ``gan_eval``'s network, augmentation,
optimiser, seeds, new masks and ``train_unet``; only what varies is named:

* ``a``: real patches only (gan_eval's (a)); ``d``: 2 real + 2 generated per batch
  (gan_eval's (d)).
* schedules that end on real patches: ``d_mix67_real33`` (mixed for 2/3 of the steps,
  then real only), ``d_mix50_real50``, ``d_anneal`` (2, then 1, then 0 generated per
  batch, a third of the steps each);
* ``d_growth``: (d) with the generator's input calibrated by
  ``fijibridge.synth.gan.data.grow_some`` / ``fit_growth`` on the training frames (the
  generator draws nuclei slightly inside their masks; see its edge profile).
* ``d_edge1``, ``d_edge2``: (d) with the generated patches' pixels within 1 (2) px of the
  object/background edge left out of the loss (``edge_band``; contacts between nuclei
  still count): where a nucleus ends is learnt from the real frames only.
* ``--steps 3000``: any of these at twice gan_eval's steps.

Beside Dice and F1 it reports, per variant, Dice at foreground thresholds 0.4-0.7 and the
pixels of the Dice error split into objects the reference lacks ("extra"), objects it has
and the network misses ("missed"), and the boundary pixels of the rest.  Each (variant,
seed) runs in its own process (``--workers``, one thread each).  Writes
``experiments/gan_eval/results/gan_eval_variants.json``; rows already there (same variant, seed and
steps) are kept::

    nice -n 10 python experiments/gan_eval/gan_eval_variants.py --variants a,d,d_growth --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import numpy as np

#: ``gan_eval`` (imported by the workers) sits beside this script, so Python finds it when
#: the script is run as a file
OUT = Path(__file__).resolve().parent / "results" / "gan_eval_variants.json"
log = logging.getLogger("gan_eval_variants")

TRAIN, VALIDATION = list(range(12)), [12, 13, 14, 15]
#: variant: (phases as (fraction of steps, real patches, generated patches), generator input,
#: px of the generated patches' object edges left out of the loss)
VARIANTS = {
    "a": (((1.0, 4, 0),), "as_is", 0),
    "d": (((1.0, 2, 2),), "as_is", 0),
    "d_mix67_real33": (((2 / 3, 2, 2), (1 / 3, 4, 0)), "as_is", 0),
    "d_mix50_real50": (((0.5, 2, 2), (0.5, 4, 0)), "as_is", 0),
    "d_anneal": (((1 / 3, 2, 2), (1 / 3, 3, 1), (1 / 3, 4, 0)), "as_is", 0),
    "d_growth": (((1.0, 2, 2),), "grown", 0),
    "d_edge1": (((1.0, 2, 2),), "as_is", 1),
    "d_edge2": (((1.0, 2, 2),), "as_is", 2),
}
THRESHOLDS = (0.4, 0.5, 0.6, 0.7)
MIN_SIZE = 200


def make_data(path):
    """Training pairs (real, generated as is, generated from grown input) and validation
    frames, saved to ``path`` (npz) for the worker processes; returns the growth fit."""
    import torch

    torch.set_num_threads(1)
    import gan_eval as ge
    from fijibridge.data import load_sample
    from fijibridge.synth.gan.data import fit_growth, grow_some
    from fijibridge.shipped import shipped_dir
    from fijibridge.synth.gan.training import load_generator

    imgs, masks = load_sample("hela").data, load_sample("hela_mask").data
    net, meta = load_generator(shipped_dir("models") / "pix2pix_nuclei2d")
    tm = [np.asarray(masks[i]).astype(np.int32) for i in TRAIN]
    ti = [imgs[i] for i in TRAIN]

    def draw(m, growth=0.0, k=0):  # gan_eval's pix2pix rendering of the grown input
        return ge.render(grow_some(m, growth, rng=1000 + k) if growth else m, net, meta)

    prof = {"real": ge._mean_edge_profile(ti, tm),
            "as_is": ge._mean_edge_profile([draw(m) for m in tm], tm),
            "all_grown": ge._mean_edge_profile([draw(m, 1.0) for m in tm], tm)}
    growth = round(fit_growth(prof["real"], prof["as_is"], prof["all_grown"]), 3)
    gen_masks, _ = ge.new_masks(tm)
    data = {}
    for kind, g in (("as_is", 0.0), ("grown", growth)):
        pairs = ge._pairs([draw(m, g, k) for k, m in enumerate(gen_masks)], gen_masks)
        for k, (im, lab) in enumerate(pairs):
            data[f"{kind}_img_{k}"], data[f"{kind}_lab_{k}"] = im, lab
    for k, (im, lab) in enumerate(ge._pairs(ti, tm)):
        data[f"real_img_{k}"], data[f"real_lab_{k}"] = im, lab
    for k, i in enumerate(VALIDATION):
        data[f"val_img_{k}"] = np.asarray(imgs[i])
        data[f"val_lab_{k}"] = np.asarray(masks[i]).astype(np.int32)
    np.savez(path, **data)
    return {"fraction": growth, "edge_profiles_training_frames": prof}


def _load(path, kind):
    z = np.load(path)
    n = len([k for k in z.files if k.startswith(f"{kind}_img_")])
    return [(z[f"{kind}_img_{k}"], z[f"{kind}_lab_{k}"]) for k in range(n)]


def dice_errors(truth, labels):
    """Foreground Dice and its error pixels split into whole objects the other side lacks
    ('extra': predicted objects touching no reference object; 'missed': reference objects
    touching no prediction) and the boundary pixels of the rest."""
    tf, pf = truth > 0, labels > 0
    extra = pf & np.isin(labels, np.setdiff1d(labels, labels[tf]))
    missed = tf & np.isin(truth, np.setdiff1d(truth, truth[pf]))
    tp = int((tf & pf).sum())
    out = {"tp": tp, "extra": int(extra.sum()), "missed": int(missed.sum()),
           "boundary_out": int((pf & ~tf & ~extra).sum()),
           "boundary_in": int((tf & ~pf & ~missed).sum())}
    return out


def job(args):
    variant, seed, steps, path = args
    import torch

    torch.set_num_threads(1)
    import gan_eval as ge
    from fijibridge.segment.inference import probabilities_to_labels

    phases, kind, edge = VARIANTS[variant]
    real, gen = _load(path, "real"), _load(path, kind)
    schedule = [(f, [(real, nr)] + ([(gen, ng, edge)] if ng else [])) for f, nr, ng in phases]
    t0 = time.monotonic()
    net, _ = ge.train_unet(schedule, steps=steps, seed=seed)
    train_min = (time.monotonic() - t0) / 60
    val = _load(path, "val")
    rows = [ge.segment_eval(net, im, m, ge.MIN_SIZE_GRID) for im, m in val]
    by_size = {ms: {k: float(np.mean([r["by_min_size"][ms][k] for r in rows]))
                    for k in ("dice", "instance_f1")} for ms in rows[0]["by_min_size"]}
    by_thr, err = {}, {}
    for r, (_, truth) in zip(rows, val):
        for t in THRESHOLDS:
            lab = probabilities_to_labels(r["_probs"], **dict(ge.POST, threshold=t,
                                                              min_size=MIN_SIZE))
            e = dice_errors(truth, lab)
            by_thr.setdefault(str(t), []).append(
                2 * e["tp"] / (2 * e["tp"] + sum(v for k, v in e.items() if k != "tp")))
            if t == ge.POST["threshold"]:
                for k, v in e.items():
                    err[k] = err.get(k, 0) + v
    return {"variant": variant, "seed": seed, "steps": steps, "by_min_size": by_size,
            "dice_by_threshold": {t: float(np.mean(v)) for t, v in by_thr.items()},
            "dice_error_pixels": err, "train_minutes": round(train_min, 2)}


def summary(rows):
    out = {}
    for steps in sorted({r["steps"] for r in rows}):
        for v in VARIANTS:
            rs = [r for r in rows if r["variant"] == v and r["steps"] == steps]
            if not rs:
                continue
            s = str(MIN_SIZE)
            out[f"{v}@{steps}"] = {
                "seeds": sorted(r["seed"] for r in rs),
                "dice": float(np.mean([r["by_min_size"][s]["dice"] for r in rs])),
                "instance_f1": float(np.mean([r["by_min_size"][s]["instance_f1"] for r in rs])),
                "per_seed_dice": {r["seed"]: r["by_min_size"][s]["dice"] for r in rs},
                "per_seed_f1": {r["seed"]: r["by_min_size"][s]["instance_f1"] for r in rs}}
    return out


def plot(summary, path):
    """Validation Dice and F1 of each variant: one dot per seed, a bar for the mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fijibridge._core.atomic import atomic_path

    names = list(summary)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    for ax, key, per in ((axes[0], "dice", "per_seed_dice"),
                         (axes[1], "instance_f1", "per_seed_f1")):
        x = np.arange(len(names))
        ax.bar(x, [summary[n][key] for n in names], 0.6, color="0.8")
        for i, n in enumerate(names):
            ax.plot([i] * len(summary[n][per]), list(summary[n][per].values()), "k.", ms=6)
        base = [summary[n][key] for n in names if n.startswith("a@")]
        if base:
            ax.axhline(base[0], color="C0", lw=0.8, ls="--", label="(a) real, 1500 steps")
            ax.legend(fontsize=7)
        vals = [v for n in names for v in summary[n][per].values()]
        ax.set_ylim(min(vals) - 0.002, max(vals) + 0.002)
        ax.set_xticks(x, names, rotation=30, ha="right", fontsize=7)
        ax.set_title(f"HeLa validation frames {VALIDATION}: {key} (min size {MIN_SIZE} px)",
                     fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=OUT, help="results JSON (default %(default)s)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"--variants: unknown {unknown}; choose from {list(VARIANTS)}")
    prev = json.loads(args.out.read_text()) if args.out.is_file() else {"rows": []}
    have = {(r["variant"], r["seed"], r["steps"]) for r in prev["rows"]}
    jobs = [(v, int(s), args.steps) for s in args.seeds.split(",") for v in variants
            if (v, int(s), args.steps) not in have]
    rows, growth = list(prev["rows"]), prev.get("growth")
    if jobs:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "data.npz"
            growth = make_data(path)
            log.info("generator input growth fitted on frames %s: %s", TRAIN,
                     growth["fraction"])
            with mp.get_context("spawn").Pool(args.workers) as pool:
                for r in pool.imap_unordered(job, [j + (path,) for j in jobs]):
                    rows.append(r)
                    log.info("%s seed %d, %d steps: %s", r["variant"], r["seed"], r["steps"],
                             r["by_min_size"][str(MIN_SIZE)])
    from fijibridge._core.atomic import atomic_write_text

    result = {"protocol": f"train HeLa frames {TRAIN}, score {VALIDATION}, smallest object "
                          f"{MIN_SIZE} px; gan_eval's U-Net, augmentation, optimiser and new "
                          "masks; 1 thread per run",
              "variants": {v: {"phases (fraction, real, generated)": p, "generator_input": k,
                               "generated_edge_px_ignored": e}
                           for v, (p, k, e) in VARIANTS.items()},
              "growth": growth, "summary": summary(rows), "rows": rows}
    atomic_write_text(args.out, json.dumps(result, indent=1))
    plot(result["summary"], args.out.with_suffix(".png"))
    for k, v in result["summary"].items():
        log.info("%s: Dice %.4f F1 %.4f (seeds %s)", k, v["dice"], v["instance_f1"], v["seeds"])
    return result


if __name__ == "__main__":
    main()
