"""Synthetic fluorescence data: phantoms, a microscope model and (later) GANs.

Importing this package is cheap: the generators load on first use.

* :mod:`fijibridge.synth.phantoms` — :func:`nuclei`, :func:`golgi`, :func:`cells`,
  :func:`monocyte_cohort`
* :mod:`fijibridge.synth.networks` — :func:`mitochondria`, :func:`mito_params`,
  graph helpers (:func:`graph_to_graphml`, :func:`graph_from_graphml`)
* :mod:`fijibridge.synth.deform` — :func:`elastic_deform`
* :mod:`fijibridge.synth.microscope` — :func:`simulate_microscope`, :func:`make_psf`,
  :func:`gaussian_psf`, :func:`psf_sigma`, :func:`convolve_psf`
* :mod:`fijibridge.synth.render` — :func:`render_phantoms` (phantoms through a
  microscope, written as files with their ground truth)

All return or take a :class:`Phantom` (ground-truth image, labels, class mask,
graph, parameters, spacing in µm).
"""

from __future__ import annotations

import importlib

__all__ = [
    "Phantom", "nuclei", "golgi", "cells", "monocyte_cohort", "cohort_samples",
    "CohortSample", "FUSION_CONTROL", "FUSION_PATIENT", "mitochondria", "mito_params",
    "graph_to_graphml", "graph_from_graphml", "graph_length", "elastic_deform",
    "simulate_microscope", "make_psf", "gaussian_psf", "psf_sigma", "convolve_psf",
    "KINDS", "make_phantom", "render_phantoms",
]

_WHERE = {
    "Phantom": "._base",
    "nuclei": ".phantoms", "golgi": ".phantoms", "cells": ".phantoms",
    "monocyte_cohort": ".phantoms", "cohort_samples": ".phantoms", "CohortSample": ".phantoms",
    "FUSION_CONTROL": ".phantoms", "FUSION_PATIENT": ".phantoms",
    "mitochondria": ".networks", "mito_params": ".networks", "graph_to_graphml": ".networks",
    "graph_from_graphml": ".networks", "graph_length": ".networks",
    "elastic_deform": ".deform",
    "simulate_microscope": ".microscope", "make_psf": ".microscope",
    "gaussian_psf": ".microscope", "psf_sigma": ".microscope", "convolve_psf": ".microscope",
    "KINDS": "._kinds", "make_phantom": "._kinds",
    "render_phantoms": ".render",
}


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
