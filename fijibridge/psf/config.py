"""PSF Generator configuration files, and one entry point for every model.

PSF Generator (EPFL BIG) saves its settings as ``key=value`` lines (a Java
properties file that starts with ``#PSFGenerator``)::

    #PSFGenerator
    PSF-shortname=BW
    NX=64
    NY=64
    NZ=32
    NA=1.4
    Lambda=610          # nm
    ResLateral=100      # nm
    ResAxial=250        # nm
    psf-BW-NI=1.518
    psf-BW-accuracy=Good
    Type=32-bits
    Scale=Linear

Keys of the other models (``psf-GL-NS`` while ``PSF-shortname=BW``) are ignored, as
the plugin does; a missing key takes the plugin's default (logged).  Unlike the
plugin, which silently falls back to its first model or default value, an unknown
model, a value that is not a number, an unknown accuracy/type/scale or a key that
looks like a misspelt known key raises ``ValueError`` naming the key.

References
----------
.. [1] H. Kirshner, F. Aguet, D. Sage, M. Unser, "3-D PSF fitting for fluorescence
   microscopy: implementation and localization application", Journal of Microscopy
   249(1):13-25, 2013. :doi:`10.1111/j.1365-2818.2012.03675.x`
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from pathlib import Path
from typing import Any

import numpy as np

from .._core.options import check_choice, did_you_mean
from . import _common
from .synthetic import AXIAL_FUNCTIONS, LATERAL_FUNCTIONS, lateral_axial
from .optical import born_wolf, gibson_lanni, richards_wolf

__all__ = ["MODELS", "PSFConfig", "read_psfgen_config", "psf_from_config", "generate_psf",
           "OUTPUT_TYPES", "SCALES", "apply_psfgen_output"]

log = logging.getLogger(__name__)

#: Models by PSF Generator short name (``PSF-shortname``).
MODELS: tuple[str, ...] = ("BW", "GL", "RW") + LATERAL_FUNCTIONS
#: PSF Generator models this package does not implement.
NOT_IMPLEMENTED = ("VRIGL (variable refractive index Gibson & Lanni)", "Torok & Varga",
                   "Koehler", "Defocussing")
#: ``Type=`` values of PSF Generator, and the numpy dtype written for each.
OUTPUT_TYPES = {"32-bits": np.float32, "8-bits": np.uint8, "16-bits": np.uint16}
#: ``Scale=`` values of PSF Generator.
SCALES = ("Linear", "Log", "Sqrt", "Decibel")

# Global keys and PSF Generator's defaults (MainPanel.java).
_GLOBAL_DEFAULTS = {"PSF-shortname": "BW", "NX": "256", "NY": "256", "NZ": "65",
                    "NA": "1.4", "Lambda": "610", "ResLateral": "100", "ResAxial": "250",
                    "Type": "32-bits", "Scale": "Linear", "LUT": "Special PSF"}
# Per-model keys (``psf-<short>-<key>``): key -> (python parameter, default, kind).
_MODEL_KEYS: dict[str, dict[str, tuple[str, str, str]]] = {
    "BW": {"NI": ("ni", "1.5", "float"), "accuracy": ("accuracy", "Good", "accuracy")},
    "RW": {"NI": ("ni", "1.5", "float"), "accuracy": ("accuracy", "Good", "accuracy")},
    "GL": {"NI": ("ni", "1.5", "float"), "NS": ("ns", "1.33", "float"),
           "TI": ("ti_um", "150", "float"), "ZPos": ("particle_z_nm", "2000", "float"),
           "accuracy": ("accuracy", "Good", "accuracy")},
}
for _name in LATERAL_FUNCTIONS:
    _MODEL_KEYS[_name] = {"focus": ("focus_nm", "0", "float"),
                          "defocus": ("defocus_nm", "100", "float"),
                          "axial": ("axial", "Linear", "axial")}


@dataclasses.dataclass(frozen=True)
class PSFConfig:
    """A PSF Generator configuration: which model, with which parameters.

    Attributes
    ----------
    model : str
        PSF Generator short name (one of :data:`MODELS`).
    shape : tuple of int
        ``(NZ, NY, NX)``, voxels.
    spacing : tuple of float
        ``(ResAxial, ResLateral, ResLateral)`` converted to µm, ``(z, y, x)``.
    params : dict
        Keyword arguments of the model function (``na``, ``wavelength_nm``, …).
    output_type : str
        ``Type=`` (``"32-bits"``, ``"8-bits"``, ``"16-bits"``).
    scale : str
        ``Scale=`` (``"Linear"``, ``"Log"``, ``"Sqrt"``, ``"Decibel"``).
    path : Path or None
        File it was read from.
    """

    model: str
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    params: dict[str, Any]
    output_type: str = "32-bits"
    scale: str = "Linear"
    path: Path | None = None

    def generate(self, *, normalize: str = "max", dtype=np.float32,
                 max_memory=None) -> np.ndarray:
        """Compute the PSF (float, max 1 or sum 1); see :func:`psf_from_config` for the file's Type/Scale."""
        return generate_psf(self.model, self.shape, spacing=self.spacing, normalize=normalize,
                            dtype=dtype, max_memory=max_memory, **self.params)


