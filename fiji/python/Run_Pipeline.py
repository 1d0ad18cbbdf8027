#@ ImagePlus imp
#@ File (label="Pipeline file (.yml)", style="open") pipeline_file
#@ File (label="Output folder", style="directory") output_dir
#@ String (label="Profile (empty: none)", value="", required=false) profile
"""Run a fijibridge pipeline on the current image and open what it writes.

Fiji's Python mode: CPython with Fiji's JVM in the process.  The image is saved to a
temporary folder and given to the pipeline as its only input (``--input``; an output
folder may not hold its inputs), then kept beside the results as
``OUTPUT/input/<title>.tif``;
macro steps run in this Fiji (the bridge attaches to its JVM).  Afterwards every
image the run wrote for this item opens as "<step>.<output>", and every table as a
Results table.  Failures are shown with ``IJ.error``; ``run.json`` and
``report.html`` are in the output folder.
"""

import re
import sys

TITLE = "fijibridge pipeline"


def main(imp, pipeline_file, output_dir, profile):
    import shutil
    import tempfile
    from pathlib import Path

    from scyjava import jimport

    from fijibridge import FijiBridgeError, write_tiff
    from fijibridge.pipeline import load_pipeline, run_pipeline

    IJ = jimport("ij.IJ")
    ResultsTable = jimport("ij.measure.ResultsTable")
    open_session(engine="attach")  # macro steps then run in this Fiji
    out = Path(str(output_dir))
    stem = re.sub(r"[^\w.-]+", "_", re.sub(r"\.tiff?$", "", str(imp.getTitle()), flags=re.I)) or "image"
    image = imageplus_to_ndarray(imp)
    snapshot = Path(tempfile.mkdtemp(prefix="fijibridge-input-"))
    source = snapshot / (stem + ".tif")
    try:
        write_tiff(source, image.data, spacing=image.spacing, axes=image.axes)
        spec = load_pipeline(str(pipeline_file), profile=profile or None)
        summary = run_pipeline(spec, output_dir=out, inputs=[str(source)], progress=False)
        (out / "input").mkdir(parents=True, exist_ok=True)
        shutil.copy2(str(source), str(out / "input" / source.name))
    except (FijiBridgeError, ValueError, TypeError, OSError) as e:
        IJ.error(TITLE, "%s: %s" % (type(e).__name__, e))
        return None
    finally:
        shutil.rmtree(str(snapshot), ignore_errors=True)
    if summary.failures:
        IJ.error(TITLE, "\n".join("%s: %s" % (f["step"], f["error"]) for f in summary.failures))
    opened = []
    for path in sorted(out.glob("*/%s.*" % stem)):
        if path.parent.name == "input":
            continue
        name = "%s.%s" % (path.parent.name, path.name[len(stem) + 1:].rsplit(".", 1)[0])
        if path.suffix in (".tif", ".tiff", ".png"):
            shown = IJ.openImage(str(path))
            shown.setTitle(name)
            shown.resetDisplayRange()
            shown.show()
            opened.append(name)
        elif path.suffix == ".csv":
            ResultsTable.open(str(path)).show(name)
            opened.append(name)
    IJ.log("fijibridge: %s on %s in %.1f s -> %s (opened: %s)"
           % (spec.name, imp.getTitle(), summary.seconds, out, ", ".join(opened) or "nothing"))
    return summary


if sys.platform.startswith("java"):  # classic Fiji runs .py files with Jython
    from ij import IJ
    IJ.error(TITLE, "This script needs Fiji's Python mode (Edit > Options > Python...)\n"
             "with fijibridge installed in that Python. In classic Fiji use\n"
             "Plugins > fijibridge > Classic Jython instead.")
else:
    from fijibridge.bridge import imageplus_to_ndarray, open_session

    result = main(imp, pipeline_file, output_dir, profile)
