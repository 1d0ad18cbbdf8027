"""Monitoring of iterative deconvolution, like DeconvolutionLab2's ``-stats``: per-iteration
residual, mean, min/max and PSNR/SNR against an optional reference; a progress bar; a
convergence plot (PNG).

Definitions (DL2 ``signal.Assessment``), with ``x`` the current estimate and ``r`` the reference:
``residual = rms(x_k - x_{k-1}) / max(rms(x_{k-1}), epsilon)``;
``PSNR = 20 log10(max(r) / rms(x - r))``; ``SNR = 20 log10(rms(r) / rms(x - r))``.
DL2 measures on the padded working volume; fijibridge measures on the image's own extent
(cropped), which is what the reference covers.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import time
from pathlib import Path

import numpy as np

from .._core.atomic import atomic_path

__all__ = ["IterationStats", "Monitor"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class IterationStats:
    """Statistics of the estimate after ``iteration`` updates (0 = the starting estimate)."""

    iteration: int
    residual: float
    mean: float
    minimum: float
    maximum: float
    psnr: float
    snr: float
    seconds: float


class Monitor:
    """Collects :class:`IterationStats` during one run (holds state, hence a class).

    Parameters
    ----------
    reference : ndarray, optional
        Ground truth of the image's shape, for PSNR/SNR.
    progress : bool
        Show the iterations' progress on stderr (:class:`~fijibridge._core.progress.Progress`:
        a tqdm bar on a terminal, a line every 5 s and the last one in a log).
    callback : callable, optional
        ``callback(stats: IterationStats, estimate: ndarray)`` after every iteration; return
        ``False`` to stop early.
    stats : bool
        Compute statistics at all (for Fourier-domain algorithms this costs one inverse FFT
        per iteration).
    """

    def __init__(self, *, reference=None, progress: bool = False, callback=None, stats: bool = True):
        self.reference = None if reference is None else np.asarray(reference, dtype=np.float64)
        self.progress = bool(progress)
        self.callback = callback
        self.stats = bool(stats) or reference is not None or callback is not None
        self.history: list[IterationStats] = []
        self._bar = None
        self._t0 = time.perf_counter()
        self.algorithm = ""
        self.stopped_by = "iterations"

    @property
    def needs_spatial(self) -> bool:
        return self.stats

    def start(self, algorithm: str, total: int):
        self.algorithm = algorithm
        self._t0 = time.perf_counter()
        if self.progress:
            from .._core.progress import Progress

            self._bar = Progress(total, desc=algorithm, unit="it", every=5.0)

    def record(self, iteration: int, estimate, residual: float) -> bool:
        """Record one iteration; return False when the callback asks to stop."""
        keep = True
        if self.stats and estimate is not None:
            x = np.asarray(estimate, dtype=np.float64)
            psnr = snr = float("nan")
            if self.reference is not None:
                if self.reference.shape != x.shape:
                    raise ValueError(f"reference shape {self.reference.shape} differs from the "
                                     f"image shape {x.shape}")
                rmse = math.sqrt(float(np.mean((x - self.reference) ** 2)))
                sref = math.sqrt(float(np.mean(self.reference ** 2)))
                peak = float(self.reference.max())
                psnr = float("inf") if rmse == 0 else 20 * math.log10(max(peak, 1e-300) / rmse)
                snr = float("inf") if rmse == 0 else 20 * math.log10(max(sref, 1e-300) / rmse)
            st = IterationStats(iteration, float(residual), float(x.mean()), float(x.min()),
                                float(x.max()), psnr, snr, time.perf_counter() - self._t0)
            self.history.append(st)
            log.debug("%s @%d residual %.4g mean %.6g PSNR %.4g", self.algorithm, iteration,
                      st.residual, st.mean, st.psnr)
            if self.callback is not None:
                keep = self.callback(st, estimate) is not False
        if self._bar is not None and iteration > 0:
            if math.isfinite(residual):
                self._bar.update(1, residual=f"{residual:.3g}")
            else:
                self._bar.update(1)
        return keep

    def finish(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def as_rows(self) -> list[dict]:
        return [dataclasses.asdict(s) for s in self.history]

    def save_csv(self, path) -> Path:
        """Write the statistics table (one row per iteration) atomically."""
        fields = [f.name for f in dataclasses.fields(IterationStats)]
        with atomic_path(path) as tmp:
            with open(tmp, "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=fields)
                w.writeheader()
                w.writerows(self.as_rows())
        return Path(path)

    def plot(self, path) -> Path:
        """Convergence plot (residual; PSNR when a reference was given) as PNG, atomically."""
        from .._core.figures import new_figure

        if not self.history:
            raise ValueError("no statistics recorded: run with stats=True (or a reference)")
        it = [s.iteration for s in self.history]
        fig, ax = new_figure(1, 2 if self.reference is not None else 1, figsize=(9, 3.5),
                               squeeze=False)
        res = [s.residual if np.isfinite(s.residual) and s.residual > 0 else np.nan
               for s in self.history]
        ax[0, 0].semilogy(it, res, marker=".")
        ax[0, 0].set_xlabel("iteration")
        ax[0, 0].set_ylabel("relative residual")
        ax[0, 0].set_title(f"{self.algorithm}: convergence")
        if self.reference is not None:
            ax[0, 1].plot(it, [s.psnr for s in self.history], marker=".", label="PSNR")
            ax[0, 1].plot(it, [s.snr for s in self.history], marker=".", label="SNR")
            ax[0, 1].set_xlabel("iteration")
            ax[0, 1].set_ylabel("dB")
            ax[0, 1].legend()
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
        return Path(path)
