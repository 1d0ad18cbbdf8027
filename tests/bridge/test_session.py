"""Macros on in-memory images through the real ImageJ 1.53t (Debian's imagej, Xvfb)."""

import time
from pathlib import Path

import numpy as np
import pytest

from fijibridge import MacroDialogError, MacroError, MacroTimeoutError

pytestmark = pytest.mark.imagej


def test_macro_changes_image_and_reports(imagej):
    img = np.zeros((32, 40), np.uint16)
    img[10:20, 5:15] = 1000
    r = imagej.run_macro('run("Add...", "value=7");\nrun("Measure");\nprint("title=" + getTitle());',
                         images={"cells": img})
    out = r.images["cells"]
    np.testing.assert_array_equal(out.data, img + 7)
    assert r.log.strip() == "title=cells"
    assert list(r.results.columns[:2]) == ["Area", "Mean"]
    assert r.results.loc[0, "Area"] == 32 * 40
    assert r.results.loc[0, "Mean"] == pytest.approx(img.mean() + 7)


def test_several_named_inputs_last_one_active(imagej):
    a = np.full((8, 8), 3, np.uint8)
    b = np.full((8, 8), 5, np.uint8)
    r = imagej.run_macro('print(getTitle() + " " + nImages);\nselectImage("a");\n'
                         'imageCalculator("Add create", "a", "b");\nrename("sum");',
                         images={"a": a, "b": b})
    assert r.log.strip() == "b 2"
    np.testing.assert_array_equal(r.images["sum"].data, a + b)


def test_script_parameters_and_get_argument(imagej):
    code = ('#@ Float (label="Sigma", value=1.5) sigma\n#@ Integer n\n'
            '#@ String (choices={"Otsu","Li"}) method\n#@ Boolean dark\n'
            'print(sigma * 2);\nprint(n + 1);\nprint(method);\nprint(dark);\nprint(getArgument());\n')
    r = imagej.run_macro(code, args={"n": 41, "method": "Li", "dark": True})
    lines = r.log.strip().splitlines()
    assert lines[:4] == ["3", "42", "Li", "1"]
    assert "n=41" in lines[4] and "method=Li" in lines[4] and "sigma=1.5" in lines[4]


def test_string_parameter_with_spaces_reaches_macro_verbatim(imagej):
    r = imagej.run_macro('#@ String label\nprint("[" + label + "]");', args={"label": "a b  c"})
    assert r.log.strip() == "[a b  c]"


def test_parameter_errors_name_the_problem(imagej):
    code = '#@ Integer (min=1, max=10) n\nprint(n);'
    with pytest.raises(ValueError, match="missing value for macro parameter.*n"):
        imagej.run_macro(code)
    with pytest.raises(TypeError, match="integer"):
        imagej.run_macro(code, args={"n": 2.5})
    with pytest.raises(ValueError, match=r"within \[1.0, 10.0\]"):
        imagej.run_macro(code, args={"n": 11})
    with pytest.raises(ValueError, match="Did you mean 'n'"):
        imagej.run_macro(code, args={"n": 3, "nn": 4})


def test_results_rois_and_label_image(imagej):
    img = np.zeros((40, 50), np.uint8)
    img[5:15, 5:20] = 255
    img[25:35, 30:45] = 255
    code = ('setOption("BlackBackground", true);\nsetThreshold(128, 255);\n'
            'run("Set Measurements...", "area centroid redirect=None decimal=3");\n'
            'run("Analyze Particles...", "display clear add");\n')
    r = imagej.run_macro(code, images={"blobs": img})
    assert len(r.results) == 2 and sorted(r.results["Area"]) == [150, 150]
    assert len(r.rois) == 2
    labels = r.roi_label_image(img.shape)
    assert set(np.unique(labels)) == {0, 1, 2}
    np.testing.assert_array_equal(labels > 0, img > 0)


def test_outputs_saved_atomically(imagej, tmp_path):
    import roifile
    import tifffile

    img = np.zeros((20, 20), np.uint8)
    img[5:10, 5:10] = 255
    r = imagej.run_macro('setThreshold(1, 255);\nrun("Analyze Particles...", "display clear add");\n'
                         'run("Duplicate...", "title=copy");\nprint("done");', images={"in": img})
    written = r.save(tmp_path)
    names = sorted(p.name for p in written)
    assert names == ["copy.tif", "in.tif", "log.txt", "results.csv", "rois.zip"]
    assert not list(tmp_path.glob(".*tmp*"))
    assert tifffile.imread(tmp_path / "copy.tif").shape == (20, 20)
    assert len(roifile.roiread(tmp_path / "rois.zip")) == 1
    assert (tmp_path / "log.txt").read_text().strip() == "done"


