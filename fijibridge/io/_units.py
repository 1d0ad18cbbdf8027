"""Length and time units converted once, at the door: lengths to µm, times to seconds."""

from __future__ import annotations

import logging
import math

__all__ = ["length_to_um", "time_to_s", "UNKNOWN_UNITS"]

log = logging.getLogger(__name__)

_MICRO = ("µm", "\u03bcm", "um", "micron", "microns", "micrometer", "micrometre",
          "micrometers", "micrometres")
_LENGTH_TO_UM = {
    **{u: 1.0 for u in _MICRO},
    "nm": 1e-3, "nanometer": 1e-3, "nanometre": 1e-3, "nanometers": 1e-3, "nanometres": 1e-3,
    "pm": 1e-6, "picometer": 1e-6,
    "å": 1e-4, "a": 1e-4, "angstrom": 1e-4, "ångström": 1e-4, "\u212b": 1e-4,
    "mm": 1e3, "millimeter": 1e3, "millimetre": 1e3,
    "cm": 1e4, "centimeter": 1e4, "centimetre": 1e4,
    "dm": 1e5, "m": 1e6, "meter": 1e6, "metre": 1e6, "meters": 1e6,
    "inch": 25400.0, "in": 25400.0,
}
#: units that mean "no physical size" (ImageJ writes "pixel" for an uncalibrated image)
UNKNOWN_UNITS = frozenset({"pixel", "pixels", "px", "", "none", "reference frame"})

_TIME_TO_S = {"s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "ms": 1e-3,
              "msec": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9, "min": 60.0,
              "minute": 60.0, "minutes": 60.0, "h": 3600.0, "hr": 3600.0, "hour": 3600.0,
              "hours": 3600.0}


def _norm(unit) -> str:
    unit = str(unit).strip()
    # ImageJ and Bio-Formats escape µ in text metadata
    unit = unit.replace("\\u00B5", "µ").replace("\\u00b5", "µ").replace("\u03bc", "µ")
    return unit.lower() if unit not in ("Å", "\u212b") else "å"


def length_to_um(value, unit) -> float | None:
    """``value`` in ``unit`` as micrometres; ``None`` for no size or a non-physical unit.

    >>> length_to_um(65.5, "nm"), length_to_um(0.25, "\\\\u00B5m"), length_to_um(1, "pixel")
    (0.0655, 0.25, None)
    """
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        return None
    key = _norm(unit if unit is not None else "µm")
    if key in UNKNOWN_UNITS:
        return None
    if key not in _LENGTH_TO_UM:
        log.warning("unknown length unit %r: physical size %g left out (treated as unknown)",
                    unit, value)
        return None
    return value * _LENGTH_TO_UM[key]


def time_to_s(value, unit="s") -> float | None:
    """``value`` in ``unit`` as seconds; ``None`` when absent, zero or the unit is unknown."""
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        return None
    key = _norm(unit or "s")
    if key not in _TIME_TO_S:
        log.warning("unknown time unit %r: time interval %g left out", unit, value)
        return None
    return value * _TIME_TO_S[key]
