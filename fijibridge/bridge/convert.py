"""numpy ↔ ImageJ ``ImagePlus``, 2D to 5D, with calibration.

Images on the Python side are :class:`~fijibridge.Image` (axes in ``TCZYX`` order:
``"YX"``, ``"ZYX"``, ``"CZYX"``, ``"TCZYX"``, …).  ImageJ stores a hyperstack as one
list of planes with C varying fastest, then Z, then T, i.e. a C-ordered
``(T, Z, C, Y, X)`` array reshaped to ``(T*Z*C, Y, X)``; both converters reorder
``TCZYX`` ↔ ImageJ's ``TZCYX`` explicitly.  Channel names travel as the slice labels
of every plane of a channel (what ImageJ shows, and what Bio-Formats sets).

dtypes: uint8 → 8-bit, uint16 → 16-bit, float32 → 32-bit, exact both ways.  ``bool``
is converted to an 8-bit mask (0/255, ImageJ's convention); any other dtype raises
TypeError (convert first, e.g. ``image.astype(np.float32)``).  RGB ImagePlus objects
come back as a ``C`` axis of 3 uint8 channels.

Pixels move in bulk (one JNI copy per plane through the buffer protocol), never per
pixel in Python.
"""

from __future__ import annotations

import logging

import numpy as np

from .._core.image import Image
from .._core.tiff import IMAGEJ_AXES, _check_axes, default_axes

__all__ = ["ndarray_to_imageplus", "imageplus_to_ndarray"]

log = logging.getLogger(__name__)

_UNIT_SCALE = {"micron": 1.0, "microns": 1.0, "um": 1.0, "\u00b5m": 1.0, "nm": 1e-3,
               "nanometer": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6}


def _spatial_spacing(spacing, axes: str) -> tuple[float, float, float]:
    """(z, y, x) spacing in µm from a 2- or 3-value spacing."""
    if spacing is None:
        return (1.0, 1.0, 1.0)
    values = tuple(float(s) for s in spacing)
    if len(values) == 2:
        values = (1.0,) + values
    if len(values) != 3 or not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"spacing must be 2 or 3 positive numbers in µm, (z, y, x); got {spacing!r}")
    return values


def ndarray_to_imageplus(image, *, title: str = "image", axes: str | None = None,
                         spacing=None, unit: str = "micron", channels=None):
    """Make an ImageJ ``ImagePlus`` from an :class:`~fijibridge.Image` or an array.

    Parameters
    ----------
    image : Image or ndarray
        uint8, uint16, float32 or bool; 2 to 5 dimensions.
    title : str
        Image title in ImageJ (macros select images by it).
    axes : str, optional
        Axes of an array, any order of ``TCZYX`` letters ending in ``YX`` (``"CZYX"``,
        or ImageJ's ``"ZCYX"``); default from its ndim in ``TCZYX`` order (``YX``,
        ``ZYX``, ``CZYX``, ``TCZYX``), or those of the Image.
    spacing : sequence of float, optional
        Voxel size in µm, ``(z, y, x)`` or ``(y, x)``; default that of the Image, or 1.
    channels : sequence of str, optional
        Channel names (default those of the Image), set as the slice label of each
        plane of the channel.
    """
    import jpype.nio
    from scyjava import jimport

    if isinstance(image, Image):
        axes = axes or image.axes
        spacing = spacing if spacing is not None else image.spacing
        channels = image.channels if channels is None else channels
        if not image.calibrated:
            unit = "pixel"  # as ImageJ opens an uncalibrated file
        image = image.to_ndarray()
    arr = np.asarray(image)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * np.uint8(255)
    if arr.dtype not in (np.uint8, np.uint16, np.float32):
        raise TypeError(f"ImageJ images are uint8, uint16 or float32 (or bool masks); got "
                        f"{arr.dtype}. Convert first, e.g. image.astype(np.float32)")
    if arr.ndim < 2 or arr.ndim > 5:
        raise ValueError(f"images must have 2 to 5 dimensions (YX … TCZYX); got shape {arr.shape}")
    axes = _check_axes(axes or default_axes(arr.ndim), arr.ndim)
    # explicit reorder to ImageJ's plane order: T, Z, C, then Y, X
    target = "".join(a for a in IMAGEJ_AXES if a in axes)
    arr = np.transpose(arr, [axes.index(a) for a in target])
    sizes = {a: arr.shape[i] for i, a in enumerate(target)}
    nt, nz, nc = sizes.get("T", 1), sizes.get("Z", 1), sizes.get("C", 1)
    ny, nx = sizes["Y"], sizes["X"]
    if ny == 0 or nx == 0 or nt * nz * nc == 0:
        raise ValueError(f"image has an empty axis: shape {arr.shape}")
    planes = np.ascontiguousarray(arr).reshape(nt * nz * nc, ny * nx)
    if not planes.flags.writeable:  # jpype.nio wraps writable memory only
        planes = planes.copy()
    ByteOrder = jimport("java.nio.ByteOrder")
    ImageStack = jimport("ij.ImageStack")
    ImagePlus = jimport("ij.ImagePlus")
    # Java allocates every plane in one call; a zero-copy java.nio view of the numpy
    # memory then fills each plane with one bulk get() (no per-pixel work, few calls).
    bitdepth = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16, np.dtype(np.float32): 32}[arr.dtype]
    stack = ImageStack.create(int(nx), int(ny), int(planes.shape[0]), bitdepth)
    buffer = jpype.nio.convertToDirectBuffer(planes).order(ByteOrder.nativeOrder())
    if bitdepth == 16:
        buffer = buffer.asShortBuffer()
    elif bitdepth == 32:
        buffer = buffer.asFloatBuffer()
    slices = stack.getImageArray()
    for i in range(planes.shape[0]):
        buffer.get(slices[i])
    del buffer
    names = tuple(str(c) for c in (channels or ()))
    if names:
        if len(names) != nc:
            raise ValueError(f"channels must name each of the {nc} channel(s); got {names!r}")
        for i in range(planes.shape[0]):  # plane i is (c, z, t) = (i % nc, …)
            stack.setSliceLabel(names[i % nc], i + 1)
    imp = ImagePlus(str(title), stack)
    imp.setDimensions(int(nc), int(nz), int(nt))
    if sum(n > 1 for n in (nc, nz, nt)) > 1 or nc > 1:
        imp.setOpenAsHyperStack(True)
    sz, sy, sx = _spatial_spacing(spacing, axes)
    cal = imp.getCalibration()
    cal.pixelWidth, cal.pixelHeight, cal.pixelDepth = sx, sy, sz
    cal.setUnit(unit if unit else "micron")
    return imp


