"""Where per-item tasks run: in this process, in local processes, or on Dask.

Every executor has ``map_unordered(fn, tasks)`` (results as they finish) and is a
context manager.  Tasks are plain dicts and ``fn`` a module-level function, so they
pickle to spawned processes and Dask workers.  A macro step opens the ImageJ session
inside the worker process on first use (one JVM per worker process, reused for every
item that worker gets).
"""

from __future__ import annotations

import logging

from .._core.options import check_choice

__all__ = ["make_executor", "EXECUTORS", "SequentialExecutor", "ProcessExecutor",
           "DaskExecutor"]

log = logging.getLogger(__name__)

EXECUTORS = ("sequential", "processes", "dask")


class SequentialExecutor:
    """Run tasks one after the other in this process."""

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

        futures = [self._pool.submit(fn, t) for t in tasks]
        for f in as_completed(futures):
            yield f.result()


class DaskExecutor:
    """Dask distributed: a ``LocalCluster`` of ``workers`` single-threaded worker
    processes, or the scheduler at ``scheduler`` (e.g. a dask-jobqueue SLURM cluster)."""

    def __init__(self, workers: int = 1, scheduler: str | None = None):
        self.workers = workers
        self.scheduler = scheduler
        self.client = None
        self._cluster = None

    def __enter__(self):
        try:
            from distributed import Client, LocalCluster
        except ImportError as e:
            raise ImportError("the dask executor needs dask.distributed: pip install "
                              "'fijibridge[dask]' (or: pip install 'dask[distributed]')") from e
        if self.scheduler:
            self.client = Client(self.scheduler)
        else:
            self._cluster = LocalCluster(n_workers=self.workers, processes=True,
                                         threads_per_worker=1, host="127.0.0.1",
                                         dashboard_address=None)
            self.client = Client(self._cluster)
        log.info("dask: %s", self.client)
        return self

    def __exit__(self, *exc):
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        return False

    def map_unordered(self, fn, tasks):
        from distributed import as_completed

        futures = [self.client.submit(fn, t, pure=False) for t in tasks]
        for f in as_completed(futures):
            yield f.result()
            f.release()

    def worker_pids(self) -> list[int]:
        import os

        return sorted(self.client.run(os.getpid).values())


def make_executor(kind: str = "sequential", *, workers: int = 1, scheduler: str | None = None):
    """An executor by name: ``sequential``, ``processes`` or ``dask``."""
    kind = check_choice("executor", kind, EXECUTORS)
    if scheduler and kind != "dask":
        raise ValueError(f"--scheduler needs the dask executor; got executor {kind!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1; got {workers}")
    if kind == "sequential":
        return SequentialExecutor()
    if kind == "processes":
        return ProcessExecutor(workers)
    return DaskExecutor(workers, scheduler)
