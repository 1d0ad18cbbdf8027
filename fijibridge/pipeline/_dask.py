"""The Dask side of the executors: batches of items, the worker's side of a batch,
and local clusters that outlive a run.

Where the time of a Dask run went before (issue #20, 80 items, 2 cores): cluster start
1.0 s; Xvfb + JVM start 0.9-1.4 s per worker, two workers racing for display :90;
cluster close waiting 1.7 s for each worker's JVM to exit; 6-8 ms of scheduler CPU per
item (one task per item).  Here: items go in batches (:func:`batch_sizes`), a worker
whose JVM runs exits without waiting for it (:meth:`Session.exit_without_waiting
<fijibridge.bridge.session.Session.exit_without_waiting>`), displays are claimed with
a lock (:mod:`fijibridge.bridge._display`), and :func:`start_local_cluster` keeps
workers, JVMs started, for any number of runs (``run_pipeline(scheduler=...)``).
"""

from __future__ import annotations

import logging
import math
import os
import sys

__all__ = ["Batch", "batch_sizes", "run_batch", "start_local_cluster", "warm_workers"]

log = logging.getLogger(__name__)

#: most items in one task: a worker killed mid-batch costs at most this many reruns
MAX_BATCH = 16


def batch_sizes(n: int, workers: int, *, max_size: int = MAX_BATCH) -> list[int]:
    """Sizes of the batches ``n`` items go in, largest first (guided self-scheduling).

    Each batch takes ``1 / (2 * workers)`` of the items still to hand out (at most
    ``max_size``, at least 1): few tasks (the scheduler's cost per task is paid per
    batch), and batches that shrink towards the end, so that no worker is left with a
    long batch while the others are idle.

    >>> batch_sizes(40, 2)
    [10, 8, 6, 4, 3, 3, 2, 1, 1, 1, 1]
    """
    if n < 0 or workers < 1 or max_size < 1:
        raise ValueError(f"batch_sizes needs n >= 0, workers >= 1 and max_size >= 1; got "
                         f"n={n}, workers={workers}, max_size={max_size}")
    sizes, left = [], n
    while left:
        size = max(1, min(max_size, math.ceil(left / (2 * workers)) if left > workers else 1))
        sizes.append(size)
        left -= size
    return sizes


def split(tasks: list, workers: int, *, max_size: int = MAX_BATCH) -> list[list]:
    """``tasks`` cut into batches of :func:`batch_sizes`."""
    out, i = [], 0
    for size in batch_sizes(len(tasks), workers, max_size=max_size):
        out.append(tasks[i:i + size])
        i += size
    return out


class Batch:
    """One task: ``fn`` applied to each of ``items``, in order.

    The executor serializes it as it serializes any task argument (Dask with pickle or,
    for a function defined in a notebook or a closure, cloudpickle; ``concurrent.futures``
    with pickle, so there ``fn`` must be a module-level function).  What the items share
    (the pipeline spec) is stored once, and Dask sends the object as it is: it does not
    walk a list of dicts looking for futures.  fijibridge itself unpickles nothing.
    """

    __slots__ = ("fn", "items")

    def __init__(self, fn, items: list):
        self.fn = fn
        self.items = list(items)

    def __repr__(self) -> str:
        return f"Batch({getattr(self.fn, '__name__', self.fn)!r}, {len(self.items)} items)"


def run_batch(batch: Batch) -> list:
    """Run ``batch`` in this (worker) process; the results, in order.

    Once the ImageJ session of this worker runs, the worker is set to exit without
    waiting for the JVM (its results are written before it ends).
    """
    results = [batch.fn(item) for item in batch.items]
    _exit_fast()
    return results


def _exit_fast() -> None:
    """Make this worker process end quickly once its Dask worker has closed.

    The JVM is not waited for (:meth:`Session.exit_without_waiting`), and in a Dask
    worker process the end of Python's own shutdown is skipped (:func:`_end_closed_worker`):
    measured on 2 busy cores, closing a 2-worker cluster took 2.7-2.9 s with the JVMs
    waited for, 1.6 s without that wait, and 0.1 s with both (0.65-0.9 s for workers
    that never started a JVM).
    """
    session_module = sys.modules.get("fijibridge.bridge.session")  # no import: no JVM here
    session = session_module.current_session() if session_module else None
    if session is not None:
        session.exit_without_waiting()
    if "distributed" not in sys.modules:  # a process pool's worker: nothing to import
        return
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:  # not in a Dask worker
        return
    if getattr(worker, "_fijibridge_exit", None) is None:
        import multiprocessing.util

        # run by multiprocessing when the worker process's target has returned (or at
        # interpreter exit for a worker without a nanny); lowest priority: last
        worker._fijibridge_exit = multiprocessing.util.Finalize(
            None, _end_closed_worker, args=(worker,), exitpriority=-1000)


