"""ImageJ TIFF writing, and ``read_tiff`` kept as a thin wrapper of the TIFF reader.

Every image is an :class:`~fijibridge._core.image.Image`: axes in the order ``TCZYX``
(``"YX"``, ``"ZYX"``, ``"CZYX"``, ``"TCZYX"``, …), ``spacing`` in µm ``(z, y, x)`` or
``(y, x)``, channel names, and a ``calibrated`` flag.  ImageJ stores hyperstacks in the
order ``TZCYX``; :func:`write_tiff` reorders explicitly, and :func:`read_tiff` returns
what :func:`fijibridge.read_image` returns for a TIFF (reordered to ``TCZYX``).

``TiffImage`` is the old name of :class:`Image`, kept for code written against it.
"""

from __future__ import annotations

import logging

import numpy as np

from .atomic import atomic_path
from .image import AXES, Image

__all__ = ["TiffImage", "read_tiff", "write_tiff", "default_axes", "IMAGEJ_DTYPES",
           "IMAGEJ_AXES"]

log = logging.getLogger(__name__)

#: dtypes ImageJ stores natively (8-, 16- and 32-bit images).
IMAGEJ_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
#: the order of ImageJ's hyperstack planes (C fastest, then Z, then T)
IMAGEJ_AXES = "TZCYX"
_UNCALIBRATED_UNITS = ("pixel", "pixels", "")


def default_axes(ndim: int) -> str:
    """The :class:`Image` axes (``TCZYX`` order) of an array of ``ndim`` dimensions."""
    table = {2: "YX", 3: "ZYX", 4: "CZYX", 5: "TCZYX"}
    if ndim not in table:
        raise ValueError(f"images must have 2 to 5 dimensions (YX … TCZYX); got ndim={ndim}")
    return table[ndim]


def _check_axes(axes: str, ndim: int) -> str:
    """``axes`` upper-cased if it names each of ``ndim`` dimensions once, ending in ``YX``.

    Any order of the letters ``TCZYX`` is accepted (``"CZYX"`` as well as ImageJ's
    ``"ZCYX"``): the letters say what each dimension is, and writers reorder explicitly.
    """
    if not isinstance(axes, str):
        raise TypeError(f"axes must be a string such as 'CZYX'; got {type(axes).__name__}")
    axes = axes.upper()
    if len(axes) != ndim:
        raise ValueError(f"axes {axes!r} has {len(axes)} letters but the image has {ndim} "
                         "dimensions")
    if not axes.endswith("YX") or any(a not in AXES for a in axes) or len(set(axes)) != ndim:
        raise ValueError(f"axes must be distinct letters of 'TCZYX' ending in 'YX'; got {axes!r}")
    return axes


def _reorder(data, axes: str, target: str):
    """``data`` (axes ``axes``) transposed to ``target`` (the same letters, another order)."""
    return np.transpose(data, [axes.index(a) for a in target])


