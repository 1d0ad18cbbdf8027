"""Speed of the microscope model and the phantom generators.

Compares, in one run on one machine, :func:`fijibridge.synth.convolve_psf` /
:func:`fijibridge.synth.simulate_microscope` on a 64×256×256 stack with
``scipy.signal.fftconvolve(mode="same")``, for the default Gaussian PSF and a large
(31×63×63) kernel; times each phantom generator.  Writes
``benchmarks/results/synth_speed.json``.  Timings: best of ``--repeat`` runs,
single-threaded FFTs (the CPU is shared).

    python benchmarks/synth_speed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np
from _timing import best_of


def main(argv=None):
    from scipy.signal import fftconvolve

    import scipy
    from fijibridge.synth import (cells, elastic_deform, gaussian_psf, golgi, make_psf,
                                  mitochondria, nuclei)
    from fijibridge._core.atomic import atomic_write_text
    from fijibridge.synth.microscope import convolve_psf, simulate_microscope

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" /
                                                 "synth_speed.json"))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    spacing = (0.2, 0.1, 0.1)
    stack = rng.random((64, 256, 256)).astype(np.float32)
    results = {"machine": {"python": platform.python_version(), "numpy": np.__version__,
                           "scipy": scipy.__version__, "cpus": os.cpu_count(),
                           "processor": platform.processor() or platform.machine()},
               "repeat": args.repeat, "stack_shape": list(stack.shape), "convolution": []}
    kernels = {
        "gaussian_default": make_psf(spacing=spacing, model="gaussian"),
        "large_31x63x63": gaussian_psf(spacing=spacing, sigma_um=(0.8, 0.4),
                                       shape=(31, 63, 63)),
    }
    for name, psf in kernels.items():
        psf32 = psf.astype(np.float32)
        t_ours, a = best_of(lambda: convolve_psf(stack, psf=psf32), args.repeat)
        t_scipy32, b = best_of(lambda: fftconvolve(stack, psf32, mode="same"), args.repeat)
        stack64 = stack.astype(np.float64)
        t_scipy64, c = best_of(lambda: fftconvolve(stack64, psf, mode="same"), args.repeat)
        t_sim, _ = best_of(lambda: simulate_microscope(stack, spacing=spacing, psf=psf, rng=1),
                           args.repeat)
        results["convolution"].append({
            "psf": name, "psf_shape": list(psf.shape),
            "convolve_psf_s": t_ours, "fftconvolve_float32_s": t_scipy32,
            "fftconvolve_float64_s": t_scipy64,
            "speedup_vs_fftconvolve_float32": t_scipy32 / t_ours,
            "speedup_vs_fftconvolve_float64": t_scipy64 / t_ours,
            "max_abs_diff_vs_float64": float(np.abs(a - c).max()),
            "simulate_microscope_s": t_sim,
        })
        print(name, results["convolution"][-1])
    t_bw, _ = best_of(lambda: make_psf(spacing=spacing, model="auto"), 1)
    results["make_psf_auto_3d_s"] = t_bw
    gens = {
        "nuclei_2d_256": lambda: nuclei(ndim=2, rng=1),
        "nuclei_3d_32x128x128": lambda: nuclei(ndim=3, rng=1),
        "golgi_2d_256": lambda: golgi(ndim=2, rng=1),
        "golgi_3d_32x128x128": lambda: golgi(ndim=3, rng=1),
        "mito_fused_2d_256": lambda: mitochondria(ndim=2, phenotype="fused", rng=1),
        "mito_fragmented_2d_256": lambda: mitochondria(ndim=2, phenotype="fragmented", rng=1),
        "mito_fused_3d_32x128x128": lambda: mitochondria(ndim=3, phenotype="fused", rng=1),
        "cells_2d_160": lambda: cells(ndim=2, phenotype="fused", rng=1),
        "cells_3d_56x160x160": lambda: cells(ndim=3, phenotype="fused", rng=1),
        "nuclei_3d_64x256x256": lambda: nuclei((64, 256, 256), rng=1),
    }
    results["phantoms_s"] = {}
    for name, fn in gens.items():
        t, ph = best_of(fn, args.repeat)
        results["phantoms_s"][name] = t
        print(name, round(t, 3))
    ph = cells(ndim=3, phenotype="fused", rng=1)
    t, _ = best_of(lambda: elastic_deform(ph, rng=2), args.repeat)
    results["elastic_deform_cells_3d_s"] = t
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(results, indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()
