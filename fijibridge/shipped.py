"""What fijibridge ships besides code: models, macros, pipelines and Fiji scripts.

The source tree keeps them in the top-level folders ``models/``, ``macros/``,
``pipelines/`` and ``fiji/``.  The wheel carries the same files as package resources
under ``fijibridge/_shipped/<kind>/`` (copied there at build time by ``setup.py``), so
an installed fijibridge finds them from any working folder.  :func:`shipped_dir` looks
in this order:

1. the folder named by an environment variable (``FIJIBRIDGE_MODELS`` for models only);
2. the package resources ``fijibridge/_shipped/<kind>`` (an installed wheel);
3. ``<source tree>/<kind>`` (a checkout, or ``pip install -e .``).

Shipped pipelines and models are addressed by name (``mito_classification``,
``nuclei2d``); :func:`find_pipeline` and :func:`find_model` also accept a path, and a
name that is neither a file nor a shipped name raises a
:class:`~fijibridge.FijiBridgeError` subclass that lists the shipped names (with
"did you mean").

>>> from fijibridge.shipped import shipped_names
>>> "nuclei_count" in shipped_names("pipelines")
True
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from ._core.errors import FijiBridgeError
from ._core.options import check_choice, did_you_mean

__all__ = ["KINDS", "ShippedNotFoundError", "shipped_dir", "shipped_names", "find_pipeline",
           "find_model", "find_macro", "pipeline_description"]

#: the kinds of shipped files, each a top-level folder of the source tree
KINDS = ("models", "macros", "pipelines", "fiji")
_ENV = {"models": "FIJIBRIDGE_MODELS"}
_SUFFIX = {"pipelines": ".yml", "macros": ".ijm"}


class ShippedNotFoundError(FijiBridgeError, FileNotFoundError):
    """A name is neither an existing file nor one of the shipped names."""


def shipped_dir(kind: str) -> Path:
    """Folder of the shipped ``kind`` (``"models"``, ``"macros"``, ``"pipelines"``, ``"fiji"``).

    Raises ShippedNotFoundError when neither the installed resources nor a source tree
    hold it (a broken installation).
    """
    kind = check_choice("kind", kind, KINDS, case_sensitive=True)
    env = _ENV.get(kind)
    if env and os.environ.get(env):
        return Path(os.environ[env])
    installed = resources.files("fijibridge") / "_shipped" / kind
    if installed.is_dir():
        # wheels are always unpacked by pip, so the resource is a real folder
        return Path(str(installed))
    tree = Path(__file__).resolve().parents[1] / kind
    if tree.is_dir():
        return tree
    raise ShippedNotFoundError(
        f"the shipped {kind} are missing: neither {installed} (installed wheel) nor {tree} "
        "(source tree) exists; reinstall fijibridge")


def shipped_names(kind: str) -> list[str]:
    """Sorted names of the shipped pipelines (``.yml`` stem), macros (``.ijm`` stem) or models.

    A model is a folder with a ``model.pt``; ``fiji`` has no names (see :func:`shipped_dir`).
    """
    folder = shipped_dir(kind)
    if kind == "models":
        return sorted(p.name for p in folder.iterdir() if (p / "model.pt").is_file())
    suffix = _SUFFIX.get(kind)
    if suffix is None:
        raise ValueError(f"kind must be one of models, macros, pipelines for names; got {kind!r}")
    return sorted(p.stem for p in folder.glob(f"*{suffix}"))


def _find(kind: str, what, *, file_name: str) -> Path:
    text = str(what)
    path = Path(text).expanduser()
    if path.is_file():
        return path
    names = shipped_names(kind)
    stem = text[: -len(_SUFFIX[kind])] if text.endswith(_SUFFIX.get(kind, "\0")) else text
    if stem in names:
        return shipped_dir(kind) / file_name.format(stem)
    singular = kind[:-1]
    looks_like_path = os.sep in text or "/" in text
    hint = "" if looks_like_path else did_you_mean(stem, names)
    raise ShippedNotFoundError(
        f"no {singular} {text!r}: not a file, and not one of the shipped {kind} "
        f"({', '.join(names) or 'none'}).{hint}")


def find_pipeline(pipeline) -> Path:
    """A pipeline file from a path or a shipped name (``mito_classification``)."""
    return _find("pipelines", pipeline, file_name="{}.yml")


def find_macro(macro) -> Path:
    """A macro file from a path or a shipped name (``nuclei_count`` or ``nuclei_count.ijm``)."""
    return _find("macros", macro, file_name="{}.ijm")


def find_model(model) -> Path:
    """A model's ``model.pt`` from a file, a model folder or a shipped name (``nuclei2d``)."""
    path = Path(str(model)).expanduser()
    if path.is_dir() and (path / "model.pt").is_file():
        return path / "model.pt"
    return _find("models", model, file_name="{}/model.pt")


def pipeline_description(path) -> str:
    """The first line of a pipeline file's ``description`` (or its ``name``), for listings."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        return f"(unreadable: {type(e).__name__})"
    if not isinstance(data, dict):
        return ""
    text = str(data.get("description") or data.get("name") or "").strip()
    return text.splitlines()[0] if text else ""
