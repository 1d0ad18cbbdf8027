#@ ImagePlus imp
#@ File (label="fijibridge executable (empty: $FIJIBRIDGE, then PATH, then ~/.local/bin)", required=false) fijibridge_exe
#@ String (label="Model (shipped name or checkpoint file)", value="nuclei2d") model
#@ Boolean (label="Measure the objects (results table)", value=true) measure
#@ Integer (label="Time limit per command (seconds)", value=600, min=10) timeout_s
"""Segment the current image with ``fijibridge segment`` in a subprocess (classic Fiji).

Jython (Python 2.7 syntax).  The current image is saved as an ImageJ TIFF in a new
folder under the temporary directory; ``fijibridge segment`` writes the instance
labels (16-bit TIFF) and an outline overlay (PNG) there, ``fijibridge features``
measures the objects (CSV).  The labels and the overlay open as images, the table
as a Results table.  The folder is kept (its path is in the Log window).

A failing command (non-zero exit code, or no end within the time limit) shows its
last error line with ``IJ.error``; nothing is opened then.

Parameters come from the ``#@`` lines (Fiji's script parameters).  ImageJ 1.x does
not read them: there the values below are asked for in a dialog instead.
"""

import os
import re
import tempfile

from java.io import File
from java.lang import ProcessBuilder
from java.util import ArrayList
from java.util.concurrent import TimeUnit
from ij import IJ
from ij.gui import GenericDialog
from ij.io import FileSaver
from ij.measure import ResultsTable

TITLE = "fijibridge segment"


class CommandFailed(Exception):
    """A fijibridge command failed; the message is one line for IJ.error."""


def find_fijibridge(chosen):
    """The fijibridge executable: the chosen file, else $FIJIBRIDGE, PATH, ~/.local/bin."""
    if chosen is not None and str(chosen).strip():
        path = str(chosen)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
        raise CommandFailed("the chosen fijibridge executable %s does not exist or is not "
                            "executable; choose <env>/bin/fijibridge or leave the field empty" % path)
    candidates = []
    if os.environ.get("FIJIBRIDGE"):
        candidates.append(os.environ["FIJIBRIDGE"])
    for folder in (os.environ.get("PATH") or "").split(os.pathsep):
        if folder:
            candidates.append(os.path.join(folder, "fijibridge"))
    candidates.append(os.path.join(os.path.expanduser("~"), ".local", "bin", "fijibridge"))
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise CommandFailed("no fijibridge executable found in $FIJIBRIDGE (%s), PATH or ~/.local/bin; "
                        "choose it in the dialog (e.g. <env>/bin/fijibridge) or set FIJIBRIDGE"
                        % (os.environ.get("FIJIBRIDGE") or "not set"))


def last_line(path):
    try:
        with open(path) as fh:
            lines = [l.strip() for l in fh.read().splitlines() if l.strip()]
    except IOError:
        return ""
    return lines[-1] if lines else ""


def run_fijibridge(exe, args, folder, timeout_s):
    """Run ``exe args...`` in ``folder``; return its stdout.  Raises CommandFailed."""
    command = ArrayList()
    for part in [exe] + list(args):
        command.add(str(part))
    IJ.log("fijibridge: running " + " ".join(['"%s"' % a if " " in a else a for a in command]))
    name = args[0]
    out_file = File(folder, "%s.stdout.txt" % name)
    err_file = File(folder, "%s.stderr.txt" % name)
    builder = ProcessBuilder(command)
    builder.directory(File(folder))
    builder.redirectOutput(out_file)
    builder.redirectError(err_file)
    process = builder.start()
    if not process.waitFor(int(timeout_s), TimeUnit.SECONDS):
        process.destroyForcibly()
        process.waitFor(10, TimeUnit.SECONDS)
        raise CommandFailed("fijibridge %s did not finish within %d s and was stopped"
                            % (name, int(timeout_s)))
    code = process.exitValue()
    IJ.log("fijibridge: %s exit code %d" % (name, code))
    if code != 0:
        message = last_line(err_file.getPath()) or "no error message (see %s)" % err_file.getPath()
        raise CommandFailed("fijibridge %s failed (exit code %d): %s" % (name, code, message))
    with open(out_file.getPath()) as fh:
        return fh.read()


