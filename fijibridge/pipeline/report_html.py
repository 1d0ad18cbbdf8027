"""HTML pieces of ``report.html``: tables, captioned figures, item pages.

The page needs no script and no network: the dataset figures are inlined as
``data:image/png;base64`` URIs, the per-item images are relative links to files that
exist in the output folder (keep ``report.html`` beside its step folders), and long
lists of items are split into ``<details>`` pages, every item on one of them.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from urllib.parse import quote

__all__ = ["esc", "fmt", "href", "kv_table", "frame_table", "figure_inline", "figure_link",
           "file_links", "item_pages", "calibration_text", "CSS", "ITEMS_PER_PAGE", "MAX_TABLE_ROWS"]

#: items per collapsible page of the Items section
ITEMS_PER_PAGE = 24
#: rows of a table shown in the page; a longer table says so and links the whole file
MAX_TABLE_ROWS = 500

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1400px;padding:0 1em;
 color:#222}
h1{margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;font-size:.9em}
th{background:#f3f3f3}table{border-collapse:collapse;margin:.4em 0}
.scroll{overflow-x:auto;max-width:100%}
figure{display:inline-block;vertical-align:top;margin:6px;max-width:100%}
figure.item{width:260px}figure.item img{width:250px;height:auto}
figure.wide img{max-width:100%;height:auto}
figcaption{font-size:.85em;color:#444;max-width:60em}
figure.item figcaption{font-size:.75em}
.ok{color:#176b1b}.failed{color:#b00020;font-weight:bold}.notrun{color:#8a6d00}
.warn li{color:#8a4b00}.fail li{color:#b00020}
article.item{border-top:1px solid #ddd;padding:.4em 0}
details>summary{cursor:pointer;font-weight:bold;margin:.4em 0}
nav a{margin-right:1em}.files a{margin-right:.8em;font-size:.85em}
.meta{font-size:.9em;color:#333}
"""


def esc(value) -> str:
    return html.escape(str(value), quote=True)


def fmt(value) -> str:
    """A value as a short string: 4 significant digits for floats."""
    if isinstance(value, bool) or value is None:
        return esc(value)
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return esc(value)


def href(rel: str) -> str:
    """A relative path as an ``href``/``src`` (each part percent-encoded)."""
    return esc("/".join(quote(part) for part in rel.split("/")))


def kv_table(mapping: dict) -> str:
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{fmt(v)}</td></tr>" for k, v in mapping.items())
    return f"<table>{rows}</table>" if rows else "<p>none</p>"


def frame_table(df, *, link: str | None = None) -> str:
    """A DataFrame as an HTML table; beyond :data:`MAX_TABLE_ROWS` rows it says how many
    are shown and links the whole file (never a silent cut)."""
    n = len(df)
    shown = df.head(MAX_TABLE_ROWS)
    head = "".join(f"<th>{esc(c)}</th>" for c in shown.columns)
    body = "".join("<tr>" + "".join(f"<td>{fmt(v)}</td>" for v in row) + "</tr>"
                   for row in shown.itertuples(index=False))
    note = ""
    if n > len(shown):
        note = (f"<p><b>First {len(shown)} of {n} rows shown</b>"
                + (f"; the whole table: <a href=\"{href(link)}\">{esc(link)}</a>" if link else "")
                + "</p>")
    return f'{note}<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def figure_inline(path: Path, caption: str, *, alt: str) -> str:
    """A PNG inlined as a data URI, with its caption."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure class="wide"><img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def figure_link(rel: str, caption: str, *, alt: str) -> str:
    """A thumbnail of a PNG in the output folder (relative link), with its caption."""
    return (f'<figure class="item"><a href="{href(rel)}"><img src="{href(rel)}" '
            f'alt="{esc(alt)}" loading="lazy"></a><figcaption>{esc(caption)}</figcaption>'
            "</figure>")


def file_links(files) -> str:
    if not files:
        return ""
    links = " ".join(f'<a href="{href(f.rel)}">{esc(f.step)}: {esc(f.output)} '
                     f"({esc(Path(f.rel).suffix.lstrip('.'))})</a>" for f in files)
    return f'<p class="files">Files: {links}</p>'


def _status(status: dict) -> str:
    cls = {"ok": "ok", "failed": "failed", "not run": "notrun"}
    return " · ".join(f'<span class="{cls.get(v, "notrun")}">{esc(k)}: {esc(v)}</span>'
                      for k, v in status.items())


def calibration_text(calib: dict | None) -> str:
    if not calib:
        return "unknown (no step completed for this item)"
    spacing = ", ".join(f"{v:.4g}" for v in calib.get("spacing") or [])
    axes = calib.get("axes", "")
    spatial = "".join(a for a in axes if a in "ZYX")
    channels = ", ".join(map(str, calib.get("channels") or [])) or "—"
    state = "calibrated" if calib.get("calibrated") else "NOT calibrated (pixels)"
    return (f"axes {axes}, shape {tuple(calib.get('shape') or ())}, spacing "
            f"({spacing}) µm ({spatial}), {state}, channels: {channels}")


def _item(view) -> str:
    meta = ", ".join(f"{esc(k)}: {fmt(v)}" for k, v in view.meta.items()) or "—"
    pngs = [f for f in view.files if f.is_png]
    others = [f for f in view.files if not f.is_png]
    figs = "".join(figure_link(f.rel, f.caption, alt=f"{view.key} {f.step} {f.output}")
                   for f in pngs)
    errors = "".join(f"<li>{esc(e)}</li>" for e in view.errors)
    return (f'<article class="item" id="{esc(view.anchor)}"><h3>{view.index}. {esc(view.key)}'
            f'</h3><p class="meta">{meta}<br>Calibration: {esc(calibration_text(view.calibration))}'
            f"<br>Steps: {_status(view.status)}</p>"
            + (f'<ul class="fail">{errors}</ul>' if errors else "")
            + (figs or "<p>No figure for this item.</p>") + file_links(others) + "</article>")


def item_pages(views, *, per_page: int = ITEMS_PER_PAGE) -> str:
    """Every item, in collapsible pages of ``per_page`` (the first one open)."""
    if not views:
        return "<p>No item.</p>"
    pages = []
    n = len(views)
    for start in range(0, n, per_page):
        chunk = views[start:start + per_page]
        opened = " open" if start == 0 else ""
        pages.append(f'<details id="page-{start // per_page + 1}"{opened}><summary>Items '
                     f"{start + 1}–{start + len(chunk)} of {n}</summary>"
                     + "".join(_item(v) for v in chunk) + "</details>")
    return "".join(pages)
