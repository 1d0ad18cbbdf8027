"""What ``report.html`` shows, read from an output folder: every item's outputs, status and
calibration (from the step manifests), the dataset steps' outputs, and every warning.

Nothing here knows a step by name: captions come from a step's ``description:`` in
the pipeline file, else from the first line of its function's docstring, and a
dataset step's ``report`` may caption its own outputs (``report["figures"]`` /
``report["tables"]``: ``{output name: caption}``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from .._core.paths import confined_path

__all__ = ["ItemView", "OutputFile", "collect_items", "dataset_outputs", "step_summary",
           "collect_warnings"]

log = logging.getLogger(__name__)


@dataclasses.dataclass
class OutputFile:
    """One file a step wrote: where it is (relative to the output folder) and what it is."""

    step: str
    output: str
    rel: str  # posix path relative to the output folder
    caption: str

    @property
    def is_png(self) -> bool:
        return self.rel.lower().endswith(".png")


@dataclasses.dataclass
class ItemView:
    """One item as the report shows it."""

    index: int
    key: str
    meta: dict
    calibration: dict | None
    status: dict  # step id -> "ok" | "failed" | "not run"
    errors: list  # failure messages of this item
    files: list  # OutputFile, in step order

    @property
    def anchor(self) -> str:
        return f"item-{self.index}"


def _plain(text: str) -> str:
    """reST markup out of a docstring line: ``x`` -> x, :func:`a.b` -> a.b."""
    import re

    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    return text.replace("``", "")


def step_summary(spec, step) -> str:
    """What a step does, in one line: its ``description:``, else its docstring's first line."""
    if step.description:
        return " ".join(step.description.split())
    doc = None
    if step.builtin:
        from .registry import get_step

        try:
            doc = get_step(step.builtin).func.__doc__
        except KeyError:
            doc = None
        what = f"{step.builtin} step"
    elif step.macro:
        what = f"ImageJ macro {Path(step.macro).name}"
    else:
        what = f"Python function {step.python}"
    first = (doc or "").strip().split("\n\n")[0]
    first = _plain(" ".join(first.split()))
    return first or what


def _caption(spec, step, output: str, item: str | None) -> str:
    inputs = ", ".join(f"{k} = {v}" for k, v in step.inputs.items())
    where = f"item {item}: " if item is not None else ""
    return (f"{where}{step_summary(spec, step)} [step {step.id}, output {output}"
            + (f"; inputs {inputs}" if inputs else "") + "]")


def _read_manifest(out_dir: Path, step_id: str, key: str):
    try:
        path = confined_path(out_dir, step_id, f"{key}.done.json", what="manifest")
    except ValueError:
        return None
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # a damaged manifest: shown as not run, logged
        log.warning("report: cannot read %s (%s)", path, e)
        return None


def _files(out_dir: Path, spec, step, manifest, item):
    files = []
    for output, names in (manifest.get("files") or {}).items():
        for name in names:
            rel = Path(step.id, name)
            if not (out_dir / rel).is_file():
                continue  # never link a file that is not there
            files.append(OutputFile(step.id, output, rel.as_posix(),
                                    _caption(spec, step, output, item)))
    return files


def collect_items(out_dir: Path, spec, run) -> list[ItemView]:
    """Every item of the run (none left out), with its outputs, status and calibration."""
    failures: dict = {}
    for f in run.get("failures", []):
        if f.get("item") is not None:
            failures.setdefault(str(f["item"]), []).append(f)
    per_item = [s for s in spec.steps if s.per != "dataset"
                and s.id not in set(run.get("skipped_steps", []))]
    views = []
    for i, (key, meta) in enumerate(run.get("items", {}).items(), start=1):
        status, files, calib = {}, [], None
        failed = {f["step"] for f in failures.get(key, [])}
        for step in per_item:
            manifest = _read_manifest(out_dir, step.id, key)
            if manifest is None:
                status[step.id] = "failed" if step.id in failed else "not run"
                continue
            status[step.id] = "ok"
            calib = calib or manifest.get("calibration")
            files.extend(_files(out_dir, spec, step, manifest, key))
        views.append(ItemView(i, key, dict(meta or {}), calib, status,
                              [f["error"] for f in failures.get(key, [])], files))
    return views


def dataset_outputs(out_dir: Path, spec, step, report: dict | None) -> list[OutputFile]:
    """The files of a dataset step, captioned by its report where it gives captions."""
    manifest = _read_manifest(out_dir, step.id, "_dataset")
    if manifest is None:
        return []
    own = {}
    for key in ("figures", "tables"):
        if report and isinstance(report.get(key), dict):
            own.update({str(k): str(v) for k, v in report[key].items()})
    files = _files(out_dir, spec, step, manifest, None)
    for f in files:
        if f.output in own:
            f.caption = own[f.output]
    return files


def collect_warnings(run, items: list[ItemView], reports: dict) -> list[str]:
    """Every warning worth a biologist's eye, as sentences (failures are listed apart)."""
    out = []
    for w in run.get("warnings", []) or []:
        if isinstance(w, dict):
            where = " ".join(f"{k} {w[k]}" for k in ("step", "item") if w.get(k) is not None)
            text = w.get("message") or w.get("warning") or json.dumps(w, default=str)
            out.append(f"{where}: {text}" if where else str(text))
        else:
            out.append(str(w))
    n = len(items)
    for sid, s in run.get("timings", {}).get("steps", {}).items():
        if s.get("skipped"):
            per = "items" if s.get("per") != "dataset" else "runs"
            out.append(f"step {sid} was skipped for {s['skipped']} of "
                       f"{n if s.get('per') != 'dataset' else 1} {per} (an optional step "
                       "whose engine is missing, or an input step that failed; see the log)")
    for sid in run.get("skipped_steps", []):
        out.append(f"step {sid} did not run: its items came from input files")
    uncal = [it.key for it in items if it.calibration and not it.calibration.get("calibrated")]
    if uncal:
        out.append(f"{len(uncal)} item(s) without a calibration in their file (sizes in "
                   f"pixels, not µm): {', '.join(uncal)}")
    unknown = [it.key for it in items if it.calibration is None]
    if unknown:
        out.append(f"{len(unknown)} item(s) with no recorded calibration (no step "
                   f"completed for them): {', '.join(unknown)}")
    for sid, rep in reports.items():
        for w in (rep or {}).get("warnings", []) or []:
            out.append(f"step {sid}: {w}")
    return out
