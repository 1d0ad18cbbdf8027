"""Pipelines: declarative YAML files mixing ImageJ macros, Python and built-in steps.

* :mod:`~fijibridge.pipeline.spec` — :func:`load_pipeline` (structure, no Java, no user
  imports; models in :mod:`~.models`, YAML helpers in :mod:`~._config`) and
  :func:`resolve_pipeline` (:mod:`~.checks`: macro ``#@`` parameters, Python signatures);
* :mod:`~fijibridge.pipeline.registry` — built-in steps by name, found in the
  algorithm packages' ``steps.py`` modules;
* :mod:`~fijibridge.pipeline.plan` — items and phases; :mod:`~.execute` — running steps
  per item / per dataset; :mod:`~.store` — saving, hashing, manifests, resume checks;
  :mod:`~.report` — ``report.html``;
* :mod:`~fijibridge.pipeline.runner` — :func:`run_pipeline` (orchestration, ``run.json``);
* :mod:`~fijibridge.pipeline.executors` — sequential, local processes, Dask
  (:func:`start_local_cluster`: workers kept between runs, in :mod:`~._dask`), SLURM /
  PBS jobs from an executor config (:func:`load_executor_config`, :func:`job_script`,
  in :mod:`~._dask_cluster`).

Importing this package imports pydantic and PyYAML, never Java or torch.
"""

from __future__ import annotations

from ._dask import start_local_cluster
from ._dask_cluster import job_script, load_executor_config
from .registry import get_step, steps
from .runner import RunSummary, run_pipeline
from .spec import PipelineSpec, StepSpec, load_pipeline, parse_overrides, resolve_pipeline

__all__ = ["load_pipeline", "resolve_pipeline", "parse_overrides", "run_pipeline",
           "RunSummary", "PipelineSpec", "StepSpec", "get_step", "steps",
           "start_local_cluster", "load_executor_config", "job_script"]
