"""Saving, loading and hashing step values; manifests and the checks of ``--resume``.

Values handed between steps are kept in the form they are saved in, so a resumed run
equals a clean one: images as :class:`~fijibridge._core.image.Image` (pixels, axes,
spacing in µm, channel names), tables as DataFrames, dicts (JSON), str,
:class:`~fijibridge._core.steps.Png` and ImageJ ROI sets (``RoiZip``, ``.zip``).
Images are written as calibrated ImageJ TIFFs (``.tif``), or as OME-TIFF (``.ome.tif``)
when they carry channel names, which ImageJ TIFFs cannot hold.

Every file goes through :func:`fijibridge._core.paths.confined_path` (no name can put
a file outside the output folder) and is written atomically; a step's manifest
(``<item>.done.json``) is written last and records the size and SHA-256 of each file.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from .._core.atomic import atomic_write_bytes, atomic_write_text, file_sha256
from .._core.image import AXES, Image, check_axes
from .._core.paths import UnsafePathError, confined_path
from .._core.steps import Png, RoiZip
from .._core.tiff import TiffImage

__all__ = ["normalize", "as_image", "calibration", "item_calibration", "with_spacing",
           "check_spacing", "spacing_um", "to_tiff_image", "hash_value", "ext", "save", "load", "arg", "file_hash",
           "out_path", "manifest_path", "file_record", "resume_hit", "json_default"]

log = logging.getLogger(__name__)

_IMAGE_EXT = (".tif", ".tiff")


# ----------------------------------------------------------------------------- values


def _spatial_axes(ndim: int) -> str:
    return {2: "YX", 3: "ZYX"}.get(ndim, "")


def calibration(image: Image) -> dict:
    """What later outputs of an item inherit from its image (JSON-able, no pixels):
    axes, shape, spacing (µm), channel names, which spacings the file states."""
    return {"axes": image.axes, "shape": list(image.shape), "spacing": list(image.spacing),
            "channels": list(image.channels), "calibrated": bool(image.calibrated),
            "spacing_known": list(image.spacing_known)}


def check_spacing(value, *, name: str = "spacing") -> tuple[float, ...]:
    """A spacing override as a tuple of 2 (y, x) or 3 (z, y, x) positive µm values."""
    if isinstance(value, str):
        value = [v for v in value.replace(",", " ").split()]
    try:
        sp = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        sp = ()
    if len(sp) not in (2, 3) or not all(np.isfinite(v) and v > 0 for v in sp):
        raise ValueError(f"{name} must be 3 (z, y, x) or 2 (y, x) positive numbers in µm, "
                         f"e.g. 0.3,0.1,0.1; got {value!r}")
    return sp


def with_spacing(image: Image, spacing) -> Image:
    """``image`` with the spacing override ``spacing`` (µm), marked calibrated.

    A 3-value override applies to a 2-D image as its (y, x); a 2-value override to a
    Z stack is refused (its Z step would stay unknown)."""
    import dataclasses

    sp = check_spacing(spacing)
    nsp = image.spatial_ndim
    if len(sp) == 3 and nsp == 2:
        sp = sp[1:]
    elif len(sp) != nsp:
        raise ValueError(f"spacing override {list(sp)} gives (y, x) but "
                         f"{image.source or 'the image'} is a Z stack; give 3 values (z, y, x)")
    return dataclasses.replace(image, spacing=sp, calibrated=True, spacing_known=(True,) * nsp)


def spacing_um(calib: dict | None) -> dict | None:
    """``{"z", "y", "x"}`` → µm (None where unknown) of a :func:`calibration` dict."""
    if not calib:
        return None
    sp, known = calib["spacing"], calib.get("spacing_known") or [calib["calibrated"]] * len(
        calib["spacing"])
    out = {"z": None, "y": None, "x": None}
    for name, value, k in zip("zyx" if len(sp) == 3 else "yx", sp, known):
        out[name] = value if k else None
    return out


def item_calibration(image: Image, override=None) -> tuple[Image, dict]:
    """The item's image (with the spacing ``override`` applied, if any) and its
    :func:`calibration`, plus ``spacing_source`` (``"file"``, ``"override"`` or
    ``"none"``) and, under an override, what the file itself states (``file_spacing_um``)."""
    if override is None:
        calib = calibration(image)
        calib["spacing_source"] = "file" if image.calibrated else "none"
        return image, calib
    stated = spacing_um(calibration(image))
    image = with_spacing(image, override)
    calib = calibration(image)
    calib["spacing_source"] = "override"
    calib["file_spacing_um"] = stated
    return image, calib


def as_image(data, calib: dict | None = None, spacing=None) -> Image:
    """``data`` (an array a step returned) as an :class:`Image` with the calibration
    ``calib`` of the item's image (:func:`calibration`): its axes and channel names when
    the number of dimensions agrees, its spatial spacing otherwise; else ``spacing``;
    else uncalibrated."""
    data = imagej_dtype(data)
    if calib is not None and data.ndim == len(calib["axes"]):
        axes = calib["axes"]
        same_c = "C" not in axes or data.shape[axes.index("C")] == calib["shape"][axes.index("C")]
        return Image(data, axes, tuple(calib["spacing"]),
                     channels=tuple(calib["channels"]) if same_c else (),
                     calibrated=calib["calibrated"], spacing_known=tuple(calib["spacing_known"]))
    axes = _spatial_axes(data.ndim)
    if not axes:
        raise ValueError(f"a step returned a {data.ndim}-D array without axes; return 2-D "
                         "(YX) or 3-D (ZYX) arrays, or a fijibridge Image")
    nsp = len(axes)
    if calib is not None and calib["calibrated"] and len(calib["spacing"]) >= nsp:
        return Image(data, axes, tuple(calib["spacing"])[-nsp:])
    if spacing is not None and len(spacing) >= nsp:
        return Image(data, axes, tuple(spacing)[-nsp:])
    return Image(data, axes)


def normalize(value, calib: dict | None = None, spacing=None):
    """The form a value is saved in (and handed on in), so resumed == clean runs."""
    import pandas as pd

    if isinstance(value, Image):
        return value.with_data(imagej_dtype(value.to_ndarray()))
    if isinstance(value, TiffImage):  # e.g. from a macro: ImageJ's axis order (TZCYX)
        data, axes = value.data, value.axes or _spatial_axes(value.data.ndim)
        if len(axes) == data.ndim and set(axes) <= set(AXES) and len(set(axes)) == data.ndim:
            order = sorted(range(data.ndim), key=lambda i: AXES.index(axes[i]))
            data, axes = data.transpose(order), "".join(axes[i] for i in order)
        return Image(imagej_dtype(data), check_axes(axes, data.ndim), tuple(value.spacing),
                     calibrated=value.calibrated)
    if isinstance(value, np.ndarray):
        return as_image(value, calib, spacing)
    if isinstance(value, (Png, RoiZip, pd.DataFrame)):
        return value
    if isinstance(value, dict):
        return json.loads(json.dumps(value, default=json_default))
    if isinstance(value, str):
        return value
    raise TypeError(f"a step returned {type(value).__name__}; steps return arrays, Image, "
                    "DataFrames, dicts, str or Png")


def imagej_dtype(a):
    a = np.asarray(a)
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if a.dtype in (np.uint8, np.uint16, np.float32):
        return np.ascontiguousarray(a)
    if np.issubdtype(a.dtype, np.integer) and a.min() >= 0 and a.max() < 65536:
        return a.astype(np.uint16)
    return a.astype(np.float32)


def json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


def hash_value(value) -> str:
    import pandas as pd

    h = hashlib.sha256()
    if isinstance(value, Image):
        data = np.ascontiguousarray(value.data)
        h.update(f"{data.dtype}{data.shape}{tuple(value.spacing)}".encode())
        if value.channels:
            h.update(repr(value.channels).encode())
        h.update(data.tobytes())
    elif isinstance(value, pd.DataFrame):
        h.update(value.to_csv(index=False).encode())
    elif isinstance(value, (bytes, str)):
        h.update(value if isinstance(value, bytes) else value.encode())
    else:
        h.update(json.dumps(value, sort_keys=True, default=json_default).encode())
    return h.hexdigest()


def ext(value) -> str:
    import pandas as pd

    if isinstance(value, Image):
        return ".ome.tif" if value.channels else ".tif"
    if isinstance(value, pd.DataFrame):
        return ".csv"
    if isinstance(value, Png):
        return ".png"
    if isinstance(value, RoiZip):
        return ".zip"
    if isinstance(value, str):
        return ".txt"
    return ".json"


def save(value, path: Path) -> list[str]:
    """Write ``value`` to ``path`` (atomically); the names of the files written.

    Not fsynced (``durable=False``), like the TIFFs: every output is recorded with its
    size and SHA-256 in its manifest and checked before ``--resume`` re-uses it, so a file
    a power cut left empty is recomputed; an fsync per file cost ~20 % of a batch of
    small items (more with several workers writing at once).
    """
    import pandas as pd

    from ..io import write_image

    files = [path.name]
    if isinstance(value, Image):
        write_image(path, value)
    elif isinstance(value, pd.DataFrame):
        atomic_write_text(path, value.to_csv(index=False), durable=False)
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            pass
        else:
            from .._core.atomic import atomic_path

            with atomic_path(path.with_suffix(".parquet")) as tmp:
                value.to_parquet(tmp, index=False)
            files.append(path.with_suffix(".parquet").name)
    elif isinstance(value, (Png, RoiZip)):
        atomic_write_bytes(path, bytes(value), durable=False)
    elif isinstance(value, str):
        atomic_write_text(path, value, durable=False)
    else:
        atomic_write_text(path, json.dumps(value, indent=1, sort_keys=True), durable=False)
    return files


def load(path: Path):
    """Read back what :func:`save` wrote."""
    import pandas as pd

    if path.suffix in _IMAGE_EXT:
        from ..io import read_image

        img = read_image(path, lazy=False)
        return img.with_data(np.asarray(img.data))
    if path.suffix == ".csv":
        # floats must read back exactly (resumed runs == clean runs): pandas >= 3 does so
        # by default and deprecates the option
        if int(pd.__version__.split(".")[0]) >= 3:
            return pd.read_csv(path)
        return pd.read_csv(path, float_precision="round_trip")
    if path.suffix == ".png":
        return Png(path.read_bytes())
    if path.suffix == ".zip":
        return RoiZip(path.read_bytes())
    if path.suffix == ".txt":
        return path.read_text(encoding="utf-8")
    return json.loads(path.read_text(encoding="utf-8"))


def arg(value):
    """What a step function receives: numpy arrays for images."""
    if isinstance(value, Image):
        return value.to_ndarray()
    return value


def to_tiff_image(image: Image) -> TiffImage:
    """An :class:`Image` in ImageJ's axis order (TZCYX), as the Java bridge takes it."""
    target = "".join(a for a in "TZCYX" if a in image.axes)
    return TiffImage(image.to_ndarray(axes=target), target, tuple(image.spacing),
                     "micron" if image.calibrated else "pixel", bool(image.calibrated))


