"""The only place in fijibridge that talks to Java (jpype, scyjava, PyImageJ).

Importing this package starts nothing and imports no Java module: the JVM starts in
:func:`open_session`, once per process.

>>> from fijibridge.bridge import open_session          # doctest: +SKIP
>>> ij = open_session()                                 # doctest: +SKIP
>>> r = ij.run_macro('run("Gaussian Blur...", "sigma=2");', images={"cells": arr})  # doctest: +SKIP
"""

from __future__ import annotations

from ._engines import ENGINES, find_plugin_jars, resolve_engine
from .macro import MacroParameter, MacroResult, macro_parameters

__all__ = ["open_session", "current_session", "ENGINES", "resolve_engine", "find_plugin_jars",
           "MacroParameter", "MacroResult", "macro_parameters", "ndarray_to_imageplus",
           "imageplus_to_ndarray"]


def open_session(engine: str = "auto", **kwargs):
    """Start (once) and return the ImageJ/Fiji session; see :func:`.session.open_session`."""
    from .session import open_session as _open

    return _open(engine, **kwargs)


def current_session():
    """The session already running in this process, or None (starts nothing)."""
    from .session import current_session as _current

    return _current()


def ndarray_to_imageplus(image, **kwargs):
    """numpy → ``ImagePlus``; see :func:`.convert.ndarray_to_imageplus`."""
    from .convert import ndarray_to_imageplus as _f

    return _f(image, **kwargs)


def imageplus_to_ndarray(imp):
    """``ImagePlus`` → :class:`~fijibridge.Image`; see :func:`.convert.imageplus_to_ndarray`."""
    from .convert import imageplus_to_ndarray as _f

    return _f(imp)
