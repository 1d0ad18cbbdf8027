"""Where per-item tasks run: in this process, in local processes, or on Dask.

Every executor has ``map_unordered(fn, tasks)`` (results as they finish) and is a
context manager.  Tasks are plain dicts and ``fn`` a module-level function, so they
pickle to spawned processes and Dask workers.  A macro step opens the ImageJ session
inside the worker process on first use (one JVM per worker process, reused for every
item that worker gets, and for every later run on a cluster given by ``scheduler``).

The process and Dask executors send items in batches (:func:`._dask.batch_sizes`:
few tasks, shrinking towards the end).  On Dask, a worker that dies mid-batch (killed,
out of memory) has its batch rerun on another worker by the scheduler: every item's
result comes back once, and its files, written atomically with the manifest last,
are complete whichever worker wrote them.  ``slurm`` and ``pbs`` start Dask workers
as batch jobs through dask-jobqueue (:mod:`._dask_cluster`).
"""

from __future__ import annotations

import logging

from .._core.options import check_choice

__all__ = ["make_executor", "EXECUTORS", "SequentialExecutor", "ProcessExecutor",
           "DaskExecutor"]

log = logging.getLogger(__name__)

EXECUTORS = ("sequential", "processes", "dask", "slurm", "pbs")


class SequentialExecutor:
    """Run tasks one after the other in this process."""

    kind = "sequential"
    config = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map_unordered(self, fn, tasks):
        for t in tasks:
            yield fn(t)


class ProcessExecutor:
    """``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` start method
    (no fork of a process that may hold a JVM or torch threads)."""

    kind = "processes"
    config = None

    def __init__(self, workers: int):
        self.workers = workers
        self._pool = None

    def __enter__(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                         mp_context=multiprocessing.get_context("spawn"))
        return self

    def __exit__(self, *exc):
        self._pool.shutdown(wait=True, cancel_futures=True)
        return False

    def map_unordered(self, fn, tasks):
        from concurrent.futures import as_completed

        from ._dask import Batch, run_batch, split

        futures = [self._pool.submit(run_batch, Batch(fn, b))
                   for b in split(list(tasks), self.workers)]
        for f in as_completed(futures):
            yield from f.result()


class DaskExecutor:
    """Dask distributed: a ``LocalCluster`` of ``workers`` single-threaded worker
    processes, the scheduler at ``scheduler`` (a cluster that outlives the run, e.g.
    :func:`._dask.start_local_cluster` or ``dask scheduler`` + ``dask worker``), or the
    cluster ``cluster()`` makes (e.g. dask-jobqueue's), scaled to ``workers`` and
    closed with the executor.

    ``batch``: most items per task (default :data:`._dask.MAX_BATCH`; 1 sends one
    task per item, as before batching).
    """

    def __init__(self, workers: int = 1, scheduler: str | None = None, *, cluster=None,
                 batch: int | None = None, wait_s: float = 600.0, kind: str = "dask",
                 config: dict | None = None):
        from ._dask import MAX_BATCH

        self.kind = kind      # what run.json records: dask, slurm or pbs
        self.config = config  # the executor config it came from, if any
        self.workers = workers
        self.scheduler = scheduler
        self.batch = MAX_BATCH if batch is None else batch
        self.wait_s = wait_s
        self.client = None
        self._make_cluster = cluster
        self._cluster = None
        self.seconds: dict = {}  # cluster start and close (what run.json records)

    def __enter__(self):
        try:
            from distributed import Client
        except ImportError as e:
            raise ImportError("the dask executor needs dask.distributed: pip install "
                              "'fijibridge[dask]' (or: pip install 'dask[distributed]')") from e
        import time

        from ._dask import new_local_cluster

        t0 = time.perf_counter()
        if self.scheduler:
            self.client = Client(self.scheduler)
        else:
            if self._make_cluster is None:
                self._cluster = new_local_cluster(self.workers)
            else:  # a batch-job cluster: jobs start when the queue lets them
                self._cluster = self._make_cluster()
                self._cluster.scale(self.workers)
            self.client = Client(self._cluster)
            self.client.wait_for_workers(1, timeout=self.wait_s)
        self.seconds["start"] = time.perf_counter() - t0
        log.info("dask: %s (ready in %.2f s)", self.client, self.seconds["start"])
        return self

    def __exit__(self, *exc):
        import time

        t0 = time.perf_counter()
        self.client.close()
        if self._cluster is not None:
            # workers exit without waiting for their JVMs (see _dask.run_batch)
            self._cluster.close()
        self.seconds["close"] = time.perf_counter() - t0
        log.info("dask: closed in %.2f s", self.seconds["close"])
        return False

    def map_unordered(self, fn, tasks):
        from distributed import as_completed

        from ._dask import Batch, run_batch, split, worker_count

        batches = split(list(tasks), worker_count(self.client), max_size=self.batch)
        futures = [self.client.submit(run_batch, Batch(fn, b), pure=False) for b in batches]
        for f in as_completed(futures):
            yield from f.result()
            f.release()

    def worker_pids(self) -> list[int]:
        import os

        return sorted(self.client.run(os.getpid).values())


def make_executor(kind="sequential", *, workers: int = 1, scheduler: str | None = None):
    """An executor by name: ``sequential``, ``processes``, ``dask``, ``slurm`` or ``pbs``.

    ``kind`` may also be an executor config: a mapping such as ``{"kind": "slurm",
    "cores": 4, "memory": "16GB", "walltime": "01:00:00", "queue": "normal"}``, a
    :class:`~._dask_cluster.ExecutorConfig`, or the path of a YAML file with an
    ``executor:`` section (see :func:`~._dask_cluster.load_executor_config`); its
    ``workers`` then counts the worker processes.
    """
    from pathlib import PurePath

    if isinstance(kind, (dict, PurePath)) or type(kind).__name__ == "ExecutorConfig":
        from ._dask_cluster import executor_from_config

        if scheduler:
            raise ValueError("scheduler and an executor config exclude each other: the "
                             f"config starts its own cluster; got scheduler {scheduler!r}")
        return executor_from_config(kind)
    kind = check_choice("executor", kind, EXECUTORS)
    if scheduler and kind != "dask":
        raise ValueError(f"--scheduler needs the dask executor; got executor {kind!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1; got {workers}")
    if kind == "sequential":
        return SequentialExecutor()
    if kind == "processes":
        return ProcessExecutor(workers)
    if kind in ("slurm", "pbs"):
        raise ValueError(f"executor {kind!r} needs its cluster settings (cores, memory, "
                         "walltime, queue …): pass a config, e.g. executor={'kind': "
                         f"{kind!r}, 'cores': 4, 'memory': '16GB'}} or --cluster FILE.yml")
    return DaskExecutor(workers, scheduler)
