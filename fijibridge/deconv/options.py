"""DeconvolutionLab2 options: one options object, parsed from and written to DL2's command text.

DL2 text is what a lab already has in its macros::

    -image file a.tif -psf file p.tif -algorithm RL 50 -pad E2 E2 -apo HANN HANN -norm 1

:func:`parse_dl2` turns it into :class:`DeconvOptions` (checked, with clear errors where DL2
would silently fall back to a default); :func:`to_dl2` writes it back (canonical spelling,
only the options that were given), so ``to_dl2(parse_dl2(text)) == text`` for the texts DL2
writes. Parsing follows DL2 2.1.2's ``deconvolution.Command`` (keywords found anywhere in the
text, numbers found with DL2's regular expression, so ``-pad E2 E2`` also means an extension
of 2 voxels — a DL2 quirk kept for identical results, see :class:`Padding`).
"""

from __future__ import annotations

import dataclasses
import re
import shlex

import numpy as np

from .._core.options import did_you_mean
from ._haar import HAAR_MODES
from ._registry import ALGORITHMS, lookup_algorithm

__all__ = [
    "DeconvOptions", "make_options", "MAX_GROWTH", "Padding", "Apodization", "parse_dl2",
    "to_dl2", "format_number",
    "KEYWORDS", "PADDINGS", "APODIZATIONS", "CONSTRAINTS",
]

#: DL2's keywords (``deconvolution.Command.keywords``)
KEYWORDS = ("-image", "-psf", "-reference", "-algorithm", "-path", "-verbose", "-monitor",
            "-multithreading", "-system", "-stats", "-constraint", "-time", "-residu", "-out",
            "-pad", "-apo", "-norm", "-fft", "-epsilon")
#: padding short names -> description
PADDINGS = {"NO": "none", "X2": "even (multiple of 2)", "E2": "power of 2",
            "X2X3": "multiple of {2, 3}", "X2X3X5": "multiple of {2, 3, 5}"}
#: apodization short names -> description
APODIZATIONS = {"NO": "uniform", "HAMMING": "Hamming", "HANN": "Hann", "COS": "raised cosine",
                "TUKEY": "Tukey (alpha 0.5)", "WELCH": "Welch"}
CONSTRAINTS = ("no", "nonnegativity", "clipped")
#: default divergence guard of iterative algorithms: stop when ||x_k|| exceeds this many times
#: ||y||. Sane runs stay within ~10x (VC 20: 9.4x); DL2's FISTA on a 27-slice stack reaches 615x.
MAX_GROWTH = 100.0
_NUMBER = re.compile(r"[-+]?[0-9]+[.]?[0-9]*([eE][-+]?[0-9]+)?")


def _numbers(text: str) -> list[float]:
    return [float(m.group()) for m in _NUMBER.finditer(text)]


def format_number(value) -> str:
    """Number as DL2 text: ``20``, ``0.1``, ``1e-05`` (Python's shortest round-trip form)."""
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)



def _dl2_words(text: str, flag: str, what: str, allowed, most: int) -> list[str]:
    """The words of a DL2 option's value (1 to ``most``), or ValueError naming the flag."""
    parts = text.split()
    if not parts or len(parts) > most:
        raise ValueError(f"{flag} expects 'XY Z' {what}, allowed {', '.join(allowed)}; "
                         f"got {text!r}")
    return parts


def _upper_choices(obj, what: str, allowed) -> None:
    """Check the ``xy`` and ``z`` fields of a frozen options dataclass against
    ``allowed`` (case-insensitive) and store them in upper case."""
    for name in ("xy", "z"):
        value = getattr(obj, name)
        if not isinstance(value, str) or value.upper() not in allowed:
            raise ValueError(f"{what} {name} must be one of {', '.join(allowed)}; got "
                             f"{value!r}.{did_you_mean(str(value).upper(), allowed)}")
        object.__setattr__(obj, name, value.upper())

