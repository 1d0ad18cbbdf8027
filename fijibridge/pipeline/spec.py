"""Pipeline files: YAML parsed into pydantic models, with errors that name the line.

A pipeline file (``version: 1``) declares where its items come from, experiment
``config`` values (referenced as ``${key}`` in step parameters and overridden with
``--set key=value`` or a named ``profiles`` entry) and a list of ``steps``.  Each step
has an ``id`` and exactly one way to run:

* ``macro: macros/x.ijm`` with ``params`` for the macro's ``#@`` declarations,
* ``python: package.module:function`` with ``params`` for its keyword arguments,
* a built-in step (``threshold: {method: Li}``; see :mod:`fijibridge.pipeline.registry`: each
  algorithm package registers its steps in its own ``steps.py``).

Inputs name another step's output (``deconvolve.image``) or an item input
(``input.image``); steps run once per item (``per: image``, the default for most
built-ins) or once over all items (``per: dataset``: PSF, classification).

Two levels of checking, as napari's npe2 manifests: :func:`load_pipeline` checks the
structure, built-in parameter names and types, references, cycles and that macro
files exist, without importing user code or starting Java; :func:`resolve_pipeline`
also reads the macros' ``#@`` parameters and imports the Python functions to check
their signatures.

Example
-------
>>> spec = load_pipeline("pipelines/mito_classification.yml")   # doctest: +SKIP
>>> [s.id for s in spec.steps]                                  # doctest: +SKIP
"""

from __future__ import annotations

import logging

import yaml
from pydantic import ValidationError

from .._core import yamlsafe
from .._core.errors import PipelineSpecError
from .._core.options import did_you_mean
from ._config import construct, line_of, parse_overrides, set_dotted, substitute
from .checks import check_semantics, import_function, resolve_pipeline
from .models import SPEC_VERSION, ItemsSpec, PipelineSpec, StepSpec

__all__ = ["PipelineSpec", "StepSpec", "ItemsSpec", "load_pipeline", "resolve_pipeline",
           "parse_overrides", "import_function", "SPEC_VERSION"]

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- loading


def _fmt_loc(loc) -> str:
    return ".".join(str(p) for p in loc)


def _allowed_fields(model, loc: tuple) -> list[str]:
    """Field names allowed at ``loc`` (a pydantic error location) of a PipelineSpec."""
    cls = PipelineSpec
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(part)
        if field is None:
            return []
        sub = {"steps": StepSpec, "items": ItemsSpec}.get(part)
        if sub is None:
            return []
        cls = sub
    names = [n for n in cls.model_fields if n not in ("builtin", "line", "path")]
    if cls is StepSpec:
        from .registry import steps
        names += sorted(steps())
    return names


