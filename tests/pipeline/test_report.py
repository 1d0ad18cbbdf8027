"""report.html: every item, captions, calibration, warnings, classification figures —
and the page opened in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from fijibridge.pipeline import load_pipeline, run_pipeline

N_ITEMS = 30  # more than a page (24) and more than the old report's cap of 24 figures

STEPS_MODULE = '''
import numpy as np
import pandas as pd

def cells(*, labels, image, meta):
    """Per-object table of a nuclei image, with a condition and an individual per item."""
    labels = np.asarray(labels)
    image = np.asarray(image, float)
    if meta["sample"] == 3:
        raise RuntimeError("broken sample 3 (on purpose)")
    ids = [i for i in np.unique(labels) if i]
    cond = "patient" if meta["sample"] % 2 else "control"
    rows = [{"condition": cond, "individual": f"ind{meta['sample']:02d}", "label": int(i),
             "area_px": float((labels == i).sum()),
             "mean_intensity": float(image[labels == i].mean()) + 40.0 * (cond == "patient")}
            for i in ids]
    return {"table": pd.DataFrame(rows)}
'''

PIPELINE = f"""\
version: 1
name: report_check
description: Nuclei of {N_ITEMS} synthetic images, one failing on purpose, then a classifier.
items: {{source: gen}}
steps:
  - id: gen
    synth: {{kind: nuclei, n: {N_ITEMS}, shape: [64, 64], seed: 3}}
  - id: mask
    threshold: {{method: Otsu}}
    inputs: {{image: gen.image}}
  - id: labels
    instances: {{method: connected}}
    inputs: {{mask: mask.mask}}
  - id: overlay
    description: Nuclei outlines (orange) on the synthetic image.
    overlay: {{}}
    inputs: {{image: gen.image, labels: labels.labels}}
  - id: cells
    python: rep_test_steps:cells
    inputs: {{labels: labels.labels, image: gen.image}}
    outputs: [table]
  - id: classify
    classify: {{model: logreg, models: [tree, logreg], n_splits: 3, fill: 0}}
    inputs: {{table: cells.table}}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The pipeline run once for the module: (output folder, report text)."""
    root = tmp_path_factory.mktemp("report")
    mods = root / "mods"
    mods.mkdir()
    (mods / "rep_test_steps.py").write_text(STEPS_MODULE)
    (root / "p.yml").write_text(PIPELINE)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(mods))
        summary = run_pipeline(load_pipeline(root / "p.yml"), output_dir=root / "out",
                               progress=False)
    assert [f["item"] for f in summary.failures] == ["nuclei003"]
    return root / "out", summary.report_html.read_text(encoding="utf-8")


class _Dom(HTMLParser):
    """img srcs, a hrefs, ids, figure captions and details summaries of a page."""

    def __init__(self):
        super().__init__()
        self.imgs, self.hrefs, self.ids, self.captions, self.summaries = [], [], set(), [], []
        self._in = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        elif tag == "a" and "href" in a:
            self.hrefs.append(a["href"])
        elif tag in ("figcaption", "summary"):
            self._in = tag
            (self.captions if tag == "figcaption" else self.summaries).append("")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in == "figcaption":
            self.captions[-1] += data
        elif self._in == "summary":
            self.summaries[-1] += data


def _dom(text):
    d = _Dom()
    d.feed(text)
    return d


def _check_links(out: Path, dom: _Dom):
    """Every href is an anchor of the page or a file in the output folder."""
    for h in dom.hrefs:
        if h.startswith("#"):
            assert h[1:] in dom.ids, f"anchor {h} has no target"
        else:
            assert "://" not in h and not h.startswith("/"), f"link {h} leaves the folder"
            assert (out / unquote(h)).is_file(), f"link {h} points to no file"


def test_report_lists_every_item_with_captions_and_calibration(run):
    out, text = run
    dom = _dom(text)
    items = sorted(f"item-{i}" for i in range(1, N_ITEMS + 1))
    assert sorted(i for i in dom.ids if i.startswith("item-")) == items  # none capped
    # every overlay PNG is shown: one thumbnail per item (the old report stopped at 24)
    overlays = [s for s in dom.imgs if s.startswith("overlay/")]
    assert len(overlays) == N_ITEMS == len(list((out / "overlay").glob("*.png")))
    assert [s for s in dom.summaries if "of 30" in s] == ["Items 1–24 of 30",
                                                         "Items 25–30 of 30"]
    # captions say what a figure shows, never a file name
    assert dom.captions and not [c for c in dom.captions if c.strip().endswith(".png")]
    assert any("Nuclei outlines (orange)" in c and "nuclei000" in c for c in dom.captions)
    assert any(c.startswith("Confusion matrix of logreg in individuals") for c in dom.captions)
    assert any(c.startswith("Confusion matrix of logreg in cells") for c in dom.captions)
    assert any("principal components" in c for c in dom.captions)
    assert any("one point per individual" in c for c in dom.captions)
    # classification figures are inlined (the page carries them), and are PNGs
    inline = [s for s in dom.imgs if s.startswith("data:image/png;base64,")]
    assert len(inline) == 5  # confusion, confusion_cells, importance, pca, distributions
    for s in inline:
        assert base64.b64decode(s.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    # the failure is listed, linked to its item, and the item says which step failed
    fail = re.search(r'<ul class="fail">(.*?)</ul>', text, re.S).group(1)
    assert "broken sample 3 (on purpose)" in fail and 'href="#item-4"' in fail
    assert 'cells: failed' in text
    # calibration of each input: the synthetic images carry a spacing
    cal = json.loads((out / "gen" / "nuclei000.done.json").read_text())["calibration"]
    assert cal["spacing"]
    shown = "[" + ", ".join(f"{v:.4g}" for v in cal["spacing"]) + "]"
    assert text.count(f"<td>{shown}</td>") == N_ITEMS  # one row per input in the table
    assert text.count("µm (YX), calibrated") == N_ITEMS  # and in each item's section
    # per-individual table and the scores of every classifier
    assert "<h4>individuals</h4>" in text and "<h4>classifiers</h4>" in text
    assert "accuracy_tree" in text and "accuracy_logreg" in text
    _check_links(out, dom)


@pytest.fixture(scope="module")  # module scope: resolved before the module's pipeline run
def chromium():
    """The browser's executable; skip (fail on CI) before any work when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed on CI: .ci/install.sh --test installs it "
                    "(apt-get install chromium)")
    pytest.skip("no chromium here (apt-get install chromium; .ci/install.sh --test does); "
                "this test always runs on CI")


