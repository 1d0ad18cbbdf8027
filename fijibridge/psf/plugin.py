"""The real PSF Generator plugin, run through the Java bridge.

PSF Generator's menu command ignores macro options, so fijibridge calls the entry point
its command line uses (``java -cp PSF_Generator.jar PSFGenerator config.txt``):
the static ``PSFGenerator.computeImagePlus(String config)``; the Java call lives in
:func:`fijibridge.bridge.plugins.psf_generator_image`.  The native
:func:`fijibridge.psf.psf_from_config` computes the same PSF without Java.
"""

from __future__ import annotations

from pathlib import Path

from .._core.errors import PluginMissingError
from .._core.image import Image

__all__ = ["run_psf_generator", "INSTALL_HINT"]

INSTALL_HINT = ("download PSF_Generator.jar from https://bigwww.epfl.ch/algorithms/psfgenerator/ "
                "into that folder (in Fiji: Help > Update... > Manage update sites) and restart; "
                "meanwhile fijibridge.psf.psf_from_config (CLI: fijibridge psf --config FILE) "
                "computes the same PSF natively")


def run_psf_generator(config, *, session=None, engine: str = "auto") -> Image:
    """Compute a PSF with the installed PSF Generator from its configuration file.

    Parameters
    ----------
    config : path
        A PSF Generator configuration file, as the plugin saves it.
    session : fijibridge.bridge.session.Session, optional
        A running session; default ``open_session(engine)``.

    Returns
    -------
    Image
        The plugin's output (float32 unless the config asks for 8/16 bits), with the
        voxel size of the configuration (the plugin itself writes none).

    Raises
    ------
    PluginMissingError
        PSF Generator is not in the engine's plugins folder (the message names it).
    """
    from ..bridge import open_session
    from .config import read_psfgen_config

    path = Path(config)
    cfg = read_psfgen_config(path)  # validates the file before any Java work
    session = session or open_session(engine)
    if session.plugins().get("PSF Generator") is None:
        raise PluginMissingError(f"PSF Generator is not installed in {session.plugins_dir}; "
                                 + INSTALL_HINT)
    from ..bridge.plugins import psf_generator_image

    out = psf_generator_image(path, session=session)
    spacing = cfg.spacing if "Z" in out.axes else cfg.spacing[1:]
    return out.with_data(out.data, spacing=tuple(spacing), calibrated=True,
                         spacing_known=None)
