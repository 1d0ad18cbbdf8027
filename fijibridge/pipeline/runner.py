"""Running a pipeline: items, per-image chains, per-dataset steps, resume, run.json.

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
through.

Every written path goes through :func:`fijibridge._core.paths.confined_path`: no name
(output, item, step) can put a file outside the output folder.  Before any work the
output folder is checked to be apart from the inputs (it neither holds an input file
nor lies in a folder given as input) and not under a regular file.  Item names are the
inputs' paths relative to their common folder (see :func:`_make_items`), so two
``img.tif`` of different folders never share outputs.  Inputs are only read.
"""

from __future__ import annotations

import dataclasses
import glob as globmod
import hashlib
import html
import json
import logging
import os
import platform
import re
import time
from pathlib import Path

import numpy as np

from .._core.atomic import atomic_write_bytes, atomic_write_text
from .._core.errors import EngineNotFoundError, JavaNotFoundError, PipelineSpecError
from .._core.paths import UnsafePathError, confined_path, is_within
from .._core.tiff import TiffImage
from .spec import _REF, PipelineSpec, StepSpec, import_function
from .steps import BUILTINS, CONTEXT_ARGS, Png, source_items

__all__ = ["run_pipeline", "RunSummary", "plan_phases", "find_inputs"]

log = logging.getLogger(__name__)

_TIFF_EXT = (".tif", ".tiff")


# ----------------------------------------------------------------------------- values


def _normalize(value, spacing):
    """The form a value is saved in (and handed on in), so resumed == clean runs."""
    import pandas as pd

    if isinstance(value, TiffImage):
        return TiffImage(_imagej_dtype(value.data), value.axes, tuple(value.spacing), value.unit)
    if isinstance(value, np.ndarray):
        data = _imagej_dtype(value)
        axes = {2: "YX", 3: "ZYX"}.get(data.ndim)
        sp = tuple(spacing) if spacing is not None and len(spacing) == data.ndim else None
        return TiffImage(data, axes or "", sp or (1.0,) * min(data.ndim, 3), "micron")
    if isinstance(value, (Png, pd.DataFrame)):
        return value
    if isinstance(value, dict):
        return json.loads(json.dumps(value, default=_json_default))
    if isinstance(value, str):
        return value
    raise TypeError(f"a step returned {type(value).__name__}; steps return arrays, TiffImage, "
                    "DataFrames, dicts, str or Png")


def _imagej_dtype(a):
    a = np.asarray(a)
    if a.dtype == bool:
        return a.astype(np.uint8) * 255
    if a.dtype in (np.uint8, np.uint16, np.float32):
        return np.ascontiguousarray(a)
    if np.issubdtype(a.dtype, np.integer) and a.min() >= 0 and a.max() < 65536:
        return a.astype(np.uint16)
    return a.astype(np.float32)


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


def _hash_value(value) -> str:
    import pandas as pd

    h = hashlib.sha256()
    if isinstance(value, TiffImage):
        h.update(f"{value.data.dtype}{value.data.shape}{tuple(value.spacing)}".encode())
        h.update(np.ascontiguousarray(value.data).tobytes())
    elif isinstance(value, pd.DataFrame):
        h.update(value.to_csv(index=False).encode())
    elif isinstance(value, (bytes, str)):
        h.update(value if isinstance(value, bytes) else value.encode())
    else:
        h.update(json.dumps(value, sort_keys=True, default=_json_default).encode())
    return h.hexdigest()


def _ext(value) -> str:
    import pandas as pd

    if isinstance(value, TiffImage):
        return ".tif"
    if isinstance(value, pd.DataFrame):
        return ".csv"
    if isinstance(value, Png):
        return ".png"
    if isinstance(value, str):
        return ".txt"
    return ".json"


def _save(value, path: Path) -> list[str]:
    import pandas as pd

    from .._core.tiff import write_tiff

    files = [path.name]
    if isinstance(value, TiffImage):
        write_tiff(path, value.data, spacing=value.spacing, axes=value.axes or None,
                   unit=value.unit)
    elif isinstance(value, pd.DataFrame):
        atomic_write_text(path, value.to_csv(index=False))
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            pass
        else:
            from .._core.atomic import atomic_path

            with atomic_path(path.with_suffix(".parquet")) as tmp:
                value.to_parquet(tmp, index=False)
            files.append(path.with_suffix(".parquet").name)
    elif isinstance(value, Png):
        atomic_write_bytes(path, bytes(value))
    elif isinstance(value, str):
        atomic_write_text(path, value)
    else:
        atomic_write_text(path, json.dumps(value, indent=1, sort_keys=True))
    return files


