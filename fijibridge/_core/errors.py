"""Exception hierarchy of fijibridge.

Every error raised on purpose by fijibridge derives from :class:`FijiBridgeError`,
so a caller can catch the whole family at once.  Bad arguments raise the built-in
:class:`ValueError` / :class:`TypeError` (naming the parameter, the allowed values and
what was received), as numpy and scikit-image do.
"""

from __future__ import annotations

__all__ = [
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


class FijiBridgeError(Exception):
    """Root of all fijibridge errors."""


class JavaNotFoundError(FijiBridgeError):
    """No usable Java runtime was found; the message lists where we looked."""


class EngineNotFoundError(FijiBridgeError):
    """No ImageJ/Fiji installation was found; the message lists what was searched."""


class EngineError(FijiBridgeError):
    """The Java side failed outside of a macro (start-up, conversion, plugin call)."""


class MacroError(FijiBridgeError):
    """An ImageJ macro failed.

    Attributes
    ----------
    macro_file : str or None
        File the macro came from (``None`` for a macro given as text).
    line : int or None
        1-based line number in that file/text where ImageJ stopped.
    imagej_message : str
        ImageJ's own message.
    """

    def __init__(self, imagej_message: str, *, macro_file: str | None = None,
                 line: int | None = None, advice: str | None = None):
        self.imagej_message = imagej_message
        self.macro_file = macro_file
        self.line = line
        self.advice = advice
        where = macro_file or "<macro>"
        if line is not None:
            where = f"{where}:{line}"
        text = f"{where}: {imagej_message}"
        if advice:
            text = f"{text} ({advice})"
        super().__init__(text)


class MacroDialogError(MacroError):
    """A macro opened a dialog that needs a person, in a run where nobody can answer."""


class MacroTimeoutError(MacroError):
    """A macro did not finish within its time limit."""


class PluginMissingError(FijiBridgeError):
    """An ImageJ plugin (e.g. DeconvolutionLab2) is not installed in the engine."""


class ImageFormatError(FijiBridgeError):
    """A file is not a readable image, or is corrupt or truncated."""


class DivergenceError(FijiBridgeError):
    """An iterative algorithm produced NaN/inf or an exploding energy."""


class PipelineSpecError(FijiBridgeError):
    """A pipeline file is invalid; the message names the line and the fix."""


class ModelError(FijiBridgeError):
    """A model file is missing, corrupt, or does not fit the input."""
