"""The run's ``report.html`` and the software versions recorded in ``run.json``.

Metrics are shown as each dataset step's report gives them (``report["metrics"]``);
this module names none.  What the page holds is read by :mod:`.report_collect` and
drawn by :mod:`.report_html`; every item is listed, none capped.
"""

from __future__ import annotations

import logging
import platform
from pathlib import Path

from .._core.atomic import atomic_write_text
from .report_collect import collect_items, collect_warnings, dataset_outputs, step_summary
from .report_html import (CSS, ITEMS_PER_PAGE, esc, figure_inline, file_links, fmt, frame_table,
                          item_pages, kv_table)

__all__ = ["write_report", "versions"]

log = logging.getLogger(__name__)


def versions(spec, macro_versions):
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


def _dataset_section(out_dir: Path, spec, step, report, metrics) -> str:
    """A dataset step's results: metrics, its tables and its figures (inlined), links."""
    import pandas as pd

    files = dataset_outputs(out_dir, spec, step, report)
    parts = [f'<section id="step-{esc(step.id)}"><h3>{esc(step.id)} — '
             f"{esc(step_summary(spec, step))}</h3>"]
    if metrics:
        parts.append("<h4>Metrics (as the step reports them)</h4>" + kv_table(metrics))
    own_tables = list((report or {}).get("tables") or {})
    own_figures = list((report or {}).get("figures") or {})
    by_output = {}
    for f in files:
        by_output.setdefault(f.output, []).append(f)
    shown = set()
    for name in own_tables:  # the tables the step asks to show, in its order
        csv = next((f for f in by_output.get(name, []) if f.rel.endswith(".csv")), None)
        if csv is None:
            continue
        try:
            df = pd.read_csv(out_dir / csv.rel)
        except (OSError, ValueError) as e:  # shown as a link instead, logged
            log.warning("report: cannot read %s (%s)", csv.rel, e)
            continue
        parts.append(f"<h4>{esc(name)}</h4><p>{esc(csv.caption)}</p>"
                     + frame_table(df, link=csv.rel))
        shown.add(name)
    pngs = [f for f in files if f.is_png]
    order = {name: i for i, name in enumerate(own_figures)}
    pngs.sort(key=lambda f: order.get(f.output, len(order)))
    for f in pngs:
        parts.append(figure_inline(out_dir / f.rel, f.caption, alt=f"{step.id} {f.output}"))
    rest = [f for f in files if not f.is_png]
    parts.append(file_links(rest))
    return "".join(parts) + "</section>"


def _input_table(views) -> str:
    head = ("<tr><th>#</th><th>item</th><th>metadata</th><th>axes</th><th>shape</th>"
            "<th>spacing (µm)</th><th>calibrated</th><th>channels</th><th>steps</th></tr>")
    rows = []
    for v in views:
        c = v.calibration or {}
        bad = [k for k, s in v.status.items() if s != "ok"]
        state = ('<span class="ok">all ok</span>' if not bad else
                 f'<span class="failed">{esc(", ".join(f"{k} {v.status[k]}" for k in bad))}'
                 "</span>")
        meta = ", ".join(f"{esc(k)}={fmt(x)}" for k, x in v.meta.items())
        cal = c.get("calibrated")
        rows.append(
            f'<tr><td>{v.index}</td><td><a href="#{esc(v.anchor)}">{esc(v.key)}</a></td>'
            f"<td>{meta}</td><td>{esc(c.get('axes', '?'))}</td>"
            f"<td>{fmt(c.get('shape', '?'))}</td><td>{fmt(c.get('spacing', '?'))}</td>"
            f"<td>{'yes' if cal else ('<b>no</b>' if cal is not None else '?')}</td>"
            f"<td>{esc(', '.join(map(str, c.get('channels') or [])) or '—')}</td>"
            f"<td>{state}</td></tr>")
    return f'<div class="scroll"><table>{head}{"".join(rows)}</table></div>'