def _load(path: Path):
    import pandas as pd

    from .._core.tiff import read_tiff

    if path.suffix in _TIFF_EXT:
        t = read_tiff(path)
        return TiffImage(t.data, t.axes, tuple(t.spacing), t.unit)
    if path.suffix == ".csv":
        # floats must read back exactly (resumed runs == clean runs): pandas >= 3 does so
        # by default and deprecates the option
        if int(pd.__version__.split(".")[0]) >= 3:
            return pd.read_csv(path)
        return pd.read_csv(path, float_precision="round_trip")
    if path.suffix == ".png":
        return Png(path.read_bytes())
    if path.suffix == ".txt":
        return path.read_text(encoding="utf-8")
    return json.loads(path.read_text(encoding="utf-8"))


def _arg(value):
    """What a step function receives: arrays for images."""
    if isinstance(value, TiffImage):
        return value.data
    return value


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------- items


def find_inputs(spec_text: str, *, base: Path | None = None) -> tuple[Path, list[Path]]:
    """Files of ``--input``: a file, a folder (its TIFFs, recursively) or a glob."""
    p = Path(spec_text)
    if not p.is_absolute() and base is not None and not p.exists():
        p = base / p
    if p.is_file():
        return p.parent, [p]
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix.lower() in _TIFF_EXT)
        root = p
    else:
        files = sorted(Path(f) for f in globmod.glob(str(p), recursive=True) if Path(f).is_file())
        root = Path(globmod.escape(str(p)).split("*")[0].split("?")[0] or ".")
        root = root if root.is_dir() else root.parent
    if not files:
        raise FileNotFoundError(f"--input {spec_text!r} matches no file"
                                + (" (folders are searched for .tif/.tiff)" if p.is_dir() else ""))
    return root, files


def _pattern_meta(pattern: str | None, rel: str) -> dict:
    if not pattern:
        return {}
    regex = re.escape(pattern)
    regex = re.sub(r"\\\{(\w+)\\\}", lambda m: f"(?P<{m.group(1)}>[^/]+?)", regex)
    m = re.fullmatch(regex, rel.replace(os.sep, "/"))
    if not m:
        raise ValueError(f"input file {rel!r} does not match items.pattern {pattern!r}")
    return m.groupdict()


@dataclasses.dataclass
class Item:
    key: str
    meta: dict
    file: str | None = None  # input file (file items)
    file_hash: str | None = None


def _item_key(rel: str) -> str:
    return re.sub(r"[^\w.-]+", "_", os.path.splitext(rel)[0]).lstrip(".") or "_"


