"""Planning a run: its items (input files or a source step) and its phases.

Items are the input files (``--input``: files, folders, globs of any format
:func:`fijibridge.io.read_image` reads) or the items a source step declares (e.g.
``synth``).  Steps are grouped into phases: chains run per item in one task, and
per-dataset steps once over all items, in dependency order.
"""

from __future__ import annotations

import dataclasses
import glob as globmod
import hashlib
import json
import logging
import os
import re
from pathlib import Path

from .._core.errors import PipelineSpecError
from .models import PipelineSpec, StepSpec
from .store import file_hash

__all__ = ["Item", "find_inputs", "make_items", "plan_phases", "step_fingerprint",
           "image_extensions", "conditional_skips"]

log = logging.getLogger(__name__)


def image_extensions() -> tuple[str, ...]:
    """File endings searched for in a folder given as ``--input`` (what read_image reads;
    OME-Zarr folders are named one by one)."""
    from ..io import FORMATS

    return tuple(sorted({e for _, _, exts in FORMATS.values() for e in exts
                         if e not in (".zarr", ".ome.zarr")}))


# ----------------------------------------------------------------------------- items


def find_inputs(spec_text: str, *, base: Path | None = None) -> tuple[Path, list[Path]]:
    """Files of ``--input``: a file, a folder (its image files, recursively) or a glob."""
    p = Path(spec_text)
    if not p.is_absolute() and base is not None and not p.exists():
        p = base / p
    if p.is_file():
        return p.parent, [p]
    if p.is_dir():
        exts = image_extensions()
        files = sorted(f for f in p.rglob("*") if f.suffix.lower() in exts)
        root = p
    else:
        files = sorted(Path(f) for f in globmod.glob(str(p), recursive=True) if Path(f).is_file())
        root = Path(globmod.escape(str(p)).split("*")[0].split("?")[0] or ".")
        root = root if root.is_dir() else root.parent
    if not files:
        raise FileNotFoundError(f"--input {spec_text!r} matches no file"
                                + (f" (folders are searched for {', '.join(image_extensions())})"
                                   if p.is_dir() else ""))
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
    stem = os.path.splitext(rel)[0]
    if stem.lower().endswith(".ome"):  # cells.ome.tif -> cells
        stem = stem[:-4]
    return re.sub(r"[^\w.-]+", "_", stem).lstrip(".") or "_"


def _keys(found: list) -> list[str]:
    """Item names of ``[(root, file)]``: paths relative to the common folder of the roots,
    disambiguated by a hash of that path where two still collide."""
    common = os.path.commonpath([os.path.abspath(r) for r, _ in found]) if found else ""
    rels = [os.path.relpath(os.path.abspath(f), common) for _, f in found]
    keys = [_item_key(r) for r in rels]
    dup = {k for k in keys if keys.count(k) > 1}
    return [f"{k}-{hashlib.sha256(r.encode()).hexdigest()[:8]}" if k in dup else k
            for k, r in zip(keys, rels)]


def _input_files(spec: PipelineSpec, files_spec, folders: list | None) -> list:
    """``[(root, file)]`` of ``--input`` texts (each file once)."""
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
    return found


