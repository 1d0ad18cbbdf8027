"""Executor configs: where a run's Dask workers come from — this machine, or SLURM / PBS
batch jobs through dask-jobqueue (``pip install 'fijibridge[cluster]'``).

A config is machine resources, not experiment metadata, so it lives apart from the
pipeline file: a YAML file with an ``executor:`` section (``fijibridge run --cluster
FILE``), or a mapping given to ``run_pipeline(executor=...)``::

    executor:
      kind: slurm          # local, slurm or pbs
      workers: 8           # worker processes in all (jobs = workers / processes)
      cores: 4             # per job
      processes: 4         # worker processes per job (each its own JVM)
      memory: 32GB         # per job
      walltime: "02:00:00"
      queue: normal
      account: mylab
      job_script_prologue: ["module load java/17"]

Unknown keys are errors that name the allowed ones.  The job script a config makes
can be read without a scheduler: :func:`job_script`.
"""

from __future__ import annotations

import logging
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["ExecutorConfig", "load_executor_config", "parse_executor_config", "make_cluster",
           "job_script", "executor_from_config"]

log = logging.getLogger(__name__)


class ExecutorConfig(BaseModel):
    """The ``executor`` section (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["local", "slurm", "pbs"] = "local"
    workers: int = Field(1, ge=1, description="worker processes in all")
    batch: int | None = Field(None, ge=1, description="most items per Dask task")
    wait_s: float = Field(600.0, gt=0, description="seconds to wait for the first worker "
                                                   "(batch jobs wait in the queue)")
    # batch-job settings (dask-jobqueue's names); not used by kind: local
    cores: int | None = Field(None, ge=1)
    processes: int = Field(1, ge=1)
    memory: str | None = None
    walltime: str | None = None
    queue: str | None = None
    account: str | None = None
    job_name: str = "fijibridge"
    job_extra_directives: list[str] = Field(default_factory=list)
    job_script_prologue: list[str] = Field(default_factory=list)
    worker_extra_args: list[str] = Field(default_factory=list)
    local_directory: str | None = None
    log_directory: str | None = None
    interface: str | None = None
    python: str | None = None

    @model_validator(mode="after")
    def _batch_job_needs(self):
        if self.kind != "local":
            missing = [k for k in ("cores", "memory") if getattr(self, k) is None]
            if missing:
                raise ValueError(f"kind {self.kind!r} needs {' and '.join(missing)} (per job, "
                                 "e.g. cores: 4, memory: 16GB)")
            if self.processes > self.cores:
                raise ValueError(f"processes ({self.processes}) must be <= cores "
                                 f"({self.cores}): each worker process needs a core")
        else:
            used = [k for k in ("cores", "memory", "walltime", "queue", "account")
                    if getattr(self, k) is not None]
            if used:
                raise ValueError(f"{', '.join(used)} apply to batch jobs (kind slurm or pbs); "
                                 "kind local takes workers (and batch)")
        return self


def parse_executor_config(data: dict, *, source: str = "executor config") -> ExecutorConfig:
    """Validate a mapping (the ``executor`` section); errors name the allowed keys."""
    from .._core.config import explain_validation_error

    if not isinstance(data, dict):
        raise TypeError(f"{source}: the executor config must be a mapping; got "
                        f"{type(data).__name__}")
    try:
        return ExecutorConfig(**data)
    except ValidationError as e:
        raise ValueError(explain_validation_error(e, {"": ExecutorConfig},
                                                  title=source)) from None


def load_executor_config(path) -> ExecutorConfig:
    """The ``executor:`` section of a YAML (or JSON) file."""
    from .._core.config import read_config_file

    data = read_config_file(path)
    if not isinstance(data, dict) or "executor" not in data:
        raise ValueError(f"{path}: no 'executor:' section (e.g. executor: {{kind: slurm, "
                         "cores: 4, memory: 16GB}})")
    other = sorted(set(data) - {"executor"})
    if other:
        raise ValueError(f"{path}: unknown section(s) {other}; a cluster file holds only "
                         "'executor:'")
    return parse_executor_config(data["executor"], source=f"{path}: executor")


def as_executor_config(config) -> ExecutorConfig:
    from .._core.config import as_config

    return as_config(config, ExecutorConfig, load=load_executor_config,
                     parse=parse_executor_config)


def _jobqueue_class(kind: str):
    try:
        import dask_jobqueue
    except ImportError as e:
        raise ImportError(f"executor kind {kind!r} needs dask-jobqueue: pip install "
                          "'fijibridge[cluster]' (or: pip install dask-jobqueue)") from e
    return {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[kind]


def make_cluster(config):
    """A dask-jobqueue cluster for a ``slurm`` or ``pbs`` config; no job is submitted
    until it is scaled (the executor scales it to ``workers``).

    Each worker process runs one thread per core it has (``cores / processes``) and
    starts its own ImageJ session on its first macro step.
    """
    config = as_executor_config(config)
    if config.kind == "local":
        raise ValueError("make_cluster builds batch-job clusters (kind slurm or pbs); got "
                         "kind 'local' (the dask executor starts a LocalCluster itself)")
    cls = _jobqueue_class(config.kind)
    options = dict(cores=config.cores, processes=config.processes, memory=config.memory,
                   walltime=config.walltime, queue=config.queue, account=config.account,
                   job_name=config.job_name,
                   job_extra_directives=list(config.job_extra_directives),
                   job_script_prologue=list(config.job_script_prologue),
                   worker_extra_args=list(config.worker_extra_args),
                   local_directory=config.local_directory, log_directory=config.log_directory,
                   interface=config.interface, python=config.python,
                   dashboard_address=None)
    options = {k: v for k, v in options.items() if v is not None}
    log.info("%s cluster: %s", config.kind, options)
    return cls(**options)


def job_script(config) -> str:
    """The batch script one job of ``config`` would be submitted with (nothing is
    submitted; no scheduler of the queue system is needed)."""
    cluster = make_cluster(config)
    try:
        return cluster.job_script()
    finally:
        cluster.close()


def executor_from_config(config):
    """The executor a config describes (a :class:`~.executors.DaskExecutor`)."""
    from .executors import DaskExecutor

    config = as_executor_config(config)
    record = config.model_dump(exclude_defaults=True)
    if config.kind == "local":
        return DaskExecutor(config.workers, batch=config.batch, wait_s=config.wait_s,
                            config=record)
    return DaskExecutor(config.workers, cluster=lambda: make_cluster(config),
                        batch=config.batch, wait_s=config.wait_s, kind=config.kind,
                        config=record)
