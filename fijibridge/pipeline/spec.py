"""Pipeline files: YAML parsed into pydantic models, with errors that name the line.

A pipeline file (``version: 1``) declares where its items come from, experiment
``config`` values (referenced as ``${key}`` in step parameters and overridden with
``--set key=value`` or a named ``profiles`` entry) and a list of ``steps``.  Each step
has an ``id`` and exactly one way to run:

* ``macro: macros/x.ijm`` with ``params`` for the macro's ``#@`` declarations,
* ``python: package.module:function`` with ``params`` for its keyword arguments,
* a built-in step (``threshold: {method: Li}``; see :mod:`fijibridge.pipeline.steps`).

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

import copy
import hashlib
import inspect
import json
import logging
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .._core import yamlsafe
from .._core.errors import PipelineSpecError
from .._core.options import did_you_mean
from .._core.paths import UnsafePathError, check_name

__all__ = ["PipelineSpec", "StepSpec", "ItemsSpec", "load_pipeline", "resolve_pipeline",
           "parse_overrides", "SPEC_VERSION"]

log = logging.getLogger(__name__)

SPEC_VERSION = 1
_REF = re.compile(r"^([A-Za-z_][\w-]*)\.([A-Za-z_]\w*)$")
_VAR = re.compile(r"\$\{([A-Za-z_][\w.]*)\}")


# ----------------------------------------------------------------------------- models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ItemsSpec(_Strict):
    """Where the items (images, samples) of a run come from.

    ``source``: id of a step that makes the items (e.g. ``synth``), replaced by files
    when ``--input`` is given. ``files``: a file, folder or glob (relative to the
    pipeline file) of TIFF stacks. ``pattern``: how to read metadata from a file's
    path relative to the input folder, e.g. ``"{condition}/{individual}/{name}.tif"``.
    """

    source: str | None = None
    files: str | None = None
    pattern: str | None = None


class StepSpec(_Strict):
    """One step of a pipeline."""

    id: str = Field(pattern=r"^[A-Za-z_][\w-]*$")
    macro: str | None = None
    python: str | None = None
    builtin: str | None = None  # filled from the built-in key; not written in files
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, str] = Field(default_factory=dict)
    outputs: list[str] | dict[str, str] | None = None
    per: Literal["image", "dataset"] | None = None
    optional: bool = False  # macro steps: skipped (logged) when no ImageJ engine exists
    timeout: float = 600.0
    description: str | None = None
    line: int = 0  # line of the step in the file (filled by the loader)

    @model_validator(mode="after")
    def _one_way(self):
        ways = [w for w in ("macro", "python", "builtin") if getattr(self, w)]
        if len(ways) != 1:
            raise ValueError("a step needs exactly one of 'macro', 'python' or a built-in "
                             f"step; got {ways or 'none'}")
        return self

    @property
    def kind(self) -> str:
        return "macro" if self.macro else "python" if self.python else self.builtin

    def output_names(self) -> list[str]:
        if isinstance(self.outputs, dict):
            return list(self.outputs)
        return list(self.outputs or [])


class PipelineSpec(_Strict):
    """A parsed pipeline file."""

    version: Literal[1]
    name: str
    description: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = Field(default_factory=dict)
    items: ItemsSpec = Field(default_factory=ItemsSpec)
    steps: list[StepSpec]
    path: str | None = None  # the file (filled by the loader)

    def step(self, step_id: str) -> StepSpec:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def base_dir(self) -> Path:
        return Path(self.path).resolve().parent if self.path else Path.cwd()

    def macro_path(self, step: StepSpec) -> Path:
        """A macro file: relative to the pipeline file, else to its parent (repo root)."""
        p = Path(step.macro)
        if p.is_absolute():
            return p
        for base in (self.base_dir(), self.base_dir().parent):
            if (base / p).is_file():
                return base / p
        return self.base_dir() / p

    def order(self) -> list[StepSpec]:
        """Steps in dependency order (stable: file order among independent steps)."""
        deps = self.dependencies()
        done: list[str] = []
        remaining = [s.id for s in self.steps]
        while remaining:
            for sid in remaining:
                if all(d in done for d in deps[sid]):
                    done.append(sid)
                    remaining.remove(sid)
                    break
            else:  # pragma: no cover - cycles are rejected by the loader
                raise PipelineSpecError(f"cycle among steps {remaining}")
        return [self.step(s) for s in done]

    def dependencies(self) -> dict[str, list[str]]:
        out = {}
        for s in self.steps:
            ds = []
            for ref in s.inputs.values():
                m = _REF.match(ref)
                if m and m.group(1) != "input" and m.group(1) not in ds:
                    ds.append(m.group(1))
            out[s.id] = ds
        return out

    def fingerprint(self) -> str:
        data = self.model_dump(exclude={"path", "description"})
        for s in data["steps"]:
            s.pop("line", None)
            s.pop("description", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


# ----------------------------------------------------------------------------- YAML with lines


def _construct(node, lines: dict, path: tuple):
    """Convert a composed YAML node to Python, recording lines by key path."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for k, v in node.value:
            key = _scalar(k)
            if key in out:
                raise PipelineSpecError(f"line {k.start_mark.line + 1}: key {key!r} appears twice")
            lines[path + (key,)] = k.start_mark.line + 1
            out[key] = _construct(v, lines, path + (key,))
            lines[path + (key,)] = k.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, lines, path + (i,)) for i, v in enumerate(node.value)]
    return _scalar(node)


