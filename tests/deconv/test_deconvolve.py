"""Native API: monitoring, stopping rules, divergence, tiling, CLI, the real plugin's entry."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from fijibridge import DivergenceError, PluginMissingError
from fijibridge.cli.main import main
from fijibridge._core.execution import Execution
from fijibridge.deconv import Monitor, deconvolve, deconvolve_tiled, run_dl2


def _rel(a, b):
    return float(np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b))


def test_import_loads_neither_torch_nor_java():
    code = ("import sys, fijibridge, fijibridge.deconv, fijibridge.cli.deconvolve; "
            "print(any(m in sys.modules for m in ('torch', 'jpype', 'scyjava', 'imagej')))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


@pytest.mark.parametrize("ndim", [2, 3])
def test_rl_improves_psnr_in_2d_and_3d(ndim, case_a):
    img = case_a["image"] if ndim == 3 else case_a["image"][16]
    psf = case_a["psf"] if ndim == 3 else case_a["psf"][15]
    gt = case_a["gt"] if ndim == 3 else case_a["gt"][16]
    if ndim == 2:
        img = deconvolve(gt, psf, algorithm="CONV")
    m = Monitor(reference=gt)
    out = deconvolve(img, psf, algorithm="RL", num_iter=10, monitor=m)
    assert out.shape == img.shape and out.dtype == np.float32
    assert len(m.history) == 11 and m.history[-1].iteration == 10
    assert m.history[-1].psnr > m.history[0].psnr
    assert all(abs(s.mean - img.mean()) < 1e-3 * img.mean() for s in m.history)  # RL keeps flux


def test_monitor_table_plot_and_callback(case_a, tmp_path):
    seen = []
    m = Monitor(reference=case_a["gt"], progress=True)
    deconvolve(case_a["image"], case_a["psf"], algorithm="LW", num_iter=4, monitor=m,
               callback=lambda st, est: seen.append(st.iteration))
    assert seen == [0, 1, 2, 3, 4]
    png = m.plot(tmp_path / "conv.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    csv = m.save_csv(tmp_path / "stats.csv").read_text().splitlines()
    assert csv[0].startswith("iteration,residual,mean") and len(csv) == 6


def test_callback_stops_early(case_a):
    m = Monitor()
    deconvolve(case_a["image"], case_a["psf"], algorithm="RL", num_iter=50, monitor=m,
               callback=lambda st, est: st.iteration < 3)
    assert m.history[-1].iteration == 3 and m.stopped_by == "callback"


def test_residu_stops_like_dl2(case_a):
    m = Monitor()
    deconvolve(case_a["image"], case_a["psf"], algorithm="RL", num_iter=100, residu=0.02, monitor=m)
    res = [s.residual for s in m.history]
    assert m.stopped_by == "residu" and res[-1] <= 0.02 and all(r > 0.02 for r in res[1:-1])
    assert len(m.history) < 100


def test_tm_with_dl2_defaults_diverges_with_clear_error(case_a):
    with pytest.raises(DivergenceError, match="TM diverged"):
        deconvolve(case_a["image"], case_a["psf"], algorithm="TM", num_iter=50, step=1, reg=0.1)
    # guard off: DL2's own result (NaN/inf) is still refused, never returned silently
    with pytest.raises(DivergenceError, match="NaN/inf"):
        deconvolve(case_a["image"], case_a["psf"], algorithm="TM", num_iter=50, step=1, reg=0.1,
                   max_growth=None)


def test_tiling_is_seamless(case_a):
    """Block-wise RL vs whole-volume RL: interior (one PSF margin from the volume border)
    relative error ≤ 1e-3 (issue 3)."""
    img, gt = case_a["image"], case_a["gt"]
    psf = np.zeros((7, 9, 9), np.float32)
    zz, yy, xx = np.mgrid[-3:4, -4:5, -4:5]
    psf[...] = np.exp(-(xx ** 2 + yy ** 2) / 4.0 - zz ** 2 / 2.0)
    blurred = deconvolve(gt, psf, algorithm="CONV") + 1
    whole = deconvolve(blurred, psf, algorithm="RL", num_iter=20)
    tiled = deconvolve_tiled(blurred, psf, algorithm="RL", num_iter=20, block_shape=(16, 32, 32))
    inner = tuple(slice(m, n - m) for m, n in zip(psf.shape, img.shape))
    assert _rel(tiled[inner], whole[inner]) <= 1e-3
    # automatic switch over the memory budget gives the same blocks' result (the whole
    # volume's RL needs ~4.5 MB by the memory model: 4 MB makes it block-wise)
    from fijibridge.deconv.tiling import memory_estimate

    assert memory_estimate(img.shape, "RL") > 4_000_000
    auto = deconvolve(blurred, psf, algorithm="RL", num_iter=20,
                      execution=Execution(memory=4_000_000))
    assert _rel(auto[inner], whole[inner]) <= 1e-3


def test_plugin_missing_names_folder_and_install_fake_session(tmp_path, case_a):
    """No DeconvolutionLab2 jar can exist here: a stand-in session with an empty plugins folder."""
    class NoDL2Session:
        plugins_dir = tmp_path

        def run_macro(self, *a, **k):  # pragma: no cover - must not be reached
            raise AssertionError("macro run without the plugin")

    with pytest.raises(PluginMissingError, match=str(tmp_path).replace("\\", "\\\\") + ".*install"):
        run_dl2(case_a["image"], case_a["psf"], "-algorithm RL 5", session=NoDL2Session())


def test_plugin_missing_in_real_imagej(imagej, case_a):
    from fijibridge.deconv.dl2 import find_dl2_jar

    if find_dl2_jar(imagej.plugins_dir) is not None:
        pytest.skip("DeconvolutionLab2 is installed in this ImageJ")
    with pytest.raises(PluginMissingError, match="DeconvolutionLab2"):
        run_dl2(case_a["image"], case_a["psf"], "-algorithm RL 5", session=imagej)


def test_cli_both_forms_write_calibrated_tiff(tmp_path, reference_dir, monkeypatch):
    import tifffile

    from fijibridge import read_tiff, write_tiff

    monkeypatch.chdir(reference_dir)
    out = tmp_path / "rl.tif"
    text = "-image file dl2/input/A_image.tif -psf file dl2/input/A_psf.tif -algorithm RL 20"
    assert main(["deconvolve", "--dl2", text, "-o", str(out), "--stats", str(tmp_path / "s.csv"),
                 "--plot", str(tmp_path / "p.png")]) == 0
    ref = tifffile.imread(reference_dir / "dl2" / "A_RL20.tif")
    assert _rel(read_tiff(out).data, ref) < 1e-4
    assert (tmp_path / "p.png").is_file() and (tmp_path / "s.csv").is_file()
    # calibration of the input is kept
    img = tifffile.imread(reference_dir / "dl2/input/A_image.tif")
    cal = tmp_path / "cal.tif"
    write_tiff(cal, img, spacing=(0.3, 0.1, 0.1))
    out2 = tmp_path / "tm.tif"
    assert main(["deconvolve", str(cal), "--psf", "dl2/input/A_psf.tif", "--algorithm",
                 "TM 20 1 0.001", "--pad", "X2 X2", "-o", str(out2)]) == 0
    r = read_tiff(out2)
    assert r.data.shape == img.shape and r.axes == "ZYX"
    assert np.allclose(r.spacing, (0.3, 0.1, 0.1))


@pytest.mark.parametrize("shape", [(48, 40), (32, 32)])
@pytest.mark.parametrize("algorithm, kw", [("RIF", {"reg": 0.01}), ("TM", {"num_iter": 5}),
                                           ("ICTM", {"num_iter": 5})])
def test_laplacian_algorithms_in_2d_equal_a_single_plane_stack(shape, algorithm, kw):
    """DL2 treats a 2D image as a one-plane stack: RIF/TM/ICTM (DL2's Laplacian) must give the
    same result on (y, x) and on (1, y, x). Before the fix, 2D crashed (non-square) or used a
    Laplacian only in its first column (square), and one-plane stacks crashed."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[-3:4, -3:4]
    psf = np.exp(-(xx ** 2 + yy ** 2) / 3.0).astype(np.float32)
    img = deconvolve(rng.random(shape, dtype=np.float32) * 100, psf, algorithm="CONV") + 1
    flat = deconvolve(img, psf, algorithm=algorithm, **kw)
    stack = deconvolve(img[None], psf[None], algorithm=algorithm, **kw)
    assert np.isfinite(flat).all()
    assert _rel(flat, stack[0]) < 1e-6
