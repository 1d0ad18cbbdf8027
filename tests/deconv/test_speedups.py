"""The speed-ups of the native engine change no result (issue 20 point 5).

- Fourier-domain iterations (LW, VC, TM, ICTM …; numpy and torch back-ends) in closed form, ``X_n = G (A^0 + … + A^n)``
  by doubling, vs DL2's update loop (run when statistics observe every iteration): float32
  rounding only — tolerance 1e-6 relative L2 (measured ~1e-7; both stay ~2e-7 from DL2).
- numpy RL: the fused last pass (update, constraint, ``sum(x²)`` for the guard) vs the
  controller applying the constraint itself (run when a residual is needed): bit-identical.
- DL2's Laplacian built directly on the half grid for even sizes: bit-identical to mirroring
  the full grid.
"""

from __future__ import annotations

import numpy as np
import pytest

from fijibridge.deconv import Monitor, deconvolve
from fijibridge.deconv._engine import _geometric_sum
from fijibridge.deconv._prepare import is_hermitian_real, laplacian_even_half, laplacian_grid


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("algorithm, params", [("LW", [20, 1]), ("VC", [20, 1]),
                                               ("TM", [20, 1, 0.001]), ("ICTM", [20, 1, 0.001]),
                                               ("NNLS", [7, 1])])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_closed_form_equals_the_update_loop(case_a, algorithm, params, backend):
    from fijibridge._core.execution import Execution

    img, psf = case_a["image"], case_a["psf"]
    ex = Execution(backend=backend)
    closed = deconvolve(img, psf, algorithm=algorithm, params=params, execution=ex)
    m = Monitor()  # statistics on every iteration: the update loop runs
    looped = deconvolve(img, psf, algorithm=algorithm, params=params, monitor=m, execution=ex)
    assert len(m.history) == params[0] + 1
    assert _rel(closed, looped) < 1e-6


def test_geometric_sum_by_doubling():
    import torch

    from fijibridge.deconv._engine_numpy import geometric_sum

    values = [0.0, 0.5, -0.9, 1.0, 1.1, -1.0]
    A = torch.tensor(values, dtype=torch.float64)
    a = np.array(values)
    c = np.array([0.5 + 0.5j, -0.9j, 1.0 + 0j, 0.3 - 1.0j])  # Van Cittert's A is complex
    for m in (1, 2, 3, 8, 21, 100):
        expected = sum(A ** i for i in range(m))
        torch.testing.assert_close(_geometric_sum(torch, A, m), expected, rtol=1e-12, atol=0)
        np.testing.assert_allclose(geometric_sum(a, m), expected.numpy(), rtol=1e-12, atol=0)
        np.testing.assert_allclose(geometric_sum(c, m), sum(c ** i for i in range(m)),
                                   rtol=1e-12, atol=0)
        # the float32 twins: the same operations in the same order (torch's addcmul_ may
        # round its product and sum once, numpy twice: an ulp or two)
        np.testing.assert_allclose(geometric_sum(a.astype(np.float32), m),
                                   _geometric_sum(torch, A.float(), m).numpy(), rtol=5e-7)


@pytest.mark.parametrize("constraint", ["no", "nonnegativity", "clipped"])
def test_numpy_rl_fused_pass_is_bit_identical(case_a, constraint):
    from fijibridge._core.execution import Execution

    img, psf = case_a["image"], case_a["psf"]
    ex = Execution(backend="numpy", threads=2)
    fused = deconvolve(img, psf, algorithm="RL", num_iter=12, constraint=constraint, execution=ex)
    # a residual that never stops the run makes the controller do the constraint and norm
    plain = deconvolve(img, psf, algorithm="RL", num_iter=12, constraint=constraint,
                       residu=1e-30, execution=ex)
    np.testing.assert_array_equal(fused, plain)


@pytest.mark.parametrize("shape", [(64, 256, 256), (32, 64, 64), (2, 4, 6), (6, 8, 12),
                                   (8, 10), (64, 64)])
def test_laplacian_half_grid_equals_dl2_mirror(shape):
    full = laplacian_grid(shape)
    assert is_hermitian_real(full)
    half = laplacian_even_half(shape)
    np.testing.assert_array_equal(half, full[..., : shape[-1] // 2 + 1])
    # slab by slab (the numpy runner builds it in cache): the same rows
    slabs = [laplacian_even_half(shape, slice(i, i + 3)) for i in range(0, shape[0], 3)]
    np.testing.assert_array_equal(np.concatenate(slabs), half)


@pytest.mark.parametrize("shape", [(27, 52, 60), (5, 8, 8), (8, 9)])
def test_odd_sizes_keep_dl2s_full_grid(shape):
    assert laplacian_even_half(shape) is None
