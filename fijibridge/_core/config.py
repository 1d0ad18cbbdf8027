"""Reading training config files and explaining their validation errors (shared by the
U-Net and GAN trainers)."""

from __future__ import annotations

import json
from pathlib import Path

from .options import did_you_mean

__all__ = ["read_config_file", "explain_validation_error", "as_config"]


def read_config_file(path) -> dict:
    """The mapping in a YAML (``.yml``/``.yaml``) or JSON config file ({} when empty).

    Raises FileNotFoundError for a missing file and ValueError naming the file for
    text that does not parse, or YAML that is not plain bounded data (see
    :mod:`fijibridge._core.yamlsafe`: over 1 MiB, a tag such as ``!!python/…``,
    alias bombs).
    """
    from .yamlsafe import load, read_text

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no training config at {str(path)!r}")
    text = read_text(path, what="config file")  # size-capped, UTF-8
    if path.suffix != ".json":
        return load(text, source=str(path)) or {}  # plain YAML only, bounded (yamlsafe)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON: {e}") from None
    return data or {}


def explain_validation_error(error, sections: dict, *, title: str) -> str:
    """One message for a pydantic ValidationError of a sectioned config.

    An unknown key names its section and the allowed keys (from ``sections``: dotted
    section name -> model; list indices are skipped) with a did-you-mean; a missing
    key is named; any other error gives the key, pydantic's message and the value.
    """
    lines = []
    for err in error.errors():
        loc = [str(x) for x in err["loc"]]
        if err["type"] == "extra_forbidden":
            section = ".".join(x for x in loc[:-1] if not x.isdigit())
            model = sections.get(section)
            allowed = [f for f in model.model_fields if f != "base_dir"] if model else []
            where = f"section {section!r}" if section else "the top level"
            lines.append(f"unknown key {loc[-1]!r} in {where}; allowed: {', '.join(allowed)}."
                         f"{did_you_mean(loc[-1], allowed)}")
        elif err["type"] == "missing":
            lines.append(f"missing key {'.'.join(loc)!r}")
        else:
            lines.append(f"{'.'.join(loc)}: {err['msg']} (got {err.get('input')!r})")
    return f"{title}: " + "; ".join(lines)


def as_config(config, cls, *, load, parse):
    """``config`` as a validated ``cls``: a path is read with ``load``, a mapping
    checked with ``parse``, an instance returned as it is."""
    from pathlib import PurePath

    if isinstance(config, (str, PurePath)):
        return load(config)
    if isinstance(config, dict):
        return parse(config)
    if isinstance(config, cls):
        return config
    raise TypeError(f"config must be a {cls.__name__}, dict or path; got {type(config).__name__}")
