"""Phantom kinds by name (used by the command line and pipelines)."""

from __future__ import annotations

from .._core.options import check_choice

__all__ = ["KINDS", "make_phantom"]

#: kind name -> (module, function)
KINDS = {
    "nuclei": (".phantoms", "nuclei"),
    "mito": (".networks", "mitochondria"),
    "golgi": (".phantoms", "golgi"),
    "cells": (".phantoms", "cells"),
}


def make_phantom(kind: str, *, ndim: int = 2, rng=None, **kwargs):
    """Generate a phantom of ``kind`` ('nuclei', 'mito', 'golgi', 'cells').

    Keyword arguments go to the generator (see :mod:`fijibridge.synth.phantoms` and
    :func:`fijibridge.synth.networks.mitochondria`); unknown kinds raise ValueError
    with the allowed names.

    Examples
    --------
    >>> make_phantom("nuclei", ndim=2, shape=(64, 64), n_nuclei=2, rng=0).labels.shape
    (64, 64)
    """
    import importlib

    kind = check_choice("kind", kind, list(KINDS))
    if ndim not in (2, 3):
        raise ValueError(f"ndim must be 2 or 3; got {ndim!r}")
    module, name = KINDS[kind]
    fn = getattr(importlib.import_module(module, __package__), name)
    if "shape" not in kwargs or kwargs["shape"] is None:
        kwargs["ndim"] = ndim
    elif len(tuple(kwargs["shape"])) != ndim:
        raise ValueError(f"shape {tuple(kwargs['shape'])} does not have ndim={ndim} values")
    return fn(rng=rng, **kwargs)