def file_hash(path: Path) -> str:
    """SHA-256 of a file (inputs, outputs and macros are recorded by it)."""
    return file_sha256(path)


# ----------------------------------------------------------------------------- manifests


def out_path(out_dir: Path, step_id: str, filename: str, *, what: str) -> Path:
    """Where a file of a step goes: always inside ``out_dir`` (the one resolver)."""
    return confined_path(out_dir, step_id, filename, what=what)


def manifest_path(out_dir: Path, step_id: str, key: str) -> Path:
    return out_path(out_dir, step_id, f"{key}.done.json",
                     what=f"manifest of step {step_id!r} for item")


def file_record(out_dir: Path, step_id: str, files: dict) -> dict:
    """``{file name: {"size", "sha256"}}`` of the files just written (for --resume)."""
    rec = {}
    for names in files.values():
        for f in names:
            path = out_dir / step_id / f
            rec[f] = {"size": path.stat().st_size, "sha256": file_hash(path)}
    return rec


def resume_hit(out_dir: Path, step_id: str, key: str, digest: str):
    """The manifest when step ``step_id`` of item ``key`` can be skipped, else None.

    Skipped only when the manifest holds the same hash and every output file is there
    with the size and SHA-256 recorded when it was written; anything else (a
    truncated or edited file, a manifest from an older version without file
    checksums) is logged and the step recomputed.
    """
    mpath = manifest_path(out_dir, step_id, key)
    if not mpath.is_file():
        return None
    try:
        m = json.loads(mpath.read_text(encoding="utf-8"))
        files = [f for names in m["files"].values() for f in names]
        checks = m.get("file_checks")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        log.warning("resume: %s is unreadable; recomputing %s for %s", mpath, step_id, key)
        return None
    if m.get("hash") != digest:
        return None
    if not isinstance(checks, dict):
        log.warning("resume: %s records no output checksums; recomputing %s for %s", mpath,
                    step_id, key)
        return None
    for f in files:
        try:
            path = out_path(out_dir, step_id, f, what="output file in manifest")
            ok = (path.is_file() and f in checks
                  and path.stat().st_size == checks[f]["size"]
                  and file_hash(path) == checks[f]["sha256"])
        except (UnsafePathError, OSError, KeyError, TypeError) as e:
            log.warning("resume: %s: %s; recomputing %s for %s", mpath, e, step_id, key)
            return None
        if not ok:
            log.warning("resume: %s is missing or differs from the size/SHA-256 recorded "
                        "when it was written; recomputing %s for %s", out_dir / step_id / f,
                        step_id, key)
            return None
    return m