def save_input(image, folder):
    """Save ``image`` as an ImageJ TIFF in ``folder`` without renaming it in Fiji."""
    stem = re.sub(r"[^\w.-]+", "_", re.sub(r"\.tiff?$", "", image.getTitle(), flags=re.I)) or "image"
    path = os.path.join(folder, stem + ".tif")
    title, info, changes = image.getTitle(), image.getOriginalFileInfo(), image.changes
    ok = FileSaver(image).saveAsTiff(path)
    image.setTitle(title)  # FileSaver renames the image after the file
    if info is not None:
        image.setFileInfo(info)
    image.changes = changes
    if not ok:
        raise CommandFailed("could not save the image to " + path)
    return stem, path


def ask_parameters(values):
    """ImageJ 1.x (no #@ parameters): ask for the values in a dialog."""
    gd = GenericDialog(TITLE)
    gd.addStringField("fijibridge executable (empty: search)", values["fijibridge_exe"] or "", 40)
    gd.addStringField("Model", values["model"], 20)
    gd.addCheckbox("Measure the objects", values["measure"])
    gd.addNumericField("Time limit (seconds)", values["timeout_s"], 0)
    gd.showDialog()
    if gd.wasCanceled():
        return None
    return {"imp": values["imp"], "fijibridge_exe": gd.getNextString().strip() or None,
            "model": gd.getNextString().strip() or "nuclei2d", "measure": gd.getNextBoolean(),
            "timeout_s": int(gd.getNextNumber())}


def segment(imp, fijibridge_exe, model, measure, timeout_s):
    """Run the commands and open their outputs; returns the labels ImagePlus."""
    exe = find_fijibridge(fijibridge_exe)
    folder = tempfile.mkdtemp(prefix="fijibridge-segment-")
    stem, image_path = save_input(imp, folder)
    args = ["segment", image_path, "--model", str(model), "--output-dir", folder]
    if imp.getNChannels() == 1 and imp.getStackSize() > 1:
        args.append("--per-plane")
    run_fijibridge(exe, args, folder, timeout_s)
    labels_path = os.path.join(folder, stem + "_labels.tif")
    overlay_path = os.path.join(folder, stem + "_overlay.png")
    labels = IJ.openImage(labels_path)
    if labels is None:
        raise CommandFailed("fijibridge segment wrote no label image at " + labels_path)
    count = int(labels.getStatistics().max)
    labels.setTitle(imp.getTitle() + " labels")
    labels.setDisplayRange(0, max(count, 1))
    labels.show()
    if os.path.isfile(overlay_path):
        overlay = IJ.openImage(overlay_path)
        overlay.setTitle(imp.getTitle() + " outlines")
        overlay.show()
    if measure:
        table_path = os.path.join(folder, stem + "_objects.csv")
        run_fijibridge(exe, ["features", labels_path, "--image", image_path, "-o", table_path],
                       folder, timeout_s)
        table = ResultsTable.open(table_path)
        table.show(imp.getTitle() + " objects")
    IJ.log("fijibridge: %d objects in %s; files in %s" % (count, imp.getTitle(), folder))
    return labels


def main():
    values = {}
    for name, default in (("imp", None), ("fijibridge_exe", None), ("model", "nuclei2d"),
                          ("measure", True), ("timeout_s", 600)):
        values[name] = globals().get(name, default)
    if values["imp"] is None:
        values["imp"] = IJ.getImage()  # ImageJ 1.x: the current image (aborts if none)
    if "model" not in globals():
        values = ask_parameters(values)
        if values is None:
            return
    try:
        segment(**values)
    except CommandFailed as e:
        IJ.error(TITLE, str(e))


main()
