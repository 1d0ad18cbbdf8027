"""Pipeline-file text helpers: YAML with line numbers, ``--set`` overrides, ``${...}``.

Used by :mod:`fijibridge.pipeline.spec`; no pydantic model here.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import yaml

from .._core import yamlsafe
from .._core.errors import PipelineSpecError
from .._core.options import did_you_mean

__all__ = ["parse_overrides"]

_VAR = re.compile(r"\$\{([A-Za-z_][\w.]*)\}")


# ----------------------------------------------------------------------------- YAML with lines


def construct(node, lines: dict, path: tuple):
    """Convert a composed YAML node to Python, recording lines by key path."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for k, v in node.value:
            key = _scalar(k)
            if key in out:
                raise PipelineSpecError(f"line {k.start_mark.line + 1}: key {key!r} appears twice")
            lines[path + (key,)] = k.start_mark.line + 1
            out[key] = construct(v, lines, path + (key,))
            lines[path + (key,)] = k.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [construct(v, lines, path + (i,)) for i, v in enumerate(node.value)]
    return _scalar(node)


def _scalar(node):
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def line_of(lines: dict, path: tuple) -> int | None:
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


def set_dotted(config: dict, key: str, value, where: str):
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


def substitute(value, config, where_of, path=()):
    if isinstance(value, dict):
        return {k: substitute(v, config, where_of, path + (k,)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, config, where_of, path + (i,)) for i, v in enumerate(value)]
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
