"""Running a pipeline: :func:`run_pipeline` orchestrates plan, execute, store, report.

Layout of an output folder::

    <out>/<step>/<item>.<output>.tif|csv|json|png   per-image outputs
    <out>/<step>/<item>.done.json                     manifest: parameter hash, output hashes
    <out>/<step>/<output>.*  and  _dataset.done.json  per-dataset outputs
    <out>/run.json  <out>/report.html

Every file is written atomically and a step's manifest is written last, so a run
killed at any point (``kill -9`` included) leaves only complete files; ``resume=True``
skips an item's step when its manifest holds the same hash (step parameters + hashes
of its inputs) and every output file is there with the size and SHA-256 recorded when
it was written (``file_checks``; a truncated or edited file is recomputed, logged).  A
failing item is recorded and the others go on; dataset steps use the items that got
through.  A dataset step's ``report`` output (a dict) has its ``metrics`` mapping
recorded in ``run.json`` and the summary as it is: the runner names no metric.

Input files are read with :func:`fijibridge.io.read_image` (TIFF, OME-TIFF, CZI, ND2,
LIF, …): steps get their pixels and the ``spacing`` of their calibration, and image
outputs keep it (and the channel names).

Every written path goes through :func:`fijibridge._core.paths.confined_path`: no name
(output, item, step) can put a file outside the output folder.  Before any work the
output folder is checked to be apart from the inputs (it neither holds an input file
nor lies in a folder given as input) and not under a regular file.  Item names are the
inputs' paths relative to their common folder (see :func:`~.plan.make_items`), so two
``img.tif`` of different folders never share outputs.  Inputs are only read.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path

from .._core.atomic import atomic_write_text
from .._core.paths import confined_path, is_within
from .execute import run_dataset_step, run_item_task
from .models import PipelineSpec
from .plan import conditional_skips, find_inputs, make_items, plan_phases, step_fingerprint
from .report import versions, write_report
from .store import check_spacing, item_calibration, json_default, spacing_um

__all__ = ["run_pipeline", "RunSummary", "plan_phases", "find_inputs"]

log = logging.getLogger(__name__)

#: the name before the split (tests/security import it from here)
_make_items = make_items


@dataclasses.dataclass
class RunSummary:
    """What a run did: per-step timings, failures and summary metrics."""

    output_dir: Path
    items: int
    failures: list[dict]
    metrics: dict
    seconds: float
    run_json: Path
    report_html: Path

    @property
    def ok(self) -> bool:
        return not self.failures


def _dataset_step_wants_spacing(spec: PipelineSpec) -> bool:
    """Whether a per-dataset built-in step takes ``spacing`` and its file gives none
    (it then gets the spacing the input files share, read before any step runs)."""
    import inspect

    from .registry import get_step

    return any(s.per == "dataset" and s.builtin and s.params.get("spacing") is None
               and "spacing" in inspect.signature(get_step(s.builtin).func).parameters
               for s in spec.steps)


def _check_output_dir(out_dir: Path) -> None:
    """The output folder exists as a folder or can be made (no file in its way)."""
    for p in (out_dir, *out_dir.parents):
        if p.exists() or p.is_symlink():
            if not p.is_dir():
                what = "is" if p == out_dir else f"lies under {str(p)!r}, which is"
                raise ValueError(f"output_dir {str(out_dir)!r} {what} a file, not a folder; "
                                 "give a folder path (it is made when missing)")
            return


def _check_inputs_apart(out_dir: Path, items: list, folders: list) -> None:
    """Outputs never overwrite or mix with inputs: no input file inside the output
    folder (``-o`` equal to an input's folder included), and no output folder inside
    a folder given as input (a later run would read the outputs back as inputs)."""
    for it in items:
        if it.file and is_within(it.file, out_dir):
            raise ValueError(f"output_dir {str(out_dir)!r} holds the input file {it.file!r}; "
                             "outputs could overwrite inputs — write the outputs to a folder "
                             "apart from the inputs")
    for folder in folders:
        if is_within(out_dir, folder):
            raise ValueError(f"output_dir {str(out_dir)!r} lies in the input folder "
                             f"{str(folder)!r}; outputs would mix with (and later be read as) "
                             "inputs — write the outputs to a folder apart from the inputs")


def _export(spec: PipelineSpec, out_dir: Path, dataset_available: dict, skip: set) -> dict:
    """Copy the file's ``exports`` (per-dataset outputs) to the output folder's top level,
    atomically; ``{name: source file}`` of those copied (skipped or failed ones left out,
    logged)."""
    from .._core.atomic import atomic_write_bytes

    done = {}
    for name, ref in spec.exports.items():
        if ref not in dataset_available:
            log.log(logging.INFO if ref.split(".")[0] in skip else logging.WARNING,
                    "export %s not written: %s was not produced", name, ref)
            continue
        src = Path(dataset_available[ref]["file"])
        atomic_write_bytes(confined_path(out_dir, name, what="export"), src.read_bytes())
        done[name] = src.relative_to(out_dir).as_posix()
    return done


def _unit_hint() -> str:
    return ("set it with --spacing Z,Y,X (µm; Y,X for 2-D) or 'items: {spacing: [z, y, x]}' in "
            "the pipeline file, or write the calibration into the file (ImageJ: Image > "
            "Properties, then save)")


class _Calibrations:
    """The calibration of each item, noted once: one warning per item whose image states
    no pixel size (or no Z step), or whose stated spacing an override replaces."""

    def __init__(self):
        self.of: dict = {}
        self.warnings: list[str] = []

    def note(self, item, calib) -> None:
        if calib is None or item.key in self.of:
            return
        self.of[item.key] = calib
        what = repr(item.file) if item.file else f"item {item.key!r}"
        sp = spacing_um(calib)
        if calib.get("spacing_source") == "override":
            stated = calib.get("file_spacing_um") or {}
            differs = [a for a in "zyx" if stated.get(a) is not None and sp.get(a) is not None
                       and abs(stated[a] - sp[a]) > 1e-9 * max(stated[a], sp[a])]
            if differs:
                self._warn(f"{what} states a voxel size of {_fmt(stated)} µm; the spacing "
                           f"override {_fmt(sp)} µm replaces it")
        elif not calib.get("calibrated"):
            self._warn(f"{what} states no pixel size (uncalibrated): sizes, lengths and "
                       f"filters are in pixels (spacing 1); {_unit_hint()}")
        elif len(calib["spacing"]) == 3 and sp.get("z") is None:
            self._warn(f"{what} states no Z step: {calib['spacing'][0]:g} µm is used; "
                       f"{_unit_hint()}")

    def _warn(self, message: str) -> None:
        log.warning("%s", message)
        self.warnings.append(message)

    def record(self, item) -> dict:
        """What run.json's ``items`` holds for ``item``: its metadata, then its calibration."""
        c = self.of.get(item.key)
        return {**item.meta, "calibrated": bool(c["calibrated"]) if c else None,
                "spacing_um": spacing_um(c), "channels": list(c["channels"]) if c else None,
                "spacing_source": (c.get("spacing_source") or ("step" if c["calibrated"] else
                                                                "none")) if c else None}


def _fmt(sp: dict) -> str:
    return " × ".join(f"{sp[a]:g}" if sp.get(a) is not None else "?" for a in "zyx"
                      if a in sp and (a != "z" or sp[a] is not None))


def run_pipeline(spec: PipelineSpec, *, output_dir, inputs=None, resume: bool = False,
                 executor: str = "sequential", workers: int = 1, scheduler: str | None = None,
                 progress: bool = True, overrides: dict | None = None, samples=None,
                 spacing=None) -> RunSummary:
    """Run ``spec``; write outputs, ``run.json`` and ``report.html`` into ``output_dir``.

    Parameters
    ----------
    inputs : str or list of str, optional
        Files, folders or globs of images (any format read_image reads); they replace the file's items
        source (e.g. the synthetic cohort).
    resume : bool
        Skip item steps whose outputs exist for the same parameters and inputs.
    executor : {'sequential', 'processes', 'dask'} or executor config
        Where the per-item chains run; ``workers`` processes, or the Dask cluster at
        ``scheduler`` (each worker process opens its own ImageJ session when a macro
        step needs one); or a config (mapping or YAML file with an ``executor:``
        section, e.g. SLURM/PBS jobs, see :mod:`~fijibridge.pipeline._dask_cluster`).
    samples : str or Path, optional
        A sample sheet (CSV: file, condition, individual[, others]) giving the input
        files and their metadata (see :mod:`fijibridge.pipeline.samples`); default the
        file's ``items.samples``.  Checked before any work.
    spacing : sequence of float, optional
        Voxel size (µm; z, y, x, or y, x) of the input files, replacing what they state
        (for files that state none); default the file's ``items.spacing``.  Recorded
        in ``run.json`` (``spacing_override``, and ``spacing_source`` per item).

    Calibration: an input whose image states no pixel size (or no Z step) is run with
    spacing 1 and gets one warning (logged once and listed in ``run.json``'s
    ``warnings``); ``run.json``'s ``items`` record per item its metadata and
    ``calibrated``, ``spacing_um``, ``channels``, ``spacing_source``, and every table
    row a per-item step writes has a ``calibrated`` column.
    """
    from .._core.progress import Progress
    from .executors import make_executor

    t_start = time.perf_counter()
    out_dir = Path(output_dir)
    _check_output_dir(out_dir)
    folders: list = []
    override_from = "spacing argument (--spacing)" if spacing is not None else "items.spacing"
    override = spacing if spacing is not None else spec.items.spacing
    override = check_spacing(override, name=override_from) if override is not None else None
    items, from_files = make_items(spec, inputs, folders, samples=samples)
    _check_inputs_apart(out_dir, items, folders)
    if override is not None and not from_files:
        log.warning("the spacing override %s µm applies to input files; this run's items "
                    "come from step %r, which states its own", list(override), spec.items.source)
        override = None
    calibrations = _Calibrations()
    out_dir.mkdir(parents=True, exist_ok=True)
    for s in spec.steps:  # a step folder that is a link elsewhere: refused before any work
        folder = confined_path(out_dir, s.id, what="step folder")
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"output_dir {str(out_dir)!r}: {str(folder)!r} is a file, not a "
                             f"folder; step {s.id!r} writes its outputs there")
    # temporary files of writes cut short (a killed run): never read, removed here
    for stale in list(out_dir.glob(".*.tmp*")) + list(out_dir.glob("*/.*.tmp*")):
        log.info("removing %s (left by an interrupted write)", stale)
        stale.unlink(missing_ok=True)
    source = spec.items.source
    skip = {source} if (from_files and source) else set()
    conditions = conditional_skips(spec)  # steps switched off by an empty `when:`
    for sid, why in conditions.items():
        log.info("step %s skipped: %s", sid, why)
    skip |= set(conditions)
    aliases = {}
    if from_files and source:
        aliases = {f"{source}.image": "input.image"}
    phases = plan_phases(spec, skip=skip)
    fingerprints = {s.id: step_fingerprint(spec, s) for s in spec.steps}
    item_state = {it.key: {"available": {}, "calibration": None, "broken": set()}
                  for it in items}
    if from_files and _dataset_step_wants_spacing(spec):  # e.g. psf without spacing:
        from ..io import read_image                         # from the files' calibration

        for it in items:
            _, calib = item_calibration(read_image(it.file, lazy=True), override)
            item_state[it.key]["calibration"] = calib
            calibrations.note(it, calib)
    step_stats = {s.id: {"per": s.per, "kind": s.kind, "ok": 0, "resumed": 0, "failed": 0,
                         "skipped": 0, "seconds": 0.0} for s in spec.steps if s.id not in skip}
    failures: list[dict] = []
    dataset_available: dict = {}
    metrics: dict = {}
    macro_versions = None
    reports = {}
    pids: set = set()
    log.info("pipeline %s: %d items, %d phases, executor %s", spec.name, len(items), len(phases),
             executor)
    with make_executor(executor, workers=workers, scheduler=scheduler) as ex:
        for kind, ids in phases:
            if kind == "items":
                tasks = []
                for it in items:
                    st = item_state[it.key]
                    tasks.append({"spec": spec, "out_dir": str(out_dir), "item": it.key,
                                  "meta": it.meta, "resume": resume, "steps": ids,
                                  "available": {**dataset_available, **st["available"]},
                                  "aliases": aliases, "calibration": st["calibration"],
                                  "file": it.file, "file_hash": it.file_hash,
                                  "fingerprints": fingerprints, "source": source,
                                  "spacing_override": override,
                                  "broken": sorted(st["broken"])})
                # a bar on a terminal; in a log (a batch job) one line per item
                bar = Progress(len(tasks), desc=f"{spec.name}: {', '.join(ids)}",
                               unit="item", enabled=progress)
                by_key = {it.key: it for it in items}
                for res in ex.map_unordered(run_item_task, tasks):
                    st = item_state[res["item"]]
                    st["available"].update(res["available"])
                    st["calibration"] = st["calibration"] or res["calibration"]
                    calibrations.note(by_key[res["item"]], st["calibration"])
                    st["broken"].update(res["broken"])
                    pids.add(res["pid"])
                    if res.get("versions") and not macro_versions:
                        macro_versions = res["versions"]
                    failed = []
                    for sid, r in res["steps"].items():
                        step_stats[sid][r["status"]] += 1
                        step_stats[sid]["seconds"] += r.get("seconds", 0.0)
                        for k, v in r.get("ran_on", {}).items():  # e.g. segment's backend
                            seen = step_stats[sid].setdefault("ran_on", {}).setdefault(k, [])
                            if v not in seen:
                                seen.append(v)
                        if r["status"] == "failed":
                            failures.append({"step": sid, "item": res["item"],
                                             "error": r["error"]})
                            failed.append(sid)
                    bar.update(1, item=res["item"],
                               **({"failed": ",".join(failed)} if failed else {}))
                bar.close()
            else:
                step = spec.step(ids[0])
                try:
                    r, produced, report = run_dataset_step(
                        spec, step, items, item_state, out_dir, resume, fingerprints[step.id],
                        dataset_available)
                    dataset_available.update(produced)
                    step_stats[step.id][r["status"]] += 1
                    step_stats[step.id]["seconds"] += r["seconds"]
                    step_stats[step.id]["items_used"] = r["items"]
                    if report:
                        reports[step.id] = report
                        if isinstance(report.get("metrics"), dict):  # recorded as given
                            metrics[step.id] = dict(report["metrics"])
                except Exception as e:  # noqa: BLE001 - recorded, run goes on
                    log.error("dataset step %s failed: %s: %s", step.id, type(e).__name__, e)
                    log.debug("traceback", exc_info=True)
                    step_stats[step.id]["failed"] += 1
                    failures.append({"step": step.id, "item": None,
                                     "error": f"{type(e).__name__}: {e}"})
                    for st in item_state.values():
                        st["broken"].add(step.id)
    # temporary files of a worker killed mid-write (its items ran again elsewhere)
    for stale in out_dir.glob("*/.*.tmp*"):
        log.info("removing %s (left by a worker that died while writing)", stale)
        stale.unlink(missing_ok=True)
    seconds = time.perf_counter() - t_start
    input_hashes = {it.key: it.file_hash for it in items if it.file_hash}
    run = {"pipeline": spec.name, "file": spec.path, "spec_sha256": spec.fingerprint(),
           "config": spec.config, "overrides": overrides or {},
           "steps": {s.id: {"kind": s.kind, "per": s.per, "params": s.params,
                            "inputs": s.inputs} for s in spec.steps},
           "executor": {"kind": ex.kind, "workers": getattr(ex, "workers", workers),
                        "scheduler": scheduler,
                        "config": ex.config, "seconds": getattr(ex, "seconds", None),
                        "worker_pids": sorted(pids)},
           "resume": resume, "inputs": {"from_files": from_files, "hashes": input_hashes,
                                        "items": len(items)},
           "spacing_override": ({"spacing_um": list(override), "from": override_from}
                                if override is not None else None),
           "samples": str(samples or spec.items.samples) if (samples or spec.items.samples)
           else None,
           "items": {it.key: calibrations.record(it) for it in items},
           "warnings": calibrations.warnings,
           "versions": versions(spec, macro_versions),
           "timings": {"total_s": seconds, "steps": step_stats},
           "metrics": metrics, "failures": failures,
           "skipped_steps": sorted(skip), "skipped_reasons": conditions,
           "exports": _export(spec, out_dir, dataset_available, skip)}
    run_json = atomic_write_text(out_dir / "run.json",
                                 json.dumps(run, indent=1, default=json_default))
    report_html = write_report(out_dir, spec, run, reports)
    if failures:
        log.warning("%d failure(s): %s", len(failures),
                    "; ".join(f"{f['step']}[{f['item']}]: {f['error']}" for f in failures[:5]))
    return RunSummary(out_dir, len(items), failures, metrics, seconds, run_json, report_html)