def imageplus_to_ndarray(imp) -> Image:
    """Copy an ``ImagePlus`` into an :class:`~fijibridge.Image` (axes ``TCZYX``, µm).

    Singleton T/Z/C axes are dropped, so a plain 2D image comes back as ``YX``.
    Channel names are the slice labels (first line) of the first plane of each channel,
    when every channel has one.
    """
    if imp is None:
        raise ValueError("imageplus_to_ndarray needs an ImagePlus; got None")
    nx, ny, nc, nz, nt = (int(v) for v in imp.getDimensions())
    bitdepth = int(imp.getBitDepth())
    stack = imp.getStack()
    n = int(stack.getSize())
    if bitdepth == 24:
        out = np.empty((n, ny, nx, 3), np.uint8)
        for i in range(n):
            rgb = np.frombuffer(memoryview(stack.getPixels(i + 1)),
                                dtype=np.int32).reshape(ny, nx)
            out[i, ..., 0] = (rgb >> 16) & 0xFF
            out[i, ..., 1] = (rgb >> 8) & 0xFF
            out[i, ..., 2] = rgb & 0xFF
        data = np.moveaxis(out, -1, 1)  # planes, C=3, Y, X
        nc_eff = 3 * nc
        data = data.reshape(nt, nz, nc_eff, ny, nx)
        nc = nc_eff
    else:
        dtype = {8: np.uint8, 16: np.uint16, 32: np.float32}.get(bitdepth)
        if dtype is None:
            raise TypeError(f"unsupported ImageJ bit depth {bitdepth}")
        data = np.empty((n, ny * nx), dtype)
        for i in range(n):
            data[i] = np.frombuffer(memoryview(stack.getPixels(i + 1)), dtype=dtype)
        data = data.reshape(nt, nz, nc, ny, nx)
    # explicit reorder ImageJ (T, Z, C, Y, X) → TCZYX, then drop singleton T/C/Z
    data = data.transpose(0, 2, 1, 3, 4)
    keep = [i for i, size in enumerate((nt, nc, nz)) if size > 1]
    axes = "".join("TCZ"[i] for i in keep) + "YX"
    data = np.ascontiguousarray(data).reshape([(nt, nc, nz)[i] for i in keep] + [ny, nx])
    names = ()
    if bitdepth != 24 and nc > 1:
        labels = [stack.getSliceLabel(c + 1) for c in range(nc)]  # (c, z=0, t=0)
        labels = [str(s).split("\n")[0].strip() if s is not None else "" for s in labels]
        if all(labels) and len(set(labels)) == nc:
            names = tuple(labels)
    cal = imp.getCalibration()
    unit = str(cal.getUnit() or "pixel")
    scale = _UNIT_SCALE.get(unit.replace("\u00c2", ""), None)
    calibrated = scale is not None
    scale = scale or 1.0
    sx, sy, sz = (float(cal.pixelWidth) * scale, float(cal.pixelHeight) * scale,
                  float(cal.pixelDepth) * scale)
    spacing = (sz, sy, sx) if "Z" in axes else (sy, sx)
    if not calibrated and unit.lower() not in ("pixel", "pixels", ""):
        log.warning("ImageJ image %r has unknown unit %r: treated as uncalibrated",
                    str(imp.getTitle()), unit)
    return Image(data=data, axes=axes, spacing=spacing, calibrated=calibrated, channels=names,
                 format="imageplus", source=str(imp.getTitle()))
