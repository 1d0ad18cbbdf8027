"""Executing steps: one items phase for one item (:func:`run_item_task`, the unit of
work sent to executors) and one per-dataset step (:func:`run_dataset_step`).

Images arrive as :class:`~fijibridge._core.image.Image` (input files through
:func:`fijibridge.io.read_image`, any supported format); a step gets the pixels and
the ``spacing`` of the item's image, and array outputs inherit the item's calibration
(axes, spacing, channel names; see :func:`~fijibridge.pipeline.store.as_image`).
A failing item is recorded and the others go on.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import time
from pathlib import Path

from .._core.atomic import atomic_write_text
from .._core.errors import EngineNotFoundError, JavaNotFoundError, PipelineSpecError
from .._core.image import Image
from .checks import import_function
from .models import PipelineSpec, StepSpec
from .registry import CONTEXT_ARGS, get_step
from .store import (arg, calibration, ext, file_record, hash_value, item_calibration,
                    json_default, load, manifest_path, normalize, out_path, resume_hit, save,
                    to_tiff_image)

__all__ = ["run_item_task", "run_dataset_step", "call_step"]

log = logging.getLogger(__name__)

_SESSION_MISSING = (EngineNotFoundError, JavaNotFoundError, ImportError)


def call_step(spec: PipelineSpec, step: StepSpec, args: dict, *, spacing, item, meta):
    """Run one step on ``args`` (``{input name: value}``); ``{output name: value}``."""
    if step.macro:
        return _run_macro(spec, step, args)
    info = get_step(step.builtin) if step.builtin else None
    func = info.func if info else import_function(step.python)
    params = inspect.signature(func).parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    # arrays, or the Image objects themselves for steps that read calibration/channels
    kwargs = {k: v if (info and info.images) else arg(v) for k, v in args.items()}
    kwargs.update(step.params)
    context = {"spacing": tuple(spacing) if spacing is not None else None, "item": item,
               "meta": meta}
    # a step given its image (psf per item) reads the spacing off it: an uncalibrated
    # image must not be handed a default spacing of 1 µm behind its back
    own = {"spacing"} if info and info.per_image_with in args else set()
    for name in CONTEXT_ARGS:
        if name in own:
            continue
        if name in params or (var_kw and step.python):
            kwargs.setdefault(name, context[name])
    out = func(**kwargs)
    if not isinstance(out, dict):
        if len(step.output_names()) == 1:
            out = {step.output_names()[0]: out}
        else:
            raise TypeError(f"step {step.id!r}: {step.kind} returned {type(out).__name__}; "
                            "steps with several outputs return a dict {name: value}")
    return out


def _run_macro(spec, step: StepSpec, args: dict):
    from ..bridge import open_session

    session = open_session(engine="auto")
    images = {name: to_tiff_image(v) for name, v in args.items() if isinstance(v, Image)}
    r = session.run_macro(spec.macro_path(step), images=images, args=dict(step.params),
                          timeout=step.timeout)
    out = {}
    mapping = step.outputs if isinstance(step.outputs, dict) else \
        {n: n for n in step.output_names()}
    for name, source in mapping.items():
        if source == "results":
            out[name] = r.results
        elif source == "log":
            out[name] = r.log
        elif source in r.images:
            out[name] = r.images[source]
        else:
            raise KeyError(f"macro {step.macro} left no image titled {source!r} open (open: "
                           f"{sorted(r.images)}); name the output after an image title, or "
                           "'results' / 'log'")
    return out


def _session_versions():
    try:
        from ..bridge import open_session

        return dict(open_session(engine="auto").versions())
    except Exception as e:  # noqa: BLE001 - versions are informative only
        return {"error": str(e)}


def _write_outputs(out_dir: Path, step: StepSpec, out: dict, prefix: str, calib, manifest):
    """Save the step's declared outputs; ``{ref: value}`` and ``{ref: {file, hash}}``."""
    values, produced = {}, {}
    wanted = step.output_names()
    lost = [n for n in wanted if n not in out]
    if lost:
        raise KeyError(f"step {step.id!r} did not produce output {lost[0]!r} "
                       f"(it produced {sorted(out)})")
    for name in wanted:
        v = normalize(out[name], calib)
        if isinstance(v, Image) and calib is None:
            calib = calibration(v)
        if prefix and calib is not None:
            v = _with_calibrated_column(v, calib)
        suffix = ext(v)  # an output named after its type ('png') is not written x.png.png
        path = out_path(out_dir, step.id,
                        f"{prefix}{name}" if prefix and suffix == f".{name}" else f"{prefix}{name}{suffix}",
                        what=f"output {name!r} of step {step.id!r}"
                             + (f" for item {prefix[:-1]!r}:" if prefix else ":"))
        manifest["files"][name] = save(v, path)
        manifest["hashes"][name] = hash_value(v)
        values[f"{step.id}.{name}"] = v
        produced[f"{step.id}.{name}"] = {"file": str(path), "hash": manifest["hashes"][name]}
    manifest["file_checks"] = file_record(out_dir, step.id, manifest["files"])
    return values, produced, calib


