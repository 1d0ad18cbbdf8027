"""The run's ``report.html`` and the software versions recorded in ``run.json``.

Metrics are shown as each dataset step's report gives them (``report["metrics"]``);
this module names none.
"""

from __future__ import annotations

import html
import platform
from pathlib import Path

from .._core.atomic import atomic_write_text

__all__ = ["write_report", "versions"]


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


def write_report(out_dir: Path, spec, run, reports) -> Path:
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
