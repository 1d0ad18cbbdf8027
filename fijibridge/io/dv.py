"""DeltaVision (.dv, .r3d) through the ``mrc`` package (reads the DV extended header)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._core.errors import ImageFormatError
from .._core.image import Image
from ._common import build_image, check_scene, to_tczyx

__all__ = ["read"]


def read(path, *, scene=None, max_memory: int, lazy=None) -> Image:
    """Read a DeltaVision file: dx/dy/dz (µm in the DV header); channels are wavelengths.

    DeltaVision names no channels (Bio-Formats neither), so ``channels`` is ``()``.
    """
    import mrc

    path = Path(path)
    try:
        f = mrc.DVFile(path)
        try:
            axes, shape, data, vox = f.axes, f.shape, f.asarray(), f.voxel_size
        finally:
            f.close()
    except Exception as e:  # mrc raises many types on broken files
        raise ImageFormatError(f"cannot read {str(path)!r} as DeltaVision "
                               f"({type(e).__name__}: {e}); the file is corrupt or "
                               "truncated") from e
    index = check_scene(scene, 1, path)
    data = data.reshape(shape)  # asarray() drops length-1 axes; keep them named
    # DeltaVision stores rows bottom-up; Bio-Formats (and so Fiji) shows them top-down
    data = np.ascontiguousarray(data[..., ::-1, :])
    data, axes = to_tczyx(data, axes)
    dist = {"x": vox.x, "y": vox.y, "z": vox.z if "Z" in axes else None}
    return build_image(data, axes, dist, (), 1, index, "dv", path)
