"""numpy ↔ ImageJ ``ImagePlus``, 2D to 5D, with calibration.

Axis order is ImageJ's hyperstack order written out: an array carries a subsequence
of ``TZCYX`` (``"YX"``, ``"ZYX"``, ``"CYX"``, ``"ZCYX"``, ``"TZCYX"``, …).  ImageJ
stores a hyperstack as one list of planes with C varying fastest, then Z, then T,
which is exactly a C-ordered ``(T, Z, C, Y, X)`` array reshaped to ``(T*Z*C, Y, X)``.

dtypes: uint8 → 8-bit, uint16 → 16-bit, float32 → 32-bit, exact both ways.  ``bool``
is converted to an 8-bit mask (0/255, ImageJ's convention); any other dtype raises
TypeError (convert first, e.g. ``image.astype(np.float32)``).  RGB ImagePlus objects
come back as a ``C`` axis of 3 uint8 channels.

Pixels move in bulk (one JNI copy per plane through the buffer protocol), never per
pixel in Python.
"""

from __future__ import annotations

import numpy as np

from .._core.tiff import TiffImage, _check_axes, default_axes

__all__ = ["ndarray_to_imageplus", "imageplus_to_ndarray"]

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
                         spacing=None, unit: str = "micron"):
    """Make an ImageJ ``ImagePlus`` from an array (or a :class:`TiffImage`).

    Parameters
    ----------
    image : ndarray or TiffImage
        uint8, uint16, float32 or bool; 2 to 5 dimensions in ``TZCYX`` order.
    title : str
        Image title in ImageJ (macros select images by it).
    axes : str, optional
        Axes of ``image``; default from its ndim (``YX``, ``ZYX``, ``ZCYX``, ``TZCYX``),
        or those of the TiffImage.
    spacing : sequence of float, optional
        Voxel size in µm, ``(z, y, x)`` or ``(y, x)``; default that of the TiffImage, or 1.
    """
    import jpype.nio
    from scyjava import jimport

    if isinstance(image, TiffImage):
        axes = axes or image.axes
        spacing = spacing if spacing is not None else image.spacing
        if not image.calibrated:
            unit = "pixel"  # as ImageJ opens an uncalibrated file
        image = image.data
    arr = np.asarray(image)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * np.uint8(255)
    if arr.dtype not in (np.uint8, np.uint16, np.float32):
        raise TypeError(f"ImageJ images are uint8, uint16 or float32 (or bool masks); got "
                        f"{arr.dtype}. Convert first, e.g. image.astype(np.float32)")
    if arr.ndim < 2 or arr.ndim > 5:
        raise ValueError(f"images must have 2 to 5 dimensions (TZCYX order); got shape {arr.shape}")
    axes = _check_axes(axes or default_axes(arr.ndim), arr.ndim)
    sizes = {a: arr.shape[i] for i, a in enumerate(axes)}
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
    imp = ImagePlus(str(title), stack)
    imp.setDimensions(int(nc), int(nz), int(nt))
    if sum(n > 1 for n in (nc, nz, nt)) > 1 or nc > 1:
        imp.setOpenAsHyperStack(True)
    sz, sy, sx = _spatial_spacing(spacing, axes)
    cal = imp.getCalibration()
    cal.pixelWidth, cal.pixelHeight, cal.pixelDepth = sx, sy, sz
    cal.setUnit(unit if unit else "micron")
    return imp


def imageplus_to_ndarray(imp) -> TiffImage:
    """Copy an ``ImagePlus`` into a :class:`TiffImage` (pixels, axes, spacing in µm).

    Singleton T/Z/C axes are dropped, so a plain 2D image comes back as ``YX``.
    """
    from scyjava import jimport

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
    keep = [i for i, size in enumerate((nt, nz, nc)) if size > 1]
    axes = "".join("TZC"[i] for i in keep) + "YX"
    data = data.reshape([(nt, nz, nc)[i] for i in keep] + [ny, nx])
    cal = imp.getCalibration()
    unit = str(cal.getUnit() or "pixel")
    scale = _UNIT_SCALE.get(unit.replace("\u00c2", ""), None)
    calibrated = scale is not None
    scale = scale or 1.0
    sx, sy, sz = (float(cal.pixelWidth) * scale, float(cal.pixelHeight) * scale,
                  float(cal.pixelDepth) * scale)
    spacing = (sz, sy, sx) if "Z" in axes else (sy, sx)
    return TiffImage(data=data, axes=axes, spacing=spacing,
                     unit="micron" if calibrated else unit, calibrated=calibrated)
