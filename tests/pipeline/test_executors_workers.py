"""Dask workers with real ImageJ sessions: a worker killed mid-batch, persistent
clusters across runs, and worker processes that end without waiting for their JVM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fijibridge.pipeline import load_pipeline, run_pipeline

pytestmark = pytest.mark.imagej

REPO = Path(__file__).resolve().parents[2]

STEPS = '''
import os, time
from pathlib import Path
import numpy as np

def marked_blur(image, *, marks, seconds=0.3, item=None):
    """Leave a mark (item, pid) when starting, then work a while."""
    from scipy import ndimage as ndi
    Path(marks, f"{item.replace('/', '_')}.{os.getpid()}").touch()
    time.sleep(seconds)
    return ndi.gaussian_filter(np.asarray(image, np.float32), 1.0)
'''

PIPELINE = """\
version: 1
name: killed
config: {{marks: "{marks}"}}
steps:
  - id: background
    macro: {macro}
    params: {{rolling: 10.0, light: false}}
    inputs: {{image: input.image}}
    outputs: [image]
  - id: blur
    python: k20_steps:marked_blur
    params: {{marks: "${{marks}}"}}
    inputs: {{image: background.image}}
    outputs: [image]
  - id: mask
    threshold: {{method: Otsu}}
    inputs: {{image: blur.image}}
"""

ITEM_STEPS = ("background", "blur", "mask")


@pytest.fixture
def killed_setup(tmp_path, monkeypatch, imagej):
    pytest.importorskip("distributed")
    from fijibridge import write_tiff

    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "k20_steps.py").write_text(STEPS)
    monkeypatch.syspath_prepend(str(mods))  # workers spawned later inherit the path
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(mods), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.delenv("DISPLAY", raising=False)  # each worker its own Xvfb
    rng = np.random.default_rng(0)
    inputs = tmp_path / "in"
    inputs.mkdir()
    for i in range(12):
        img = rng.normal(100, 10, (64, 64)).astype(np.float32)
        img[20:40, 20 + i:40 + i] += 80
        write_tiff(inputs / f"img{i:02d}.tif", img, spacing=(0.2, 0.2))
    marks = tmp_path / "marks"
    marks.mkdir()
    p = tmp_path / "killed.yml"
    p.write_text(PIPELINE.format(marks=marks,
                                 macro=REPO / "macros" / "pipeline_subtract_background.ijm"))
    return load_pipeline(p), inputs, marks


def _kill_a_busy_worker(client, out_dir: Path, marks: Path, done: threading.Event,
                        killed: list):
    """SIGKILL the worker process that has started an item it has not finished."""
    pids = set(client.run(os.getpid).values())
    while not done.is_set():
        for mark in marks.iterdir():
            item, pid = mark.name.rsplit(".", 1)
            pid = int(pid)
            finished = (out_dir / "blur" / f"{item}.done.json").exists()
            if pid in pids and not finished:
                os.kill(pid, signal.SIGKILL)
                killed.append((pid, item, time.monotonic()))
                return
        time.sleep(0.02)


def test_worker_killed_mid_batch_its_items_rerun_elsewhere(killed_setup, tmp_path):
    from distributed import Client

    from fijibridge.pipeline._dask import start_local_cluster

    spec, inputs, marks = killed_setup
    out = tmp_path / "out"
    n = 12
    with start_local_cluster(2, warm=True) as cluster, Client(cluster) as client:
        done, killed = threading.Event(), []
        killer = threading.Thread(target=_kill_a_busy_worker,
                                  args=(client, out, marks, done, killed))
        killer.start()
        try:
            s = run_pipeline(spec, output_dir=out, inputs=str(inputs), executor="dask",
                             scheduler=cluster.scheduler_address, progress=False)
        finally:
            done.set()
            killer.join()
        assert killed, "no worker was killed during the run"
        pid, item, _ = killed[0]
        # the nanny started a new worker in place of the killed one
        assert pid not in set(client.run(os.getpid).values())
    assert s.ok, s.failures
    run = json.loads(s.run_json.read_text())
    steps = run["timings"]["steps"]
    # every item's result came back once: no item lost, none counted twice
    for sid in ITEM_STEPS:
        assert steps[sid]["ok"] == n, (sid, steps[sid])
    # the item the killed worker had started ran again, in another process
    ran_in = {int(m.name.rsplit(".", 1)[1]) for m in marks.glob(f"{item}.*")}
    assert pid in ran_in and len(ran_in) >= 2, ran_in
    # every item's outputs are there once, complete, and nothing else is left
    for sid, output in (("background", "image"), ("blur", "image"), ("mask", "mask")):
        files = sorted(f.name for f in (out / sid).iterdir())
        expected = sorted([f"img{i:02d}.{output}.tif" for i in range(n)]
                          + [f"img{i:02d}.done.json" for i in range(n)])
        assert files == expected, (sid, files)
    # manifests agree with the files (sizes and SHA-256): a resumed run redoes nothing
    again = run_pipeline(spec, output_dir=out, inputs=str(inputs), resume=True,
                         progress=False)
    steps = json.loads(again.run_json.read_text())["timings"]["steps"]
    assert all(steps[sid]["resumed"] == n for sid in ITEM_STEPS), steps


def test_persistent_cluster_serves_runs_with_jvms_started_once(killed_setup, tmp_path):
    from distributed import Client

    from fijibridge.pipeline._dask import start_local_cluster

    spec, inputs, marks = killed_setup
    spec.step("blur").params["seconds"] = 0.0
    with start_local_cluster(2, warm=True) as cluster, Client(cluster) as client:
        before = client.run(_jvm_state)
        assert all(started for _, started in before.values())  # warm: JVMs already up
        runs = [run_pipeline(spec, output_dir=tmp_path / f"run{k}", inputs=str(inputs),
                             executor="dask", scheduler=cluster.scheduler_address,
                             progress=False) for k in range(2)]
        after = client.run(_jvm_state)
    assert all(r.ok for r in runs)
    # the same worker processes (and JVMs) served both runs
    pids = {pid for pid, _ in before.values()}
    assert {pid for pid, _ in after.values()} == pids
    for r in runs:
        assert set(json.loads(r.run_json.read_text())["executor"]["worker_pids"]) <= pids


def _jvm_state():
    import jpype

    return os.getpid(), bool(jpype.isJVMStarted())


EXITING = textwrap.dedent("""
    import sys
    from fijibridge.bridge import open_session
    from scyjava import jimport

    s = open_session(engine="imagej")
    s.run_macro('run("Gaussian Blur...", "sigma=2");', images={"a": __import__("numpy").ones((32, 32), "float32")})
    # a JVM shutdown hook deletes this file: it is gone only if the JVM was shut down
    jimport("java.io.File")(sys.argv[1]).deleteOnExit()
    if sys.argv[2] == "fast":
        s.exit_without_waiting()
    print("done")