PROBE = """<script>
(async () => {
  const res = await Promise.all([...document.images].map(im => new Promise(done => {
    const probe = new Image();
    probe.onload = () => done([im.getAttribute("src").slice(0, 60), probe.naturalWidth]);
    probe.onerror = () => done([im.getAttribute("src").slice(0, 60), -1]);
    probe.src = im.src;
  })));
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(res);
  document.body.appendChild(pre);
})();
</script>"""


def test_report_renders_in_headless_chromium(chromium, run, tmp_path):
    """The page opens from disk in a real browser: every image loads, no link is broken."""
    exe = chromium
    out, text = run
    probe = out / "_probe.html"  # beside report.html, so relative links resolve the same
    probe.write_text(text.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    args = [exe, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=20000"]
    t0 = time.perf_counter()
    try:
        dump = subprocess.run(args + ["--dump-dom", probe.as_uri()], capture_output=True,
                              text=True, timeout=60, check=True).stdout
        shot = tmp_path / "shot.png"
        subprocess.run(args + ["--window-size=1200,2000", f"--screenshot={shot}",
                               (out / "report.html").as_uri()],
                       capture_output=True, timeout=60, check=True, cwd=tmp_path)
    finally:
        probe.unlink()
    seconds = time.perf_counter() - t0
    found = re.search(r'<pre id="probe">(.*?)</pre>', dump, re.S)
    assert found, "the probe script did not run: the page did not render"
    loaded = json.loads(html.unescape(found.group(1)))
    dom = _dom(dump)
    assert len(loaded) == len(dom.imgs) == N_ITEMS + 5
    broken = [src for src, width in loaded if width <= 0]
    assert not broken, f"images that do not load: {broken}"
    _check_links(out, dom)
    # the browser laid the page out and painted it: a screenshot that is not blank
    from PIL import Image

    import numpy as np

    px = np.asarray(Image.open(shot).convert("L"))
    assert px.shape == (2000, 1200) and px.min() < 100 and (px < 250).mean() > 0.01
    print(f"chromium: dump + screenshot in {seconds:.1f} s; report "
          f"{(out / 'report.html').stat().st_size / 1e3:.0f} kB")


def test_links_to_items_from_nested_folders_with_odd_names(tmp_path):
    """Items from files in sub-folders with a space, '#' and '%' in their names: each is
    listed with the file it came from, every link resolves."""
    import numpy as np
    import tifffile

    rng = np.random.default_rng(0)
    names = ["ctrl A/ind#1/cell 50%.tif", "ctrl A/ind#2/b.tif", "pat/ind3/c.tif"]
    for name in names:
        img = np.zeros((40, 40), np.uint16)
        img[10:20, 10:20] = 1000
        img += rng.integers(0, 50, img.shape, dtype=np.uint16)
        (tmp_path / "in" / name).parent.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(tmp_path / "in" / name, img, imagej=True, resolution=(5.0, 5.0),
                         metadata={"unit": "micron"})
    (tmp_path / "p.yml").write_text(
        "version: 1\nname: odd\nsteps:\n"
        "  - id: mask\n    threshold: {method: Otsu}\n    inputs: {image: input.image}\n"
        "  - id: lab\n    instances: {}\n    inputs: {mask: mask.mask}\n"
        "  - id: overlay\n    overlay: {}\n    inputs: {image: input.image, labels: lab.labels}\n")
    s = run_pipeline(load_pipeline(tmp_path / "p.yml"), output_dir=tmp_path / "out",
                     inputs=[str(tmp_path / "in")], progress=False)
    assert s.ok, s.failures
    dom = _dom(s.report_html.read_text(encoding="utf-8"))
    assert len([i for i in dom.imgs if i.startswith("overlay/")]) == 3
    _check_links(tmp_path / "out", dom)
    text = s.report_html.read_text(encoding="utf-8")
    for name in names:
        assert html.escape(str(tmp_path / "in" / name)) in text
    assert text.count("(0.2, 0.2) µm (YX), calibrated") == 3  # 5 pixels per µm


def test_warnings_of_the_run_and_of_steps_are_listed():
    from fijibridge.pipeline.report_collect import ItemView, collect_warnings

    run = {"warnings": [{"step": "psf", "item": "a", "message": "PSF resampled"},
                        "a plain warning"],
           "timings": {"steps": {"macro": {"per": "image", "skipped": 2},
                                 "ok": {"per": "image", "skipped": 0}}},
           "skipped_steps": ["cohort"]}
    items = [ItemView(1, "a", {}, {"calibrated": False, "spacing": [1, 1]}, {}, [], []),
             ItemView(2, "b", {}, None, {}, [], [])]
    got = collect_warnings(run, items, {"classify": {"warnings": ["one cell only"]}})
    assert got == [
        "step psf item a: PSF resampled", "a plain warning",
        "step macro was skipped for 2 of 2 items (an optional step whose engine is missing, "
        "or an input step that failed; see the log)",
        "step cohort did not run: its items came from input files",
        "1 item(s) without a calibration in their file (sizes in pixels, not µm): a",
        "1 item(s) with no recorded calibration (no step completed for them): b",
        "step classify: one cell only"]