def _make_items(spec: PipelineSpec, inputs, folders: list | None = None
                ) -> tuple[list[Item], bool]:
    """Items and whether they come from files (then the source step is replaced).

    Item names (the prefix of every output file) are the input's path relative to
    the common folder of all inputs, without extension, other characters than
    letters, digits, ``.``, ``-`` and ``_`` replaced by ``_`` (``a/img.tif`` and
    ``b/img.tif`` give ``a_img`` and ``b_img``).  Where two files still give the same
    name (``x_y.tif`` and ``x/y.tif``), each gets ``-`` and 8 hex digits of the
    SHA-256 of its relative path, so no two items share an output file.  A file
    named by several ``--input`` is one item.  ``folders`` (when given) receives the
    folders named as inputs.
    """
    files_spec = inputs if inputs else spec.items.files
    if files_spec:
        base = spec.base_dir()
        found = []  # (root, file) per input text
        seen = set()
        for text in ([files_spec] if isinstance(files_spec, str) else files_spec):
            root, files = find_inputs(str(text), base=base)
            p = Path(str(text))
            p = p if p.is_absolute() or p.exists() else base / p  # as find_inputs
            if folders is not None and p.is_dir():
                folders.append(p)
            for f in files:
                real = os.path.realpath(f)
                if real in seen:
                    log.info("input %s is named twice; one item", f)
                    continue
                seen.add(real)
                found.append((root, f))
        common = os.path.commonpath([os.path.abspath(r) for r, _ in found]) if found else ""
        rels = [os.path.relpath(os.path.abspath(f), common) for _, f in found]
        keys = [_item_key(r) for r in rels]
        dup = {k for k in keys if keys.count(k) > 1}
        keys = [f"{k}-{hashlib.sha256(r.encode()).hexdigest()[:8]}" if k in dup else k
                for k, r in zip(keys, rels)]
        items = []
        for (root, f), key in zip(found, keys):
            rel = os.path.relpath(f, root)
            meta = _pattern_meta(spec.items.pattern, rel)
            meta.setdefault("file", str(f))
            items.append(Item(key, meta, str(f), _file_hash(f)))
        return items, True
    if spec.items.source:
        step = spec.step(spec.items.source)
        made = source_items(step.builtin, step.params) if step.builtin else None
        if made is None:
            raise PipelineSpecError(f"{spec.path}:{step.line}: items.source {step.id!r} is not a "
                                    "step that makes items (e.g. synth)")
        return [Item(k, m) for k, m in made], False
    raise ValueError(f"pipeline {spec.name!r} has no items: give --input FILES (a file, folder "
                     "or glob) or declare items.source / items.files in the file")


# ----------------------------------------------------------------------------- planning


def plan_phases(spec: PipelineSpec, *, skip: set[str] = frozenset()) -> list[tuple[str, list[str]]]:
    """Group steps into phases: ``("items", [ids])`` chains run per item in one task,
    ``("dataset", [id])`` steps run once over all items, in dependency order."""
    deps = spec.dependencies()
    phases: list[tuple[str, list[str]]] = []
    where: dict[str, int] = {}
    for s in spec.order():
        if s.id in skip:
            continue
        ds = [d for d in deps[s.id] if d in where]
        if s.per == "dataset":
            phases.append(("dataset", [s.id]))
            where[s.id] = len(phases) - 1
            continue
        lo = 0
        for d in ds:
            lo = max(lo, where[d] + (1 if phases[where[d]][0] == "dataset" else 0))
        target = next((i for i in range(lo, len(phases)) if phases[i][0] == "items"), None)
        # an items phase before a dataset phase we do not depend on is fine
        if target is None:
            phases.append(("items", []))
            target = len(phases) - 1
        phases[target][1].append(s.id)
        where[s.id] = target
    return phases


def _step_fingerprint(spec: PipelineSpec, step: StepSpec) -> str:
    data = {"kind": step.kind, "params": step.params, "inputs": step.inputs,
            "outputs": step.outputs, "per": step.per}
    if step.macro:
        path = spec.macro_path(step)
        data["macro_sha256"] = _file_hash(path) if path.is_file() else None
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


# ----------------------------------------------------------------------------- running steps


_SESSION_MISSING = (EngineNotFoundError, JavaNotFoundError, ImportError)


def _call_step(spec: PipelineSpec, step: StepSpec, args: dict, *, spacing, item, meta):
    if step.macro:
        return _run_macro(spec, step, args, spacing)
    func = BUILTINS[step.builtin].func if step.builtin else import_function(step.python)
    import inspect

    params = inspect.signature(func).parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    kwargs = {k: _arg(v) for k, v in args.items()}
    kwargs.update(step.params)
    context = {"spacing": tuple(spacing) if spacing is not None else None, "item": item,
               "meta": meta}
    for name in CONTEXT_ARGS:
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


def _run_macro(spec, step: StepSpec, args: dict, spacing):
    from ..bridge import open_session

    session = open_session(engine="auto")
    images = {}
    for name, value in args.items():
        if isinstance(value, TiffImage):
            images[name] = value
        elif isinstance(value, np.ndarray):
            images[name] = _normalize(value, spacing)
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


def _out_path(out_dir: Path, step_id: str, filename: str, *, what: str) -> Path:
    """Where a file of a step goes: always inside ``out_dir`` (the one resolver)."""
    return confined_path(out_dir, step_id, filename, what=what)


