"""Pipelines: declarative YAML files mixing ImageJ macros, Python and built-in steps.

* :mod:`~fijibridge.pipeline.spec` — :func:`load_pipeline` (structure, no Java, no user
  imports) and :func:`resolve_pipeline` (macro ``#@`` parameters, Python signatures);
* :mod:`~fijibridge.pipeline.steps` — the built-in steps by name;
* :mod:`~fijibridge.pipeline.runner` — :func:`run_pipeline` (resume, failure isolation,
  ``run.json``, HTML report);
* :mod:`~fijibridge.pipeline.executors` — sequential, local processes, Dask.

Importing this package imports pydantic and PyYAML, never Java or torch.
"""

from __future__ import annotations

from .runner import RunSummary, run_pipeline
from .spec import PipelineSpec, StepSpec, load_pipeline, parse_overrides, resolve_pipeline

__all__ = ["load_pipeline", "resolve_pipeline", "parse_overrides", "run_pipeline",
           "RunSummary", "PipelineSpec", "StepSpec"]
