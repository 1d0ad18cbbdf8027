"""One image type for every step: pixels, axes, calibration in µm and channel names.

:class:`Image` is what :func:`fijibridge.read_image` returns whatever the file format
(numpy only here; the readers live in :mod:`fijibridge.io`).  Axes are a subset of
``"TCZYX"`` in that order and always end in ``"YX"``; ``spacing`` is the voxel size in
micrometres for the spatial axes present, ``(z, y, x)`` or ``(y, x)``, 1.0 where the
file states nothing (``spacing_um`` says which ones are known).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

__all__ = ["Image", "AXES", "check_axes"]

#: the axis order of every :class:`Image`
AXES = "TCZYX"


def check_axes(axes: str, ndim: int) -> str:
    """Return ``axes`` if it is a subsequence of ``"TCZYX"`` ending in ``"YX"`` of length ``ndim``."""
    if not isinstance(axes, str):
        raise TypeError(f"axes must be a string such as 'ZYX'; got {type(axes).__name__}")
    if len(axes) != ndim:
        raise ValueError(f"axes {axes!r} has {len(axes)} letters but the data has {ndim} "
                         "dimensions")
    if not axes.endswith("YX") or any(a not in AXES for a in axes) or len(set(axes)) != ndim:
        raise ValueError(f"axes must be a subsequence of 'TCZYX' ending in 'YX'; got {axes!r}")
    order = [AXES.index(a) for a in axes]
    if order != sorted(order):
        raise ValueError(f"axes {axes!r} are not in the order TCZYX; reorder the data first "
                         "(numpy.moveaxis / Image.to_ndarray(axes=...))")
    return axes


def _is_lazy(data) -> bool:
    return type(data).__module__.split(".")[0] == "dask"


@dataclasses.dataclass(frozen=True)
class Image:
    """Pixels with their axes, calibration (µm) and channel names.

    Parameters
    ----------
    data : ndarray or dask.array.Array
        Pixels; a dask array when the file was read lazily.
    axes : str
        Subset of ``"TCZYX"`` in that order, ending in ``"YX"``; one letter per dimension.
    spacing : tuple of float, optional
        Voxel size in µm, ``(z, y, x)`` when ``axes`` has ``Z``, else ``(y, x)``; 1.0
        where unknown.  Default: all 1.0 and ``calibrated=False``.
    channels : tuple of str
        One name per channel (``()`` when the file names none).
    calibrated : bool
        False when the file states no physical pixel size.
    spacing_known : tuple of bool, optional
        Which entries of ``spacing`` the file states (same length as ``spacing``);
        default: all of them when ``calibrated``, none otherwise.
    time_interval_s : float or None
        Time between frames in seconds, where the file states it.
    scenes, scene : int
        Number of scenes (series) in the file and the index of this one.
    format : str
        The file format read (``"ome-tiff"``, ``"imagej-tiff"``, ``"nd2"``, …).
    source : str or None
        The file read, if any.

    Examples
    --------
    >>> import numpy as np
    >>> img = Image(np.zeros((2, 5, 4, 3), np.uint8), axes="CZYX", spacing=(0.25, 0.1, 0.1),
    ...             channels=("DAPI", "Mito"))
    >>> img.channel("Mito").axes, img.spacing_um
    ('ZYX', {'z': 0.25, 'y': 0.1, 'x': 0.1})
    """

    data: Any
    axes: str
    spacing: tuple[float, ...] | None = None
    channels: tuple[str, ...] = ()
    calibrated: bool | None = None
    spacing_known: tuple[bool, ...] | None = None
    time_interval_s: float | None = None
    scenes: int = 1
    scene: int = 0
    format: str = ""
    source: str | None = None

    def __post_init__(self):
        data = self.data
        if not hasattr(data, "shape") or not hasattr(data, "dtype"):
            data = np.asarray(data)
            object.__setattr__(self, "data", data)
        check_axes(self.axes, len(data.shape))
        nsp = 3 if "Z" in self.axes else 2
        spacing = self.spacing
        if spacing is None:
            spacing = (1.0,) * nsp
            if self.calibrated is None:
                object.__setattr__(self, "calibrated", False)
        spacing = tuple(float(s) for s in spacing)
        if len(spacing) != nsp or not all(np.isfinite(s) and s > 0 for s in spacing):
            raise ValueError(f"spacing must be {nsp} positive numbers in µm "
                             f"({'z, y, x' if nsp == 3 else 'y, x'}) for axes {self.axes!r}; "
                             f"got {self.spacing!r}")
        object.__setattr__(self, "spacing", spacing)
        if self.calibrated is None:
            object.__setattr__(self, "calibrated", True)
        known = self.spacing_known
        if known is None:
            known = (bool(self.calibrated),) * nsp
        known = tuple(bool(k) for k in known)
        if len(known) != nsp:
            raise ValueError(f"spacing_known must have {nsp} entries; got {self.spacing_known!r}")
        object.__setattr__(self, "spacing_known", known)
        channels = tuple(str(c) for c in self.channels)
        nc = data.shape[self.axes.index("C")] if "C" in self.axes else 1
        if channels and len(channels) != nc:
            raise ValueError(f"channels names {len(channels)} channels {channels!r} but the "
                             f"data has {nc}")
        object.__setattr__(self, "channels", channels)
        if not (0 <= self.scene < max(self.scenes, 1)):
            raise ValueError(f"scene must be in 0..{self.scenes - 1}; got {self.scene}")

    # -- shape ------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(n) for n in self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)

    @property
    def ndim(self) -> int:
        return len(self.axes)

    @property
    def spatial_ndim(self) -> int:
        """2 for a single plane (``…YX``), 3 for a stack (``…ZYX``)."""
        return len(self.spacing)

    @property
    def is_lazy(self) -> bool:
        """True when ``data`` is a dask array (pixels read on demand)."""
        return _is_lazy(self.data)

    def sizes(self) -> dict[str, int]:
        """``{axis letter: length}`` in ``axes`` order."""
        return dict(zip(self.axes, self.shape))

    @property
    def unit(self) -> str:
        """ImageJ's unit name for ``spacing``: ``"micron"``, or ``"pixel"`` when uncalibrated."""
        return "micron" if self.calibrated else "pixel"

    @property
    def spacing_um(self) -> dict[str, float | None]:
        """``{"z", "y", "x"}`` → µm, ``None`` where the file states nothing (z: 2D)."""
        names = "zyx" if len(self.spacing) == 3 else "yx"
        out: dict[str, float | None] = {"z": None, "y": None, "x": None}
        for name, value, known in zip(names, self.spacing, self.spacing_known):
            out[name] = value if known else None
        return out

    # -- derived images ------------------------------------------------------------
    def with_data(self, data, **changes) -> Image:
        """A copy with new ``data`` (and any other field changed), calibration kept."""
        return dataclasses.replace(self, data=data, **changes)

    def channel(self, which: int | str) -> Image:
        """The image of one channel, by name or 0-based index (the ``C`` axis removed).

        Raises ``ValueError`` listing the channels present when ``which`` names none.
        """
        nc = self.sizes().get("C", 1)
        if isinstance(which, (int, np.integer)) and not isinstance(which, bool):
            index = int(which)
            if not 0 <= index < nc:
                raise ValueError(f"channel index must be in 0..{nc - 1} ({self._channel_list()}); "
                                 f"got {index}")
        elif isinstance(which, str):
            if which in self.channels:
                index = self.channels.index(which)
            elif which.strip().lstrip("-").isdigit():
                return self.channel(int(which))
            else:
                raise ValueError(f"channel {which!r} is not in {self.source or 'the image'}; "
                                 f"present: {self._channel_list()}")
        else:
            raise TypeError(f"channel must be a name (str) or an index (int); got "
                            f"{type(which).__name__}")
        name = (self.channels[index],) if self.channels else ()
        if "C" not in self.axes:
            return dataclasses.replace(self, channels=name)
        c = self.axes.index("C")
        data = self.data[(slice(None),) * c + (index,)]
        return dataclasses.replace(self, data=data, axes=self.axes.replace("C", ""),
                                   channels=name)

    def _channel_list(self) -> str:
        nc = self.sizes().get("C", 1)
        if self.channels:
            return ", ".join(f"{i}: {n!r}" for i, n in enumerate(self.channels))
        return f"{nc} unnamed channel{'s' if nc != 1 else ''} (use an index)"

    def squeeze(self) -> Image:
        """Drop ``T``, ``C`` and ``Z`` axes of length 1 (a dropped Z drops its spacing)."""
        keep = [a for a, n in zip(self.axes, self.shape) if n != 1 or a in "YX"]
        if len(keep) == self.ndim:
            return self
        index = tuple(slice(None) if a in keep else 0 for a in self.axes)
        changes: dict[str, Any] = {}
        if "Z" in self.axes and "Z" not in keep:
            changes["spacing"] = self.spacing[1:]
            changes["spacing_known"] = self.spacing_known[1:]
        return dataclasses.replace(self, data=self.data[index], axes="".join(keep), **changes)

    def to_ndarray(self, axes: str | None = None) -> np.ndarray:
        """The pixels as a numpy array with the axes in the order asked for.

        Axes of ``axes`` that the image lacks are inserted with length 1; axes the
        image has that are not in ``axes`` must have length 1 (they are dropped).
        ``axes`` may be in any order, e.g. ``"ZYXC"`` or ImageJ's ``"TZCYX"``.
        """
        data = self.data
        if axes is None:
            return np.asarray(data.compute() if _is_lazy(data) else data)
        axes = axes.upper()
        if len(set(axes)) != len(axes) or any(a not in AXES for a in axes):
            raise ValueError(f"axes must be distinct letters of 'TCZYX'; got {axes!r}")
        sizes = self.sizes()
        drop = [a for a in self.axes if a not in axes]
        for a in drop:
            if sizes[a] != 1:
                raise ValueError(f"cannot drop axis {a!r} of length {sizes[a]} when asking for "
                                 f"axes {axes!r}; select it first (e.g. .channel(...))")
        index = tuple(0 if a in drop else slice(None) for a in self.axes)
        data = data[index]
        kept = "".join(a for a in self.axes if a not in drop)
        # explicit reorder: kept axes in the order requested, then insert missing ones
        order = [kept.index(a) for a in axes if a in kept]
        data = data.transpose(order)
        present = "".join(a for a in axes if a in kept)
        for i, a in enumerate(axes):
            if a not in present:
                data = data[(slice(None),) * i + (None,)]
                present = present[:i] + a + present[i:]
        return np.asarray(data.compute() if _is_lazy(data) else data)

    def plane(self, *, t: int = 0, c: int | str = 0, z: int = 0) -> np.ndarray:
        """One ``YX`` plane as a numpy array (indices beyond the image's axes are ignored)."""
        img = self.channel(c) if "C" in self.axes or isinstance(c, str) else self
        index = []
        for a, n in zip(img.axes, img.shape):
            if a in "YX":
                index.append(slice(None))
                continue
            i = {"T": t, "Z": z}[a]
            if not 0 <= i < n:
                raise ValueError(f"{a.lower()} must be in 0..{n - 1}; got {i}")
            index.append(i)
        data = img.data[tuple(index)]
        return np.asarray(data.compute() if _is_lazy(data) else data)

    def __repr__(self) -> str:
        sp = ", ".join(f"{k}={v:g}" for k, v in self.spacing_um.items() if v is not None)
        return (f"Image({self.format or 'array'}, axes={self.axes!r}, shape={self.shape}, "
                f"dtype={self.dtype}, spacing_um=({sp or 'uncalibrated'}), "
                f"channels={list(self.channels)}, scene={self.scene}/{self.scenes}"
                f"{', lazy' if self.is_lazy else ''})")