def _manifest_path(out_dir: Path, step_id: str, key: str) -> Path:
    return _out_path(out_dir, step_id, f"{key}.done.json",
                     what=f"manifest of step {step_id!r} for item")


def _file_record(out_dir: Path, step_id: str, files: dict) -> dict:
    """``{file name: {"size", "sha256"}}`` of the files just written (for --resume)."""
    rec = {}
    for names in files.values():
        for f in names:
            path = out_dir / step_id / f
            rec[f] = {"size": path.stat().st_size, "sha256": _file_hash(path)}
    return rec


def _resume_hit(out_dir: Path, step_id: str, key: str, digest: str):
    """The manifest when step ``step_id`` of item ``key`` can be skipped, else None.

    Skipped only when the manifest holds the same hash and every output file is there
    with the size and SHA-256 recorded when it was written; anything else (a
    truncated or edited file, a manifest from an older version without file
    checksums) is logged and the step recomputed.
    """
    mpath = _manifest_path(out_dir, step_id, key)
    if not mpath.is_file():
        return None
    try:
        m = json.loads(mpath.read_text(encoding="utf-8"))
        files = [f for names in m["files"].values() for f in names]
        checks = m.get("file_checks")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        log.warning("resume: %s is unreadable; recomputing %s for %s", mpath, step_id, key)
        return None
    if m.get("hash") != digest:
        return None
    if not isinstance(checks, dict):
        log.warning("resume: %s records no output checksums; recomputing %s for %s", mpath,
                    step_id, key)
        return None
    for f in files:
        try:
            path = _out_path(out_dir, step_id, f, what="output file in manifest")
            ok = (path.is_file() and f in checks
                  and path.stat().st_size == checks[f]["size"]
                  and _file_hash(path) == checks[f]["sha256"])
        except (UnsafePathError, OSError, KeyError, TypeError) as e:
            log.warning("resume: %s: %s; recomputing %s for %s", mpath, e, step_id, key)
            return None
        if not ok:
            log.warning("resume: %s is missing or differs from the size/SHA-256 recorded "
                        "when it was written; recomputing %s for %s", out_dir / step_id / f,
                        step_id, key)
            return None
    return m


def run_item_task(task: dict) -> dict:
    """Run one items phase for one item (the unit of work sent to executors)."""
    spec: PipelineSpec = task["spec"]
    out_dir = Path(task["out_dir"])
    key, meta = task["item"], task["meta"]
    resume = task["resume"]
    available: dict = dict(task["available"])  # "step.output" -> {"file":..., "hash":...}
    spacing = task.get("spacing")
    values: dict = {}
    results = {}
    versions = None
    broken = set(task.get("broken", ()))  # steps that failed or were skipped for this item
    if task.get("file"):
        if "input.image" not in values:
            img = _load(Path(task["file"]))
            values["input.image"] = img
            spacing = spacing or tuple(img.spacing)
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
                             if r + "#hash" in values else _hash_value(values[r]))
                         for n, r in refs.items()}
            digest = hashlib.sha256(json.dumps(
                {"step": task["fingerprints"][sid], "inputs": in_hashes, "meta": meta,
                 "file": task.get("file_hash"), "spacing": spacing},
                sort_keys=True, default=str).encode()).hexdigest()
            hit = _resume_hit(out_dir, sid, key, digest) if resume else None
            if hit:
                for name, files in hit["files"].items():
                    available[f"{sid}.{name}"] = {"file": str(out_dir / sid / files[0]),
                                                  "hash": hit["hashes"][name]}
                spacing = spacing or (tuple(hit["spacing"]) if hit.get("spacing") else None)
                results[sid] = {"status": "resumed", "seconds": 0.0}
                continue
            args = {}
            for name, r in refs.items():
                if r not in values:
                    values[r] = _load(Path(available[r]["file"]))
                args[name] = values[r]
            if spacing is None:
                spacing = next((tuple(v.spacing) for v in args.values()
                                if isinstance(v, TiffImage)), None)
            try:
                out = _call_step(spec, step, args, spacing=spacing, item=key, meta=meta)
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
            wanted = step.output_names()
            lost = [n for n in wanted if n not in out]
            if lost:
                raise KeyError(f"step {sid!r} did not produce output {lost[0]!r} "
                               f"(it produced {sorted(out)})")
            manifest = {"step": sid, "item": key, "hash": digest, "files": {}, "hashes": {},
                        "spacing": list(spacing) if spacing else None}
            for name in wanted:
                v = _normalize(out[name], spacing)
                if spacing is None and isinstance(v, TiffImage):
                    spacing = tuple(v.spacing)
                    manifest["spacing"] = list(spacing)
                path = _out_path(out_dir, sid, f"{key}.{name}{_ext(v)}",
                                 what=f"output {name!r} of step {sid!r} for item {key!r}:")
                manifest["files"][name] = _save(v, path)
                manifest["hashes"][name] = _hash_value(v)
                values[f"{sid}.{name}"] = v
                values[f"{sid}.{name}#hash"] = manifest["hashes"][name]
                available[f"{sid}.{name}"] = {"file": str(path), "hash": manifest["hashes"][name]}
            manifest["file_checks"] = _file_record(out_dir, sid, manifest["files"])
            atomic_write_text(_manifest_path(out_dir, sid, key), json.dumps(manifest, indent=1))
            results[sid] = {"status": "ok", "seconds": time.perf_counter() - t0}
        except Exception as e:  # noqa: BLE001 - one failing item must not stop the others
            log.error("step %s failed for item %s: %s: %s", sid, key, type(e).__name__, e)
            log.debug("traceback", exc_info=True)
            results[sid] = {"status": "failed", "error": f"{type(e).__name__}: {e}",
                            "seconds": time.perf_counter() - t0}
            broken.add(sid)
    produced = {k: v for k, v in available.items() if k.split(".")[0] in task["steps"]}
    return {"item": key, "steps": results, "available": produced,
            "spacing": list(spacing) if spacing else None, "versions": versions,
            "broken": sorted(broken), "pid": os.getpid()}


