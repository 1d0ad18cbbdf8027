"""The step registry: pipeline step names → the steps their packages describe.

Each algorithm package registers its steps in a ``steps.py`` beside its code (a
``STEPS`` dict of :class:`~fijibridge._core.steps.Step`); the pipeline knows them only
by name.  The modules in :data:`STEP_MODULES` are imported on first use, not when
:mod:`fijibridge.pipeline` is imported; none of them imports torch or Java at import
time, so ``fijibridge validate`` stays light.

:func:`check_builtin_params` checks a step's parameters against its function's
signature (names with did-you-mean, simple types) and its own ``check`` hook, without
running it.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from types import MappingProxyType

from .._core.errors import PipelineSpecError
from .._core.options import did_you_mean
from .._core.steps import Png, Step

__all__ = ["STEP_MODULES", "steps", "get_step", "check_builtin_params", "source_items",
           "default_outputs", "CONTEXT_ARGS", "Png", "Step"]

log = logging.getLogger(__name__)

#: the modules whose ``STEPS`` make up the built-in steps, in this order
STEP_MODULES = (
    "fijibridge.io.steps",
    "fijibridge.synth.steps",
    "fijibridge.psf.steps",
    "fijibridge.deconv.steps",
    "fijibridge.filters.steps",
    "fijibridge.segment.steps",
    "fijibridge.features.steps",
    "fijibridge.classify.steps",
)

#: arguments the runner supplies itself (never written under a per-image step's parameters)
CONTEXT_ARGS = ("spacing", "meta", "item")


@functools.lru_cache(maxsize=None)
def _table(modules: tuple[str, ...]) -> MappingProxyType:
    table: dict[str, Step] = {}
    for name in modules:
        module = importlib.import_module(name)
        for key, info in module.STEPS.items():
            if not isinstance(info, Step) or info.name != key:
                raise TypeError(f"{name}.STEPS[{key!r}] must be a Step named {key!r} "
                                "(make it with fijibridge._core.steps.make_step)")
            if key in table:
                raise PipelineSpecError(f"step {key!r} is registered twice ({name} and "
                                        f"{table[key].func.__module__})")
            table[key] = info
    return MappingProxyType(table)


def steps() -> MappingProxyType:
    """``{name: Step}`` of every built-in step (imports :data:`STEP_MODULES` once)."""
    return _table(STEP_MODULES)


def get_step(name: str) -> Step:
    """The step called ``name``; ``KeyError`` with did-you-mean when there is none."""
    table = steps()
    if name not in table:
        raise KeyError(f"no built-in step {name!r}.{did_you_mean(name, list(table))}")
    return table[name]


def default_outputs(name: str) -> tuple[str, ...]:
    info = get_step(name)
    return info.default_outputs if info.default_outputs is not None else info.outputs


def source_items(name: str, params: dict):
    """``[(key, meta)]`` of a source step (e.g. ``synth``), else ``None``."""
    info = get_step(name)
    if info.items is None:
        return None
    return info.items(**params)


_SIMPLE = {"int": int, "float": float, "str": str, "bool": bool}


def check_builtin_params(step, where) -> None:
    """Check a built-in step's parameters and inputs against its function's signature,
    then its values with the step's own ``check`` hook."""
    info = get_step(step.builtin)
    sig = inspect.signature(info.func)
    context = CONTEXT_ARGS if info.per == "image" else ("meta", "item")
    allowed = [n for n in sig.parameters if n not in context and n not in info.inputs]
    for name, value in step.params.items():
        if name not in allowed:
            raise PipelineSpecError(
                f"{where((name,))}: built-in step {step.builtin!r} has no parameter {name!r}; "
                f"its parameters: {', '.join(allowed)}.{did_you_mean(name, allowed)}")
        ann = sig.parameters[name].annotation
        base = str(ann).split("|")[0].strip()
        optional = "None" in str(ann)
        typ = _SIMPLE.get(base)
        if typ is None or (value is None and optional):
            continue
        ok = (isinstance(value, typ) and not (typ is not bool and isinstance(value, bool))) \
            or (typ is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok:
            raise PipelineSpecError(
                f"{where((name,))}: parameter {name!r} of built-in step {step.builtin!r} must be "
                f"{base}; got {value!r} ({type(value).__name__})")
    for name in step.inputs:
        if name not in info.inputs:
            raise PipelineSpecError(
                f"{where(())}: built-in step {step.builtin!r} takes no input {name!r}; its "
                f"inputs: {', '.join(info.inputs) or 'none'}.{did_you_mean(name, info.inputs)}")
    required = [n for n in info.inputs if sig.parameters[n].default is inspect.Parameter.empty]
    for name in required:
        if name not in step.inputs:
            raise PipelineSpecError(f"{where(())}: built-in step {step.builtin!r} needs input "
                                    f"{name!r} (inputs: {{{name}: step.output}})")
    if info.check is not None:
        try:
            info.check(dict(step.params))
        except (ValueError, TypeError) as e:
            name = getattr(e, "param", None)
            raise PipelineSpecError(
                f"{where((name,) if name else ())}: parameter {name!r} of built-in step "
                f"{step.builtin!r}: {e}") from None