def _end_closed_worker(worker) -> None:
    """End the process now (``os._exit(0)``) if its Dask worker closed normally.

    Everything a worker writes is written, atomically, before its task returns, and
    its worker has closed (comms, scheduler told, local directory removed); what is
    skipped is Python's finalisation: atexit callbacks (the JVM's shutdown among
    them) and freeing every module.  A worker that did not close normally (status not
    ``closed``) takes the ordinary exit, with its exit status.
    """
    import logging as _logging

    from distributed.core import Status

    if worker.status != Status.closed:
        return
    _logging.shutdown()  # flush log handlers
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def prepare_worker(*, start_imagej: bool = True, engine: str = "auto") -> dict:
    """Run on a worker: import the pipeline code and (``start_imagej``) start this
    worker's ImageJ session, so the first items of the next run pay for neither."""
    import time

    from . import execute  # noqa: F401 - the import is the point
    t0 = time.perf_counter()
    info = {"pid": os.getpid(), "imagej_s": None, "error": None}
    if start_imagej:
        try:
            from ..bridge import open_session

            open_session(engine=engine)
            _exit_fast()
            info["imagej_s"] = time.perf_counter() - t0
        except Exception as e:  # noqa: BLE001 - reported; a run without macros still works
            info["error"] = f"{type(e).__name__}: {e}"
            log.warning("worker %d: could not start ImageJ: %s", os.getpid(), info["error"])
    return info


def warm_workers(client, *, start_imagej: bool = True, engine: str = "auto") -> dict:
    """Run :func:`prepare_worker` once on every worker of ``client`` (in parallel, in
    each worker's task thread); ``{worker address: info}``."""
    workers = list(client.scheduler_info()["workers"])
    futures = {w: client.submit(prepare_worker, start_imagej=start_imagej, engine=engine,
                                workers=[w], allow_other_workers=False, pure=False)
               for w in workers}
    return {w: f.result() for w, f in futures.items()}


def start_local_cluster(workers: int = 2, *, warm: bool = True, engine: str = "auto",
                        **kwargs):
    """A Dask ``LocalCluster`` of ``workers`` single-threaded worker processes, kept
    between runs: pass ``cluster.scheduler_address`` as ``scheduler=`` to
    :func:`~fijibridge.pipeline.run_pipeline` (or ``--scheduler`` to ``fijibridge
    run``); close it with ``cluster.close()`` (or use it as a context manager).

    ``warm=True`` starts each worker's ImageJ session now (JVMs started once per
    worker, in parallel), so that no run pays for it.  Other keyword arguments go to
    ``LocalCluster``.

    Examples
    --------
    >>> from fijibridge.pipeline import load_pipeline, run_pipeline
    >>> with start_local_cluster(2) as cluster:                     # doctest: +SKIP
    ...     for folder in ("plate1", "plate2"):
    ...         run_pipeline(spec, inputs=folder, output_dir=f"out/{folder}",
    ...                      executor="dask", scheduler=cluster.scheduler_address)
    """
    from distributed import Client

    cluster = new_local_cluster(workers, **kwargs)
    if warm:
        with Client(cluster) as client:
            for address, info in warm_workers(client, engine=engine).items():
                log.info("dask worker %s (pid %d): ImageJ %s", address, info["pid"],
                         f"ready in {info['imagej_s']:.2f} s" if info["error"] is None
                         else f"not started ({info['error']})")
    return cluster


def worker_settings() -> dict:
    """The Dask settings of the workers fijibridge starts (dotted keys for
    ``dask.config.set``; read after ``distributed`` is imported, whose defaults would
    otherwise replace them).

    * ``MALLOC_TRIM_THRESHOLD_`` is not set: Dask sets it to 64 KiB in every worker
      process so that glibc hands freed memory back at once; then every array above
      64 KiB (a 128×128 float64 image) is page-faulted in afresh, and ImageJ's
      threshold on a 128×128 image ran 5× slower in a worker than in the parent
      (3.3 s vs 0.64 s for 3000 calls).  Worker memory stays flat without it
      (``benchmarks/pipeline_scaling.py`` samples it).
    * The statistical profiler (a stack sample of the task thread every 10 ms, under
      the GIL) is off: it made the items of a 1-worker run ~10 % slower.
    The thread limits (OMP/MKL/OpenBLAS = 1) are kept.  Workers started by hand
    (``dask worker``) or by a batch system read their own configuration: set the same
    there (``distributed.nanny.pre-spawn-environ`` and ``distributed.worker.profile``).
    """
    import dask
    import distributed  # noqa: F401 - loads its defaults, which the settings override

    environ = {k: v for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items()
               if k != "MALLOC_TRIM_THRESHOLD_"}
    return {"distributed.nanny.pre-spawn-environ": environ,
            "distributed.worker.profile.enabled": False}


def new_local_cluster(workers: int, **kwargs):
    """``LocalCluster`` as the executors use it: processes, one thread each, loopback,
    no dashboard, :func:`worker_settings`."""
    try:
        import dask
        from distributed import LocalCluster
    except ImportError as e:
        raise ImportError("the dask executor needs dask.distributed: pip install "
                          "'fijibridge[dask]' (or: pip install 'dask[distributed]')") from e
    options = {"n_workers": workers, "processes": True, "threads_per_worker": 1,
               "host": "127.0.0.1", "dashboard_address": None}
    options.update(kwargs)
    # the nannies read the settings when they start (and put the environment into this
    # process's os.environ, where a later subprocess would inherit it)
    with dask.config.set(worker_settings()):
        return LocalCluster(**options)


def worker_count(client) -> int:
    """Threads over all workers of ``client`` (at least 1: a cluster still starting)."""
    info = client.scheduler_info()
    return max(1, sum(w.get("nthreads", 1) for w in info["workers"].values()))