def _run_dataset_step(spec, step, items, item_state, out_dir, resume, fingerprint,
                      dataset_available):
    """Run a per-dataset step over the items that have its inputs."""
    t0 = time.perf_counter()
    args: dict = {}
    hashes: dict = {}
    used = []
    for it in items:
        st = item_state[it.key]
        if all(ref in st["available"] or ref in dataset_available for ref in step.inputs.values()):
            used.append(it)
    for name, ref in step.inputs.items():
        if ref in dataset_available:
            args[name] = _load(Path(dataset_available[ref]["file"]))
            hashes[name] = dataset_available[ref]["hash"]
        else:
            args[name] = {it.key: _arg(_load(Path(item_state[it.key]["available"][ref]["file"])))
                          for it in used}
            hashes[name] = {it.key: item_state[it.key]["available"][ref]["hash"] for it in used}
    meta = {it.key: it.meta for it in used}
    digest = hashlib.sha256(json.dumps({"step": fingerprint, "inputs": hashes, "meta": meta},
                                       sort_keys=True, default=str).encode()).hexdigest()
    hit = _resume_hit(out_dir, step.id, "_dataset", digest) if resume else None
    produced = {}
    if hit:
        for name, files in hit["files"].items():
            produced[f"{step.id}.{name}"] = {"file": str(out_dir / step.id / files[0]),
                                             "hash": hit["hashes"][name]}
        return {"status": "resumed", "seconds": 0.0, "items": len(used)}, produced, hit.get("report")
    if step.per == "dataset" and any(isinstance(a, dict) for a in args.values()) and not used:
        raise ValueError(f"step {step.id!r}: no item has its inputs (all failed?)")
    if step.builtin or step.python:
        out = _call_step(spec, step, {k: v for k, v in args.items()}, spacing=None,
                         item=None, meta=meta)
    else:
        raise PipelineSpecError(f"step {step.id!r}: macro steps run per image")
    manifest = {"step": step.id, "hash": digest, "files": {}, "hashes": {}}
    for name in step.output_names():
        if name not in out:
            raise KeyError(f"step {step.id!r} did not produce output {name!r}")
        v = _normalize(out[name], None)
        path = _out_path(out_dir, step.id, f"{name}{_ext(v)}",
                         what=f"output {name!r} of step {step.id!r}:")
        manifest["files"][name] = _save(v, path)
        manifest["hashes"][name] = _hash_value(v)
        produced[f"{step.id}.{name}"] = {"file": str(path), "hash": manifest["hashes"][name]}
    report = out.get("report") if isinstance(out.get("report"), dict) else None
    manifest["report"] = report
    manifest["file_checks"] = _file_record(out_dir, step.id, manifest["files"])
    atomic_write_text(_manifest_path(out_dir, step.id, "_dataset"),
                      json.dumps(manifest, indent=1, default=_json_default))
    return ({"status": "ok", "seconds": time.perf_counter() - t0, "items": len(used)}, produced,
            report)