def test_calibration_reaches_macro_and_comes_back(imagej):
    from fijibridge import TiffImage

    img = TiffImage(data=np.zeros((3, 8, 8), np.float32), axes="ZYX", spacing=(0.5, 0.1, 0.2))
    r = imagej.run_macro('getVoxelSize(w, h, d, unit);\nprint(w + " " + h + " " + d + " " + unit);',
                         images={"v": img})
    assert r.log.strip() == "0.2 0.1 0.5 microns"  # ImageJ reports the plural
    assert r.images["v"].spacing == (0.5, 0.1, 0.2)


def test_two_channel_stack_round_trip_keeps_channel_order_spacing_and_names(imagej, tmp_path):
    """A CZYX Image through a real macro (which edits channel 2 only) and back to a file."""
    from fijibridge import Image, read_image

    rng = np.random.default_rng(3)
    data = rng.integers(0, 1000, (2, 4, 6, 7)).astype(np.uint16)  # C Z Y X
    img = Image(data, axes="CZYX", spacing=(0.3, 0.0655, 0.0655), channels=("DAPI", "Mito"))
    r = imagej.run_macro('Stack.setChannel(2);\nfor (z = 1; z <= 4; z++) {\n'
                         '  Stack.setSlice(z);\n  run("Set...", "value=7 slice");\n}\n'
                         'getVoxelSize(w, h, d, unit);\nprint(d);', images={"cells": img})
    back = r.images["cells"]
    assert back.axes == "CZYX" and back.channels == ("DAPI", "Mito")
    assert back.spacing == pytest.approx((0.3, 0.0655, 0.0655))
    np.testing.assert_array_equal(back.data[0], data[0])  # channel 1 untouched, in place
    assert (back.data[1] == 7).all()
    assert float(r.log.strip()) == pytest.approx(0.3)
    (saved,) = [p for p in r.save(tmp_path) if p.suffix == ".tif"]
    again = read_image(saved)
    assert (again.axes, again.channels) == ("CZYX", ("DAPI", "Mito"))
    np.testing.assert_array_equal(again.data, back.data)


def test_syntax_error_has_file_and_line(imagej, tmp_path):
    path = tmp_path / "broken.ijm"
    path.write_text("a = 1;\nb = 2;\nc = a + ;\nprint(c);\n")
    with pytest.raises(MacroError) as info:
        imagej.run_macro(path)
    assert info.value.line == 3 and info.value.macro_file == str(path)
    assert str(info.value).startswith(f"{path}:3: ")


def test_line_numbers_stay_those_of_the_file_after_parameters(imagej):
    code = '#@ Float sigma\n#@ String name\n\nx = sigma;\ny = undefined_thing + 1;\n'
    with pytest.raises(MacroError) as info:
        imagej.run_macro(code, args={"sigma": 1, "name": "a"})
    assert info.value.line == 5 and "Undefined variable" in str(info.value)


def test_unknown_command_names_the_command(imagej):
    with pytest.raises(MacroError, match='Unrecognized command: "Frobnicate Nuclei"') as info:
        imagej.run_macro('newImage("x", "8-bit", 10, 10, 1);\nrun("Frobnicate Nuclei");\n')
    assert info.value.line == 2


@pytest.mark.parametrize("code, line, what", [
    ('newImage("x", "8-bit", 10, 10, 1);\nrun("Gaussian Blur...");\nprint("after");', 2, "Gaussian Blur"),
    ('print("before");\nwaitForUser("Click OK");\nprint("after");', 2, "WaitForUser"),
    ('n = getNumber("How many?", 3);\nprint(n);', 1, "How many"),
    ('Dialog.create("Options");\nDialog.addNumber("x", 1);\nDialog.show();\nprint("after");', 3, "Options"),
])
def test_dialogs_are_errors_within_seconds_never_a_hang(imagej, code, line, what):
    t0 = time.perf_counter()
    with pytest.raises(MacroDialogError, match=what) as info:
        imagej.run_macro(code, timeout=60)
    assert time.perf_counter() - t0 < 15
    assert info.value.line == line
    # the session is still usable afterwards
    assert imagej.run_macro('print(1+1);').log.strip() == "2"


