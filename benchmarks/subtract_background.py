"""Speed of fijibridge.filters.subtract_background against ImageJ 1.53t, same run.

ImageJ's time is measured inside ImageJ (macro ``getTime()`` around the command, best
of ``REPEAT``), ours with ``perf_counter`` around the function (best of ``REPEAT``),
on the same real image (DSB 2018 nuclei, 512 x 512 uint16, tiled to larger sizes).
Writes ``benchmarks/results/subtract_background.json``; ``ratio`` is ours / ImageJ's
(> 1: we are slower).  Run: ``xvfb-run -a python3 benchmarks/subtract_background.py``.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
from _timing import best_of

from fijibridge._core.atomic import atomic_path
from fijibridge.bridge import open_session
from fijibridge.data import load_sample
from fijibridge.filters import subtract_background

REPEAT = 3
OUT = Path(__file__).parent / "results" / "subtract_background.json"
MACRO = """#@ String options
#@ Integer repeat
best = 1e9;
for (i = 0; i < repeat; i++) {
  selectImage("case");
  run("Duplicate...", "title=w");
  t0 = getTime();
  run("Subtract Background...", options);
  dt = getTime() - t0;
  if (dt < best) best = dt;
  close("w");
}
print("MS|" + best);
"""
CASES = [("rolling=50", dict(radius_um=50)), ("rolling=5", dict(radius_um=5)),
         ("rolling=50 sliding", dict(radius_um=50, paraboloid=True))]


def main():
    ij = open_session(engine="imagej")
    base = load_sample("dsb2018_nuclei").data
    rows = []
    for size in (512, 1024):
        image = np.tile(base, (size // 512, size // 512))
        for options, kw in CASES:
            res = ij.run_macro(MACRO, images={"case": image},
                               args={"options": options, "repeat": REPEAT})
            ij_s = float(next(line.split("|")[1] for line in res.log.splitlines()
                              if line.startswith("MS|"))) / 1000
            ours_s, _ = best_of(lambda: subtract_background(image, **kw), REPEAT)
            rows.append({"shape": list(image.shape), "dtype": str(image.dtype),
                         "options": options, "imagej_s": ij_s, "fijibridge_s": ours_s,
                         "ratio": ours_s / ij_s if ij_s > 0 else None})
            print(rows[-1])
    result = {"benchmark": "subtract_background", "imagej": "1.53t (Debian ij.jar)",
              "repeat": REPEAT, "machine": platform.platform(),
              "note": "ImageJ time measured in the macro (getTime, ms resolution); "
                      "ImageJ runs one plane single-threaded here, as we do",
              "results": rows}
    with atomic_path(OUT) as tmp:
        Path(tmp).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