def _with_calibrated_column(value, calib: dict):
    """A per-item table gets a ``calibrated`` column (whether its item's image states
    its pixel size: sizes in µm, else in pixels), unless the step wrote one itself."""
    import pandas as pd

    if isinstance(value, pd.DataFrame) and "calibrated" not in value.columns:
        value = value.assign(calibrated=bool(calib["calibrated"]))
    return value


def run_item_task(task: dict) -> dict:
    """Run one items phase for one item (the unit of work sent to executors)."""
    spec: PipelineSpec = task["spec"]
    out_dir = Path(task["out_dir"])
    key, meta = task["item"], task["meta"]
    available: dict = dict(task["available"])  # "step.output" -> {"file":..., "hash":...}
    calib = task.get("calibration")  # of the item's image, once known
    values: dict = {}
    results = {}
    versions = None
    broken = set(task.get("broken", ()))  # steps that failed or were skipped for this item
    if task.get("file"):
        from ..io import read_image

        try:
            img = read_image(task["file"], lazy=False)  # any format; TCZYX, spacing in µm
            img, file_calib = item_calibration(img, task.get("spacing_override"))
        except Exception as e:  # noqa: BLE001 - an unreadable item is recorded, others go on
            log.error("item %s: cannot use %s: %s: %s", key, task["file"], type(e).__name__, e)
            error = f"{type(e).__name__}: {e}"
            results = {sid: {"status": "failed", "error": error, "seconds": 0.0}
                       for sid in task["steps"][:1]}
            results.update({sid: {"status": "skipped", "reason": "input file unreadable"}
                            for sid in task["steps"][1:]})
            return {"item": key, "steps": results, "available": {}, "calibration": calib,
                    "versions": None, "broken": sorted(broken | set(task["steps"])),
                    "pid": os.getpid()}
        values["input.image"] = img.with_data(img.to_ndarray())
        calib = calib or file_calib
    for sid in task["steps"]:
        step = spec.step(sid)
        t0 = time.perf_counter()
        refs = {name: task["aliases"].get(ref, ref) for name, ref in step.inputs.items()}
        upstream = sorted({r.split(".")[0] for r in refs.values()} & broken)
        if upstream:
            results[sid] = {"status": "skipped", "reason": f"input step {upstream[0]} failed"}
            broken.add(sid)
            continue
        try:
            missing = [r for r in refs.values() if r not in values and r not in available]
            if missing:
                raise KeyError(f"input {missing[0]!r} is not available for item {key!r}"
                               + (" (that output comes from the items source, which --input "
                                  "replaces)" if missing[0].split(".")[0] == task.get("source")
                                  else ""))
            in_hashes = {n: (available[r]["hash"] if r in available else values[r + "#hash"]
                             if r + "#hash" in values else hash_value(values[r]))
                         for n, r in refs.items()}
            spacing = calib["spacing"] if calib else None
            digest = hashlib.sha256(json.dumps(
                {"step": task["fingerprints"][sid], "inputs": in_hashes, "meta": meta,
                 "file": task.get("file_hash"), "spacing": spacing},
                sort_keys=True, default=str).encode()).hexdigest()
            hit = resume_hit(out_dir, sid, key, digest) if task["resume"] else None
            if hit:
                for name, files in hit["files"].items():
                    available[f"{sid}.{name}"] = {"file": str(out_dir / sid / files[0]),
                                                  "hash": hit["hashes"][name]}
                calib = calib or hit.get("calibration")
                results[sid] = {"status": "resumed", "seconds": 0.0}
                continue
            args = {}
            for name, r in refs.items():
                if r not in values:
                    values[r] = load(Path(available[r]["file"]))
                args[name] = values[r]
            if calib is None:
                calib = next((calibration(v) for v in args.values() if isinstance(v, Image)),
                             None)
            try:
                out = call_step(spec, step, args, spacing=calib["spacing"] if calib else None,
                                item=key, meta=meta)
            except _SESSION_MISSING as e:
                if step.macro and step.optional:
                    log.warning("step %s skipped for %s: no ImageJ engine (%s); it is optional",
                                sid, key, e)
                    results[sid] = {"status": "skipped", "reason": f"no ImageJ: {e}"}
                    broken.add(sid)
                    continue
                raise
            if step.macro and versions is None:
                versions = _session_versions()
            manifest = {"step": sid, "item": key, "hash": digest, "files": {}, "hashes": {}}
            new, produced, calib = _write_outputs(out_dir, step, out, f"{key}.", calib, manifest)
            manifest["spacing"] = calib["spacing"] if calib else None
            manifest["calibration"] = calib
            for ref, v in new.items():
                values[ref] = v
                values[ref + "#hash"] = produced[ref]["hash"]
            available.update(produced)
            # no fsync: resume_hit reads it defensively and checks every file it names
            atomic_write_text(manifest_path(out_dir, sid, key), json.dumps(manifest, indent=1),
                              durable=False)
            results[sid] = {"status": "ok", "seconds": time.perf_counter() - t0}
            # what ran it (a step's dict output naming its device / back-end): run.json
            ran_on = {k: str(v[k]) for v in out.values() if isinstance(v, dict)
                      for k in ("device", "backend") if k in v}
            if ran_on:
                results[sid]["ran_on"] = ran_on
        except Exception as e:  # noqa: BLE001 - one failing item must not stop the others
            log.error("step %s failed for item %s: %s: %s", sid, key, type(e).__name__, e)
            log.debug("traceback", exc_info=True)
            results[sid] = {"status": "failed", "error": f"{type(e).__name__}: {e}",
                            "seconds": time.perf_counter() - t0}
            broken.add(sid)
    produced = {k: v for k, v in available.items() if k.split(".")[0] in task["steps"]}
    return {"item": key, "steps": results, "available": produced, "calibration": calib,
            "versions": versions, "broken": sorted(broken), "pid": os.getpid()}


