"""The memory model that sizes block-wise deconvolution covers what the numpy back-end uses.

:func:`fijibridge.deconv.tiling.memory_estimate` decides when a volume is deconvolved
block-wise and how large the blocks are; an estimate below the real peak would let a run
exceed ``--max-memory``. numpy's allocations are traced by ``tracemalloc`` (torch's are not:
every algorithm is measured on the numpy back-end, which the CPU uses). Measured peaks, in
float32 volumes: RL 6–8 (8 with statistics), RLTV 9–11, LW 6–8.6, VC 8–9, TM/ICTM 5.6–12 (12
on odd sizes: full complex spectra), direct methods 8–13 (float64 transforms; RIF odd 13; SIM
10 with its float64 noise), ISTA 12.7 and FISTA 12.7 (float64 transforms, the shrinkage's
scratch volume, FISTA's two more estimates).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from fijibridge._core.execution import Execution
from fijibridge.deconv import Monitor, deconvolve
from fijibridge.deconv.tiling import memory_estimate

PARAMS = {"NIF": [], "RIF": [0.1], "TRIF": [0.1], "CONV": [], "SIM": [0, 1, 1], "RL": [3],
          "RLTV": [3, 0.01], "LW": [3, 1], "NNLS": [3, 1], "BVLS": [3, 1], "VC": [3, 1],
          "TM": [3, 1, 0.001], "ICTM": [3, 1, 0.001], "ISTA": [3, 1, 0.01, 2],
          "FISTA": [3, 1, 0.01, 2]}


@pytest.mark.parametrize("shape", [(16, 96, 96), (15, 50, 45)])
@pytest.mark.parametrize("algorithm", list(PARAMS))
def test_numpy_peak_within_the_memory_estimate(algorithm, shape):
    rng = np.random.default_rng(0)
    image = rng.random(shape, dtype=np.float32) + 0.5
    z, y, x = np.mgrid[-2:3, -2:3, -2:3]
    psf = np.exp(-(x * x + y * y + z * z) / 2.0).astype(np.float32)
    ex = Execution(backend="numpy", memory=None, threads=2)
    deconvolve(image, psf, algorithm=algorithm, params=PARAMS[algorithm], execution=ex)  # warm
    peaks = []
    for monitor in (None, Monitor()):
        tracemalloc.start()
        try:
            deconvolve(image, psf, algorithm=algorithm, params=PARAMS[algorithm],
                       monitor=monitor, execution=ex)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    # the input image is the caller's; the estimate covers the working arrays and the copies
    assert max(peaks) <= memory_estimate(shape, algorithm), (max(peaks) / image.nbytes, peaks)
