"""The two CPU back-ends of every DL2 algorithm (RL, RLTV, the Fourier-domain iterations LW,
NNLS, BVLS, VC, TM, ICTM, the wavelet algorithms ISTA, FISTA and the direct methods NIF, RIF,
TRIF, CONV, SIM): numpy + scipy's pocketfft (default on the CPU) and torch.

They run DL2's arithmetic operation for operation in float32 and differ by FFT rounding only.
Tolerance 1e-5 relative L2: the measured difference is ~5e-7 after 20 iterations and ~2e-6
after 50 on the speed benchmark's volume (each back-end is within ~1e-6 of DL2 itself,
``test_parity.py``).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fijibridge import DivergenceError
from fijibridge._core.execution import Execution
from fijibridge.deconv import Monitor, deconvolve
from fijibridge.deconv._engine import choose_backend


def _rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("constraint", ["no", "nonnegativity", "clipped"])
@pytest.mark.parametrize("threads", [1, 2])
def test_numpy_and_torch_rl_agree(case_a, ndim, constraint, threads):
    img = case_a["image"] if ndim == 3 else case_a["image"][16]
    psf = case_a["psf"] if ndim == 3 else case_a["psf"][15]
    kw = dict(algorithm="RL", num_iter=20, constraint=constraint)
    a = deconvolve(img, psf, execution=Execution(backend="numpy", threads=threads), **kw)
    b = deconvolve(img, psf, execution=Execution(backend="torch", threads=threads), **kw)
    assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == img.shape
    assert _rel(a, b) < 1e-5


def test_numpy_and_torch_rl_monitor_and_residu_agree(case_a):
    img, psf, gt = case_a["image"], case_a["psf"], case_a["gt"]
    runs = {}
    for backend in ("numpy", "torch"):
        m = Monitor(reference=gt)
        out = deconvolve(img, psf, algorithm="RL", num_iter=50, residu=0.03, monitor=m,
                         execution=Execution(backend=backend), pad="E2 E2", apo="HANN HANN")
        runs[backend] = (out, m)
    (a, ma), (b, mb) = runs["numpy"], runs["torch"]
    assert len(ma.history) == len(mb.history) < 51  # stopped by residu at the same iteration
    assert ma.stopped_by == mb.stopped_by == "residu"
    for sa, sb in zip(ma.history, mb.history):
        assert sa.psnr == pytest.approx(sb.psnr, abs=1e-3)
        assert sa.residual == pytest.approx(sb.residual, rel=1e-3, nan_ok=True)
    assert _rel(a, b) < 1e-5


#: DL2's Fourier-domain iterations, which have a numpy runner, and their parameters
FOURIER = {"LW": [15, 1.0], "NNLS": [15, 1.0], "BVLS": [15, 1.0], "VC": [15, 1.0],
           "TM": [15, 1.0, 0.001], "ICTM": [15, 1.0, 0.001]}


@pytest.mark.parametrize("case", ["a", "b"])
@pytest.mark.parametrize("algorithm", list(FOURIER))
def test_numpy_and_torch_fourier_iterations_agree(case_a, case_b, case, algorithm):
    """Closed form and update loop (statistics on every iteration), both back-ends: case B's
    odd sizes make DL2's Laplacian non-Hermitian (full complex transforms for TM/ICTM); the
    2D plane checks the single-plane grid (the thread pool: test_numpy_threads_...)."""
    c = case_a if case == "a" else case_b
    img, psf = c["image"], c["psf"]
    if algorithm in ("LW", "TM"):  # a 2D plane too (other algorithms share its code)
        planes = [(img, psf), (img[img.shape[0] // 2], psf[psf.shape[0] // 2])]
    else:
        planes = [(img, psf)]
    params = FOURIER[algorithm]
    for im, ps in planes:
        outs = {}
        for backend in ("numpy", "torch"):
            ex = Execution(backend=backend, threads=2)
            closed = deconvolve(im, ps, algorithm=algorithm, params=params, execution=ex)
            m = Monitor()
            looped = deconvolve(im, ps, algorithm=algorithm, params=params, monitor=m,
                                execution=ex)
            assert len(m.history) == params[0] + 1
            outs[backend] = (closed, looped, [s.residual for s in m.history])
        (a, la, ra), (b, lb, rb) = outs["numpy"], outs["torch"]
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == im.shape
        assert _rel(a, b) < 1e-5 and _rel(la, lb) < 1e-5 and _rel(a, la) < 1e-6
        np.testing.assert_allclose(ra[1:], rb[1:], rtol=1e-3)


@pytest.mark.parametrize("algorithm", ["ISTA", "FISTA"])
@pytest.mark.parametrize("haar", ["dl2", "orthonormal"])
@pytest.mark.parametrize("constraint", ["no", "nonnegativity"])
def test_numpy_and_torch_wavelet_algorithms_agree(case_a, case_b, monkeypatch, algorithm, haar,
                                                  constraint):
    """ISTA/FISTA, both shrinkages, 3D (case A: dyadic sizes) and a 2D plane of case B (odd
    sizes: the orthonormal Haar's odd levels); a constraint makes FISTA keep the unconstrained
    previous estimate for its momentum, as DL2. DL2's threshold jump at -t turns FFT rounding
    into flips of single coefficients (test_parity), hence 5e-5 there (measured 6e-7…6e-6);
    the orthonormal shrinkage is continuous: 1e-5 (measured ~1e-6). Blocks of 4 KB make the
    shrinkage many work items: 1 and 3 threads give bit-identical results."""
    from fijibridge.deconv import _engine_numpy as npe
    from fijibridge.deconv import _haar_numpy

    monkeypatch.setattr(_haar_numpy, "_BLOCK_BYTES", 1 << 12)
    monkeypatch.setattr(npe, "_SLAB_VOXELS", 1 << 12)
    cases = [(case_a["image"], case_a["psf"]),
             (case_b["image"][13], case_b["psf"][case_b["psf"].shape[0] // 2])]
    for im, ps in cases:
        if haar == "dl2" and im.ndim == 2:
            continue  # DL2's Haar is not invertible on B's odd sizes (test_parity)
        outs = {}
        for backend in ("numpy", "torch"):
            m = Monitor()
            outs[backend] = (deconvolve(im, ps, algorithm=algorithm, params=[10, 1, 0.01, 3],
                                        haar=haar, constraint=constraint, monitor=m,
                                        execution=Execution(backend=backend, threads=2)),
                             [s.residual for s in m.history])
        (a, ra), (b, rb) = outs["numpy"], outs["torch"]
        assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == im.shape
        assert _rel(a, b) < (5e-5 if haar == "dl2" else 1e-5), (im.ndim, _rel(a, b))
        np.testing.assert_allclose(ra[1:], rb[1:], rtol=1e-2)
        if constraint == "nonnegativity":
            assert a.min() >= 0
        one = deconvolve(im, ps, algorithm=algorithm, params=[10, 1, 0.01, 3], haar=haar,
                         constraint=constraint, execution=Execution(backend="numpy", threads=1))
        three = deconvolve(im, ps, algorithm=algorithm, params=[10, 1, 0.01, 3], haar=haar,
                           constraint=constraint, execution=Execution(backend="numpy", threads=3))
        np.testing.assert_array_equal(one, three)


@pytest.mark.parametrize("shape", ["3d", "2d", "thin"])
@pytest.mark.parametrize("constraint", ["no", "nonnegativity", "clipped"])
def test_numpy_and_torch_rltv_agree(case_b, shape, constraint):
    """RLTV with DL2's edge quirks (the gradients' last column / row / plane carry the previous
    iteration's correction, ratio and factor): by planes on a 3D grid (odd sizes), on whole
    arrays for a 2D image (DL2's one-plane stack: no Z gradient) and a 3-plane stack; fused
    constraint and norm vs the controller's (statistics and a residual): bit-identical."""
    img, psf, gt = case_b["image"], case_b["psf"], case_b["gt"]
    if shape == "2d":
        img, psf, gt = img[13], psf[13], gt[13]
    elif shape == "thin":
        img, psf, gt = img[10:13], psf[12:15], gt[10:13]
    kw = dict(algorithm="RLTV", params=[15, 0.01], constraint=constraint)
    runs = {}
    for backend in ("numpy", "torch"):
        ex = Execution(backend=backend, threads=2)
        fused = deconvolve(img, psf, execution=ex, **kw)
        m = Monitor(reference=gt)
        plain = deconvolve(img, psf, execution=ex, monitor=m, residu=1e-30, **kw)
        runs[backend] = (fused, plain, m)
    (a, pa, ma), (b, pb, mb) = runs["numpy"], runs["torch"]
    np.testing.assert_array_equal(a, pa)
    assert _rel(a, b) < 1e-5 and _rel(pa, pb) < 1e-5
    assert ma.history[-1].psnr == pytest.approx(mb.history[-1].psnr, abs=1e-3)


@pytest.mark.parametrize("case", ["a", "b"])
def test_numpy_and_torch_direct_methods_agree(case_a, case_b, case):
    """NIF, RIF (case B's odd sizes: full complex transforms), TRIF, CONV and SIM (same seed,
    same noise) in 3D and on a 2D plane; NIF amplifies FFT rounding through 1/H (the numpy
    back-end computes these transforms in float64, torch in float32)."""
    c = case_a if case == "a" else case_b
    for im, ps in ((c["image"], c["psf"]), (c["image"][10], c["psf"][c["psf"].shape[0] // 2])):
        for algorithm, params, tol in (("NIF", [], 5e-5), ("RIF", [0.1], 1e-5),
                                       ("TRIF", [0.1], 1e-5), ("CONV", [], 1e-5),
                                       ("SIM", [0, 1, 1], 1e-5)):
            a, b = (deconvolve(im, ps, algorithm=algorithm, params=params,
                               execution=Execution(backend=backend, rng=3))
                    for backend in ("numpy", "torch"))
            assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == im.shape
            assert _rel(a, b) < tol, algorithm


@pytest.mark.parametrize("algorithm, params", [("RL", [8]), ("RLTV", [8, 0.01]),
                                               ("LW", [8, 1.0]), ("TM", [8, 1.0, 0.001]),
                                               ("VC", [8, 1.0]), ("RIF", [0.1])])
def test_numpy_threads_split_the_work_without_changing_it(case_b, monkeypatch, algorithm,
                                                           params):
    """Slabs of 4096 voxels make the reference volumes (and a 2D plane) many pieces, so that
    the pool's threads share them (``ops.each``, the planes and columns of RL, RLTV's blocks):
    1 and 3 threads give bit-identical results (pocketfft's 1D transforms do not depend on
    how the lines are batched), and torch's within float32 rounding."""
    from fijibridge.deconv import _engine_numpy as npe

    monkeypatch.setattr(npe, "_SLAB_VOXELS", 1 << 12)
    img, psf = case_b["image"], case_b["psf"]
    for im, ps in ((img, psf), (img[13], psf[13])):
        one, three = (deconvolve(im, ps, algorithm=algorithm, params=params,
                                 execution=Execution(backend="numpy", threads=t))
                      for t in (1, 3))
        np.testing.assert_array_equal(one, three)
        ref = deconvolve(im, ps, algorithm=algorithm, params=params,
                         execution=Execution(backend="torch"))
        assert _rel(three, ref) < 1e-5
    ops = npe._Ops(img.shape, 3)
    try:  # the pool exists and has work for every thread
        assert ops.pool is not None and len(ops.slabs) >= 9
    finally:
        ops.close()


def test_numpy_fourier_iterations_stop_and_diverge_as_torch(case_a):
    img, psf = case_a["image"], case_a["psf"]
    for backend in ("numpy", "torch"):
        ex = Execution(backend=backend)
        m = Monitor()
        deconvolve(img, psf, algorithm="LW", params=[50, 1.0], residu=0.05, monitor=m,
                   execution=ex)
        assert m.stopped_by == "residu" and len(m.history) == 5
        with pytest.raises(DivergenceError, match=r"TM diverged: NaN/inf in the estimate at "
                                                  r"the end \(iteration 51\)"):
            deconvolve(img, psf, algorithm="TM", params=[50, 1.0, 0.1], execution=ex)
        with pytest.raises(DivergenceError, match=r"exploded to 542× .*\(iteration 5;"):
            deconvolve(img, psf, algorithm="TM", params=[50, 1.0, 0.1], monitor=Monitor(),
                       execution=ex)


def test_backend_choice_and_bad_values(case_a):
    assert choose_backend("RL", "cpu") == "numpy"
    assert choose_backend("RL", "cuda") == "torch"
    assert choose_backend("RL", "cpu", "torch") == "torch"
    for name in ["RLTV", *FOURIER, "NIF", "RIF", "TRIF", "CONV", "SIM", "ISTA", "FISTA"]:
        assert choose_backend(name, "cpu") == "numpy"
        assert choose_backend(name, "cuda") == "torch"
    with pytest.raises(ValueError, match="backend must be one of auto, numpy, torch; got 'jax'"):
        deconvolve(case_a["image"], case_a["psf"], algorithm="RL", num_iter=1,
                   execution=Execution(backend="jax"))
    with pytest.raises(ValueError, match="backend='numpy' runs on the CPU only; got device "
                                         "'cuda'"):
        choose_backend("FISTA", "cuda", "numpy")
    with pytest.raises(ValueError, match=r"backend='numpy' runs RL, RLTV, .*; got algorithm "
                                         r"DUMMY \(use backend='auto' or 'torch'\)"):
        choose_backend("DUMMY", "cpu", "numpy")
    with pytest.raises(ValueError, match="threads must be an integer >= 1"):
        Execution(threads=0)


def test_torch_threads_restored(case_a):
    import torch

    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    seen = []
    deconvolve(case_a["image"], case_a["psf"], algorithm="FISTA", params=[2, 1, 0.01, 3],
               callback=lambda st, est: seen.append(torch.get_num_threads()),
               execution=Execution(threads=other, backend="torch"))
    assert seen and set(seen) == {other}  # the limit held during the run
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("algorithm", ["RL 3", "RLTV 3 0.01", "ICTM 5 1 0.001",
                                       "FISTA 3 1 0.01 3"])
def test_rl_command_does_not_import_torch(tmp_path, case_a, algorithm):
    """RL, RLTV, the Fourier-domain iterations and the wavelet algorithms on the CPU run without
    torch (~1.2 s and ~160 MB less per command) and without scipy.fft's front end
    (~0.15–0.25 s less)."""
    from fijibridge import write_tiff

    write_tiff(tmp_path / "img.tif", case_a["image"])
    write_tiff(tmp_path / "psf.tif", case_a["psf"])
    code = ("import sys; from fijibridge.cli.main import main; "
            f"rc = main(['deconvolve', {str(tmp_path / 'img.tif')!r}, '--psf', "
            f"{str(tmp_path / 'psf.tif')!r}, '--algorithm', {algorithm!r}, '-o', "
            f"{str(tmp_path / 'out.tif')!r}, '--threads', '1']); "
            "print(rc, 'torch' in sys.modules, 'matplotlib' in sys.modules, "
            "'scipy.fft' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "False", "False", "False"]
    assert (tmp_path / "out.tif").is_file()


def test_command_backend_option(tmp_path, case_a):
    """``--backend torch`` runs the torch back-end (torch imported) with the numpy one's result
    within float32 rounding; ``--backend numpy`` with a GPU device is refused (here, without
    a GPU, the device is refused first), nothing written."""
    from fijibridge import write_tiff

    write_tiff(tmp_path / "img.tif", case_a["image"])
    write_tiff(tmp_path / "psf.tif", case_a["psf"])
    outs = {}
    for backend in ("auto", "torch"):
        out = tmp_path / f"{backend}.tif"
        code = ("import sys; from fijibridge.cli.main import main; "
                f"rc = main(['deconvolve', {str(tmp_path / 'img.tif')!r}, '--psf', "
                f"{str(tmp_path / 'psf.tif')!r}, '--algorithm', 'RLTV 5 0.01', '--backend', "
                f"{backend!r}, '-o', {str(out)!r}, '--quiet']); "
                "print(rc, 'torch' in sys.modules)")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        assert res.stdout.split() == ["0", str(backend == "torch")]
        outs[backend] = __import__("tifffile").imread(out)
    assert _rel(outs["auto"], outs["torch"]) < 1e-5
    res = subprocess.run([sys.executable, "-m", "fijibridge.cli.main", "deconvolve",
                          str(tmp_path / "img.tif"), "--psf", str(tmp_path / "psf.tif"),
                          "--algorithm", "FISTA 2 1 0.01 3", "--backend", "numpy", "--device",
                          "cuda", "-o", str(tmp_path / "f.tif"), "--quiet"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    import torch

    want = ("backend='numpy' runs on the CPU only" if torch.cuda.is_available()
            else "cuda")
    assert want in res.stderr, res.stderr
    assert not (tmp_path / "f.tif").exists()


def test_native_only_options_with_the_plugin_are_refused(tmp_path, case_a):
    """--backend, --device, --threads … do not reach DeconvolutionLab2's own engine: an error
    naming them (before any image is read or a JVM started), not a silent no-op."""
    from fijibridge import write_tiff

    write_tiff(tmp_path / "img.tif", case_a["image"])
    write_tiff(tmp_path / "psf.tif", case_a["psf"])
    res = subprocess.run([sys.executable, "-m", "fijibridge.cli.main", "deconvolve",
                          str(tmp_path / "img.tif"), "--psf", str(tmp_path / "psf.tif"),
                          "--algorithm", "RL 3", "--engine", "imagej", "--backend", "numpy",
                          "--threads", "2", "-o", str(tmp_path / "d.tif")],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert ("--backend, --threads apply to the native engine only; the DeconvolutionLab2 "
            "plugin (--engine imagej) runs its own") in res.stderr
    assert not (tmp_path / "d.tif").exists()


def test_execution_progress_callable_and_rng(case_a):
    calls = []
    deconvolve(case_a["image"], case_a["psf"], algorithm="RL", num_iter=3,
               execution=Execution(progress=lambda done, total: calls.append((done, total))))
    assert [t for _, t in calls] == [3] * len(calls) and calls[-1][0] == 3
    a = deconvolve(case_a["image"], case_a["psf"], algorithm="SIM", execution=Execution(rng=4))
    b = deconvolve(case_a["image"], case_a["psf"], algorithm="SIM", execution=Execution(rng=4))
    c = deconvolve(case_a["image"], case_a["psf"], algorithm="SIM", execution=Execution(rng=5))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_device_auto_is_the_default_and_absent_cuda_is_refused(case_a):
    import torch

    from fijibridge._core.execution import resolve_device

    out = deconvolve(case_a["image"], case_a["psf"], algorithm="RL", num_iter=1)
    assert out.shape == case_a["image"].shape
    assert Execution().device == "auto"
    if resolve_device("auto") == "cpu" and not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            deconvolve(case_a["image"], case_a["psf"], algorithm="RL", num_iter=1, device="cuda")


def _random_grid(shape, seed):
    """A positive random image and a small non-negative PSF on a working grid (wrapped)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(shape, dtype=np.float32) + 0.05).astype(np.float32)
    h = np.zeros(shape, np.float32)
    h[0, 0, 0], h[1, 0, 0], h[0, 1, 0], h[0, 0, 1], h[-1, -1, -1] = 0.4, 0.2, 0.2, 0.1, 0.1
    return y, h


@pytest.mark.parametrize("shape", [(32, 64, 64), (9, 30, 33)])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("constraint", ["no", "nonnegativity"])
def test_numpy_rl_by_planes_matches_whole_array_runner(shape, threads, constraint):
    """The plane/column runner (3D) computes the whole-array runner's RL: same transforms in
    another order, so the same result up to float32 FFT rounding; odd sizes included."""
    from fijibridge.deconv import _engine, _engine_numpy as npe

    y, h = _random_grid(shape, seed=3)
    outs = {}
    for name, runner in (("planes", npe._run_rl_planes), ("whole", npe._run_rl)):
        ops = npe._Ops(shape, threads)
        try:
            ctrl = _engine._Controller(None, y, name="RL", num_iter=15, constraint=constraint,
                                       residu=None, epsilon=1e-6, monitor=None,
                                       image_shape=shape, max_growth=None, ops=ops)
            outs[name] = runner(ops, y, h, {}, 1e-6, ctrl)
            assert ctrl.iterations == 16  # DL2 counts the last ends() call
        finally:
            ops.close()
    assert npe.RUNNERS["RL"] is npe._run_rl_any
    assert not np.array_equal(outs["planes"], y)  # it did deconvolve
    assert _rel(outs["planes"], outs["whole"]) < 1e-5


@pytest.mark.parametrize("shape", [(32, 64, 64), (9, 30, 33)])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("algorithm, params", [("LW", {"step": 1.0}), ("VC", {"step": 1.0}),
                                               ("TM", {"step": 1.0, "reg": 0.001})])
def test_numpy_closed_form_by_planes_matches_whole_array_runner(shape, threads, algorithm,
                                                                 params, monkeypatch):
    """The Fourier-domain iterations' closed form by planes and columns (3D) computes the
    whole-array closed form: the same transforms in another order (float32 FFT rounding
    only); odd sizes included, where TM keeps the whole-array runner (DL2's Laplacian is not
    Hermitian there: full complex transforms)."""
    from fijibridge.deconv import _engine, _engine_numpy as npe

    y, h = _random_grid(shape, seed=5)
    calls = []
    real_closed = npe._closed_planes
    monkeypatch.setattr(npe, "_closed_planes", lambda *a: calls.append(1) or real_closed(*a))
    outs = {}
    for name in ("planes", "whole"):
        monkeypatch.setattr(npe, "_by_planes", lambda ops, _n=name: _n == "planes")
        ops = npe._Ops(shape, threads)
        try:
            ctrl = _engine._Controller(None, y, name=algorithm, num_iter=12, constraint="no",
                                       residu=None, epsilon=1e-6, monitor=None,
                                       image_shape=shape, max_growth=None, ops=ops)
            outs[name] = npe.RUNNERS[algorithm](ops, y, h, params, 1e-6, ctrl)
            assert ctrl.iterations == 13
        finally:
            ops.close()
    full = algorithm == "TM" and any(n % 2 for n in shape)
    assert calls == ([] if full else [1])  # the planes runner ran once, or never
    assert outs["planes"].dtype == np.float32 and outs["planes"].shape == shape
    assert not np.allclose(outs["planes"], y, rtol=1e-2)  # it did deconvolve
    assert _rel(outs["planes"], outs["whole"]) < 2e-6


@pytest.mark.parametrize("algorithm", ["ISTA", "FISTA"])
@pytest.mark.parametrize("haar", ["dl2", "orthonormal"])
def test_numpy_wavelet_step_by_planes_matches_whole_array_runner(algorithm, haar, monkeypatch):
    """ISTA/FISTA's Landweber step by planes and columns (float64 transforms in another order,
    the spectrum rounded to 32 bits at the same point) computes the whole-array step: equal
    up to float64 rounding, which DL2's discontinuous shrinkage can turn into a flipped
    coefficient (hence 5e-5 there, as against torch); the orthonormal one is continuous."""
    from fijibridge.deconv import _engine, _engine_numpy as npe

    shape = (16, 64, 64)
    y, h = _random_grid(shape, seed=7)
    made = []
    real_planes = npe._Planes
    monkeypatch.setattr(npe, "_Planes", lambda *a, **k: made.append(k) or real_planes(*a, **k))
    outs = {}
    for name in ("planes", "whole"):
        monkeypatch.setattr(npe, "_by_planes", lambda ops, _n=name: _n == "planes")
        ops = npe._Ops(shape, 2)
        try:
            ctrl = _engine._Controller(None, y, name=algorithm, num_iter=8, constraint="no",
                                       residu=None, epsilon=1e-6, monitor=None,
                                       image_shape=shape, max_growth=None, ops=ops)
            outs[name] = npe.RUNNERS[algorithm](ops, y, h, {"step": 1.0, "reg": 0.05,
                                                            "scales": 2}, 1e-6, ctrl, haar=haar)
        finally:
            ops.close()
    assert made == [{"dtype": np.complex128}]  # float64 planes, once, for the planes run
    assert not np.allclose(outs["planes"], y, rtol=1e-2)
    assert _rel(outs["planes"], outs["whole"]) < (5e-5 if haar == "dl2" else 1e-6)


@pytest.mark.parametrize("haar", ["dl2", "orthonormal"])
def test_fista_momentum_inside_the_plane_transforms_changes_nothing(haar, monkeypatch):
    """FISTA's momentum computed piece by piece as the next step reads it (3D, no constraint)
    is the separate slab-by-slab pass's, bit for bit: the same float32 operations."""
    from fijibridge.deconv import _engine, _engine_numpy as npe

    shape = (16, 64, 64)
    y, h = _random_grid(shape, seed=11)
    outs = {}
    for fused in (True, False):
        monkeypatch.setattr(npe, "_fused_momentum", lambda ops, ctrl, _f=fused: _f)
        ops = npe._Ops(shape, 2)
        try:
            ctrl = _engine._Controller(None, y, name="FISTA", num_iter=6, constraint="no",
                                       residu=None, epsilon=1e-6, monitor=None,
                                       image_shape=shape, max_growth=None, ops=ops)
            outs[fused] = npe.RUNNERS["FISTA"](ops, y, h, {"step": 1.0, "reg": 0.05,
                                                           "scales": 2}, 1e-6, ctrl, haar=haar)
            assert ctrl.iterations == 7
        finally:
            ops.close()
    np.testing.assert_array_equal(outs[True], outs[False])
    assert not np.allclose(outs[True], y, rtol=1e-2)
