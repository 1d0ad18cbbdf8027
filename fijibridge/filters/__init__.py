"""Preprocessing filters for real microscopy data, 2D and 3D, sizes in µm.

* :func:`subtract_background` / :func:`rolling_ball_background`: ImageJ's *Subtract
  Background* (rolling ball, sliding paraboloid) with ImageJ 1.53t's numbers;
* :func:`gaussian`, :func:`median`, :func:`clahe`: smoothing and contrast, with
  sizes in µm and anisotropic voxels respected;
* :func:`tubeness`, :func:`sato`, :func:`frangi`: ridge filters for tubular
  structures with scales in µm.

numpy / scipy / scikit-image only; pipeline steps are in :mod:`fijibridge.filters.steps`.
"""

from .background import rolling_ball_background, subtract_background
from .ridges import frangi, hessian_eigenvalues, sato, tubeness
from .smoothing import clahe, ellipsoid_footprint, gaussian, median

__all__ = ["subtract_background", "rolling_ball_background", "gaussian", "median", "clahe",
           "ellipsoid_footprint", "tubeness", "sato", "frangi", "hessian_eigenvalues"]