# ----------------------------------------------------------------------------- the run


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


def _versions(spec, macro_versions):
    from importlib import metadata

    from .. import __version__

    v = {"fijibridge": __version__, "python": platform.python_version(),
         "platform": platform.platform()}
    for pkg in ("numpy", "scipy", "scikit-image", "scikit-learn", "pandas", "torch", "tifffile",
                "dask", "distributed"):
        try:
            v[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            v[pkg] = None
    if any(s.macro for s in spec.steps):
        v["imagej"] = macro_versions or "no macro step ran"
    return v


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


def run_pipeline(spec: PipelineSpec, *, output_dir, inputs=None, resume: bool = False,
                 executor: str = "sequential", workers: int = 1, scheduler: str | None = None,
                 progress: bool = True, overrides: dict | None = None) -> RunSummary:
    """Run ``spec``; write outputs, ``run.json`` and ``report.html`` into ``output_dir``.

    Parameters
    ----------
    inputs : str or list of str, optional
        Files, folders or globs of TIFF stacks; they replace the file's items
        source (e.g. the synthetic cohort).
    resume : bool
        Skip item steps whose outputs exist for the same parameters and inputs.
    executor : {'sequential', 'processes', 'dask'}
        Where the per-item chains run; ``workers`` processes, or the Dask cluster at
        ``scheduler`` (each worker process opens its own ImageJ session when a macro
        step needs one).
    """
    from tqdm.auto import tqdm

    from .executors import make_executor

    t_start = time.perf_counter()
    out_dir = Path(output_dir)
    _check_output_dir(out_dir)
    folders: list = []
    items, from_files = _make_items(spec, inputs, folders)
    _check_inputs_apart(out_dir, items, folders)
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
    aliases = {}
    if from_files and source:
        aliases = {f"{source}.image": "input.image"}
    phases = plan_phases(spec, skip=skip)
    fingerprints = {s.id: _step_fingerprint(spec, s) for s in spec.steps}
    item_state = {it.key: {"available": {}, "spacing": None, "broken": set()} for it in items}
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
                                  "aliases": aliases, "spacing": st["spacing"],
                                  "file": it.file, "file_hash": it.file_hash,
                                  "fingerprints": fingerprints, "source": source,
                                  "broken": sorted(st["broken"])})
                bar = tqdm(total=len(tasks), desc=f"{spec.name}: {', '.join(ids)}",
                           disable=not progress, unit="item")
                for res in ex.map_unordered(run_item_task, tasks):
                    st = item_state[res["item"]]
                    st["available"].update(res["available"])
                    st["spacing"] = st["spacing"] or res["spacing"]
                    st["broken"].update(res["broken"])
                    pids.add(res["pid"])
                    if res.get("versions") and not macro_versions:
                        macro_versions = res["versions"]
                    for sid, r in res["steps"].items():
                        step_stats[sid][r["status"]] += 1
                        step_stats[sid]["seconds"] += r.get("seconds", 0.0)
                        if r["status"] == "failed":
                            failures.append({"step": sid, "item": res["item"],
                                             "error": r["error"]})
                    bar.update(1)
                bar.close()
            else:
                step = spec.step(ids[0])
                try:
                    r, produced, report = _run_dataset_step(
                        spec, step, items, item_state, out_dir, resume, fingerprints[step.id],
                        dataset_available)
                    dataset_available.update(produced)
                    step_stats[step.id][r["status"]] += 1
                    step_stats[step.id]["seconds"] += r["seconds"]
                    step_stats[step.id]["items_used"] = r["items"]
                    if report:
                        reports[step.id] = report
                        if "metrics" in report:
                            metrics[step.id] = {k: v for k, v in report["metrics"].items()}
                            if report.get("group_accuracy") is not None:
                                metrics[step.id]["group_accuracy"] = report["group_accuracy"]
                except Exception as e:  # noqa: BLE001 - recorded, run goes on
                    log.error("dataset step %s failed: %s: %s", step.id, type(e).__name__, e)
                    log.debug("traceback", exc_info=True)
                    step_stats[step.id]["failed"] += 1
                    failures.append({"step": step.id, "item": None,
                                     "error": f"{type(e).__name__}: {e}"})
                    for st in item_state.values():
                        st["broken"].add(step.id)
    seconds = time.perf_counter() - t_start
    input_hashes = {it.key: it.file_hash for it in items if it.file_hash}
    run = {"pipeline": spec.name, "file": spec.path, "spec_sha256": spec.fingerprint(),
           "config": spec.config, "overrides": overrides or {},
           "steps": {s.id: {"kind": s.kind, "per": s.per, "params": s.params,
                            "inputs": s.inputs} for s in spec.steps},
           "executor": {"kind": executor, "workers": workers, "scheduler": scheduler,
                        "worker_pids": sorted(pids)},
           "resume": resume, "inputs": {"from_files": from_files, "hashes": input_hashes,
                                        "items": len(items)},
           "items": {it.key: it.meta for it in items},
           "versions": _versions(spec, macro_versions),
           "timings": {"total_s": seconds, "steps": step_stats},
           "metrics": metrics, "failures": failures,
           "skipped_steps": sorted(skip)}
    run_json = atomic_write_text(out_dir / "run.json",
                                 json.dumps(run, indent=1, default=_json_default))
    report_html = _write_report(out_dir, spec, run, reports)
    if failures:
        log.warning("%d failure(s): %s", len(failures),
                    "; ".join(f"{f['step']}[{f['item']}]: {f['error']}" for f in failures[:5]))
    return RunSummary(out_dir, len(items), failures, metrics, seconds, run_json, report_html)


