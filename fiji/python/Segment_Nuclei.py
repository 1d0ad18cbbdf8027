#@ ImagePlus imp
#@ String (label="Method", choices={"nuclei2d model", "threshold + watershed"}, value="nuclei2d model") method
#@ String (label="Model (shipped name or checkpoint file)", value="nuclei2d") model
#@ String (label="Threshold (threshold + watershed)", choices={"Otsu", "Default", "Huang", "Li", "Triangle", "Moments"}, value="Otsu") threshold_method
#@ Float (label="Smallest object (pixels)", value=20, min=0) min_size
#@ Boolean (label="Add the objects to the ROI Manager", value=true) to_roi_manager
"""Segment the current image with fijibridge, in Fiji's Python mode.

Fiji's Python mode (Edit > Options > Python...) runs this script in CPython with
Fiji's JVM alive in the same process; fijibridge attaches to that JVM
(``open_session(engine="attach")``) and moves pixels with its converters.  The
labels open as a 16-bit image, one row per object goes to a Results table
("<title> objects"), and the outlines go to the ROI Manager and onto the image.

Methods: the trained network (``fijibridge segment``'s model, default the shipped
nuclei2d; needs torch), or ImageJ's auto-threshold followed by a distance-transform
watershed (numpy/scipy only).  Written in syntax that Jython can parse, so that
classic Fiji explains what is needed instead of failing with a syntax error.
"""

import sys

TITLE = "fijibridge segment"


def label_objects(image, method, model, threshold_method, min_size):
    """Instance labels (int array) of a 2D image."""
    if method == "nuclei2d model":
        from fijibridge.segment.inference import segment
        return segment(image, model=model, min_size=int(min_size))
    if method == "threshold + watershed":
        from fijibridge.segment import split_instances, threshold_mask
        mask = threshold_mask(image, method=threshold_method, dark=True)
        mask = ndi.binary_fill_holes(mask)
        return split_instances(mask, method="distance", min_distance=5.0, min_size=int(min_size))
    raise ValueError("method must be 'nuclei2d model' or 'threshold + watershed'; got %r" % (method,))


def outline_rois(labels):
    """One traced ImageJ ROI per label (ImageJ's wand on the label image)."""
    from scyjava import jimport

    PolygonRoi = jimport("ij.gui.PolygonRoi")
    Roi = jimport("ij.gui.Roi")
    Wand = jimport("ij.gui.Wand")
    label_imp = ndarray_to_imageplus(labels.astype(np.float32), title="labels")
    wand = Wand(label_imp.getProcessor())
    rois = []
    for index, box in enumerate(ndi.find_objects(labels)):
        if box is None:
            continue
        value = index + 1
        rows, cols = np.nonzero(labels[box] == value)
        y, x = int(rows[0] + box[0].start), int(cols[0] + box[1].start)  # first pixel in raster order
        wand.autoOutline(x, y, float(value), float(value), Wand.EIGHT_CONNECTED)
        roi = PolygonRoi(wand.xpoints, wand.ypoints, wand.npoints, Roi.TRACED_ROI)
        roi.setName("object %d" % value)
        rois.append(roi)
    return rois


def results_table(table, title):
    """A shown ImageJ ResultsTable with the columns of a pandas DataFrame."""
    from scyjava import jimport

    ResultsTable = jimport("ij.measure.ResultsTable")
    rt = ResultsTable()
    for _, row in table.iterrows():
        rt.incrementCounter()
        for column, value in row.items():
            if isinstance(value, (bool, np.bool_)):
                value = float(value)
            if isinstance(value, (int, float, np.integer, np.floating)):
                rt.addValue(str(column), float(value))
            else:
                rt.addValue(str(column), str(value))
    rt.show(title)
    return rt


def show_results(imp, labels, spacing, to_roi_manager):
    """Labels image, Results table and ROIs in Fiji; returns (labels_imp, table, rois)."""
    from scyjava import jimport

    from fijibridge.features import label_morphology

    GraphicsEnvironment = jimport("java.awt.GraphicsEnvironment")
    Overlay = jimport("ij.gui.Overlay")
    RoiManager = jimport("ij.plugin.frame.RoiManager")
    count = int(labels.max())
    labels_imp = ndarray_to_imageplus(labels.astype(np.uint16), title=imp.getTitle() + " labels",
                                      spacing=spacing)
    labels_imp.setDisplayRange(0, max(count, 1))
    labels_imp.show()
    pixels = imageplus_to_ndarray(imp).data
    table = label_morphology(labels, spacing=spacing, image=pixels)
    rt = results_table(table, imp.getTitle() + " objects")
    rois = outline_rois(labels)
    overlay = Overlay()
    for roi in rois:
        overlay.add(roi)
    imp.setOverlay(overlay)
    if to_roi_manager:
        rm = RoiManager.getInstance()
        if rm is None:  # the hidden one (headless Fiji) is not RoiManager.getInstance()
            rm = RoiManager(True) if GraphicsEnvironment.isHeadless() else RoiManager()
        rm.reset()
        for roi in rois:
            rm.addRoi(roi)
    return labels_imp, rt, rois


def main(imp, method, model, threshold_method, min_size, to_roi_manager):
    from scyjava import jimport

    from fijibridge import FijiBridgeError

    IJ = jimport("ij.IJ")
    open_session(engine="attach")  # Fiji's JVM, already running in this process
    image = imageplus_to_ndarray(imp)
    if image.data.ndim != 2:
        IJ.error(TITLE, "This script segments a 2D image; %r has axes %s (shape %s).\n"
                 "Make a substack or split the channels first."
                 % (imp.getTitle(), image.axes, image.data.shape))
        return None
    try:
        labels = label_objects(image.data, method, model, threshold_method, min_size)
    except (FijiBridgeError, ValueError, TypeError) as e:
        IJ.error(TITLE, "%s: %s" % (type(e).__name__, e))
        return None
    result = show_results(imp, np.asarray(labels), image.spacing, to_roi_manager)
    IJ.log("fijibridge: %d objects in %s (%s)" % (int(labels.max()), imp.getTitle(), method))
    return result


if sys.platform.startswith("java"):  # classic Fiji runs .py files with Jython
    from ij import IJ
    IJ.error(TITLE, "This script needs Fiji's Python mode (Edit > Options > Python...)\n"
             "with fijibridge installed in that Python. In classic Fiji use\n"
             "Plugins > fijibridge > Classic Jython instead.")
else:
    import numpy as np
    import scipy.ndimage as ndi

    from fijibridge.bridge import imageplus_to_ndarray, ndarray_to_imageplus, open_session

    result = main(imp, method, model, threshold_method, min_size, to_roi_manager)