def _scalar(node):
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def _line(lines: dict, path: tuple) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return lines.get(())


# ----------------------------------------------------------------------------- overrides


def parse_overrides(pairs) -> dict[str, Any]:
    """``["cohort.n=3", "seed=1"]`` -> ``{"cohort.n": 3, "seed": 1}`` (values as YAML)."""
    out = {}
    for text in pairs or ():
        if "=" not in text:
            raise ValueError(f"--set takes key=value (e.g. cohort.n=3); got {text!r}")
        key, value = text.split("=", 1)
        # the same bounded plain-YAML reader as pipeline files (no tags, no alias bombs)
        out[key.strip()] = (yamlsafe.load(value, source=f"--set {key.strip()}")
                            if value.strip() else "")
    return out


def _set_dotted(config: dict, key: str, value, where: str):
    parts = key.split(".")
    node = config
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node.get(part), dict):
            known = list(node) if isinstance(node, dict) else []
            raise PipelineSpecError(f"{where}: no config section {'.'.join(parts[:i + 1])!r}; "
                                    f"config has {known}.{did_you_mean(part, known)}")
        node = node[part]
    if parts[-1] not in node:
        raise PipelineSpecError(f"{where}: unknown config key {key!r}; known here: "
                                f"{sorted(node)}.{did_you_mean(parts[-1], list(node))}")
    node[parts[-1]] = value


def _get_dotted(config: dict, key: str):
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(key)
        node = node[part]
    return node


