"""Honest evaluation of the shipped mask → nuclei-image pix2pix (issue 4).

1. Held-out pairs (Fluo-N2DL-HeLa frames not used for training): SSIM / PSNR of the
   generated vs the real image and the distance between their intensity histograms
   (1-D Wasserstein on [-1, 1]-scaled intensities), for the trained generator, the
   same generator untrained, and the plain microscope model (``simulate_microscope``
   of the binary mask, gain/offset fitted to the training frames' background and
   nucleus means).
2. Usefulness: the same small U-Net (``fijibridge.segment.networks.UNet``, or a
   minimal one when that module is missing) trained for the same number of steps on
   (a) real frames + masks, (b) microscope-model images, (c) pix2pix images of the
   same masks, (d) real + pix2pix; Dice and instance F1 (IoU 0.5, connected
   components) on the held-out real frames and on the stardist DSB 2018 image.

Writes ``benchmarks/results/gan_eval.json`` and ``gan_eval_*.png``.  Runs on one CPU
thread (``nice -n 10`` recommended on shared machines)::

    nice -n 10 python benchmarks/gan_eval.py [--steps 800] [--name gan_eval]
                                             [--model models/pix2pix_nuclei2d]
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

log = logging.getLogger("gan_eval")
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _norm01(img):
    lo, hi = np.percentile(img, [1, 99.8])
    return np.clip((img.astype(np.float32) - lo) / max(hi - lo, 1e-6), 0, 1.5).astype(np.float32)


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
        res[name]["per_frame"] = rows
    return res, methods, gen_s


def _unet():
    import torch
    from torch import nn

    try:
        from fijibridge.segment.networks import UNet

        return UNet(spatial_dims=2, in_channels=1, out_channels=1, depth=3, features=16,
                    norm="batch"), "fijibridge.segment.networks.UNet(depth=3, features=16)"
    except ImportError:  # the segmentation networks module is not there yet
        class Tiny(nn.Module):
            def __init__(self):
                super().__init__()
                c = lambda i, o: nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o),  # noqa: E731
                                               nn.ReLU(), nn.Conv2d(o, o, 3, padding=1),
                                               nn.BatchNorm2d(o), nn.ReLU())
                self.e1, self.e2, self.e3 = c(1, 16), c(16, 32), c(32, 64)
                self.u2, self.d2 = nn.ConvTranspose2d(64, 32, 2, 2), c(64, 32)
                self.u1, self.d1 = nn.ConvTranspose2d(32, 16, 2, 2), c(32, 16)
                self.out = nn.Conv2d(16, 1, 1)

            def forward(self, x):
                e1 = self.e1(x)
                e2 = self.e2(nn.functional.max_pool2d(e1, 2))
                e3 = self.e3(nn.functional.max_pool2d(e2, 2))
                d2 = self.d2(torch.cat([self.u2(e3), e2], 1))
                return self.out(self.d1(torch.cat([self.u1(d2), e1], 1)))

        return Tiny(), "minimal U-Net in this benchmark (depth 3, features 16)"


def train_unet(images, masks, *, steps, seed, patch=128, batch=4):
    import torch

    torch.manual_seed(seed)
    net, desc = _unet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    xs = [_norm01(i) for i in images]
    ys = [(m > 0).astype(np.float32) for m in masks]
    net.train()
    for _ in range(steps):
        bx, by = [], []
        for _ in range(batch):
            k = int(rng.integers(len(xs)))
            y0 = int(rng.integers(xs[k].shape[0] - patch + 1))
            x0 = int(rng.integers(xs[k].shape[1] - patch + 1))
            a, b = xs[k][y0:y0 + patch, x0:x0 + patch], ys[k][y0:y0 + patch, x0:x0 + patch]
            r = int(rng.integers(4))
            bx.append(np.rot90(a, r).copy())
            by.append(np.rot90(b, r).copy())
        x = torch.from_numpy(np.stack(bx)[:, None])
        y = torch.from_numpy(np.stack(by)[:, None])
        logits = net(x)
        p = torch.sigmoid(logits)
        dice = 1 - (2 * (p * y).sum() + 1) / (p.sum() + y.sum() + 1)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y) + dice
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval(), desc


def segment_eval(net, image, truth):
    import torch
    from scipy import ndimage as ndi

    from fijibridge.segment.instances import remove_small_labels
    from fijibridge.segment.metrics import match_instances, pixel_metrics

    x = _norm01(image)
    h, w = x.shape
    ph, pw = (-h) % 8, (-w) % 8
    xp = np.pad(x, ((0, ph), (0, pw)), mode="reflect")
    with torch.no_grad():
        prob = torch.sigmoid(net(torch.from_numpy(xp)[None, None]))[0, 0, :h, :w].numpy()
    fg = prob > 0.5
    labels = remove_small_labels(ndi.label(fg)[0], min_size=15)
    dice = pixel_metrics((truth > 0).astype(np.uint8), (labels > 0).astype(np.uint8),
                         classes=[1])["per_class"][1]["dice"]
    f1 = match_instances(truth, labels, thresh=0.5)["f1"]
    return float(dice), float(f1)


def part2(held_imgs, held_masks, train_imgs, train_masks, pix_train, micro_train, dsb, steps):
    sets = {
        "a_real": (train_imgs, train_masks),
        "b_microscope_model": (micro_train, train_masks),
        "c_pix2pix": (pix_train, train_masks),
        "d_real_plus_pix2pix": (list(train_imgs) + list(pix_train),
                                list(train_masks) + list(train_masks)),
    }
    out = {}
    for name, (imgs, msks) in sets.items():
        t0 = time.monotonic()
        net, desc = train_unet(imgs, msks, steps=steps, seed=0)
        train_min = (time.monotonic() - t0) / 60
        hela = [segment_eval(net, im, m) for im, m in zip(held_imgs, held_masks)]
        d_dice, d_f1 = segment_eval(net, *dsb)
        out[name] = {"hela_dice": float(np.mean([h[0] for h in hela])),
                     "hela_instance_f1": float(np.mean([h[1] for h in hela])),
                     "dsb_dice": d_dice, "dsb_instance_f1": d_f1,
                     "train_steps": steps, "train_minutes": round(train_min, 2),
                     "network": desc}
        log.info("%s: %s", name, out[name])
    a = out["a_real"]
    out["targets"] = {
        "c_ge_0.9a_hela_dice": out["c_pix2pix"]["hela_dice"] >= 0.9 * a["hela_dice"],
        "c_ge_0.9a_hela_f1": out["c_pix2pix"]["hela_instance_f1"] >= 0.9 * a["hela_instance_f1"],
        "d_gt_a_hela_dice": out["d_real_plus_pix2pix"]["hela_dice"] > a["hela_dice"],
        "d_gt_a_hela_f1": out["d_real_plus_pix2pix"]["hela_instance_f1"] > a["hela_instance_f1"],
        "c_ge_0.9a_dsb_dice": out["c_pix2pix"]["dsb_dice"] >= 0.9 * a["dsb_dice"],
        "d_gt_a_dsb_dice": out["d_real_plus_pix2pix"]["dsb_dice"] > a["dsb_dice"],
    }
    return out


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
        names = [k for k in p2 if k != "targets"]
        keys = ("hela_dice", "hela_instance_f1", "dsb_dice", "dsb_instance_f1")
        fig, ax = plt.subplots(figsize=(8, 3.5))
        w = 0.2
        for i, n in enumerate(names):
            ax.bar(np.arange(len(keys)) + i * w, [p2[n][k] for k in keys], w, label=n)
        ax.set_xticks(np.arange(len(keys)) + 1.5 * w, keys, fontsize=8)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7)
        fig.tight_layout()
        with atomic_path(RESULTS / f"{name}_usefulness.png") as tmp:
            fig.savefig(tmp, dpi=90, format="png")
        plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "pix2pix_nuclei2d"))
    ap.add_argument("--steps", type=int, default=800, help="U-Net training steps per set")
    ap.add_argument("--held-out", default="16,17,18,19", help="HeLa frames held out")
    ap.add_argument("--skip-usefulness", action="store_true")
    ap.add_argument("--name", default="gan_eval",
                    help="prefix of the files in benchmarks/results (default gan_eval)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(1)
    from fijibridge.data import load_sample
    from fijibridge.synth.gan.data import IntensityScale
    from fijibridge.synth.gan.inference import generate_from_mask
    from fijibridge.synth.gan.networks import build_network
    from fijibridge.synth.gan.training import load_generator

    t_all = time.monotonic()
    imgs, masks = load_sample("hela").data, load_sample("hela_mask").data
    held = [int(i) for i in args.held_out.split(",")]
    train_idx = [i for i in range(len(imgs)) if i not in held]
    net, meta = load_generator(args.model)
    torch.manual_seed(0)
    untrained = build_network(meta["network"]).eval()
    held_imgs, held_masks = [imgs[i] for i in held], [masks[i] for i in held]
    train_imgs, train_masks = [imgs[i] for i in train_idx], [masks[i] for i in train_idx]
    p1, methods, gen_s = part1(net, meta, untrained, held_imgs, held_masks, train_imgs,
                               train_masks)
    log.info("part 1: %s", {k: {m: round(v, 4) for m, v in d.items() if m != "per_frame"}
                            for k, d in p1.items()})
    result = {"model": meta["path"], "held_out_frames": held, "train_frames": train_idx,
              "similarity": p1,
              "similarity_note": "held-out Fluo-N2DL-HeLa frames; SSIM/PSNR on intensities "
                                 "scaled to [-1, 1] with the model's training percentiles; "
                                 "hist_wasserstein: 1-D Wasserstein distance of 50k sampled "
                                 "intensities (lower = closer histograms)",
              "generation_seconds_8_frames": round(gen_s, 1)}
    p2 = None
    if not args.skip_usefulness:
        t0 = time.monotonic()
        pix_train = [generate_from_mask(m, net, meta, tile=256) for m in train_masks]
        micro_train = _microscope_baseline(train_masks, train_imgs, train_masks, rng=0)
        dsb = (load_sample("dsb2018_nuclei").data, load_sample("dsb2018_nuclei_mask").data)
        log.info("training sets generated in %.1f s", time.monotonic() - t0)
        p2 = part2(held_imgs, held_masks, train_imgs, train_masks, pix_train, micro_train, dsb,
                   args.steps)
        result["usefulness"] = p2
        result["usefulness_note"] = (
            "same U-Net, same seed, same steps (batch 4, 128² patches, Adam 1e-3, BCE + "
            "Dice) per training set; instances = connected components of p > 0.5 (>= 15 px); "
            "F1 at IoU 0.5; generated images made from the training frames' masks")
    result["total_minutes"] = round((time.monotonic() - t_all) / 60, 2)
    result["threads"] = 1
    RESULTS.mkdir(parents=True, exist_ok=True)
    _plots(methods, held_imgs, held_masks, p1, p2, IntensityScale(**meta["intensity"]),
           args.name)
    from fijibridge._core.atomic import atomic_write_text

    atomic_write_text(RESULTS / f"{args.name}.json", json.dumps(result, indent=1))
    log.info("wrote %s (%.1f min)", RESULTS / f"{args.name}.json", result["total_minutes"])
    return result


if __name__ == "__main__":
    main()
