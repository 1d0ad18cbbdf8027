"""Stand-in for Fiji's script runner, for the classic (Jython) scripts. Runs in Jython 2.7.

    java -cp ij.jar:jython.jar org.python.util.jython jython_harness.py SCRIPT IMAGE [NAME=VALUE ...]

Fiji reads a script's ``#@`` parameter lines, fills them (the current image for
``ImagePlus``, a dialog for the rest) and runs the script with them as variables.
This harness does the same without a dialog: it opens IMAGE and shows it (the
current image), takes the other values from NAME=VALUE or the declared ``value=``
default (``required=false`` parameters default to None), runs the script in real
ImageJ 1.x classes (``ij.jar``) on the virtual display, and prints one line
``HARNESS-REPORT {json}`` describing the image windows and result tables left open.
No ImageJ main window is created, so ``IJ.error``/``IJ.log`` print to stdout.
"""

import json
import os
import sys
import traceback

from java.io import File
from java.lang import System
from ij import IJ, WindowManager
from ij.text import TextWindow

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from script_params import fill  # noqa: E402


def report():
    images = []
    for image_id in (WindowManager.getIDList() or []):
        imp = WindowManager.getImage(image_id)
        stats = imp.getStatistics()
        images.append({"title": imp.getTitle(), "bitdepth": imp.getBitDepth(),
                       "width": imp.getWidth(), "height": imp.getHeight(),
                       "slices": imp.getStackSize(), "max": stats.max})
    tables = []
    for window in (WindowManager.getNonImageWindows() or []):
        if isinstance(window, TextWindow) and window.getResultsTable() is not None:
            rt = window.getResultsTable()
            tables.append({"title": window.getTitle(), "rows": rt.size(),
                           "columns": list(rt.getHeadings())})
    return {"images": images, "tables": tables}


def main(argv):
    script, image = argv[0], argv[1]
    overrides = dict(a.split("=", 1) for a in argv[2:])
    namespace = {"__name__": "__main__", "__file__": script}
    imp = IJ.openImage(image)
    if imp is None:
        raise SystemExit("harness: cannot open " + image)
    imp.show()
    try:
        namespace.update(fill(script, overrides, WindowManager.getCurrentImage(), File))
    except ValueError as e:
        raise SystemExit("harness: %s" % e)
    code = 0
    try:
        execfile(script, namespace)
    except Exception:
        traceback.print_exc()
        code = 3
    sys.stdout.write("HARNESS-REPORT " + json.dumps(report()) + "\n")
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    try:
        status = main(sys.argv[1:])
    except SystemExit as e:
        sys.stdout.write("%s\n" % e)
        status = 2
    sys.stdout.flush()
    System.exit(status)  # AWT threads would keep the JVM alive