def write_report(out_dir: Path, spec, run, reports) -> Path:
    """Write ``out_dir/report.html`` (see :mod:`.report_html`) and return its path.

    Sections: summary, warnings and failures (every one), results of each dataset
    step (its metrics, captioned tables and figures), inputs with their calibration,
    every item with its figures (collapsible pages), step timings, versions.
    """
    out_dir = Path(out_dir)
    views = collect_items(out_dir, spec, run)
    warnings = collect_warnings(run, views, reports)
    failures = run.get("failures", [])
    fails = "".join(f"<li><b>{esc(f['step'])}</b>"
                    + (f' [<a href="#{esc(_anchor(views, f["item"]))}">{esc(f["item"])}</a>]'
                       if _anchor(views, f.get("item")) else
                       f" [{esc(f['item'])}]" if f.get("item") is not None else " [dataset]")
                    + f": {esc(f['error'])}</li>" for f in failures)
    warn = "".join(f"<li>{esc(w)}</li>" for w in warnings)
    results = "".join(_dataset_section(out_dir, spec, s, reports.get(s.id),
                                       run.get("metrics", {}).get(s.id))
                      for s in spec.steps if s.per == "dataset")
    rows = "".join(
        f"<tr><td>{esc(sid)}</td><td>{esc(s['kind'])}</td><td>{esc(s['per'])}</td>"
        f"<td>{s['ok']}</td><td>{s['resumed']}</td><td>{s['failed']}</td><td>{s['skipped']}</td>"
        f"<td>{s['seconds']:.1f}</td></tr>"
        for sid, s in run["timings"]["steps"].items())
    n_bad = sum(1 for v in views if v.errors)
    n_img = sum(1 for v in views for f in v.files if f.is_png)
    vers = ", ".join(f"{esc(k)} {esc(v)}" for k, v in run["versions"].items()
                     if v and not isinstance(v, dict))
    text = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(spec.name)} — fijibridge run</title><style>{CSS}</style></head><body>
<h1>{esc(spec.name)}</h1><p>{esc(spec.description or '')}</p>
<nav><a href="#summary">Summary</a><a href="#warnings">Warnings ({len(warnings)}) and
failures ({len(failures)})</a><a href="#results">Results</a><a href="#inputs">Inputs and
calibration</a><a href="#items">Items ({len(views)})</a><a href="#steps">Steps</a>
<a href="run.json">run.json</a></nav>
<section id="summary"><h2>Summary</h2>
<p>{len(views)} items ({len(views) - n_bad} without failure, {n_bad} with), {n_img} item
figures, {len(failures)} failure(s), {len(warnings)} warning(s);
{run['timings']['total_s']:.1f} s, executor {esc(run['executor']['kind'])};
fijibridge {esc(run['versions']['fijibridge'])}.
Items came from {'input files' if run['inputs'].get('from_files') else 'the pipeline source'}.
</p></section>
<section id="warnings"><h2>Warnings and failures</h2>
<h3>Failures ({len(failures)})</h3><ul class="fail">{fails or '<li>none</li>'}</ul>
<h3>Warnings ({len(warnings)})</h3><ul class="warn">{warn or '<li>none</li>'}</ul></section>
<section id="results"><h2>Results</h2>{results or '<p>No dataset step.</p>'}</section>
<section id="inputs"><h2>Inputs and calibration</h2><p>Every item, with the calibration
of its image as read (spacing in µm, in the order of the spatial axes).</p>
{_input_table(views)}</section>
<section id="items"><h2>Items ({len(views)})</h2><p>Every item, {ITEMS_PER_PAGE} to a page;
click a page to open it, a thumbnail for the full image.</p>{item_pages(views)}</section>
<section id="steps"><h2>Steps</h2><table><tr><th>step</th><th>kind</th><th>per</th>
<th>ok</th><th>resumed</th><th>failed</th><th>skipped</th><th>seconds</th></tr>{rows}</table>
</section>
<footer><p>Versions: {vers}. Details: <a href="run.json">run.json</a>.</p></footer>
</body></html>
"""
    return atomic_write_text(out_dir / "report.html", text)


def _anchor(views, item) -> str | None:
    if item is None:
        return None
    return next((v.anchor for v in views if v.key == str(item)), None)