class _TiffImageType(type):
    """``TiffImage`` is :class:`Image`: ``isinstance(x, TiffImage)`` tests for an Image,
    and ``TiffImage(data, axes, spacing, unit)`` (the old signature) builds one."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Image)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, Image)

    def __call__(cls, data, axes: str = "", spacing=None, unit: str | None = None,
                 calibrated: bool | None = None, **fields) -> Image:
        data = data if hasattr(data, "shape") else np.asarray(data)
        axes = _check_axes(axes or default_axes(len(data.shape)), len(data.shape))
        target = "".join(a for a in AXES if a in axes)
        if axes != target:  # the old type used ImageJ's order: reorder explicitly
            data = _reorder(data, axes, target)
        if calibrated is None and unit is not None:
            calibrated = str(unit).lower() not in _UNCALIBRATED_UNITS
        return Image(data, axes=target, spacing=spacing, calibrated=calibrated, **fields)


class TiffImage(metaclass=_TiffImageType):
    """The old name of :class:`~fijibridge._core.image.Image` (same objects).

    ``TiffImage(data, axes, spacing, unit)`` returns an :class:`Image`; axes given in
    ImageJ's order (``"ZCYX"``) are reordered to ``TCZYX``; ``unit="pixel"`` means
    uncalibrated.
    """


def write_tiff(path, image, *, spacing=None, axes: str | None = None, unit: str | None = None,
               channels=None, compression: str | None = None):
    """Write an :class:`Image` or an array as an ImageJ (hyper)stack TIFF, atomically.

    Parameters
    ----------
    path : str or Path
        Output file. Written to a temporary file first and renamed, so a crash never
        leaves a partial file at ``path``.
    image : Image or ndarray
        uint8, uint16 or float32 (other dtypes raise TypeError: convert first, e.g.
        ``image.astype(np.float32)``), 2 to 5 dimensions.  An :class:`Image` brings
        its axes, spacing, channel names and calibration (the keywords override them).
    spacing : sequence of float, optional
        Voxel size in µm, ``(z, y, x)`` or ``(y, x)``. Default 1 (an array) or the
        image's.
    axes : str, optional
        Axes of the array, in any order (``"CZYX"``, ImageJ's ``"ZCYX"``, …); default
        from its ndim in ``TCZYX`` order (see :func:`default_axes`).  The pixels are
        reordered explicitly to ImageJ's ``TZCYX`` in the file.
    unit : str, optional
        ImageJ's length unit: ``"micron"`` (default) or ``"pixel"`` (uncalibrated; the
        default for an uncalibrated :class:`Image`).
    channels : sequence of str, optional
        Channel names, stored as ImageJ slice labels (every plane of a channel carries
        its name), read back by :func:`fijibridge.read_image` and shown by ImageJ.

    Returns
    -------
    Path
        ``path``.
    """
    import tifffile
    from pathlib import Path

    if isinstance(image, Image):
        axes = axes or image.axes
        spacing = image.spacing if spacing is None else spacing
        if unit is None:
            unit = "micron" if image.calibrated else "pixel"
        channels = image.channels if channels is None else channels
        image = image.to_ndarray()
    image = np.asarray(image)
    if image.dtype == np.float64:
        raise TypeError("ImageJ TIFF stores uint8, uint16 or float32; got float64. "
                        "Convert with image.astype(np.float32)")
    if image.dtype not in IMAGEJ_DTYPES:
        raise TypeError(f"ImageJ TIFF stores uint8, uint16 or float32; got {image.dtype}. "
                        "Convert first (e.g. image.astype(np.float32))")
    axes = _check_axes(axes or default_axes(image.ndim), image.ndim)
    has_z = "Z" in axes
    if spacing is None:
        spacing = (1.0, 1.0, 1.0) if has_z else (1.0, 1.0)
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) == 2 and has_z:
        spacing = (1.0,) + spacing
    if len(spacing) not in (2, 3) or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise ValueError(f"spacing must be 2 or 3 positive numbers (µm, z y x); got {spacing!r}")
    # explicit reorder to ImageJ's plane order TZCYX (only the axes present)
    target = "".join(a for a in IMAGEJ_AXES if a in axes)
    data = _reorder(image, axes, target)
    sizes = dict(zip(target, data.shape))
    metadata = {"axes": target, "unit": unit or "micron"}
    if len(spacing) == 3:
        metadata["spacing"] = spacing[0]
    channels = tuple(str(c) for c in (channels or ()))
    if channels:
        nc = sizes.get("C", 1)
        if len(channels) != nc:
            raise ValueError(f"channels must name each of the {nc} channel(s); got {channels!r}")
        planes = sizes.get("T", 1) * sizes.get("Z", 1)
        metadata["Labels"] = list(channels) * planes  # C varies fastest in ImageJ's planes
    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, data, imagej=True, resolution=(1.0 / spacing[-1], 1.0 / spacing[-2]),
                         metadata=metadata, compression=compression)
    return Path(path)


def read_tiff(path) -> Image:
    """Read a TIFF (OME-TIFF, ImageJ or plain) as an :class:`Image`, pixels in memory.

    The same object as ``fijibridge.read_image(path, reader="tiff", lazy=False)``:
    axes in ``TCZYX`` order, spacing in µm from the file's units, channel names,
    ``calibrated=False`` when the file states no physical size.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ImageFormatError
        The file is not a TIFF, is corrupt, or is truncated.
    """
    from ..io import read_image

    return read_image(path, reader="tiff", lazy=False)
