"""Reading and writing microscopy files as :class:`~fijibridge.Image`.

One entry point, :func:`read_image`, whatever the format; readers are chosen by the
file's content (magic bytes), checked against its extension.  TIFF, OME-TIFF and ImageJ
hyperstacks need only the core install; the other formats need their library, from the
``fijibridge[formats]`` extra:

==========  ==========================  ==================
format      extensions                  package
==========  ==========================  ==================
ome-tiff    .ome.tif .ome.tiff          (core: tifffile)
tiff        .tif .tiff                  (core: tifffile)
czi         .czi                        czifile
lif         .lif                        liffile
nd2         .nd2                        nd2
ome-zarr    .zarr (folder)              zarr
dv          .dv .r3d                    mrc
oib         .oib                        oiffile
ims         .ims                        h5py
==========  ==========================  ==================

``reader="bioformats"`` reads any format Bio-Formats knows, through the Java bridge.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from .._core.errors import ImageFormatError
from .._core.image import Image
from ._common import memory_budget

__all__ = ["read_image", "write_image", "detect_format", "FORMATS", "Image"]

log = logging.getLogger(__name__)

#: format → (module, package that must be installed or None for core, extensions)
FORMATS = {
    "tiff": ("tiff", None, (".tif", ".tiff", ".ome.tif", ".ome.tiff", ".btf", ".tf8")),
    "czi": ("czi", "czifile", (".czi",)),
    "lif": ("lif", "liffile", (".lif",)),
    "nd2": ("nd2", "nd2", (".nd2",)),
    "ome-zarr": ("omezarr", "zarr", (".zarr", ".ome.zarr")),
    "dv": ("dv", "mrc", (".dv", ".r3d")),
    "oib": ("oib", "oiffile", (".oib",)),
    "ims": ("ims", "h5py", (".ims",)),
}
READERS = ("auto", "bioformats", *FORMATS)


def _magic(path: Path) -> str | None:
    """The format named by the file's first bytes (None when none matches)."""
    if path.is_dir():
        if (path / ".zattrs").is_file() or (path / "zarr.json").is_file() \
                or (path / ".zgroup").is_file():
            return "ome-zarr"
        return None
    with open(path, "rb") as fh:
        head = fh.read(128)
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:10] == b"ZISRAWFILE":
        return "czi"
    if head[:4] == b"\xda\xce\xbe\x0a" or head[4:12] == b"jP  \r\n\x87\n":
        return "nd2"
    if head[:4] == b"\x70\x00\x00\x00" and head[8:9] == b"\x2a":
        return "lif"
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        return "ims"
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "oib"
    if len(head) >= 98 and head[96:98] in (b"\xa0\xc0", b"\xc0\xa0"):
        return "dv"
    return None


def _by_extension(path: Path) -> str | None:
    name = path.name.lower()
    for fmt, (_, _, exts) in FORMATS.items():
        if any(name.endswith(e) for e in exts):
            return fmt
    return None


def detect_format(path) -> str:
    """The format of ``path`` from its content, checked against its extension.

    Raises :class:`ImageFormatError` when the content is of no known format (empty,
    corrupt, or unsupported) or contradicts the extension (e.g. a TIFF named ``.czi``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no image file at {str(path)!r}")
    by_ext = _by_extension(path)
    if path.is_file() and path.stat().st_size == 0:
        raise ImageFormatError(f"{str(path)!r} is empty (0 bytes)")
    by_magic = _magic(path)
    if by_magic is None:
        if by_ext is not None:
            raise ImageFormatError(f"{str(path)!r} does not look like a {by_ext.upper()} file "
                                   "(its first bytes do not match): corrupt, truncated, or "
                                   "another format")
        raise ImageFormatError(f"{str(path)!r} is of no format fijibridge reads (known: "
                               f"{', '.join(FORMATS)}); try reader='bioformats'")
    if by_ext is not None and by_ext != by_magic:
        raise ImageFormatError(f"{str(path)!r} has the extension of {by_ext.upper()} but "
                               f"its content is {by_magic.upper()}: rename it with the right "
                               "extension")
    return by_magic


def read_image(path, *, scene: int | None = None, channel: int | str | None = None,
               reader: str | None = None, max_memory=None, lazy: bool | None = None) -> Image:
    """Read a microscopy file as an :class:`Image` with its axes, µm calibration and channels.

    Parameters
    ----------
    path : str or Path
        The file (or OME-Zarr folder).
    scene : int, optional
        Scene / series index (default 0); out of range → ``ValueError`` naming how many
        scenes the file has.
    channel : int or str, optional
        Keep one channel, by name or index; a name not in the file → ``ValueError``
        listing the names present.
    reader : str, optional
        ``None``/``"auto"`` (by content), a format name (one of :data:`FORMATS`) or
        ``"bioformats"`` (Bio-Formats through the Java bridge; needs a jar, see
        :mod:`fijibridge.bridge.bioformats`).
    max_memory : int or str, optional
        Files larger than this (bytes, or ``"2G"``) are read lazily as dask arrays
        (TIFF family and OME-Zarr).  Default ``$FIJIBRIDGE_MAX_MEMORY``, else a quarter
        of the physical memory.
    lazy : bool, optional
        Force (True) or forbid (False) lazy reading.

    Raises
    ------
    FileNotFoundError
        No such file.
    ImageFormatError
        Unknown, corrupt or truncated file, extension contradicting the content, or the
        format's library not installed (the message names ``fijibridge[formats]``).

    Examples
    --------
    >>> img = read_image("cells.nd2", channel="Mito")          # doctest: +SKIP
    >>> img.axes, img.spacing_um                                # doctest: +SKIP
    ('TZYX', {'z': 0.5, 'y': 0.1678, 'x': 0.1678})
    """
    path = Path(path)
    if reader is not None and reader not in READERS:
        raise ValueError(f"reader must be one of {', '.join(READERS)}; got {reader!r}")
    budget = memory_budget(max_memory)
    if reader == "bioformats":
        from ..bridge.bioformats import read_bioformats

        if not path.exists():
            raise FileNotFoundError(f"no image file at {str(path)!r}")
        image = read_bioformats(path, scene=scene)
    else:
        fmt = detect_format(path) if reader in (None, "auto") else reader
        if reader not in (None, "auto") and not path.exists():
            raise FileNotFoundError(f"no image file at {str(path)!r}")
        module_name, package, _ = FORMATS[fmt]
        if package is not None:
            try:
                importlib.import_module(package)
            except ImportError as e:
                raise ImageFormatError(
                    f"reading {fmt.upper()} files ({str(path)!r}) needs the package "
                    f"{package!r}, which is not installed: pip install 'fijibridge[formats]' "
                    f"(or pip install {package})") from e
        module = importlib.import_module(f"{__name__}.{module_name}")
        image = module.read(path, scene=scene, max_memory=budget, lazy=lazy)
    if channel is not None:
        image = image.channel(channel)
    log.debug("read %s", image)
    return image


def write_image(path, image, **kwargs) -> Path:
    """Write an :class:`Image` (see :func:`fijibridge.io.write.write_image`)."""
    from .write import write_image as _write

    return _write(path, image, **kwargs)
