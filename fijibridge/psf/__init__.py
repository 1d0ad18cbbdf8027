"""PSF models: PSF Generator's optical and lateral/axial models, its configuration
files, and PSFs measured from bead images.

==============================  ==================================================
function                        model
==============================  ==================================================
:func:`born_wolf`               Born & Wolf (scalar, particle in focus)
:func:`gibson_lanni`            Gibson & Lanni (scalar, particle at depth)
:func:`richards_wolf`           Richards & Wolf (vectorial)
:func:`gaussian`                Gaussian lateral × axial function
:func:`lateral_axial`           the other lateral × axial models
:func:`generate_psf`            any of them by PSF Generator short name
:func:`read_psfgen_config`      a PSF Generator ``.config`` file -> :class:`PSFConfig`
:func:`psf_from_config`         the PSF a configuration describes, as the plugin writes it
:func:`extract_bead_psf`        a measured PSF from a bead stack
==============================  ==================================================

Units: ``spacing`` in µm ``(z, y, x)``, ``wavelength_nm`` in nm.  Outputs are
centred at ``(n - 1) / 2`` and scaled to a maximum of 1 like PSF Generator, or to a
sum of 1 with ``normalize="sum"``.  Only numpy is imported with this package;
scipy loads inside the functions.
"""

from __future__ import annotations

from .config import (
    MODELS,
    PSFConfig,
    apply_psfgen_output,
    generate_psf,
    psf_from_config,
    read_psfgen_config,
)
from .synthetic import AXIAL_FUNCTIONS, LATERAL_FUNCTIONS, gaussian, lateral_axial
from .measured import extract_bead_psf
from .optical import born_wolf, gibson_lanni, richards_wolf

__all__ = [
    "MODELS",
    "LATERAL_FUNCTIONS",
    "AXIAL_FUNCTIONS",
    "PSFConfig",
    "born_wolf",
    "gibson_lanni",
    "richards_wolf",
    "gaussian",
    "lateral_axial",
    "generate_psf",
    "read_psfgen_config",
    "psf_from_config",
    "apply_psfgen_output",
    "extract_bead_psf",
]