@dataclasses.dataclass(frozen=True)
class Padding:
    """DL2 padding: lateral (XY) and axial (Z) rule plus a minimum extension in voxels.

    The padded size along an axis is ``rule(n + ext)``; the image sits at offset
    ``(padded - n) // 2`` and the border is filled with zeros (DL2 ``signal.padding``).

    DL2 reads the extensions as the numbers found anywhere in the ``-pad`` text, so
    ``-pad E2 E2`` means power of 2 *after adding 2 voxels* (64 → 128): fijibridge reads it the
    same way, for identical results.
    """

    xy: str = "NO"
    z: str = "NO"
    ext_xy: int = 0
    ext_z: int = 0

    def __post_init__(self):
        _upper_choices(self, "pad", PADDINGS)
        for name in ("ext_xy", "ext_z"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 0:
                raise ValueError(f"pad {name} must be an integer >= 0; got {value!r}")
            object.__setattr__(self, name, int(value))

    @classmethod
    def from_dl2(cls, text: str) -> "Padding":
        parts = _dl2_words(text, "-pad", "padding names (e.g. '-pad E2 E2')", PADDINGS, 4)
        names = [p for p in parts if not _NUMBER.fullmatch(p)]
        for n in names:
            if n.upper() not in PADDINGS:
                raise ValueError(f"unknown padding {n!r} in '-pad {text}'; allowed: "
                                 f"{', '.join(PADDINGS)}.{did_you_mean(n.upper(), PADDINGS)}")
        xy = names[0] if names else "NO"
        z = names[1] if len(names) > 1 else "NO"
        ext = [int(round(v)) for v in _numbers(text)]
        return cls(xy, z, ext[0] if ext else 0, ext[1] if len(ext) > 1 else 0)

    def to_dl2(self) -> str:
        text = f"{self.xy} {self.z}"
        ext = [int(round(v)) for v in _numbers(text)]
        implied = (ext[0] if ext else 0, ext[1] if len(ext) > 1 else 0)
        if implied == (self.ext_xy, self.ext_z):
            return text
        if not ext:
            return f"{text} {self.ext_xy} {self.ext_z}"
        raise ValueError(f"DeconvolutionLab2 text cannot express padding {self}: its parser takes "
                         f"the digits of {text!r} as extensions {implied}")

    def padded_shape(self, shape) -> tuple[int, ...]:
        """Working shape for an image of ``shape`` (ZYX or YX)."""
        shape = tuple(int(s) for s in shape)
        rules = [self.xy] * 2 if len(shape) == 2 else [self.z, self.xy, self.xy]
        exts = [self.ext_xy] * 2 if len(shape) == 2 else [self.ext_z, self.ext_xy, self.ext_xy]
        return tuple(_pad_rule(r, n + e) for r, n, e in zip(rules, shape, exts))


def _pad_rule(rule: str, n: int) -> int:
    if rule == "NO":
        return n
    if rule == "X2":
        return n if n % 2 == 0 else n + 1
    if rule == "E2":
        y = 1
        while y < n:
            y *= 2
        return y
    primes = (2, 3) if rule == "X2X3" else (2, 3, 5)
    candidates = sorted({int(2 ** a * 3 ** b * (5 ** c if 5 in primes else 1))
                         for a in range(12) for b in range(11) for c in range(10 if 5 in primes else 1)
                         if 2 ** a * 3 ** b * (5 ** c if 5 in primes else 1) < 20000})
    for m in candidates:
        if m >= n:
            return m
    return n


@dataclasses.dataclass(frozen=True)
class Apodization:
    """DL2 apodization of the (padded) image before deconvolution: lateral and axial window."""

    xy: str = "NO"
    z: str = "NO"

    def __post_init__(self):
        _upper_choices(self, "apo", APODIZATIONS)

    @classmethod
    def from_dl2(cls, text: str) -> "Apodization":
        parts = _dl2_words(text, "-apo", "window names (e.g. '-apo HANN HANN')", APODIZATIONS, 2)
        return cls(parts[0], parts[1] if len(parts) > 1 else "NO")

    def to_dl2(self) -> str:
        return f"{self.xy} {self.z}"


@dataclasses.dataclass
class DeconvOptions:
    """Everything a DeconvolutionLab2 run needs, as one checked object.

    ``None`` means "not given": DL2's default applies and :func:`to_dl2` leaves it out.

    Attributes
    ----------
    image, psf, reference : str or None
        File paths (``-image file PATH``); relative paths are relative to the working
        directory (or to ``path`` when DL2 finds them there).
    algorithm : str
        Canonical DL2 name (``"RL"``).
    params : tuple of float
        Algorithm parameters as given (positional, DL2 order); see :attr:`resolved`.
    pad, apo : Padding, Apodization or None
    norm : float or None
        PSF normalisation: sum of the PSF after normalising; ``0`` = no normalisation
        (``-norm no``); ``None`` = DL2's default 1.
    constraint : {"no", "nonnegativity", "clipped"} or None
    residu : float or None
        Stop when the relative change between iterations is ≤ this (``-residu``).
    epsilon : float or None
        DL2's division guard (``-epsilon``), default 1e-6.
    wavelets : str
        ISTA/FISTA wavelet family; DL2 and fijibridge: ``"Haar"``.
    extra : dict
        Options fijibridge accepts but that do not change the numbers (``-monitor``,
        ``-stats``, ``-out`` …), kept for :func:`to_dl2`.
    haar : {"dl2", "orthonormal"}
        ISTA/FISTA wavelet shrinkage: DL2's (identical results) or the corrected orthonormal
        one (fijibridge only; not written by :func:`to_dl2`).
    max_growth : float or None
        Divergence guard: stop with :class:`~fijibridge.DivergenceError` when ||x|| exceeds
        ``max_growth`` × ||image|| (fijibridge only; ``None`` disables it).
    """

    algorithm: str = "RL"
    params: tuple = ()
    image: str | None = None
    psf: str | None = None
    reference: str | None = None
    pad: Padding | None = None
    apo: Apodization | None = None
    norm: float | None = None
    constraint: str | None = None
    residu: float | None = None
    epsilon: float | None = None
    wavelets: str = "Haar"
    extra: dict = dataclasses.field(default_factory=dict)
    haar: str = "dl2"
    max_growth: float | None = MAX_GROWTH

    def __post_init__(self):
        if self.haar not in HAAR_MODES:
            raise ValueError(f"haar must be one of {', '.join(HAAR_MODES)}; got {self.haar!r}."
                             f"{did_you_mean(str(self.haar), HAAR_MODES)}")
        mg = self.max_growth
        if mg is not None and (isinstance(mg, bool) or not isinstance(mg, (int, float)) or not mg > 0):
            raise ValueError(f"max_growth must be a number > 0 or None; got {mg!r}")
        spec = lookup_algorithm(self.algorithm)
        self.algorithm = spec.name
        params = tuple(self.params)
        if len(params) > len(spec.params):
            names = ", ".join(spec.params) if spec.params else "none"
            raise ValueError(f"algorithm {spec.name} takes at most {len(spec.params)} parameter(s) "
                             f"({names}); got {len(params)}: {' '.join(map(str, params))}")
        checked = []
        for name, value in zip(spec.params, params):
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise ValueError(f"{spec.name} parameter {name!r} must be a number; got "
                                     f"{value!r}") from None
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError(f"{spec.name} parameter {name!r} must be a number; got {value!r}")
            value = float(value)
            if not np.isfinite(value):
                raise ValueError(f"{spec.name} parameter {name!r} must be finite; got {value!r}")
            if name in ("num_iter", "scales") and (value < 0 or value != int(value)):
                raise ValueError(f"{spec.name} parameter {name!r} must be an integer >= 0; got "
                                 f"{format_number(value)}")
            checked.append(value)
        self.params = tuple(checked)
        if isinstance(self.pad, str):
            self.pad = Padding.from_dl2(self.pad)
        elif isinstance(self.pad, (tuple, list)):
            self.pad = Padding(*self.pad)
        if isinstance(self.apo, str):
            self.apo = Apodization.from_dl2(self.apo)
        elif isinstance(self.apo, (tuple, list)):
            self.apo = Apodization(*self.apo)
        if self.constraint is not None:
            c = str(self.constraint).lower()
            if c.startswith("non"):
                c = "nonnegativity"
            elif c in ("no", "none", "0"):
                c = "no"
            elif c.startswith("clip"):
                c = "clipped"
            else:
                raise ValueError(f"constraint must be one of {', '.join(CONSTRAINTS)}; got "
                                 f"{self.constraint!r}.{did_you_mean(c, CONSTRAINTS)}")
            self.constraint = c
        for name in ("norm", "residu", "epsilon"):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                    raise TypeError(f"{name} must be a number; got {value!r}")
                if not np.isfinite(value) or value < 0 or (name == "epsilon" and value == 0):
                    raise ValueError(f"{name} must be finite and {'> 0' if name == 'epsilon' else '>= 0'}"
                                     f"; got {value!r}")
                setattr(self, name, float(value))
        if str(self.wavelets).lower() != "haar":
            raise ValueError(f"wavelets must be 'Haar' (the only family fijibridge implements); "
                             f"got {self.wavelets!r}")

    @property
    def spec(self):
        return ALGORITHMS[self.algorithm]

    @property
    def resolved(self) -> dict:
        """All parameters by name, defaults filled in, with DL2's conversions (γ and λ are
        stored as Java ``float``; iteration counts rounded; ``scales`` truncated)."""
        spec = self.spec
        values = list(self.params) + list(spec.defaults[len(self.params):])
        out = {}
        for name, value in zip(spec.params, values):
            if name == "num_iter":
                out[name] = int(np.floor(value + 0.5))
            elif name == "scales":
                out[name] = int(value)
            elif name in ("mean", "stdev", "poisson"):
                out[name] = float(value)
            else:
                out[name] = float(np.float32(value))
        return out

    @property
    def effective_constraint(self) -> str:
        """Constraint DL2 applies: the algorithm's own (NNLS, BVLS, ICTM) wins over ``-constraint``."""
        return self.spec.forced_constraint or self.constraint or "no"

    def algorithm_text(self) -> str:
        return " ".join([self.algorithm] + [format_number(p) for p in self.params])


def make_options(*, algorithm: str = "RL", num_iter=None, reg=None, step=None, scales=None,
                 params=None, pad=None, apo=None, norm=1.0, constraint=None, residu=None,
                 epsilon=1e-6, haar: str = "dl2", max_growth=MAX_GROWTH) -> DeconvOptions:
    """:class:`DeconvOptions` from :func:`~fijibridge.deconv.deconvolve`'s keywords
    (algorithm parameters by name, or ``params=`` positionally as in DL2 text).

    Examples
    --------
    >>> make_options(algorithm="TM", num_iter=20).algorithm_text()
    'TM 20'
    """
    spec = lookup_algorithm(algorithm)
    keywords = {"num_iter": num_iter, "step": step, "reg": reg, "scales": scales}
    given = {k: v for k, v in keywords.items() if v is not None}
    if params is not None and given:
        raise ValueError("give the algorithm parameters either as params=[...] or as keywords "
                         f"({', '.join(given)}), not both")
    if params is None:
        unknown = [k for k in given if k not in spec.params]
        if unknown:
            raise ValueError(f"algorithm {spec.name} has no parameter {unknown[0]!r}; its "
                             f"parameters: {', '.join(spec.params) or 'none'}")
        params = [given.get(name, default) for name, default in zip(spec.params, spec.defaults)]
        # drop trailing defaults so that to_dl2() writes what the user gave
        while params and spec.params[len(params) - 1] not in given:
            params.pop()
    return DeconvOptions(spec.name, tuple(params), pad=pad, apo=apo,
                         norm=0.0 if norm is None else norm, constraint=constraint,
                         residu=residu, epsilon=epsilon, haar=haar, max_growth=max_growth)


def _segments(text: str):
    found = []
    for kw in KEYWORDS:
        for m in re.finditer(r"(?<!\w)" + re.escape(kw) + r"(?!\w)", text):
            found.append((m.start(), kw))
    found.sort()
    tokens = []
    for i, (start, kw) in enumerate(found):
        end = found[i + 1][0] if i + 1 < len(found) else len(text)
        tokens.append((kw, text[start + len(kw):end].strip()))
    return found, tokens


def _source(keyword: str, value: str) -> str:
    parts = value.split(None, 1)
    if not parts:
        raise ValueError(f"{keyword} needs a source, e.g. '{keyword} file image.tif'; got nothing")
    kind = parts[0].lower()
    rest = parts[1].strip() if len(parts) > 1 else ""
    if kind == "file":
        if not rest:
            raise ValueError(f"{keyword} file needs a file name; got nothing")
        return rest
    if kind in ("platform", "synthetic", "dir", "directory"):
        raise ValueError(f"'{keyword} {kind} …' is not available natively (only '{keyword} file "
                         f"PATH'); run it with engine='imagej' or save the image to a file first")
    raise ValueError(f"{keyword} source must be 'file PATH'; got {value!r}")


def parse_dl2(text: str) -> DeconvOptions:
    """Parse DeconvolutionLab2 command text into :class:`DeconvOptions`.

    Raises
    ------
    ValueError
        Unknown keyword or algorithm (with "did you mean"), non-numeric or too many algorithm
        parameters, missing ``-algorithm``. DL2 itself would silently use defaults there.

    Examples
    --------
    >>> o = parse_dl2("-image file a.tif -psf file p.tif -algorithm RL 50 -pad E2 E2")
    >>> o.algorithm, o.resolved["num_iter"], o.pad.xy
    ('RL', 50, 'E2')
    """
    if not isinstance(text, str):
        raise TypeError(f"DL2 command text must be a string; got {type(text).__name__}")
    found, tokens = _segments(text)
    head = text[:found[0][0]] if found else text
    if head.strip():
        raise ValueError(f"DL2 text must start with a keyword such as -image; got {head.strip()!r}")
    # words that look like options but are not DL2 keywords (DL2 would swallow them silently)
    for kw, value in tokens:
        for word in value.split():
            if re.fullmatch(r"-[A-Za-z][\w]*", word) and kw not in ("-image", "-psf", "-reference", "-path", "-out"):
                raise ValueError(f"unknown DL2 option {word!r}; allowed: {', '.join(KEYWORDS)}."
                                 f"{did_you_mean(word, KEYWORDS)}")
    if not found:
        raise ValueError("no DL2 keyword found; expected e.g. '-image file a.tif -psf file p.tif "
                         "-algorithm RL 50'")
    kw_seen = [kw for kw, _ in tokens]
    fields: dict = {}
    extra: dict = {}
    for kw, value in tokens:
        if kw != "-out" and kw_seen.count(kw) > 1:
            raise ValueError(f"DL2 option {kw} given {kw_seen.count(kw)} times; give it once")
        if kw == "-algorithm":
            words = value.split()
            if not words:
                raise ValueError(f"-algorithm needs a name, one of {', '.join(ALGORITHMS)}")
            spec = lookup_algorithm(words[0])
            params = []
            for i, w in enumerate(words[1:]):
                if spec.wavelets and w.lower() == "haar":
                    continue
                if spec.wavelets and re.fullmatch(r"[A-Za-z]\w*", w):
                    raise ValueError(f"{spec.name}: wavelets must be Haar; got {w!r}")
                if not _NUMBER.fullmatch(w):
                    names = spec.params
                    pname = names[len(params)] if len(params) < len(names) else f"#{len(params) + 1}"
                    raise ValueError(f"{spec.name} parameter {pname!r} must be a number; got {w!r} "
                                     f"(usage: -algorithm {spec.name} "
                                     f"{' '.join(spec.params) or '(no parameters)'})")
                params.append(float(w))
            fields["algorithm"] = spec.name
            fields["params"] = tuple(params)
        elif kw in ("-image", "-psf", "-reference"):
            fields[kw[1:]] = _source(kw, value)
        elif kw == "-pad":
            fields["pad"] = Padding.from_dl2(value)
        elif kw == "-apo":
            fields["apo"] = Apodization.from_dl2(value)
        elif kw == "-norm":
            if value.lower().endswith("no"):
                fields["norm"] = 0.0
            else:
                nums = _numbers(value)
                if not nums:
                    raise ValueError(f"-norm expects a number or 'no'; got {value!r}")
                fields["norm"] = nums[0]
        elif kw == "-constraint":
            fields["constraint"] = value or "no"
        elif kw == "-residu":
            if value.lower().endswith("no"):
                fields["residu"] = None
            else:
                nums = _numbers(value)
                if not nums:
                    raise ValueError(f"-residu expects a number or 'no'; got {value!r}")
                fields["residu"] = nums[0] if nums[0] > 0 else None
        elif kw == "-epsilon":
            nums = _numbers(value)
            if not nums:
                raise ValueError(f"-epsilon expects a number; got {value!r}")
            fields["epsilon"] = nums[0]
        elif kw == "-out":
            extra.setdefault("-out", []).append(value)
        else:
            extra[kw] = value
    if "algorithm" not in fields:
        raise ValueError("DL2 text has no -algorithm (e.g. '-algorithm RL 50')")
    return DeconvOptions(**fields, extra=extra)


def to_dl2(options: DeconvOptions, *, include_extra: bool = True) -> str:
    """Write ``options`` as DL2 command text (canonical order, only given options).

    Examples
    --------
    >>> to_dl2(DeconvOptions("RL", (20,), image="a.tif", psf="p.tif"))
    '-image file a.tif -psf file p.tif -algorithm RL 20'
    """
    parts = []
    for kw in ("image", "psf", "reference"):
        value = getattr(options, kw)
        if value is not None:
            if any(ch.isspace() for ch in str(value)):
                raise ValueError(f"DL2 cannot read a {kw} path with spaces: {value!r}")
            parts.append(f"-{kw} file {value}")
    parts.append(f"-algorithm {options.algorithm_text()}")
    if options.pad is not None:
        parts.append(f"-pad {options.pad.to_dl2()}")
    if options.apo is not None:
        parts.append(f"-apo {options.apo.to_dl2()}")
    if options.norm is not None:
        parts.append("-norm " + ("no" if options.norm == 0 else format_number(options.norm)))
    if options.constraint is not None:
        parts.append(f"-constraint {options.constraint}")
    if options.residu is not None:
        parts.append(f"-residu {format_number(options.residu)}")
    if options.epsilon is not None:
        parts.append(f"-epsilon {format_number(options.epsilon)}")
    if include_extra:
        for kw, value in options.extra.items():
            for v in (value if isinstance(value, list) else [value]):
                parts.append(f"{kw} {v}".rstrip())
    return " ".join(parts)


def split_cli_algorithm(text: str) -> tuple[str, tuple]:
    """``"RL 50"`` → ``("RL", (50.0,))`` for the ``--algorithm`` command-line option."""
    words = shlex.split(text) if isinstance(text, str) else list(text)
    if not words:
        raise ValueError("--algorithm needs a name, e.g. 'RL 50'")
    opts = parse_dl2("-algorithm " + " ".join(words))
    return opts.algorithm, opts.params
