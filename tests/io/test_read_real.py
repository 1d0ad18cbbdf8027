"""read_image on real acquisitions from registry packages, checked against Bio-Formats.

For each file: axes sizes, physical sizes (µm) and channel names equal what
Bio-Formats' ImageInfo reports for the same file (tolerance 1e-9 relative: both read
the same stored numbers, only the unit conversion differs), and the facts stated in
issue 16 (T/C/Z counts and voxel sizes).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from fijibridge import read_image

# name → (library, format, expected sizes, expected (z, xy) µm or None, named channels)
REAL = [
    pytest.param("toxo.dv", "mrc", "dv", {"C": 2, "Z": 17, "Y": 128, "X": 128},
                 (0.3, 0.1326), False, id="deltavision"),
    pytest.param("cluster.nd2", "nd2", "nd2", {"T": 3, "C": 2, "Z": 10},
                 (0.5, 0.1678), True, id="nd2"),
    pytest.param("LLS7_t2_ch3.czi", "czifile", "czi", {"T": 2, "C": 3, "Z": 81},
                 (0.3, 0.145), True, id="czi"),
    pytest.param("test.oib", "oiffile", "oib", {"C": 3, "Y": 256, "X": 256},
                 (None, 0.177), True, id="oib"),
    pytest.param("RBC_lattice.tif", None, "imagej-tiff", {"Z": 150, "Y": 118, "X": 209},
                 (0.3, 0.145), False, id="imagej-micron"),
    pytest.param("brain_crop3.ims", "h5py", "ims", {"C": 2, "Z": 51},
                 None, False, id="imaris", marks=pytest.mark.slow),
]


def _sizes(image):
    s = image.sizes()
    return {k: s.get(k, 1) for k in "TCZYX"}


@pytest.mark.parametrize("name, library, fmt, facts, voxel, named", REAL)
def test_real_file_matches_bioformats(name, library, fmt, facts, voxel, named, sample, oracle,
                                      require):
    if library:
        require(library)
    path = sample(name)
    image = read_image(path)
    bf = oracle(path)
    assert image.format == fmt
    assert _sizes(image) == bf["sizes"]
    assert str(image.dtype) == {"uint16": "uint16", "uint8": "uint8", "float": "float32"}[
        bf["type"]]
    # Bio-Formats lists an Imaris file's reduced resolutions as extra "thumbnail series"
    # (even with -noflat); they are pyramid levels of the one image, not scenes
    assert image.scenes == (1 if fmt == "ims" else bf["series"])
    for key, value in facts.items():
        assert image.sizes()[key] == value
    # physical sizes: the same numbers as Bio-Formats (Z only where there is a Z stack)
    for axis in "xyz":
        ours = image.spacing_um[axis]
        theirs = bf["spacing_um"][axis]
        if axis == "z" and bf["sizes"]["Z"] == 1:
            assert ours is None  # a single plane has no Z step
            continue
        assert theirs is not None and ours is not None, (axis, ours, theirs)
        assert math.isclose(ours, theirs, rel_tol=1e-9), (axis, ours, theirs)
    assert image.calibrated
    if voxel is not None:
        z, xy = voxel
        assert image.spacing_um["x"] == pytest.approx(xy, abs=5e-4)
        if z is not None:
            assert image.spacing_um["z"] == pytest.approx(z, abs=5e-4)
    # channel names: Bio-Formats' names where it has them all, none otherwise; Imaris
    # writes the placeholder "(name not specified)", which Bio-Formats passes on as a name
    theirs = [None if n == "(name not specified)" else n for n in bf["channels"]]
    if all(theirs):
        assert list(image.channels) == bf["channels"]
    else:
        assert image.channels == ()
    assert bool(image.channels) == named


def test_imagej_unit_pixel_is_uncalibrated(sample, oracle):
    """multich_multi_time.tif says unit "pixel": not a calibration (bioio calls it µm)."""
    path = sample("multich_multi_time.tif")
    image = read_image(path)
    bf = oracle(path)
    assert image.format == "imagej-tiff"
    assert _sizes(image) == bf["sizes"] == {"T": 2, "C": 3, "Z": 501, "Y": 11, "X": 13}
    assert image.calibrated is False
    assert image.spacing_um == {"z": None, "y": None, "x": None}
    # Bio-Formats agrees that X/Y are in pixels (its unit), so it has no µm for them;
    # it does report the Z step 0.3 in µm, which we deliberately do not: ImageJ's
    # calibration unit ("pixel") applies to all three axes.
    assert bf["spacing_um"]["x"] is None and bf["spacing_um"]["y"] is None
    assert image.spacing == (1.0, 1.0, 1.0)


@pytest.mark.parametrize("name, library", [("cluster.nd2", "nd2"), ("toxo.dv", "mrc"),
                                           ("LLS7_t2_ch3.czi", "czifile")])
def test_channel_by_name_and_index(name, library, sample, require):
    require(library)
    path = sample(name)
    full = read_image(path)
    c = full.axes.index("C")
    for i in range(full.sizes()["C"]):
        one = read_image(path, channel=i)
        assert "C" not in one.axes
        np.testing.assert_array_equal(one.data, np.take(full.data, i, axis=c))
        if full.channels:
            by_name = read_image(path, channel=full.channels[i])
            assert by_name.channels == (full.channels[i],)
            np.testing.assert_array_equal(by_name.data, one.data)
    with pytest.raises(ValueError, match="present: "):
        read_image(path, channel="NoSuchDye")
    with pytest.raises(ValueError, match="channel index must be in 0..") as e:
        read_image(path, channel=full.sizes()["C"])
    assert "\n" not in str(e.value)


def test_nd2_pixels_equal_bioformats_pixels_through_the_bridge(sample, require, tmp_path):
    """reader="bioformats" (Java, in a fresh process) gives the same Image as the Python
    readers: same axes, pixels, µm sizes and channel names."""
    import json
    import os
    import subprocess
    import sys

    require("nd2")
    require("mrc")
    jar = sample("bioformats_package.jar")
    files = [str(sample("cluster.nd2")), str(sample("toxo.dv"))]
    code = (
        "import json, sys, numpy as np\n"
        "from fijibridge import read_image\n"
        "out = []\n"
        "for f in sys.argv[1:]:\n"
        "    b = read_image(f, reader='bioformats'); a = read_image(f)\n"
        "    out.append([np.array_equal(b.to_ndarray('TCZYX'), a.to_ndarray('TCZYX')),\n"
        "                b.spacing_um == a.spacing_um, b.channels == a.channels])\n"
        "print(json.dumps(out))\n")
    env = dict(os.environ, FIJIBRIDGE_BIOFORMATS_JAR=str(jar))
    out = subprocess.run([sys.executable, "-c", code, *files], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [[True, True, True]] * 2


def test_bioformats_reader_in_a_jvm_without_the_jar_says_so(sample, tmp_path):
    """A JVM already started without Bio-Formats cannot take the jar: a clear error."""
    import os
    import subprocess
    import sys

    path = sample("toxo.dv")
    code = (
        "from fijibridge.bridge._java import start_jvm\n"
        "start_jvm(classpath=[], options=['-Djava.awt.headless=true'])\n"
        "from fijibridge import read_image\n"
        "from fijibridge._core.errors import EngineError\n"
        "try:\n"
        "    read_image(r'%s', reader='bioformats')\n"
        "except EngineError as e:\n"
        "    print('ENGINE', e)\n" % path)
    env = dict(os.environ)
    env.pop("FIJIBRIDGE_BIOFORMATS_JAR", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env=env)
    assert "ENGINE the JVM already runs in this process without Bio-Formats" in out.stdout, \
        out.stderr[-2000:]


def test_bioformats_jar_missing_names_where_it_looked(tmp_path, monkeypatch):
    from fijibridge._core.errors import PluginMissingError
    from fijibridge.bridge.bioformats import find_bioformats_jars

    monkeypatch.setenv("FIJIBRIDGE_BIOFORMATS_JAR", str(tmp_path / "nope.jar"))
    monkeypatch.delenv("FIJI_HOME", raising=False)
    monkeypatch.delenv("IMAGEJ_PLUGINS", raising=False)
    with pytest.raises(PluginMissingError, match="FIJIBRIDGE_BIOFORMATS_JAR="):
        find_bioformats_jars()