def _write_report(out_dir: Path, spec, run, reports) -> Path:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(sid)}</td><td>{e(s['kind'])}</td><td>{e(s['per'])}</td><td>{s['ok']}</td>"
        f"<td>{s['resumed']}</td><td>{s['failed']}</td><td>{s['skipped']}</td>"
        f"<td>{s['seconds']:.1f}</td></tr>"
        for sid, s in run["timings"]["steps"].items())
    fails = "".join(f"<li><b>{e(f['step'])}</b> [{e(str(f['item']))}]: {e(f['error'])}</li>"
                    for f in run["failures"]) or "<li>none</li>"
    metrics = "".join(f"<h3>{e(sid)}</h3><table>" + "".join(
        f"<tr><td>{e(k)}</td><td>{v:.4g}</td></tr>" if isinstance(v, (int, float)) else ""
        for k, v in m.items()) + "</table>" for sid, m in run["metrics"].items())
    images = []
    for p in sorted(out_dir.glob("*/*.png"))[:24]:
        rel = p.relative_to(out_dir).as_posix()
        images.append(f'<figure><img src="{e(rel)}" width="320"><figcaption>{e(rel)}'
                      "</figcaption></figure>")
    text = f"""<!doctype html><html><head><meta charset="utf-8">
<title>{e(spec.name)} — fijibridge run</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border:1px solid #ccc;padding:2px 6px}}
table{{border-collapse:collapse}}figure{{display:inline-block;margin:4px}}</style></head><body>
<h1>{e(spec.name)}</h1><p>{e(spec.description or '')}</p>
<p>{run['inputs']['items']} items, {run['timings']['total_s']:.1f} s, executor
{e(run['executor']['kind'])}; fijibridge {e(run['versions']['fijibridge'])}</p>
<h2>Steps</h2><table><tr><th>step</th><th>kind</th><th>per</th><th>ok</th><th>resumed</th>
<th>failed</th><th>skipped</th><th>seconds</th></tr>{rows}</table>
<h2>Metrics</h2>{metrics or '<p>none</p>'}
<h2>Failures</h2><ul>{fails}</ul>
<h2>Figures</h2>{''.join(images) or '<p>none</p>'}
<p>Details: <a href="run.json">run.json</a></p></body></html>
"""
    return atomic_write_text(out_dir / "report.html", text)