def generate_psf(model: str, shape, *, spacing=None, normalize: str = "max", dtype=np.float32,
                 max_memory=None, **params) -> np.ndarray:
    """Compute a PSF by PSF Generator short name (``"BW"``, ``"GL"``, ``"RW"``, ``"Gaussian"``, …).

    Parameters
    ----------
    model : str
        One of :data:`MODELS` (case-insensitive); ``BW`` Born & Wolf, ``GL`` Gibson &
        Lanni, ``RW`` Richards & Wolf, the others lateral/axial models.
    shape : sequence of int
        ``(nz, ny, nx)`` or ``(ny, nx)``, voxels.
    spacing : sequence of float, optional
        Voxel size in µm, ``(z, y, x)``.
    normalize : {"max", "sum"}
        Scale to a maximum of 1 (PSF Generator) or to a sum of 1.
    dtype : float dtype
        Output dtype.
    max_memory : int, optional
        Memory budget in bytes, checked against the model's estimate before anything is
        allocated (``ValueError`` naming both); default: the memory available now.
    **params
        Parameters of the model function: :func:`~fijibridge.psf.born_wolf`,
        :func:`~fijibridge.psf.gibson_lanni`, :func:`~fijibridge.psf.richards_wolf`
        or :func:`~fijibridge.psf.lateral_axial`.

    Returns
    -------
    ndarray

    References
    ----------
    .. [1] H. Kirshner et al., J. Microsc. 249(1):13-25, 2013.
       :doi:`10.1111/j.1365-2818.2012.03675.x`

    Examples
    --------
    >>> generate_psf("bw", (4, 8, 8), na=1.2, ni=1.33, wavelength_nm=520).shape
    (4, 8, 8)
    """
    model = check_model(model)
    functions = {"BW": born_wolf, "GL": gibson_lanni, "RW": richards_wolf}
    if model in functions:
        func = functions[model]
    else:
        func = lateral_axial
        params = {"lateral": model, **params}
    import inspect

    allowed = [p for p in inspect.signature(func).parameters
               if p not in ("shape", "lateral", "max_memory")]
    for key in params:
        if key not in allowed and key != "lateral":
            raise TypeError(f"model {model!r} has no parameter {key!r}; allowed: "
                            f"{', '.join(allowed)}.{did_you_mean(key, allowed)}")
    return func(shape, spacing=spacing, normalize=normalize, dtype=dtype, max_memory=max_memory,
                **params)


def check_model(model) -> str:
    """Canonical short name of a PSF model, or ValueError with the allowed names."""
    if isinstance(model, str):
        lowered = model.lower().replace("_", "-").replace(" ", "-")
        aliases = {"born-wolf": "BW", "bornwolf": "BW", "gibson-lanni": "GL",
                   "gibsonlanni": "GL", "richards-wolf": "RW", "richardswolf": "RW"}
        if lowered in aliases:
            return aliases[lowered]
        for name in NOT_IMPLEMENTED:
            if lowered and lowered == name.split(" ")[0].lower():
                raise ValueError(f"PSF model {model!r} ({name}) of PSF Generator is not "
                                 f"implemented in fijibridge; available: {', '.join(MODELS)}")
    return check_choice("model", model, MODELS)


