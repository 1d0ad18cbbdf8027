"""Compute a PSF from a PSF Generator configuration or from model options, and write it.

:func:`render_psf` is ``fijibridge psf``: it writes one ImageJ TIFF (float32, unless
the configuration asks for 8 or 16 bits) with the voxel size as calibration,
atomically.  The output is checked against the configuration file before any work.
Error messages name the ``fijibridge psf`` options.
"""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["render_psf", "MODEL_OPTIONS"]

log = logging.getLogger(__name__)

#: option name (as in ``options``; ``--particle-z`` is ``particle_z``) -> keyword of
#: the model functions
MODEL_OPTIONS = {
    "na": "na", "wavelength": "wavelength_nm", "ni": "ni", "ns": "ns", "ti": "ti_um",
    "particle_z": "particle_z_nm", "accuracy": "accuracy", "axial": "axial",
    "focus": "focus_nm", "defocus": "defocus_nm", "bessel_j2": "bessel_j2",
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def render_psf(output, *, config=None, model: str | None = None, engine: str = "native",
               shape=None, spacing=None, options: dict | None = None,
               normalize: str = "max", max_memory_mb: float | None = None) -> Path:
    """Compute the PSF that ``config`` or ``model`` describes and write it to ``output``.

    Parameters
    ----------
    output : str or Path
        The TIFF to write.
    config : str or Path, optional
        PSF Generator configuration file (every parameter comes from it).  Exactly
        one of ``config`` and ``model`` is given.
    model : str, optional
        PSF Generator short name (BW, GL, RW, Gaussian, Lorentz, ...).
    engine : {"native", "imagej", "fiji"}
        ``native``, or the real PSF Generator plugin (with ``config``).
    shape : sequence of int, optional
        Size in voxels, Z Y X (or Y X); required with ``model``.
    spacing : sequence of float, optional
        Voxel size in µm, Z Y X (or Y X); default 0.25 0.1 0.1.
    options : dict, optional
        Model parameters by the names of :data:`MODEL_OPTIONS` (e.g. ``{"na": 1.4,
        "wavelength": 610}``); ``None`` values are ignored.
    normalize : {"max", "sum"}
        Scale to max 1 (PSF Generator) or sum 1 (deconvolution).
    max_memory_mb : float, optional
        Memory budget in MB; a PSF that would need more is refused before any work
        (default: the memory available now).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ValueError
        The output is the configuration file, options conflict or do not apply to
        the model, or a parameter is out of range.

    Examples
    --------
    >>> render_psf("psf.tif", model="BW", shape=(16, 32, 32), options={"na": 1.4})  # doctest: +SKIP
    PosixPath('psf.tif')
    """
    import inspect

    import numpy as np

    from .._core.options import did_you_mean
    from .._core.outputs import check_not_input
    from .._core.tiff import write_tiff
    from . import config as psfconfig

    check_not_input({"-o": output}, {"--config": config})
    if max_memory_mb is not None and not max_memory_mb > 0:
        raise ValueError(f"--max-memory must be > 0 MB; got {max_memory_mb}")
    max_memory = None if max_memory_mb is None else max_memory_mb * 2**20
    given = {k: v for k, v in (options or {}).items() if v is not None}
    unknown = sorted(set(given) - set(MODEL_OPTIONS))
    if unknown:
        raise ValueError(f"options {unknown} are not model options; allowed: "
                         f"{', '.join(MODEL_OPTIONS)}{did_you_mean(unknown[0], MODEL_OPTIONS)}")
    if config is not None:
        if given or shape is not None or spacing is not None:
            names = [_flag(d) for d in given]
            names += [n for n, v in (("--shape", shape), ("--spacing", spacing)) if v]
            raise ValueError(f"--config takes every parameter from the file; remove "
                             f"{', '.join(names)} (or use --model instead of --config)")
        if engine != "native":
            from .plugin import run_psf_generator

            result = run_psf_generator(config, engine=engine)
            out = write_tiff(output, result)
            log.info("wrote PSF Generator's PSF from %s to %s", config, out)
            return Path(out)
        cfg = psfconfig.read_psfgen_config(config)
        spacing = cfg.spacing
        if normalize == "sum":
            psf = cfg.generate(normalize="sum", dtype=np.float32, max_memory=max_memory)
        else:
            psf = psfconfig.apply_psfgen_output(cfg.generate(normalize="max", dtype=np.float64,
                                                             max_memory=max_memory),
                                                output_type=cfg.output_type, scale=cfg.scale)
        what = f"{cfg.model} from {config}"
    else:
        if engine != "native":
            raise ValueError("--engine imagej|fiji runs the real plugin from a configuration "
                             "file: use it with --config FILE")
        if shape is None:
            raise ValueError("--shape Z Y X (voxels) is required with --model")
        model = psfconfig.check_model(model)
        func = {"BW": psfconfig.born_wolf, "GL": psfconfig.gibson_lanni,
                "RW": psfconfig.richards_wolf}.get(model, psfconfig.lateral_axial)
        accepted = set(inspect.signature(func).parameters)
        params = {}
        for name, value in given.items():
            keyword = MODEL_OPTIONS[name]
            if keyword not in accepted:
                usable = sorted(_flag(d) for d, k in MODEL_OPTIONS.items() if k in accepted)
                raise ValueError(f"option {_flag(name)} does not apply to model "
                                 f"{model}; its options: {', '.join(usable)}."
                                 f"{did_you_mean(name, [u[2:] for u in usable])}")
            params[keyword] = value
        if spacing is None:
            spacing = (0.25, 0.1, 0.1)[-len(shape):]
        psf = psfconfig.generate_psf(model, tuple(shape), spacing=tuple(spacing),
                                     normalize=normalize, dtype=np.float32,
                                     max_memory=max_memory, **params)
        spacing = tuple(float(s) for s in spacing)
        what = model
    out = write_tiff(output, psf, spacing=spacing)
    log.info("wrote %s PSF %s (%s) to %s", what, psf.shape, psf.dtype, out)
    return Path(out)
