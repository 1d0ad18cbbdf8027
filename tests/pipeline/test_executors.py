"""Executors: batches, executor configs (SLURM/PBS job scripts), display claims."""

from __future__ import annotations

import os

import pytest

from fijibridge.pipeline._dask import batch_sizes, split
from fijibridge.pipeline.executors import EXECUTORS, make_executor


@pytest.mark.parametrize("n", [0, 1, 2, 7, 40, 200, 1001])
@pytest.mark.parametrize("workers", [1, 2, 8])
def test_batches_cover_every_item_once_and_shrink(n, workers):
    sizes = batch_sizes(n, workers)
    assert sum(sizes) == n
    assert all(1 <= s <= 16 for s in sizes)
    assert sizes == sorted(sizes, reverse=True)
    tasks = list(range(n))
    assert [t for b in split(tasks, workers) for t in b] == tasks
    if n >= 200:  # few tasks for a long batch: the scheduler's cost is per task
        assert len(sizes) < n / 4


def test_batches_end_with_single_items():
    # the last tasks are small, so no worker is left alone with a long batch
    assert batch_sizes(200, 2)[-4:] == [1, 1, 1, 1]
    assert batch_sizes(5, 1, max_size=2) == [2, 2, 1]


def test_batch_sizes_rejects_bad_arguments():
    with pytest.raises(ValueError, match="workers >= 1"):
        batch_sizes(10, 0)


def test_slurm_job_script_from_config():
    pytest.importorskip("dask_jobqueue")
    from fijibridge.pipeline._dask_cluster import job_script

    text = job_script({"kind": "slurm", "workers": 4, "cores": 4, "processes": 2,
                       "memory": "16GB", "walltime": "01:30:00", "queue": "short",
                       "account": "mylab", "job_extra_directives": ["--constraint=avx2"],
                       "job_script_prologue": ["module load java/17"]})
    lines = text.splitlines()
    assert lines[0].startswith("#!")
    for directive in ("#SBATCH -J fijibridge", "#SBATCH -p short", "#SBATCH -A mylab",
                      "#SBATCH --cpus-per-task=4", "#SBATCH -t 01:30:00",
                      "#SBATCH --constraint=avx2"):
        assert directive in lines, (directive, text)
    assert any(line.startswith("#SBATCH --mem=") for line in lines)
    # the prologue comes before the worker command, which starts 2 processes of 2 threads
    prologue = lines.index("module load java/17")
    worker = next(i for i, line in enumerate(lines) if "dask_worker" in line)
    assert prologue < worker
    assert "--nworkers 2" in lines[worker] and "--nthreads 2" in lines[worker]
    assert "--nanny" in lines[worker]  # a killed worker process is restarted in its job


def test_pbs_job_script_from_config_file(tmp_path):
    pytest.importorskip("dask_jobqueue")
    from fijibridge.pipeline._dask_cluster import job_script, load_executor_config

    f = tmp_path / "cluster.yml"
    f.write_text("executor:\n  kind: pbs\n  cores: 2\n  memory: 8GB\n  walltime: '00:30:00'\n"
                 "  queue: workq\n")
    config = load_executor_config(f)
    assert (config.kind, config.cores, config.processes) == ("pbs", 2, 1)
    text = job_script(config)
    assert "#PBS -q workq" in text and "#PBS -l walltime=00:30:00" in text
    assert "ncpus=2" in text and "dask_worker" in text


@pytest.mark.parametrize("section, message", [
    ({"kind": "slurm", "cores": 4, "memory": "8GB", "waltime": "1:00:00"},
     "unknown key 'waltime'.*(?i:did you mean) 'walltime'"),
    ({"kind": "slurm", "memory": "8GB"}, "needs cores"),
    ({"kind": "pbs", "cores": 2, "processes": 4, "memory": "8GB"}, "processes .4. must be <="),
    ({"kind": "local", "queue": "short"}, "queue apply to batch jobs"),
    ({"kind": "lsf", "cores": 2, "memory": "8GB"}, "kind"),
])
def test_executor_config_errors_name_the_rule(section, message):
    from fijibridge.pipeline._dask_cluster import parse_executor_config

    with pytest.raises(ValueError, match=message):
        parse_executor_config(section)


def test_cluster_file_needs_its_section(tmp_path):
    from fijibridge.pipeline._dask_cluster import load_executor_config

    f = tmp_path / "c.yml"
    f.write_text("kind: slurm\n")
    with pytest.raises(ValueError, match="no 'executor:' section"):
        load_executor_config(f)


def test_make_executor_kinds():
    assert {"slurm", "pbs", "dask"} <= set(EXECUTORS)
    with pytest.raises(ValueError, match="needs its cluster settings"):
        make_executor("slurm")
    with pytest.raises(ValueError, match="(?i)did you mean 'dask'"):
        make_executor("dusk")
    with pytest.raises(ValueError, match="exclude each other"):
        make_executor({"kind": "local"}, scheduler="tcp://127.0.0.1:8786")
    ex = make_executor({"kind": "slurm", "workers": 3, "cores": 2, "memory": "4GB"})
    # nothing is started (no scheduler, no job) until the executor is entered
    assert (ex.kind, ex.workers, ex.client) == ("slurm", 3, None)
    assert ex.config == {"kind": "slurm", "workers": 3, "cores": 2, "memory": "4GB"}


def test_display_number_claimed_by_another_process_is_skipped():
    """Two workers starting Xvfb at once both took display :90 first (the loser retried
    :91 a second later): a number being claimed is now passed over at once."""
    import shutil

    if shutil.which("Xvfb") is None:
        pytest.skip("no Xvfb")
    from pathlib import Path

    from fijibridge.bridge import _display

    free = next(n for n in range(_display._FIRST_DISPLAY, _display._FIRST_DISPLAY + 100)
                if not Path(f"/tmp/.X{n}-lock").exists()
                and not Path(f"/tmp/.X11-unix/X{n}").exists() and _free_claim(_display, n))
    held = _display._claim(free)  # as another process starting Xvfb there would
    assert held is not None
    try:
        display = _display.VirtualDisplay()
        try:
            assert display.display != f":{free}"
        finally:
            display.stop()
            display._claim and os.close(display._claim)
    finally:
        os.close(held)


def _free_claim(display_module, n):
    fd = display_module._claim(n)
    if fd is None:
        return False
    os.close(fd)
    return True


SMALL = """\
version: 1
name: small
items: {source: gen}
steps:
  - id: gen
    synth: {kind: nuclei, n: 5, shape: [64, 64], seed: 3}
  - id: mask
    threshold: {method: Otsu}
    inputs: {image: gen.image}
"""


def test_run_with_an_executor_config_records_it(tmp_path):
    pytest.importorskip("distributed")
    import json

    from fijibridge.pipeline import load_pipeline, run_pipeline

    p = tmp_path / "small.yml"
    p.write_text(SMALL)
    cluster = tmp_path / "cluster.yml"
    cluster.write_text("executor:\n  kind: local\n  workers: 2\n  batch: 2\n")
    s = run_pipeline(load_pipeline(p), output_dir=tmp_path / "out", executor=cluster,
                     progress=False)
    assert s.ok, s.failures
    run = json.loads(s.run_json.read_text())
    assert run["executor"]["kind"] == "dask"
    assert run["executor"]["config"] == {"workers": 2, "batch": 2}
    assert run["executor"]["workers"] == 2
    assert run["timings"]["steps"]["mask"]["ok"] == 5
    assert os.getpid() not in run["executor"]["worker_pids"]
    assert len(list((tmp_path / "out" / "mask").glob("*.mask.tif"))) == 5