def _sheet_items(spec: PipelineSpec, samples, files_spec, folders) -> list[Item]:
    """Items of a sample sheet; with ``--input`` too, the sheet's files must be among
    the input files (input files the sheet does not name are left out, logged)."""
    from .samples import read_sample_sheet

    rows = read_sample_sheet(samples, base=spec.base_dir())
    if files_spec:
        found = _input_files(spec, files_spec, folders)
        inputs = {os.path.realpath(f) for _, f in found}
        texts = [files_spec] if isinstance(files_spec, str) else list(files_spec)
        for r in rows:
            if os.path.realpath(r.file) not in inputs:
                raise ValueError(f"sample sheet {samples}, line {r.line}: file "
                                 f"{str(r.file)!r} is not among the --input files "
                                 f"({', '.join(map(str, texts))}); give the folder that "
                                 "holds it, or no --input")
        named = {os.path.realpath(r.file) for r in rows}
        left = [str(f) for _, f in found if os.path.realpath(f) not in named]
        if left:
            log.warning("%d input file(s) are not in the sample sheet %s and are left out: %s%s",
                        len(left), samples, ", ".join(left[:5]), " ..." if len(left) > 5 else "")
    if spec.items.pattern:
        log.info("items.pattern %r is not used: the sample sheet %s gives the metadata",
                 spec.items.pattern, samples)
    found = [(r.file.parent, r.file) for r in rows]
    return [Item(key, {**r.meta, "file": str(r.file)}, str(r.file), file_hash(r.file))
            for r, key in zip(rows, _keys(found))]


def make_items(spec: PipelineSpec, inputs, folders: list | None = None, *,
               samples=None) -> tuple[list[Item], bool]:
    """Items and whether they come from files (then the source step is replaced).

    Item names (the prefix of every output file) are the input's path relative to
    the common folder of all inputs, without extension (``.ome.tif`` counts as one),
    other characters than letters, digits, ``.``, ``-`` and ``_`` replaced by ``_`` (``a/img.tif`` and
    ``b/img.tif`` give ``a_img`` and ``b_img``).  Where two files still give the same
    name (``x_y.tif`` and ``x/y.tif``), each gets ``-`` and 8 hex digits of the
    SHA-256 of its relative path, so no two items share an output file.  A file
    named by several ``--input`` is one item.  ``folders`` (when given) receives the
    folders named as inputs.

    ``samples`` (``--samples``, else the file's ``items.samples``) is a sample sheet
    (:mod:`~fijibridge.pipeline.samples`): its files are the items and its columns
    their metadata (instead of ``items.pattern``), all checked before any work.
    """
    files_spec = inputs if inputs else spec.items.files
    samples = samples or spec.items.samples
    if samples:
        return _sheet_items(spec, samples, files_spec, folders), True
    if files_spec:
        found = _input_files(spec, files_spec, folders)
        items = []
        for (root, f), key in zip(found, _keys(found)):
            rel = os.path.relpath(f, root)
            meta = _pattern_meta(spec.items.pattern, rel)
            meta.setdefault("file", str(f))
            items.append(Item(key, meta, str(f), file_hash(f)))
        return items, True
    if spec.items.source:
        step = spec.step(spec.items.source)
        from .registry import source_items

        made = source_items(step.builtin, step.params) if step.builtin else None
        if made is None:
            raise PipelineSpecError(f"{spec.path}:{step.line}: items.source {step.id!r} is not a "
                                    "step that makes items (e.g. synth)")
        return [Item(k, m) for k, m in made], False
    raise ValueError(f"pipeline {spec.name!r} has no items: give --input FILES (a file, folder "
                     "or glob), --samples SHEET.csv, or declare items.source / items.files / "
                     "items.samples in the file")


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


def conditional_skips(spec: PipelineSpec) -> dict[str, str]:
    """``{step id: reason}`` of the steps a ``when:`` switches off (its value is empty,
    see :meth:`StepSpec.runs`) and of every step that depends on one of them."""
    deps = spec.dependencies()
    out: dict[str, str] = {}
    for s in spec.order():
        if not s.runs():
            out[s.id] = f"when: is {s.when!r} (not given)"
            continue
        off = next((d for d in deps[s.id] if d in out), None)
        if off is not None:
            out[s.id] = f"its input step {off!r} is skipped"
    return out


def step_fingerprint(spec: PipelineSpec, step: StepSpec) -> str:
    data = {"kind": step.kind, "params": step.params, "inputs": step.inputs,
            "outputs": step.outputs, "per": step.per}
    if step.macro:
        path = spec.macro_path(step)
        data["macro_sha256"] = file_hash(path) if path.is_file() else None
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