def test_endless_macro_times_out(imagej):
    t0 = time.perf_counter()
    with pytest.raises(MacroTimeoutError, match="within 2"):
        imagej.run_macro("i = 0;\nwhile (true) { i++; }\n", timeout=2)
    assert time.perf_counter() - t0 < 15
    assert imagej.run_macro('print("alive");').log.strip() == "alive"


def test_macro_that_ignores_the_abort_is_stopped(imagej, monkeypatch):
    # ImageJ's interpreter polls a non-volatile flag; a JIT-compiled loop may never see
    # abortMacro(). Simulate that deterministically: an interpreter whose abortMacro
    # does nothing, so only stopping the macro's Java thread can end it.
    real = imagej._Interpreter

    class NoAbort:
        def __init__(self, interp):
            object.__setattr__(self, "_interp", interp)

        def abortMacro(self):
            pass

        def __getattr__(self, name):
            return getattr(self._interp, name)

    class Factory:
        def __call__(self):
            return NoAbort(real())

        def __getattr__(self, name):       # static members: batchMode, addBatchModeImage
            return getattr(real, name)

        def __setattr__(self, name, value):
            setattr(real, name, value)

    monkeypatch.setattr(imagej, "_Interpreter", Factory())
    t0 = time.perf_counter()
    with pytest.raises(MacroTimeoutError, match="within 1"):
        imagej.run_macro("i = 0;\nwhile (true) { i++; }\n", timeout=1)
    assert time.perf_counter() - t0 < 15
    assert imagej._unfinished is None and imagej._broken is None
    monkeypatch.undo()
    assert imagej.run_macro('print("alive");').log.strip() == "alive"


def test_exit_with_message_is_an_error_plain_exit_is_not(imagej):
    assert imagej.run_macro('print("a");\nexit;\nprint("b");').log.strip() == "a"
    with pytest.raises(MacroError, match="no nuclei found"):
        imagej.run_macro('exit("no nuclei found");')


def test_messages_go_to_the_log(imagej):
    r = imagej.run_macro('showMessage("Note", "check the scale");\nprint("went on");')
    assert "went on" in r.log and "Note: check the scale" in r.log


def test_state_does_not_leak_between_macros(imagej):
    imagej.run_macro('newImage("left", "8-bit", 10, 10, 1);\nrun("Measure");\nprint("x");')
    r = imagej.run_macro('print(nImages + " " + nResults);')
    assert r.log.strip() == "0 0" and r.results.empty and r.rois == []


def test_missing_macro_file(imagej, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.ijm"):
        imagej.run_macro(tmp_path / "nothere.ijm")


def test_versions(imagej):
    v = imagej.versions()
    assert v["engine"] == "imagej" and v["imagej"].startswith("1.53")
    assert set(v["plugins"]) == {"DeconvolutionLab2", "PSF Generator"}


def test_shipped_nuclei_macro_on_real_nuclei(imagej):
    """The lab macro on the DSB 2018 image: most of its 125 nuclei, one row per ROI."""
    from fijibridge.data import load_sample

    r = imagej.run_macro(Path(__file__).parents[2] / "macros" / "nuclei_count.ijm",
                         images={"nuclei": load_sample("dsb2018_nuclei")})
    n = len(r.results)
    assert 80 <= n <= 140, n  # 125 annotated, edge-touching ones excluded by the macro
    assert len(r.rois) == n
    assert f"nuclei: {n}" in r.log
    assert {"Area", "Mean", "Circ.", "Feret", "IntDen"} <= set(r.results.columns)
    assert set(r.images) == {"nuclei", "nuclei_mask"}


def test_shipped_skeleton_macro_on_a_known_shape(imagej):
    """A 'Y' of 3 arms: one piece, 3 end points, total length close to the drawn length."""
    from skimage.draw import line

    img = np.zeros((80, 80), np.uint8)
    for r0, c0 in ((10, 40), (70, 10), (70, 70)):
        rr, cc = line(40, 40, r0, c0)
        img[rr, cc] = 255
    from scipy.ndimage import binary_dilation

    img = (binary_dilation(img > 0, iterations=2) * 255).astype(np.uint8)
    r = imagej.run_macro(Path(__file__).parents[2] / "macros" / "skeleton_measure.ijm",
                         images={"y": img}, args={"sigma": 0})
    assert len(r.results) == 1
    assert r.results.loc[0, "Endpoints"] == 3
    assert r.results.loc[0, "Junction pixels"] >= 1
    drawn = 30 + 2 * np.hypot(30, 30)
    assert r.results.loc[0, "Length"] == pytest.approx(drawn, rel=0.25)
