"""Checks of a parsed pipeline: references, outputs, cycles (no user code imported), and
the second level, :func:`resolve_pipeline`: macros' ``#@`` parameters and Python
functions' signatures (imports the named modules; no Java).
"""

from __future__ import annotations

import inspect
import logging
import re

from .._core.errors import PipelineSpecError
from .._core.options import did_you_mean
from .._core.paths import UnsafePathError, check_name
from .models import _REF, PipelineSpec, StepSpec

__all__ = ["check_semantics", "resolve_pipeline", "import_function"]

log = logging.getLogger(__name__)


def check_semantics(spec: PipelineSpec, where, *, check_files):
    """Ids, outputs, parameters of built-in steps, references and cycles of ``spec``."""
    from .registry import check_builtin_params, default_outputs, get_step

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
            info = get_step(s.builtin)
            if s.per is None:  # e.g. psf given an image: one PSF per image, at its spacing
                s.per = ("image" if info.per_image_with and info.per_image_with in s.inputs
                         else info.per)
            if s.outputs is None:
                s.outputs = list(default_outputs(s.builtin))
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