""")


@pytest.mark.parametrize("mode", ["wait", "fast"])
def test_process_exit_without_waiting_for_the_jvm(imagej, tmp_path, mode):
    script = tmp_path / "exiting.py"
    script.write_text(EXITING)
    witness = tmp_path / "witness"
    witness.touch()
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    done = subprocess.run([sys.executable, str(script), str(witness), mode],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "done"
    # waited for: the JVM was destroyed (its shutdown hooks ran); fast: it was not
    assert witness.exists() == (mode == "fast")


def test_closed_dask_worker_skips_jvm_shutdown(imagej, tmp_path, monkeypatch):
    """A worker that ran a batch with ImageJ ends once its Dask worker has closed,
    without the JVM's shutdown (witness file left) and with exit status 0."""
    pytest.importorskip("distributed")
    from distributed import Client

    from fijibridge.pipeline._dask import Batch, new_local_cluster, run_batch

    monkeypatch.delenv("DISPLAY", raising=False)
    witness = tmp_path / "witness"
    witness.touch()

    def task(path):
        from fijibridge.bridge import open_session
        from scyjava import jimport

        open_session(engine="imagej").run_macro("x = 1;")
        jimport("java.io.File")(path).deleteOnExit()
        return os.getpid()

    cluster = new_local_cluster(1)
    with Client(cluster) as client:
        [pid] = client.submit(run_batch, Batch(task, [str(witness)]), pure=False).result()
        nanny = next(iter(cluster.workers.values()))
        process = nanny.process.process  # the worker's multiprocessing.Process
    cluster.close()
    assert process.exitcode == 0
    assert not _alive(pid)
    assert witness.exists()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _worker_facts():
    import dask

    return (os.environ.get("MALLOC_TRIM_THRESHOLD_"), os.environ.get("OMP_NUM_THREADS"),
            dask.config.get("distributed.worker.profile.enabled"))


def test_local_cluster_workers_keep_glibc_defaults_and_no_profiler(monkeypatch):
    """Dask's 64 KiB MALLOC_TRIM_THRESHOLD_ (5x slower small-array work) and its 10 ms
    stack profiler are not set in the workers fijibridge starts; the thread limits are
    kept, and this process's environment is not poisoned with the threshold."""
    pytest.importorskip("distributed")
    from distributed import Client

    from fijibridge.pipeline._dask import new_local_cluster

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with new_local_cluster(1) as cluster, Client(cluster) as client:
        trim, omp, profile = client.submit(_worker_facts, pure=False).result()
        callbacks = client.run(lambda dask_worker: sorted(dask_worker.periodic_callbacks))
    assert trim is None
    assert omp == "1"
    assert profile is False
    assert all("profile" not in names for names in callbacks.values())
    assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