def _number(key: str, text: str, kind: str, path) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}: key {key!r} must be a number; got {text!r}") from None
    if not np.isfinite(value):
        raise ValueError(f"{path}: key {key!r} must be a finite number; got {text!r}")
    if kind == "int":
        if value != int(value):
            raise ValueError(f"{path}: key {key!r} must be an integer; got {text!r}")
        return int(value)
    return value


def _parse_properties(text: str, path) -> dict[str, str]:
    """Java properties subset PSF Generator writes: ``key=value``, ``#``/``!`` comments."""
    entries: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        cut = [i for i in (line.find("="), line.find(":")) if i >= 0]
        if not cut:
            raise ValueError(f"{path}:{number}: expected 'key=value', got {raw!r}")
        i = min(cut)
        key, value = line[:i].strip(), line[i + 1:].strip()
        if not key:
            raise ValueError(f"{path}:{number}: empty key in {raw!r}")
        entries[key] = value.replace("\\:", ":").replace("\\=", "=")
    return entries


def read_psfgen_config(path) -> PSFConfig:
    """Read a PSF Generator configuration file as the plugin does.

    Parameters
    ----------
    path : str or Path
        A ``.config`` / ``.txt`` file saved by PSF Generator (or written by hand).

    Returns
    -------
    PSFConfig
        Model short name, shape ``(NZ, NY, NX)``, spacing in µm and the model's
        keyword parameters.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is not a PSF Generator configuration, or a key has a bad value; the
        message names the key.

    References
    ----------
    .. [1] PSF Generator, Biomedical Imaging Group, EPFL.
       https://bigwww.epfl.ch/algorithms/psfgenerator/
       (the file is what its "Save" writes)

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "bw.config"
    >>> _ = p.write_text("#PSFGenerator\\nPSF-shortname=BW\\nNX=32\\nNY=32\\nNZ=16\\n")
    >>> cfg = read_psfgen_config(p)
    >>> cfg.model, cfg.shape, cfg.spacing
    ('BW', (16, 32, 32), (0.25, 0.1, 0.1))
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no PSF Generator configuration file at {str(path)!r}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        try:
            text = path.read_text(encoding="latin-1")
        except OSError as e:  # pragma: no cover - unreadable after is_file
            raise ValueError(f"{path}: cannot read the configuration file: {e}") from e
    if "\x00" in text:
        raise ValueError(f"{path}: not a PSF Generator configuration (binary content)")
    entries = _parse_properties(text, path)
    if not entries:
        raise ValueError(f"{path}: no 'key=value' entries; not a PSF Generator configuration")

    def get(key):
        if key in entries:
            return entries[key]
        log.info("%s: %s missing, using PSF Generator's default %s", path, key,
                 _GLOBAL_DEFAULTS[key])
        return _GLOBAL_DEFAULTS[key]

    # model
    short = get("PSF-shortname")
    try:
        model = check_model(short)
    except ValueError as e:
        raise ValueError(f"{path}: key 'PSF-shortname': {e}") from None
    # unknown keys: error when they look like a known one (a typo), else log and ignore
    model_keys = _MODEL_KEYS[model]
    known_model_keys = [f"psf-{model}-{k}" for k in model_keys]
    known = list(_GLOBAL_DEFAULTS) + known_model_keys
    for key in entries:
        if key in known:
            continue
        if key.startswith("psf-"):
            owner = key[4:].rsplit("-", 1)[0]
            if owner != model:
                continue  # another model's panel: PSF Generator ignores it too
            raise ValueError(f"{path}: unknown key {key!r} for model {model}; allowed: "
                             f"{', '.join(known_model_keys)}.{did_you_mean(key, known_model_keys)}")
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
        if close:
            raise ValueError(f"{path}: unknown key {key!r}. Did you mean {close[0]!r}?")
        log.warning("%s: ignoring unknown key %r", path, key)

    nx = _number("NX", get("NX"), "int", path)
    ny = _number("NY", get("NY"), "int", path)
    nz = _number("NZ", get("NZ"), "int", path)
    for key, value in (("NZ", nz), ("NY", ny), ("NX", nx), ):
        if value < 1:
            raise ValueError(f"{path}: key {key!r} must be a positive integer (voxels); got {value}")
    res_lateral = _number("ResLateral", get("ResLateral"), "float", path)
    res_axial = _number("ResAxial", get("ResAxial"), "float", path)
    for key, value in (("ResLateral", res_lateral), ("ResAxial", res_axial)):
        if value <= 0:
            raise ValueError(f"{path}: key {key!r} must be > 0 (nm); got {value}")
    na = _number("NA", get("NA"), "float", path)
    wavelength = _number("Lambda", get("Lambda"), "float", path)
    for key, value in (("NA", na), ("Lambda", wavelength)):
        if value <= 0:
            raise ValueError(f"{path}: key {key!r} must be > 0; got {value}")
    try:
        output_type = check_choice("Type", get("Type"), list(OUTPUT_TYPES))
        scale = check_choice("Scale", get("Scale"), SCALES)
    except ValueError as e:
        raise ValueError(f"{path}: key {e}") from None

    params: dict[str, Any] = {"na": na, "wavelength_nm": wavelength}
    for suffix, (name, default, kind) in model_keys.items():
        key = f"psf-{model}-{suffix}"
        text_value = entries.get(key)
        if text_value is None:
            log.info("%s: %s missing, using PSF Generator's default %s", path, key, default)
            text_value = default
        if kind == "float":
            params[name] = _number(key, text_value, "float", path)
        else:
            allowed = _common.ACCURACIES if kind == "accuracy" else AXIAL_FUNCTIONS
            try:
                params[name] = check_choice(key, text_value, allowed)
            except ValueError as e:
                raise ValueError(f"{path}: key {e}") from None
    if model in LATERAL_FUNCTIONS:
        params["centred"] = False  # PSF Generator's own geometry
    if "ni" in params and na > params["ni"]:
        raise ValueError(f"{path}: NA={na} is larger than the immersion index "
                         f"psf-{model}-NI={params['ni']}; NA must be <= NI")
    spacing = (res_axial / 1000.0, res_lateral / 1000.0, res_lateral / 1000.0)
    return PSFConfig(model=model, shape=(nz, ny, nx), spacing=spacing, params=params,
                     output_type=output_type, scale=scale, path=path)


def apply_psfgen_output(psf: np.ndarray, *, output_type: str = "32-bits",
                        scale: str = "Linear") -> np.ndarray:
    """Convert a max-1 PSF as PSF Generator writes it (``Scale=`` then ``Type=``).

    ``Log``, ``Sqrt`` and ``Decibel`` apply the function to ``max(v, 1e-6)``;
    ``8-bits`` / ``16-bits`` multiply by 255 / 65535, clip and truncate.
    """
    output_type = check_choice("output_type", output_type, list(OUTPUT_TYPES))
    scale = check_choice("scale", scale, SCALES)
    v = np.asarray(psf, dtype=np.float64)
    if scale != "Linear":
        # the plugin tests the raw value against 1e-6; after its scaling to max 1
        # (which we already did) that is the same test on max-1 values
        v = np.maximum(v, 1e-6)
        v = {"Log": np.log, "Sqrt": np.sqrt, "Decibel": lambda a: 20.0 * np.log10(a)}[scale](v)
    if output_type == "8-bits":
        return np.clip(v * 255.0, 0, 255).astype(np.uint8)
    if output_type == "16-bits":
        return np.clip(v * 65535.0, 0, 65535).astype(np.uint16)
    return v.astype(np.float32)


def psf_from_config(path) -> np.ndarray:
    """Compute the PSF a PSF Generator configuration file describes, as the plugin writes it.

    Parameters
    ----------
    path : str or Path
        PSF Generator configuration file.

    Returns
    -------
    ndarray, shape ``(NZ, NY, NX)``
        float32 scaled to a maximum of 1 for ``Type=32-bits`` and ``Scale=Linear``;
        otherwise converted as the plugin does (:func:`apply_psfgen_output`).

    References
    ----------
    .. [1] H. Kirshner et al., J. Microsc. 249(1):13-25, 2013.
       :doi:`10.1111/j.1365-2818.2012.03675.x`
    """
    config = read_psfgen_config(path)
    psf = config.generate(normalize="max", dtype=np.float64)
    return apply_psfgen_output(psf, output_type=config.output_type, scale=config.scale)
