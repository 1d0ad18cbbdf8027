"""Sample sheets: a CSV naming each input file's condition and individual.

``fijibridge run PIPE --samples sheet.csv`` (or ``items: {samples: sheet.csv}`` in the
pipeline file) takes the items of a run from a sheet instead of a path pattern::

    file,condition,individual,batch
    ctrl/a1.ome.tif,control,C01,1
    ctrl/a2.ome.tif,control,C01,1
    pat/b1.czi,patient,P07,2

* ``file`` (relative to the sheet's folder, or absolute), ``condition`` and
  ``individual`` columns are required; any other column is metadata too (strings, as a
  path pattern's fields); every column goes into the item's metadata (and so into the
  per-dataset tables and the classifier's groups).
* Everything is checked before any work starts, each error naming the sheet and the
  line: a missing file, a missing required column (the columns present are listed),
  an empty required value, the same file twice, an individual under two conditions,
  a single condition (nothing to compare).
"""

from __future__ import annotations

import csv
import logging
import os
from pathlib import Path

__all__ = ["read_sample_sheet", "SampleRow", "REQUIRED_COLUMNS", "RESERVED_COLUMNS"]

log = logging.getLogger(__name__)

#: columns every sheet has
REQUIRED_COLUMNS = ("file", "condition", "individual")
#: item fields the runner records in run.json beside the metadata (a column may not take them)
RESERVED_COLUMNS = ("item", "calibrated", "spacing_um", "spacing_source", "channels")


class SampleRow:
    """One row of a sheet: the file (resolved), its metadata and the sheet line."""

    __slots__ = ("file", "meta", "line")

    def __init__(self, file: Path, meta: dict, line: int):
        self.file, self.meta, self.line = file, meta, line

    def __repr__(self):
        return f"SampleRow({str(self.file)!r}, {self.meta!r}, line={self.line})"


def read_sample_sheet(path, *, base: Path | None = None) -> list[SampleRow]:
    """Read and check a sample sheet; one :class:`SampleRow` per data line.

    Parameters
    ----------
    path : str or Path
        The CSV file (comma-separated, first line the column names; UTF-8, a BOM as
        Excel writes it is accepted).  Relative paths are tried as given, then under
        ``base`` (the pipeline file's folder).
    base : Path, optional
        Folder a relative ``path`` may be relative to.

    Raises
    ------
    FileNotFoundError
        No sheet at ``path``, or a file it names does not exist (the line is named).
    ValueError
        A required column is missing (the columns present are listed), a required value
        is empty, a file is named twice, an individual appears under two conditions,
        or the sheet holds one condition only.
    """
    sheet = Path(path)
    if not sheet.is_absolute() and not sheet.exists() and base is not None:
        sheet = Path(base) / sheet
    if not sheet.is_file():
        raise FileNotFoundError(f"sample sheet {str(path)!r} does not exist")
    where = str(sheet)
    with open(sheet, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"sample sheet {where} is empty; its first line names the "
                             f"columns ({', '.join(REQUIRED_COLUMNS)}[, others])") from None
        columns = [c.strip() for c in header]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise ValueError(
                f"sample sheet {where}: no column {' or '.join(repr(c) for c in missing)}; "
                f"a sheet needs the columns {', '.join(REQUIRED_COLUMNS)} (others are kept as "
                f"metadata); its line 1 has: {', '.join(repr(c) for c in columns) or 'nothing'}")
        dup = sorted({c for c in columns if columns.count(c) > 1})
        if dup:
            raise ValueError(f"sample sheet {where}: line 1 names the column {dup[0]!r} twice")
        reserved = [c for c in columns if c in RESERVED_COLUMNS]
        if reserved:
            raise ValueError(f"sample sheet {where}: the column name {reserved[0]!r} is "
                             "reserved (the run records it for every item: "
                             f"{', '.join(RESERVED_COLUMNS)}); rename the column")
        rows: list[SampleRow] = []
        seen: dict[str, int] = {}
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue  # blank line
            if len(values) != len(columns):
                raise ValueError(f"sample sheet {where}, line {line}: {len(values)} values for "
                                 f"{len(columns)} columns ({', '.join(columns)})")
            meta = {c: v.strip() for c, v in zip(columns, values)}
            for c in REQUIRED_COLUMNS:
                if not meta[c]:
                    raise ValueError(f"sample sheet {where}, line {line}: empty {c!r}")
            name = meta.pop("file")
            f = Path(name)
            f = f if f.is_absolute() else sheet.parent / f
            if not f.exists():
                raise FileNotFoundError(f"sample sheet {where}, line {line}: file {name!r} "
                                        f"does not exist (looked for {str(f)!r}; files are "
                                        "relative to the sheet's folder)")
            real = os.path.realpath(f)
            if real in seen:
                raise ValueError(f"sample sheet {where}, line {line}: file {name!r} is already "
                                 f"named on line {seen[real]}; one line per file")
            seen[real] = line
            rows.append(SampleRow(f, meta, line))
    if not rows:
        raise ValueError(f"sample sheet {where} names no file (only its header line)")
    _check_groups(rows, where)
    log.info("sample sheet %s: %d files, conditions %s", where, len(rows),
             sorted({r.meta["condition"] for r in rows}))
    return rows


def _check_groups(rows: list[SampleRow], where: str) -> None:
    first: dict[str, SampleRow] = {}
    for r in rows:
        ind, cond = r.meta["individual"], r.meta["condition"]
        if ind in first and first[ind].meta["condition"] != cond:
            raise ValueError(
                f"sample sheet {where}, line {r.line}: individual {ind!r} is under condition "
                f"{cond!r} here and under {first[ind].meta['condition']!r} on line "
                f"{first[ind].line}; an individual belongs to one condition")
        first.setdefault(ind, r)
    conditions = sorted({r.meta["condition"] for r in rows})
    if len(conditions) < 2:
        raise ValueError(f"sample sheet {where}: every file is under condition "
                         f"{conditions[0]!r}; a sheet compares at least two conditions")
