"""Native deconvolution with DeconvolutionLab2's algorithms and results, and DL2 itself.

- :func:`deconvolve` — NIF, RIF, TRIF, RL, RLTV, LW, NNLS, BVLS, VC, TM, ICTM, ISTA, FISTA
  (+ CONV, SIM) on torch (float32, CPU or CUDA), with DL2's padding, apodization, PSF
  normalisation and stopping rules; results equal DL2 2.1.2's (relative L2 error < 1e-4).
  On the CPU every algorithm runs on numpy + scipy's pocketfft instead (faster, no torch
  import; ``execution=Execution(backend="torch")`` forces torch).
- :func:`parse_dl2` / :func:`to_dl2` — DL2 command text ⇄ :class:`DeconvOptions`.
- :func:`run_dl2_text` — run DL2 text natively (files relative to the working directory).
- :func:`deconvolve_tiled` — block-wise deconvolution of volumes over a memory budget.
- :func:`run_dl2` / :func:`dl2_macro` — the real plugin through the Java bridge.
- :class:`Monitor` — per-iteration statistics, progress bar, convergence plot.

Run-time resources (device, threads, memory budget, progress, rng) come in one
:class:`~fijibridge._core.execution.Execution` (``execution=``); ``device`` defaults to
``"auto"``.

Importing this package imports neither torch nor Java; they load on first use.
"""

from __future__ import annotations

from ._registry import ALGORITHMS, lookup_algorithm
from .core import (DEFAULT_MAX_MEMORY, deconvolve, deconvolve_options, deconvolve_tiled,
                   memory_estimate, run_dl2_text)
from .dl2 import dl2_macro, dl2_run_options, run_dl2
from .monitor import IterationStats, Monitor
from .options import Apodization, DeconvOptions, Padding, make_options, parse_dl2, to_dl2

__all__ = [
    "ALGORITHMS", "lookup_algorithm", "deconvolve", "deconvolve_options", "run_dl2_text",
    "memory_estimate", "DEFAULT_MAX_MEMORY", "deconvolve_tiled", "DeconvOptions", "make_options", "Padding",
    "Apodization", "parse_dl2", "to_dl2", "Monitor", "IterationStats", "run_dl2", "dl2_macro",
    "dl2_run_options",
]
