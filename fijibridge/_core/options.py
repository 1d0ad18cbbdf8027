"""Checking of option strings and small argument helpers (numpy only)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["check_choice", "did_you_mean", "check_spacing", "check_positive"]


def did_you_mean(value: str, allowed: Iterable[str]) -> str:
    """Return ``" Did you mean 'X'?"`` for the closest allowed name, or ``""``."""
    allowed = list(allowed)
    lowered = {a.lower(): a for a in allowed}
    if str(value).lower() in lowered:
        return f" Did you mean {lowered[str(value).lower()]!r}?"
    close = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.5)
    if not close:
        close = difflib.get_close_matches(str(value).lower(), list(lowered), n=1, cutoff=0.5)
        close = [lowered[c] for c in close]
    return f" Did you mean {close[0]!r}?" if close else ""


def check_choice(name: str, value, allowed: Sequence[str], *, case_sensitive: bool = False) -> str:
    """Return the canonical spelling of ``value`` among ``allowed`` or raise ValueError.

    >>> check_choice("method", "otsu", ["Otsu", "Li"])
    'Otsu'
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {list(allowed)}; got {value!r}")
    for a in allowed:
        if value == a or (not case_sensitive and value.lower() == a.lower()):
            return a
    raise ValueError(
        f"unknown {name} {value!r}; allowed: {', '.join(allowed)}.{did_you_mean(value, allowed)}"
    )


def check_spacing(spacing, ndim: int, *, name: str = "spacing") -> tuple[float, ...]:
    """Validate a voxel size in micrometres for an image of ``ndim`` spatial dimensions.

    ``None`` means 1 µm along every axis; a scalar is used for every axis.
    """
    if spacing is None:
        return (1.0,) * ndim
    if np.isscalar(spacing):
        spacing = (spacing,) * ndim
    try:
        values = tuple(float(s) for s in spacing)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or a sequence of {ndim} numbers (µm); "
                        f"got {spacing!r}") from None
    if len(values) != ndim:
        order = "(z, y, x)" if ndim == 3 else "(y, x)" if ndim == 2 else f"{ndim} values"
        raise ValueError(f"{name} must have {ndim} values {order} for a {ndim}D image; "
                         f"got {len(values)}: {spacing!r}")
    if not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"{name} values must be finite and > 0 (µm); got {spacing!r}")
    return values


def check_positive(name: str, value, *, integer: bool = False, allow_zero: bool = False):
    """Return ``value`` if it is a finite positive number (an int if ``integer``)."""
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be {kind}; got {value!r}")
    if integer and int(value) != value:
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}; got {value!r}")
    return int(value) if integer else float(value)