def _substitute(value, config, where_of, path=()):
    if isinstance(value, dict):
        return {k: _substitute(v, config, where_of, path + (k,)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, config, where_of, path + (i,)) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        def get(name):
            try:
                return _get_dotted(config, name)
            except KeyError:
                flat = _flat_keys(config)
                raise PipelineSpecError(
                    f"{where_of(path)}: ${{{name}}} is not in config; config keys: "
                    f"{flat}.{did_you_mean(name, flat)}") from None
        whole = _VAR.fullmatch(value)
        if whole:
            return copy.deepcopy(get(whole.group(1)))
        return _VAR.sub(lambda m: str(get(m.group(1))), value)
    return value


def _flat_keys(config, prefix=""):
    keys = []
    for k, v in config.items():
        name = f"{prefix}{k}"
        keys.extend(_flat_keys(v, name + ".") if isinstance(v, dict) else [name])
    return keys


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
        ann = field.annotation
        sub = {"steps": StepSpec, "items": ItemsSpec}.get(part)
        if sub is None:
            return []
        cls = sub
    names = [n for n in cls.model_fields if n not in ("builtin", "line", "path")]
    if cls is StepSpec:
        from .steps import BUILTINS, DEFAULT_OUTPUTS
        names += sorted(BUILTINS)
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
    from .steps import BUILTINS, check_builtin_params

    from ..shipped import find_pipeline

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
    data = _construct(root, lines, ())

    def where(p):
        ln = _line(lines, tuple(p))
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
            found = [k for k in s if k in BUILTINS]
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
            s["line"] = _line(lines, ("steps", i)) or 0

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
            _set_dotted(config, k, v, where(("profiles", profile, k)))
    for k, v in (overrides or {}).items():
        _set_dotted(config, k, v, "--set")
    data["config"] = config
    data["steps"] = _substitute(data.get("steps"), config, where, ("steps",))
    data["path"] = str(path)

    try:
        spec = PipelineSpec.model_validate(data)
    except ValidationError as e:
        raise _spec_error(e, where, path) from None

    _check_semantics(spec, where, check_files=check_files,
                     check_builtin_params=check_builtin_params, lines=lines)
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


def _check_semantics(spec: PipelineSpec, where, *, check_files, check_builtin_params, lines):
    from .steps import BUILTINS, DEFAULT_OUTPUTS

    try:  # the default output folder is results/<name>
        check_name(spec.name, what="pipeline name")
    except UnsafePathError as e:
        raise PipelineSpecError(f"{where(('name',))}: {e}") from None
    ids: dict[str, int] = {}
    for i, s in enumerate(spec.steps):
        if s.id in ids:
            raise PipelineSpecError(f"{spec.path}:{s.line}: step id {s.id!r} is used twice "
                                    f"(first at line {ids[s.id]})")
        ids[s.id] = s.line
        if s.builtin:
            info = BUILTINS[s.builtin]
            if s.per is None:
                s.per = info.per
            if s.outputs is None:
                s.outputs = list(DEFAULT_OUTPUTS.get(s.builtin, info.outputs))
            else:
                unknown = [o for o in s.output_names() if o not in info.outputs]
                if unknown:
                    raise PipelineSpecError(
                        f"{where(('steps', i, 'outputs'))}: built-in step {s.builtin!r} has no "
                        f"output {unknown[0]!r}; its outputs: {list(info.outputs)}."
                        f"{did_you_mean(unknown[0], info.outputs)}")
            check_builtin_params(s, lambda p, i=i: where(("steps", i, "params") + tuple(p)))
        else:
            if s.per is None:
                s.per = "image"
            if not s.output_names():
                raise PipelineSpecError(f"{where(('steps', i))}: step {s.id!r} must declare its "
                                        "outputs (outputs: [name, …])")
        for name in s.output_names():  # names become file names under --output-dir
            try:
                check_name(name, what=f"output name of step {s.id!r}")
            except UnsafePathError as e:
                raise PipelineSpecError(f"{where(('steps', i, 'outputs'))}: {e}") from None
        if s.python and not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", s.python):
            raise PipelineSpecError(f"{where(('steps', i, 'python'))}: python: takes "
                                    f"'package.module:function'; got {s.python!r}")
        if s.macro and check_files and not spec.macro_path(s).is_file():
            raise PipelineSpecError(
                f"{where(('steps', i, 'macro'))}: macro file {s.macro!r} not found (looked in "
                f"{spec.base_dir()} and {spec.base_dir().parent}); write the path relative to the "
                "pipeline file or the repository root")
    # references
    outputs = {s.id: s.output_names() for s in spec.steps}
    source = spec.items.source
    if source is not None and source not in ids:
        raise PipelineSpecError(f"{where(('items', 'source'))}: items.source {source!r} is not "
                                f"a step id; steps: {list(ids)}.{did_you_mean(source, list(ids))}")
    if source is None and spec.items.files is None:
        pass  # items must then come from --input
    for i, s in enumerate(spec.steps):
        for name, ref in s.inputs.items():
            loc = ("steps", i, "inputs", name)
            m = _REF.match(ref)
            if not m:
                raise PipelineSpecError(f"{where(loc)}: input {name!r} must name 'step.output' "
                                        f"or 'input.image'; got {ref!r}")
            sid, out = m.groups()
            if sid == "input":
                continue
            if sid not in ids:
                raise PipelineSpecError(f"{where(loc)}: input {name!r} refers to unknown step "
                                        f"{sid!r}; steps: {list(ids)}.{did_you_mean(sid, list(ids))}")
            if out not in outputs[sid]:
                raise PipelineSpecError(f"{where(loc)}: step {sid!r} has no output {out!r}; its "
                                        f"outputs: {outputs[sid]}.{did_you_mean(out, outputs[sid])}")
            dep = spec.step(sid)
            if dep.per == "dataset" and s.per == "image" and dep.id == source:
                raise PipelineSpecError(f"{where(loc)}: the items source cannot be per-dataset")
    _check_cycles(spec)


def _check_cycles(spec: PipelineSpec):
    deps = spec.dependencies()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(sid):
        state[sid] = 1
        stack.append(sid)
        for d in deps[sid]:
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                text = " -> ".join(f"{c} (line {spec.step(c).line})" for c in cycle)
                raise PipelineSpecError(
                    f"{spec.path}:{spec.step(cycle[0]).line}: cycle between steps: {text}; a step "
                    "cannot depend on its own outputs — remove one of these inputs")
            if state.get(d) is None:
                visit(d)
        stack.pop()
        state[sid] = 2

    for s in spec.steps:
        if s.id not in state:
            visit(s.id)


# ----------------------------------------------------------------------------- resolve


def resolve_pipeline(spec: PipelineSpec) -> list[str]:
    """Second level: macros' ``#@`` parameters and Python functions' signatures.

    Imports the named Python modules and reads macro files (no Java). Returns notes
    (e.g. parameters left at their defaults); raises :class:`PipelineSpecError`.
    """
    notes = []
    for s in spec.steps:
        where = f"{spec.path}:{s.line}"
        if s.macro:
            notes += _resolve_macro(spec, s, where)
        elif s.python:
            fn = import_function(s.python, where)
            _check_signature(fn, s, where)
    return notes


def import_function(target: str, where: str = "python"):
    import importlib

    module_name, _, func = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise PipelineSpecError(f"{where}: cannot import {module_name!r} for step "
                                f"python: {target}: {e}") from None
    if not hasattr(module, func):
        names = [n for n in dir(module) if not n.startswith("_")]
        raise PipelineSpecError(f"{where}: module {module_name!r} has no function {func!r}."
                                f"{did_you_mean(func, names)}")
    return getattr(module, func)


def _check_signature(fn, s: StepSpec, where: str):
    sig = inspect.signature(fn)
    params = sig.parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    names = [n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    for name in list(s.params) + list(s.inputs):
        if name not in params and not var_kw:
            raise PipelineSpecError(f"{where}: {s.python} takes no argument {name!r}; its "
                                    f"arguments: {names}.{did_you_mean(name, names)}")
    context = {"spacing", "item", "meta", "output_dir"}
    for name, p in params.items():
        if (p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
                and name not in s.params and name not in s.inputs and name not in context):
            raise PipelineSpecError(f"{where}: {s.python} needs argument {name!r}; give it in "
                                    "params: or inputs:")
        ann = p.annotation
        if name in s.params and ann in (int, float, str, bool, "int", "float", "str", "bool"):
            _check_type(name, s.params[name], ann if isinstance(ann, type) else
                        {"int": int, "float": float, "str": str, "bool": bool}[ann], where)


def _check_type(name, value, typ, where):
    ok = (isinstance(value, typ) and not (typ is not bool and isinstance(value, bool))) or \
        (typ is float and isinstance(value, int) and not isinstance(value, bool))
    if not ok:
        raise PipelineSpecError(f"{where}: parameter {name!r} must be {typ.__name__}; got "
                                f"{value!r} ({type(value).__name__})")


_MACRO_KIND = {"boolean": bool, "integer": int, "number": float, "string": str}


def _resolve_macro(spec, s: StepSpec, where: str) -> list[str]:
    from ..bridge import macro_parameters  # parses #@ lines; imports no Java

    path = spec.macro_path(s)
    decl = {p.name: p for p in macro_parameters(path) if not p.output}
    notes = []
    names = list(decl)
    for name, value in s.params.items():
        if name not in decl:
            raise PipelineSpecError(f"{where}: macro {s.macro} declares no parameter {name!r} "
                                    f"(its #@ parameters: {names}).{did_you_mean(name, names)}")
        p = decl[name]
        typ = _MACRO_KIND.get(p.kind)
        if typ is not None:
            try:
                _check_type(name, value, typ, where)
            except PipelineSpecError:
                raise PipelineSpecError(
                    f"{where}: parameter {name!r} of {s.macro} is declared '#@ {p.type} {name}' "
                    f"(line {p.line} of the macro); got {value!r} ({type(value).__name__})") from None
        if p.choices and str(value) not in p.choices:
            raise PipelineSpecError(f"{where}: parameter {name!r} of {s.macro} must be one of "
                                    f"{list(p.choices)}; got {value!r}."
                                    f"{did_you_mean(str(value), p.choices)}")
    for name, p in decl.items():
        if p.kind == "image":
            if name not in s.inputs:
                notes.append(f"{where}: macro image parameter {name!r} is not among the "
                             "step's inputs; ImageJ gets the current image")
            continue
        if name not in s.params and p.required:
            raise PipelineSpecError(f"{where}: macro {s.macro} needs parameter {name!r} "
                                    f"('#@ {p.type} {name}', macro line {p.line}); add it under "
                                    "params:")
    return notes
