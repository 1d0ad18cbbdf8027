"""fijibridge: run deep-learning steps and ImageJ/Fiji work in one pipeline.

Importing this package starts no JVM and imports neither jpype, scyjava, imagej nor
torch; those load inside the functions that need them.
"""

from __future__ import annotations

from ._core.errors import (
    DivergenceError,
    EngineError,
    EngineNotFoundError,
    FijiBridgeError,
    ImageFormatError,
    JavaNotFoundError,
    MacroDialogError,
    MacroError,
    MacroTimeoutError,
    ModelError,
    PipelineSpecError,
    PluginMissingError,
)
from ._core.tiff import TiffImage, read_tiff, write_tiff

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "TiffImage",
    "read_tiff",
    "write_tiff",
    "FijiBridgeError",
    "JavaNotFoundError",
    "EngineNotFoundError",
    "EngineError",
    "MacroError",
    "MacroDialogError",
    "MacroTimeoutError",
    "PluginMissingError",
    "ImageFormatError",
    "DivergenceError",
    "PipelineSpecError",
    "ModelError",
]
