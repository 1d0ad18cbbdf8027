"""scipy's pocketfft transforms for the numpy back-end, called without ``scipy.fft``'s front end.

``scipy.fft`` is a Python layer over one compiled module, pocketfft (``pypocketfft``). On this
2-core machine the layer costs a command ~0.15–0.25 s to import, because its array-API
support imports ``numpy.f2py``, ``numpy.ma``, ``numpy.random`` and ``scipy.special``. Each
call then costs ~8 µs of dispatch; RL on a 3D grid makes thousands of calls on pieces of the
volume (:class:`fijibridge.deconv._engine_numpy._Planes`).

Here the compiled module is loaded from scipy's installed files, without importing scipy,
and called the way ``scipy.fft`` calls it. It is the same code with the same arguments, so the
results are bit-identical (``tests/deconv/test_pocketfft.py``). Calling it directly also
lets a transform write into an array the caller owns (``out=``), for example a slab of the
spectrum or the same strided columns it read.

Fallback: if this scipy has no such file, or the module fails a check transform, the public
``scipy.fft`` functions are used instead. The results are the same and only the import is
slower; this is logged at INFO. ``FIJIBRIDGE_FFT=scipy`` chooses the public functions
from the start.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import logging
import os

import numpy as np

__all__ = ["transforms"]

log = logging.getLogger(__name__)

#: pocketfft's normalisation codes: 0 none (forward), 2 divide by n (inverse), as scipy.fft's
#: norm="backward"
_NONE, _BY_N = 0, 2


class _Direct:
    """Transforms on the compiled module ``m`` (scipy's ``pypocketfft``)."""

    source = "pypocketfft"

    def __init__(self, m):
        self._m = m

    def r2c(self, a, axes, *, out=None, threads=1):
        """Forward real-to-complex transform over ``axes`` (the last one halved)."""
        return self._m.r2c(a, axes, True, _NONE, out, threads)

    def c2r(self, a, axes, lastsize, *, threads=1):
        """Inverse of :meth:`r2c`, scaled by 1/n; ``lastsize``: the real length of the last
        axis. ``a`` is not modified."""
        return self._m.c2r(a, axes, lastsize, False, _BY_N, None, threads)

    def c2c(self, a, axes, *, forward, out=None, threads=1):
        """Complex transform over ``axes`` (inverse scaled by 1/n); ``out`` may be ``a``."""
        return self._m.c2c(a, axes, forward, _NONE if forward else _BY_N, out, threads)


class _Public:
    """The same transforms through ``scipy.fft``'s public functions (the fallback)."""

    source = "scipy.fft"

    def __init__(self):
        import scipy.fft

        self._fft = scipy.fft

    @staticmethod
    def _into(result, out):
        if out is None:
            return result
        out[...] = result
        return out

    def r2c(self, a, axes, *, out=None, threads=1):
        return self._into(self._fft.rfftn(a, axes=axes, workers=threads), out)

    def c2r(self, a, axes, lastsize, *, threads=1):
        shape = [a.shape[i] for i in axes[:-1]] + [lastsize]
        return self._fft.irfftn(a, s=shape, axes=axes, workers=threads)

    def c2c(self, a, axes, *, forward, out=None, threads=1):
        f = self._fft.fftn if forward else self._fft.ifftn
        return self._into(f(a, axes=axes, workers=threads), out)


def _load_compiled():
    """scipy's ``pypocketfft`` loaded from its file (scipy itself is not imported), or
    ``None`` with the reason logged."""
    spec = importlib.util.find_spec("scipy")
    if spec is None or not spec.submodule_search_locations:
        log.info("scipy is not installed as a package directory; using scipy.fft")
        return None
    folder = os.path.join(spec.submodule_search_locations[0], "fft", "_pocketfft")
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(folder, "pypocketfft" + suffix)
        if os.path.isfile(path):
            break
    else:
        log.info("no pypocketfft extension in %s; using scipy.fft", folder)
        return None
    name = "scipy.fft._pocketfft.pypocketfft"
    loader = importlib.machinery.ExtensionFileLoader(name, path)
    module_spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    try:
        module = importlib.util.module_from_spec(module_spec)
        loader.exec_module(module)
        direct = _Direct(module)
        _check(direct)
    except Exception as e:  # a scipy whose private module differs: the public front end
        log.info("scipy's pypocketfft (%s) did not pass the check transform (%s); using "
                 "scipy.fft", path, e)
        return None
    return direct


def _check(t):
    """A transform with a known answer, through every entry point (raises if wrong)."""
    a = np.array([1, 2, 3, 4], np.float32)
    spectrum = t.r2c(a, (0,))
    expected = np.array([10, -2 + 2j, -2], np.complex64)
    full = t.c2c(a.astype(np.complex64), (0,), forward=True)
    ok = np.allclose(spectrum, expected) and np.allclose(full[:3], expected)
    back = t.c2r(spectrum, (0,), 4)
    again = t.c2c(full, (0,), forward=False, out=full)  # in place
    if not (ok and np.allclose(back, a) and np.allclose(again, a) and again is full):
        raise ValueError("a transform of [1, 2, 3, 4] gave unexpected values")


_TRANSFORMS = None


def transforms():
    """The process's transforms (:class:`_Direct` unless unavailable or
    ``FIJIBRIDGE_FFT=scipy``); loaded once."""
    global _TRANSFORMS
    if _TRANSFORMS is None:
        choice = os.environ.get("FIJIBRIDGE_FFT", "").strip().lower()
        if choice not in ("", "pocketfft", "scipy"):
            raise ValueError(f"FIJIBRIDGE_FFT must be 'pocketfft' or 'scipy', got {choice!r}")
        direct = None if choice == "scipy" else _load_compiled()
        _TRANSFORMS = direct if direct is not None else _Public()
        log.debug("FFTs: %s", _TRANSFORMS.source)
    return _TRANSFORMS
