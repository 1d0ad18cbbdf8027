"""fijibridge: run deep-learning steps and ImageJ/Fiji work in one pipeline.

Importing this package starts no JVM and imports neither jpype, scyjava, imagej nor
torch; those load inside the functions that need them.
"""

from __future__ import annotations

from ._core import errors as _errors
from ._core.errors import *  # noqa: F403  (the exception family: _errors.__all__)
from ._core.tiff import TiffImage, read_tiff, write_tiff

__version__ = "0.1.0"

#: names loaded on first use (PEP 562), so ``import fijibridge`` stays light
_LAZY = {"read_image": "fijibridge.io", "write_image": "fijibridge.io",
         "Image": "fijibridge._core.image"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fijibridge' has no attribute {name!r}")


__all__ = [
    "__version__",
    "Image",
    "read_image",
    "write_image",
    "TiffImage",
    "read_tiff",
    "write_tiff",
    *_errors.__all__,
]