def _common_spacing(calibs):
    """The spacing all items share, else None (then a step's own parameter must give it)."""
    spacings = {tuple(c["spacing"]) for c in calibs if c and c.get("calibrated")}
    return next(iter(spacings)) if len(spacings) == 1 else None


def run_dataset_step(spec, step, items, item_state, out_dir, resume, fingerprint,
                     dataset_available):
    """Run a per-dataset step over the items that have its inputs.

    Returns ``(stats, produced, report)``; ``report`` is the step's ``report`` output
    when it is a dict (its ``metrics`` go into ``run.json`` as they are).
    """
    t0 = time.perf_counter()
    args: dict = {}
    hashes: dict = {}
    used = [it for it in items
            if all(ref in item_state[it.key]["available"] or ref in dataset_available
                   for ref in step.inputs.values())]
    for name, ref in step.inputs.items():
        if ref in dataset_available:
            args[name] = load(Path(dataset_available[ref]["file"]))
            hashes[name] = dataset_available[ref]["hash"]
        else:
            avail = {it.key: item_state[it.key]["available"][ref] for it in used}
            args[name] = {k: arg(load(Path(a["file"]))) for k, a in avail.items()}
            hashes[name] = {k: a["hash"] for k, a in avail.items()}
    meta = {it.key: it.meta for it in used}
    spacing = _common_spacing([item_state[it.key]["calibration"] for it in used])
    key = {"step": fingerprint, "inputs": hashes, "meta": meta}
    if spacing is not None:  # what the step may take its spacing from
        key["spacing"] = list(spacing)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    hit = resume_hit(out_dir, step.id, "_dataset", digest) if resume else None
    if hit:
        produced = {f"{step.id}.{name}": {"file": str(out_dir / step.id / files[0]),
                                          "hash": hit["hashes"][name]}
                    for name, files in hit["files"].items()}
        return {"status": "resumed", "seconds": 0.0, "items": len(used)}, produced, hit.get("report")
    if any(isinstance(a, dict) for a in args.values()) and not used:
        raise ValueError(f"step {step.id!r}: no item has its inputs (all failed?)")
    if not (step.builtin or step.python):
        raise PipelineSpecError(f"step {step.id!r}: macro steps run per image")
    out = call_step(spec, step, args, spacing=spacing, item=None, meta=meta)
    manifest = {"step": step.id, "hash": digest, "files": {}, "hashes": {}}
    _, produced, _ = _write_outputs(out_dir, step, out, "", None, manifest)
    report = out.get("report") if isinstance(out.get("report"), dict) else None
    manifest["report"] = json.loads(json.dumps(report, default=json_default)) if report else None
    atomic_write_text(manifest_path(out_dir, step.id, "_dataset"),
                      json.dumps(manifest, indent=1, default=json_default))
    return ({"status": "ok", "seconds": time.perf_counter() - t0, "items": len(used)}, produced,
            manifest["report"])
