"""Stand-in for Fiji's script editor in Python mode. Runs in CPython, under Xvfb.

    python python_mode_standin.py SCRIPT IMAGE [NAME=VALUE ...]

Fiji's Python mode runs a ``.py`` script in CPython while Fiji's JVM (with ImageJ)
is alive in the same process, and fills the script's ``#@`` parameters.  Here the
JVM is started the way the ``imagej`` engine starts it (fijibridge's ``start_jvm``,
the system Java, ImageJ 1.x's ij.jar) but *without* a fijibridge session, so the
script's ``open_session(engine="attach")`` meets a JVM it did not start, as in Fiji.
The parameters are filled as Fiji would fill them (no dialog; see script_params.py),
the current image is IMAGE, opened and shown.  No ImageJ main window is created, so
``IJ.error``/``IJ.log`` print to stdout.  The last line is ``HARNESS-REPORT {json}``:
the image windows, the Results tables, the ROI Manager and the session's engine.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from script_params import fill  # noqa: E402


def report():
    from scyjava import jimport

    from fijibridge.bridge import current_session

    WindowManager = jimport("ij.WindowManager")
    TextWindow = jimport("ij.text.TextWindow")
    RoiManager = jimport("ij.plugin.frame.RoiManager")
    images = []
    for image_id in list(WindowManager.getIDList() or []):
        imp = WindowManager.getImage(int(image_id))
        overlay = imp.getOverlay()
        images.append({"title": str(imp.getTitle()), "bitdepth": int(imp.getBitDepth()),
                       "width": int(imp.getWidth()), "height": int(imp.getHeight()),
                       "slices": int(imp.getStackSize()), "max": float(imp.getStatistics().max),
                       "overlay": 0 if overlay is None else int(overlay.size())})
    tables = []
    for window in list(WindowManager.getNonImageWindows() or []):
        if isinstance(window, TextWindow) and window.getResultsTable() is not None:
            rt = window.getResultsTable()
            tables.append({"title": str(window.getTitle()), "rows": int(rt.size()),
                           "columns": [str(h) for h in rt.getHeadings()]})
    rm = RoiManager.getInstance()
    session = current_session()
    return {"images": images, "tables": tables, "rois": 0 if rm is None else int(rm.getCount()),
            "engine": None if session is None else session.engine}


def main(argv) -> int:
    from fijibridge.bridge._engines import find_imagej_jar
    from fijibridge.bridge._java import start_jvm

    script, image = argv[0], argv[1]
    overrides = dict(a.split("=", 1) for a in argv[2:])
    jar = find_imagej_jar([])
    if jar is None:
        print("harness: no ij.jar")
        return 2
    start_jvm(classpath=[str(jar)], options=["-Djava.awt.headless=false"])  # "Fiji's JVM"
    from scyjava import jimport

    IJ = jimport("ij.IJ")
    File = jimport("java.io.File")
    WindowManager = jimport("ij.WindowManager")
    imp = IJ.openImage(image)
    if imp is None:
        print(f"harness: cannot open {image}")
        return 2
    imp.show()
    try:
        values = fill(script, overrides, WindowManager.getCurrentImage(), File)
    except ValueError as e:
        print(f"harness: {e}")
        return 2
    code = 0
    try:
        runpy.run_path(script, init_globals=values, run_name="__main__")
    except Exception:
        traceback.print_exc()
        code = 3
    print("HARNESS-REPORT " + json.dumps(report()), flush=True)
    return code


if __name__ == "__main__":
    status = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # AWT threads would keep the JVM, and so the process, alive
