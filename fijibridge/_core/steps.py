"""Pipeline step descriptions, shared by the algorithm packages and the pipeline.

Each algorithm package describes its pipeline steps in a ``steps.py`` beside its code
(``fijibridge/deconv/steps.py`` …): thin adapters, image in, image/table out, spacing
taken from the image.  They are described here, in ``_core``, so that a package never
imports :mod:`fijibridge.pipeline` (which finds the steps by name, see
:mod:`fijibridge.pipeline.registry`).  Numpy only; nothing here imports torch, Java or
the pipeline.

Conventions of a step function:

* inputs arrive as keyword arguments named as in the step's ``inputs:`` (arrays for
  images, :class:`pandas.DataFrame` for tables); for per-dataset steps each input is a
  ``{item: value}`` dict and ``meta`` is ``{item: metadata}``;
* ``spacing`` (µm, ``(y, x)`` or ``(z, y, x)``, from the calibration of the item's
  image) is passed when the function takes it; ``item`` and ``meta`` likewise;
* the function returns ``{output name: value}``: an array (written as an image with the
  item's calibration), an :class:`~fijibridge._core.image.Image` (carrying its own), a
  DataFrame (CSV, and Parquet when pyarrow is installed), a dict (JSON) or :class:`Png`
  bytes.  A per-dataset step may return ``report``, a dict whose ``metrics`` mapping the
  runner records in ``run.json`` as it is (the pipeline knows no metric by name).
"""

from __future__ import annotations

import dataclasses
import inspect
import io
from collections.abc import Callable

__all__ = ["Step", "Builtin", "Png", "RoiZip", "make_step", "figure_png", "check_param", "tables_with_meta",
           "positive", "choice", "DATA_ARGS", "PER"]

#: argument names that are data inputs (another step's outputs), never parameters
DATA_ARGS = frozenset({"image", "psf", "mask", "labels", "cells", "table", "nuclei", "golgi"})
#: how often a step runs: once per item, or once over all items
PER = ("image", "dataset")


class Png(bytes):
    """PNG file content returned by a step (overlays, plots)."""


class RoiZip(bytes):
    """An ImageJ ROI set (``.zip``, opens in the ROI Manager) returned by a step."""


@dataclasses.dataclass(frozen=True)
class Step:
    """A pipeline step as its package describes it.

    Attributes
    ----------
    name : str
        The key of the step in pipeline files (``threshold: {method: Li}``).
    func : callable
        The adapter; keyword arguments only (see the module doc).
    per : {'image', 'dataset'}
        Default of the step's ``per:``.
    outputs : tuple of str
        Every output the step can make.
    inputs : tuple of str
        Accepted input names (the required ones have no default in ``func``).
    items : callable, optional
        Source steps: ``params -> [(key, meta)]`` (cheap; nothing rendered).
    check : callable, optional
        ``check(params)`` checks parameter values (choices, ranges) with the code the
        step itself uses, so ``validate`` rejects them before any work; raises
        ValueError/TypeError with ``.param`` naming the parameter.
    default_outputs : tuple of str, optional
        Outputs written when a pipeline file lists none (default: all of them).
    images : bool
        The function receives image inputs as :class:`~fijibridge._core.image.Image`
        (pixels with axes, spacing, channel names) instead of bare arrays: for steps
        that need an image's calibration or channel names (``channel``, ``psf``,
        ``deconvolve``).
    per_image_with : str, optional
        A per-dataset step that runs once per item when this input is given (``psf``
        with ``inputs: {image: …}`` makes one PSF per image, at that image's spacing).
    """

    name: str
    func: Callable
    per: str
    outputs: tuple[str, ...]
    inputs: tuple[str, ...]
    items: Callable | None = None
    check: Callable[[dict], None] | None = None
    default_outputs: tuple[str, ...] | None = None
    images: bool = False
    per_image_with: str | None = None


#: the name used before the steps moved to their packages
Builtin = Step


def make_step(func: Callable, per: str, outputs, *, name: str | None = None,
              items: Callable | None = None, check: Callable | None = None,
              default_outputs=None, images: bool = False,
              per_image_with: str | None = None) -> Step:
    """Describe ``func`` as a pipeline step; its data inputs are read off its signature."""
    if per not in PER:
        raise ValueError(f"per must be one of {PER}; got {per!r}")
    sig = inspect.signature(func)
    inputs = tuple(n for n in sig.parameters if n in DATA_ARGS)
    if per_image_with is not None and per_image_with not in inputs:
        raise ValueError(f"per_image_with must name one of the inputs {inputs}; "
                         f"got {per_image_with!r}")
    return Step(name or func.__name__, func, per, tuple(outputs), inputs, items, check,
                tuple(default_outputs) if default_outputs is not None else None,
                images, per_image_with)


def figure_png(fig) -> Png:
    """A matplotlib figure as PNG bytes (no timestamp in the metadata: reproducible)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return Png(buf.getvalue())


# ----------------------------------------------------------------------------- value checks


def check_param(params: dict, name: str, fn) -> None:
    """Check ``params[name]`` (when given) with ``fn``; the error remembers the name."""
    value = params.get(name)
    if value is None:
        return
    try:
        fn(value)
    except (ValueError, TypeError) as e:
        e.param = name
        raise


def positive(name, *, integer=False, allow_zero=False):
    """A checker: ``name`` is a positive number (see :func:`~._core.options.check_positive`)."""
    from .options import check_positive

    return lambda v: check_positive(name, v, integer=integer, allow_zero=allow_zero)


def choice(name, allowed):
    """A checker: ``name`` is one of ``allowed`` (with did-you-mean)."""
    from .options import check_choice

    return lambda v: check_choice(name, v, allowed)


def tables_with_meta(table: dict, meta: dict) -> list:
    """Per-item tables (``{item: DataFrame}``) with the item id and its metadata as
    leading columns (what per-dataset steps over tables start from)."""
    frames = []
    for key, t in table.items():
        t = t.copy()
        for col, value in reversed(list(meta[key].items())):
            if col not in t.columns:
                t.insert(0, col, value)
        t.insert(0, "item", key)
        frames.append(t)
    return frames
