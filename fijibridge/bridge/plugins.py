"""The Java side of the ImageJ plugins fijibridge drives: where they are, how they are called.

Plugin discovery (:func:`find_dl2_jar`, :func:`~._engines.find_plugin_jars`) reads the
plugins folder only; :func:`psf_generator_image` calls PSF Generator's Java entry
point in a running session. The algorithm packages (``deconv``, ``psf``) import this
module inside the functions that need it.
"""

from __future__ import annotations

from pathlib import Path

from .._core.errors import EngineError
from .._core.image import Image
from ._engines import find_dl2_jar, find_plugin_jars

__all__ = ["find_dl2_jar", "find_plugin_jars", "psf_generator_image"]


def psf_generator_image(config, *, session) -> Image:
    """Run ``PSFGenerator.computeImagePlus(config)`` in ``session`` and copy the result.

    PSF Generator's menu command ignores macro options, so this is the entry point its
    command line uses (``java -cp PSF_Generator.jar PSFGenerator config.txt``), loaded
    with ImageJ's plugin class loader from the engine's plugins folder. The returned
    image has the plugin's pixels and axes; its spacing is ImageJ's (the plugin writes
    none: the caller sets it from the configuration).
    """
    from scyjava import jimport

    from .convert import imageplus_to_ndarray

    path = Path(config)
    IJ = jimport("ij.IJ")
    Class = jimport("java.lang.Class")
    String = jimport("java.lang.String")
    try:
        cls = Class.forName("PSFGenerator", True, IJ.getClassLoader())
        method = cls.getMethod("computeImagePlus", String.class_)
        imp = method.invoke(None, str(path.resolve()))
    except Exception as e:
        raise EngineError(f"PSF Generator failed on {path}: {e}") from e
    if imp is None:
        raise EngineError(f"PSF Generator returned no image for {path}")
    try:
        return imageplus_to_ndarray(imp)
    finally:
        imp.changes = False
        imp.close()
        imp.flush()
