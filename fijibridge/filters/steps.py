"""Pipeline steps of the filters package: thin adapters, image in, image out.

Each function takes the image as ``image=`` and the item's ``spacing`` (µm, from its
calibration) and returns ``{"image": array}``.  ``STEPS`` describes them for the
pipeline's registry (:mod:`fijibridge.pipeline.registry`): ``name ->``
:class:`~fijibridge._core.steps.Step`; the pipeline finds them by name.
"""

from __future__ import annotations

import numpy as np

from .._core.steps import make_step
from . import background, ridges, smoothing

__all__ = ["STEPS", "subtract_background", "gaussian", "median", "clahe", "tubeness",
           "sato", "frangi"]


def _spatial(image: np.ndarray, spacing):
    if spacing is None:
        return None
    return tuple(spacing)[-np.asarray(image).ndim:]


def subtract_background(*, image, spacing=None, radius_um: float = 50.0,
                        light_background: bool = False, paraboloid: bool = False,
                        smoothing: bool = True, create_background: bool = False):
    """ImageJ's Subtract Background (1.53t numbers), radius in µm."""
    return {"image": background.subtract_background(
        image, radius_um=radius_um, spacing=_spatial(image, spacing),
        light_background=light_background, paraboloid=paraboloid, smoothing=smoothing,
        create_background=create_background)}


def gaussian(*, image, spacing=None, sigma_um: float = 1.0):
    """Gaussian smoothing, sigma in µm."""
    return {"image": smoothing.gaussian(image, sigma_um=sigma_um, spacing=_spatial(image, spacing))}


def median(*, image, spacing=None, radius_um: float = 0.5):
    """Median over an ellipsoid of radius ``radius_um``."""
    return {"image": smoothing.median(image, radius_um=radius_um, spacing=_spatial(image, spacing))}


def clahe(*, image, spacing=None, kernel_um: float | None = None, clip_limit: float = 0.01):
    """CLAHE with tiles of ``kernel_um`` µm."""
    return {"image": smoothing.clahe(image, kernel_um=kernel_um, clip_limit=clip_limit,
                                     spacing=_spatial(image, spacing))}


def tubeness(*, image, spacing=None, sigma_um: float = 1.0):
    """Fiji's Tubeness at one scale in µm."""
    return {"image": ridges.tubeness(image, sigma_um=sigma_um, spacing=_spatial(image, spacing))}


def sato(*, image, spacing=None, sigmas_um: list | float = 1.0, black_ridges: bool = False):
    """Sato line filter, scales in µm."""
    return {"image": ridges.sato(image, sigmas_um=sigmas_um, black_ridges=black_ridges,
                                 spacing=_spatial(image, spacing))}


def frangi(*, image, spacing=None, sigmas_um: list | float = 1.0, black_ridges: bool = False):
    """Frangi vesselness, scales in µm."""
    return {"image": ridges.frangi(image, sigmas_um=sigmas_um, black_ridges=black_ridges,
                                   spacing=_spatial(image, spacing))}


#: step name -> :class:`~fijibridge._core.steps.Step`, for the pipeline's step registry
STEPS = {f.__name__: make_step(f, "image", ("image",))
         for f in (subtract_background, gaussian, median, clahe, tubeness, sato, frangi)}