def load_pipeline(path, *, overrides: dict | None = None, profile: str | None = None,
                  check_files: bool = True) -> PipelineSpec:
    """Parse and check a pipeline file (no user code imported, no Java started).

    Parameters
    ----------
    path : str or Path
        The YAML file.
    overrides : dict, optional
        ``{"cohort.n": 3}``: config values to replace (from ``--set``).
    profile : str, optional
        Name of an entry of the file's ``profiles`` (applied before ``overrides``).
    check_files : bool
        Check that macro files exist.

    Raises
    ------
    PipelineSpecError
        With ``FILE:LINE:`` and how to fix it: unknown field or step (did you mean…),
        bad parameter type, unknown reference, missing macro, cycle between steps.
    """
    from ..shipped import find_pipeline
    from .registry import steps

    builtins = steps()

    path = find_pipeline(path)  # a file, or a shipped name (mito_classification)
    try:  # plain YAML only, size and alias expansion bounded (no code from data)
        root = yamlsafe.compose(yamlsafe.read_text(path, what="pipeline file"),
                                source=str(path))
    except yamlsafe.YAMLInputError as e:
        raise PipelineSpecError(str(e)) from None
    if root is None or not isinstance(root, yaml.MappingNode):
        raise PipelineSpecError(f"{path}:1: a pipeline file is a mapping with 'version', "
                                "'name' and 'steps'")
    lines: dict = {}
    data = construct(root, lines, ())

    def where(p):
        ln = line_of(lines, tuple(p))
        return f"{path}:{ln}" if ln else str(path)

    # built-in step keys -> builtin + params (keeps field checking for everything else)
    steps_raw = data.get("steps")
    if isinstance(steps_raw, list):
        for i, s in enumerate(steps_raw):
            if not isinstance(s, dict):
                raise PipelineSpecError(f"{where(('steps', i))}: a step is a mapping with 'id' "
                                        "and one of 'macro', 'python' or a built-in step")
            for reserved in ("builtin", "line"):
                if reserved in s:
                    raise PipelineSpecError(f"{where(('steps', i, reserved))}: unknown field "
                                            f"{reserved!r}")
            found = [k for k in s if k in builtins]
            if len(found) > 1:
                raise PipelineSpecError(f"{where(('steps', i))}: step has several built-in "
                                        f"steps {found}; use one step per built-in")
            if found:
                key = found[0]
                value = s.pop(key)
                if value is not None and not isinstance(value, dict):
                    raise PipelineSpecError(f"{where(('steps', i, key))}: the parameters of "
                                            f"built-in step {key!r} are a mapping; got {value!r}")
                if s.get("params"):
                    raise PipelineSpecError(f"{where(('steps', i, 'params'))}: built-in steps "
                                            f"take their parameters under {key!r}, not 'params'")
                s["builtin"] = key
                s["params"] = value or {}
                # remember the lines of the parameters under the step's params path
                for k in list(lines):
                    if k[:3] == ("steps", i, key):
                        lines[("steps", i, "params") + k[3:]] = lines[k]
            s["line"] = line_of(lines, ("steps", i)) or 0

    # config: profile and overrides, then ${...}
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise PipelineSpecError(f"{where(('config',))}: config is a mapping of values")
    if profile:
        profiles = data.get("profiles") or {}
        if profile not in profiles:
            raise PipelineSpecError(f"{path}: no profile {profile!r}; the file declares "
                                    f"{sorted(profiles)}.{did_you_mean(profile, list(profiles))}")
        for k, v in profiles[profile].items():
            set_dotted(config, k, v, where(("profiles", profile, k)))
    for k, v in (overrides or {}).items():
        set_dotted(config, k, v, "--set")
    data["config"] = config
    data["steps"] = substitute(data.get("steps"), config, where, ("steps",))
    if isinstance(data.get("items"), dict):  # e.g. items: {spacing: "${spacing}"}
        data["items"] = substitute(data["items"], config, where, ("items",))
    data["path"] = str(path)

    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as e:
        raise _spec_error(e, where, path) from None

    check_semantics(spec, where, check_files=check_files)
    return spec


def _spec_error(e: ValidationError, where, path) -> PipelineSpecError:
    msgs = []
    for err in e.errors():
        loc = tuple(err["loc"])
        # pydantic puts model-level errors on the model; field errors carry the name
        if err["type"] == "extra_forbidden":
            allowed = _allowed_fields(PipelineSpec, loc)
            name = str(loc[-1])
            kind = "field or built-in step" if "steps" in loc[:1] and len(loc) == 3 else "field"
            msgs.append(f"{where(loc)}: unknown {kind} {name!r} in {_fmt_loc(loc[:-1]) or 'the file'}"
                        f"; allowed: {', '.join(allowed)}.{did_you_mean(name, allowed)}")
        elif err["type"] == "missing":
            msgs.append(f"{where(loc[:-1])}: missing field {str(loc[-1])!r} in "
                        f"{_fmt_loc(loc[:-1]) or 'the file'}")
        else:
            msgs.append(f"{where(loc)}: {_fmt_loc(loc)}: {err['msg']} (got {err.get('input')!r})")
    return PipelineSpecError("\n".join(msgs) if len(msgs) > 1 else msgs[0])
