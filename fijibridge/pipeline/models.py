"""The pydantic models of a pipeline file (``extra="forbid"``: a typo is an error).

:func:`fijibridge.pipeline.load_pipeline` fills them; see :mod:`fijibridge.pipeline.spec`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._core.errors import PipelineSpecError

__all__ = ["PipelineSpec", "StepSpec", "ItemsSpec", "SPEC_VERSION"]

SPEC_VERSION = 1
_REF = re.compile(r"^([A-Za-z_][\w-]*)\.([A-Za-z_]\w*)$")


# ----------------------------------------------------------------------------- models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ItemsSpec(_Strict):
    """Where the items (images, samples) of a run come from.

    ``source``: id of a step that makes the items (e.g. ``synth``), replaced by files
    when ``--input`` is given. ``files``: a file, folder or glob (relative to the
    pipeline file) of TIFF stacks. ``pattern``: how to read metadata from a file's
    path relative to the input folder, e.g. ``"{condition}/{individual}/{name}.tif"``.
    ``samples``: a sample sheet (CSV: file, condition, individual[, others]; relative
    to the pipeline file) giving the files and their metadata instead of a pattern
    (see :mod:`fijibridge.pipeline.samples`).  ``spacing``: the voxel size (µm; z, y, x
    or y, x) of the input files, for files that state none; it replaces what a file
    states and is recorded in ``run.json`` (``--spacing`` on the command line).
    """

    source: str | None = None
    files: str | None = None
    pattern: str | None = None
    samples: str | None = None
    spacing: list[float] | None = None


class StepSpec(_Strict):
    """One step of a pipeline."""

    id: str = Field(pattern=r"^[A-Za-z_][\w-]*$")
    macro: str | None = None
    python: str | None = None
    builtin: str | None = None  # filled from the built-in key; not written in files
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, str] = Field(default_factory=dict)
    outputs: list[str] | dict[str, str] | None = None
    per: Literal["image", "dataset"] | None = None
    optional: bool = False  # macro steps: skipped (logged) when no ImageJ engine exists
    # run only when this (usually a ``${config}`` value) is given: a step whose ``when``
    # is null, false, "" or empty is skipped with every step that depends on it
    when: Any = None
    timeout: float = 600.0
    description: str | None = None
    line: int = 0  # line of the step in the file (filled by the loader)

    @model_validator(mode="after")
    def _one_way(self):
        ways = [w for w in ("macro", "python", "builtin") if getattr(self, w)]
        if len(ways) != 1:
            raise ValueError("a step needs exactly one of 'macro', 'python' or a built-in "
                             f"step; got {ways or 'none'}")
        return self

    @property
    def kind(self) -> str:
        return "macro" if self.macro else "python" if self.python else self.builtin

    def runs(self) -> bool:
        """False when the step has a ``when:`` and its value is empty (null, false, "",
        [] or {}); ``0`` counts as given (a channel index)."""
        if "when" not in self.model_fields_set:
            return True
        v = self.when
        return not (v is None or v is False or (isinstance(v, (str, list, dict)) and not v))

    def output_names(self) -> list[str]:
        if isinstance(self.outputs, dict):
            return list(self.outputs)
        return list(self.outputs or [])


class PipelineSpec(_Strict):
    """A parsed pipeline file."""

    version: Literal[1]
    name: str
    description: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    profiles: dict[str, dict[str, Any]] = Field(default_factory=dict)
    items: ItemsSpec = Field(default_factory=ItemsSpec)
    steps: list[StepSpec]
    # files of the output folder's top level, copied from per-dataset outputs after the
    # run: {"networks.csv": "networks.table"}
    exports: dict[str, str] = Field(default_factory=dict)
    path: str | None = None  # the file (filled by the loader)

    def step(self, step_id: str) -> StepSpec:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def base_dir(self) -> Path:
        return Path(self.path).resolve().parent if self.path else Path.cwd()

    def macro_path(self, step: StepSpec) -> Path:
        """A macro file: relative to the pipeline file, else to its parent (repo root)."""
        p = Path(step.macro)
        if p.is_absolute():
            return p
        for base in (self.base_dir(), self.base_dir().parent):
            if (base / p).is_file():
                return base / p
        return self.base_dir() / p

    def order(self) -> list[StepSpec]:
        """Steps in dependency order (stable: file order among independent steps)."""
        deps = self.dependencies()
        done: list[str] = []
        remaining = [s.id for s in self.steps]
        while remaining:
            for sid in remaining:
                if all(d in done for d in deps[sid]):
                    done.append(sid)
                    remaining.remove(sid)
                    break
            else:  # pragma: no cover - cycles are rejected by the loader
                raise PipelineSpecError(f"cycle among steps {remaining}")
        return [self.step(s) for s in done]

    def dependencies(self) -> dict[str, list[str]]:
        out = {}
        for s in self.steps:
            ds = []
            for ref in s.inputs.values():
                m = _REF.match(ref)
                if m and m.group(1) != "input" and m.group(1) not in ds:
                    ds.append(m.group(1))
            out[s.id] = ds
        return out

    def fingerprint(self) -> str:
        data = self.model_dump(exclude={"path", "description"})
        for s in data["steps"]:
            s.pop("line", None)
            s.pop("description", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
