#@ ImagePlus imp
#@ File (label="PSF (TIFF, same dimensionality as the image)", style="open") psf_file
#@ String (label="Algorithm", choices={"RL", "RLTV", "LW", "TM", "FISTA", "NNLS"}, value="RL") algorithm
#@ Integer (label="Iterations", value=20, min=1) num_iter
#@ String (label="Device", choices={"cpu", "cuda"}, value="cpu") device
"""Deconvolve the current image with fijibridge's native DeconvolutionLab2 algorithms.

Fiji's Python mode: CPython with Fiji's JVM in the process (``engine="attach"``).
The result (32-bit, same calibration) opens as "<title> deconvolved".  Needs torch.
"""

import sys

TITLE = "fijibridge deconvolve"


def main(imp, psf_file, algorithm, num_iter, device):
    from scyjava import jimport

    from fijibridge import FijiBridgeError, read_tiff
    from fijibridge.deconv import deconvolve

    IJ = jimport("ij.IJ")
    open_session(engine="attach")  # Fiji's JVM, already running in this process
    image = imageplus_to_ndarray(imp)
    if "C" in image.axes or "T" in image.axes:
        IJ.error(TITLE, "Deconvolve one channel and time point at a time; %r has axes %s."
                 % (imp.getTitle(), image.axes))
        return None
    try:
        psf = read_tiff(str(psf_file))
        result = deconvolve(image.data.astype(np.float32), psf.data.astype(np.float32),
                            algorithm=algorithm, num_iter=int(num_iter), device=device)
    except (FijiBridgeError, ValueError, TypeError, OSError) as e:
        IJ.error(TITLE, "%s: %s" % (type(e).__name__, e))
        return None
    out = ndarray_to_imageplus(np.asarray(result, dtype=np.float32), axes=image.axes,
                               title=imp.getTitle() + " deconvolved", spacing=image.spacing)
    out.resetDisplayRange()
    out.show()
    IJ.log("fijibridge: %s %d iterations on %s" % (algorithm, int(num_iter), imp.getTitle()))
    return out


if sys.platform.startswith("java"):  # classic Fiji runs .py files with Jython
    from ij import IJ
    IJ.error(TITLE, "This script needs Fiji's Python mode (Edit > Options > Python...)\n"
             "with fijibridge installed in that Python. In classic Fiji use\n"
             "Plugins > fijibridge > Classic Jython instead.")
else:
    import numpy as np

    from fijibridge.bridge import imageplus_to_ndarray, ndarray_to_imageplus, open_session

    result = main(imp, psf_file, algorithm, num_iter, device)
