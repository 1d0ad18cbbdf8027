"""ImageJ macros: Fiji ``#@`` script parameters without Java, and macro results.

Fiji passes parameters to a macro through ``#@ Type name`` declarations.  Plain
ImageJ 1.x does not understand them, so :func:`prepare_macro` replaces each
declaration line, **on the same line** (error line numbers stay those of the file),
with a statement that reads the value from the macro argument::

    #@ Float sigma           →   sigma = parseFloat(call("ij.Macro.getValue", getArgument(), "sigma", "NaN"));

Values never enter the macro text: they travel in the argument string, in ImageJ's
``key=value key=[value with spaces]`` option syntax, which is also what the macro
sees from ``getArgument()``.  Only parameter *names* (checked identifiers) are written.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from pathlib import Path

from .._core.atomic import atomic_path, atomic_write_text
from .._core.options import did_you_mean

__all__ = ["MacroParameter", "macro_parameters", "prepare_macro", "format_argument",
           "MacroResult", "read_macro"]

_WORD = re.compile(r"[A-Za-z_][\w.]*")


def _group(text: str, i: int) -> tuple[str, int]:
    """The balanced ``( … )`` group starting at ``text[i]`` (quotes respected)."""
    depth, quote = 0, None
    for j in range(i, len(text)):
        ch = text[j]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[i + 1:j], j + 1
    raise ValueError("unbalanced parenthesis")


def _parse_decl(line: str):
    """``#@ [io] Type [(attrs)] name [(attrs)]`` → (io, type, name, attrs text) or None."""
    rest = line.strip()[2:].strip()
    parts: dict[str, str] = {"io": "", "pre": "", "attrs": ""}
    m = _WORD.match(rest)
    if m and m.group(0).lower() in ("input", "output", "both") and rest[m.end():m.end() + 1].isspace():
        parts["io"] = m.group(0).lower()
        rest = rest[m.end():].strip()
    m = _WORD.match(rest)
    if not m:
        return None
    parts["type"], rest = m.group(0), rest[m.end():].strip()
    try:
        if rest.startswith("("):
            parts["pre"], end = _group(rest, 0)
            rest = rest[end:].strip()
        m = re.match(r"[A-Za-z_]\w*", rest)
        if not m:
            return None
        parts["name"], rest = m.group(0), rest[m.end():].strip()
        if rest.startswith("("):
            parts["attrs"], end = _group(rest, 0)
            rest = rest[end:].strip()
    except ValueError:
        return None
    return parts if rest == "" else None
_NUMBER = {"float", "double", "integer", "int", "long", "short", "byte", "number",
           "java.lang.float", "java.lang.double", "java.lang.integer", "java.lang.long",
           "bigdecimal", "biginteger"}
_INTEGER = {"integer", "int", "long", "short", "byte", "java.lang.integer", "java.lang.long",
            "biginteger"}
_BOOLEAN = {"boolean", "java.lang.boolean"}
_STRING = {"string", "java.lang.string", "file", "java.io.file", "char", "character",
           "colorrgb"}
_IMAGE = {"imageplus", "ij.imageplus", "dataset", "img", "imgplus"}
_SERVICE_HINT = ("service", "context", "logservice", "uiservice", "opservice")


@dataclasses.dataclass(frozen=True)
class MacroParameter:
    """One ``#@`` declaration of a macro."""

    name: str
    type: str
    line: int                       # 1-based line in the macro text
    default: object = None
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    output: bool = False

    @property
    def kind(self) -> str:
        t = self.type.lower()
        if t in _BOOLEAN:
            return "boolean"
        if t in _NUMBER:
            return "integer" if t in _INTEGER else "number"
        if t in _IMAGE:
            return "image"
        if t in _STRING:
            return "string"
        return "unsupported"

    @property
    def required(self) -> bool:
        return self.default is None and not self.output


def _split_attrs(text: str) -> dict[str, str]:
    """``value=2, choices={"a","b"}, label="x, y"`` → dict (commas inside quotes/braces kept)."""
    attrs, depth, quote, cur = {}, 0, None, ""
    parts = []
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote, cur = ch, cur + ch
        elif ch in "{[":
            depth, cur = depth + 1, cur + ch
        elif ch in "}]":
            depth, cur = depth - 1, cur + ch
        elif ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for part in parts:
        if "=" in part:
            key, value = part.split("=", 1)
            attrs[key.strip().lower()] = value.strip()
    return attrs


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def read_macro(source) -> tuple[str, str | None]:
    """``(text, file name or None)``: a :class:`os.PathLike` is a macro file, a str is text."""
    if isinstance(source, os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"macro file not found: {str(path)!r}")
        return path.read_text(encoding="utf-8", errors="replace"), str(path)
    if not isinstance(source, str):
        raise TypeError(f"macro must be text (str) or a file path (pathlib.Path); got "
                        f"{type(source).__name__}")
    return source, None


def macro_parameters(source, *, name: str | None = None) -> list[MacroParameter]:
    """Parse the ``#@`` declarations of a macro (text or ``Path``) without Java.

    Raises ValueError for a declaration that cannot be parsed, naming the line.
    """
    text, file_name = read_macro(source)
    name = name or file_name
    params = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.lstrip().startswith("#@"):
            continue
        m = _parse_decl(line)
        if not m:
            raise ValueError(f"{name or '<macro>'}:{number}: cannot parse script parameter "
                             f"{line.strip()!r}; expected '#@ Type name (attr=value, …)'")
        attrs = _split_attrs(m["attrs"])
        attrs.update(_split_attrs(m["pre"]))
        default = _unquote(attrs["value"]) if "value" in attrs else None
        choices = None
        if "choices" in attrs:
            inner = attrs["choices"].strip().strip("{}")
            choices = tuple(_unquote(c) for c in re.findall(r'"[^"]*"|\'[^\']*\'|[^,\s]+', inner))
        params.append(MacroParameter(
            name=m["name"], type=m["type"], line=number, default=default,
            choices=choices, min=float(attrs["min"]) if "min" in attrs else None,
            max=float(attrs["max"]) if "max" in attrs else None, output=m["io"] == "output"))
    return params


def _check_value(p: MacroParameter, value, where: str) -> str:
    """Validate ``value`` for parameter ``p``; return it as option text."""
    kind = p.kind
    if kind == "boolean":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise TypeError(f"{where}: parameter {p.name!r} is Boolean; got {value!r}")
        return "true" if value else "false"
    if kind in ("number", "integer"):
        if isinstance(value, bool):
            raise TypeError(f"{where}: parameter {p.name!r} is {p.type}; got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise TypeError(f"{where}: parameter {p.name!r} is {p.type} (a number); got "
                            f"{value!r}") from None
        if kind == "integer" and number != int(number):
            raise TypeError(f"{where}: parameter {p.name!r} is {p.type} (an integer); got {value!r}")
        if not math.isfinite(number):
            raise ValueError(f"{where}: parameter {p.name!r} must be finite; got {value!r}")
        if p.min is not None and number < p.min or p.max is not None and number > p.max:
            raise ValueError(f"{where}: parameter {p.name!r} must be within "
                             f"[{p.min}, {p.max}]; got {value!r}")
        return repr(int(number)) if kind == "integer" else repr(number)
    text = str(value)
    if p.choices is not None and text not in p.choices:
        raise ValueError(f"{where}: parameter {p.name!r} must be one of {list(p.choices)}; "
                         f"got {text!r}.{did_you_mean(text, p.choices)}")
    return text


def format_argument(values: dict[str, str]) -> str:
    """ImageJ option text ``key=value key=[a b]`` (what ``getArgument()`` returns)."""
    parts = []
    for key, text in values.items():
        if "]" in text or "\n" in text:
            raise ValueError(f"parameter {key!r}: values cannot contain ']' or newlines "
                             f"(ImageJ option syntax); got {text!r}")
        parts.append(f"{key}=[{text}]" if (" " in text or text == "") else f"{key}={text}")
    return " ".join(parts)


def prepare_macro(source, args: dict | None = None, *, image_titles=()) -> tuple[str, str, str | None]:
    """Rewrite ``#@`` lines and build the argument string.

    Returns ``(macro text for ImageJ 1.x, argument string, file name or None)``.
    Raises ValueError/TypeError for missing, unknown or ill-typed parameters.
    """
    text, name = read_macro(source)
    where = name or "<macro>"
    args = dict(args or {})
    params = macro_parameters(text, name=name)
    declared = {p.name: p for p in params}
    values: dict[str, str] = {}
    for key, value in args.items():
        if not re.fullmatch(r"[A-Za-z_]\w*", str(key)):
            raise ValueError(f"{where}: parameter names must be identifiers; got {key!r}")
        p = declared.get(key)
        if p is None:
            if params:
                raise ValueError(f"{where}: the macro declares no parameter {key!r}; declared: "
                                 f"{', '.join(declared) or 'none'}.{did_you_mean(key, declared)}")
            values[key] = str(value)  # plain getArgument() macro: pass through
            continue
        values[key] = _check_value(p, value, where)
    missing = []
    for p in params:
        if p.output or p.name in values:
            continue
        if p.kind == "image":
            if p.default is None:
                if len(image_titles) == 0:
                    missing.append(f"{p.name} ({p.type}: give an input image)")
                    continue
                values[p.name] = str(list(image_titles)[-1])
            continue
        if p.kind == "unsupported":
            lowered = p.type.lower()
            hint = " (SciJava services exist only in Fiji)" if any(h in lowered for h in _SERVICE_HINT) else ""
            raise TypeError(f"{where}:{p.line}: parameter type {p.type!r} is not supported on "
                            f"ImageJ 1.x{hint}; supported: String, File, numbers, Boolean, ImagePlus")
        if p.default is not None:
            values[p.name] = _check_value(p, p.default, where)
        elif p.kind == "boolean":  # Fiji's default for an unchecked Boolean
            values[p.name] = "false"
        else:
            missing.append(f"{p.name} ({p.type})")
    if missing:
        raise ValueError(f"{where}: missing value for macro parameter(s): {', '.join(missing)}; "
                         "pass them as args={{name: value}} (CLI: --arg NAME=VALUE)")
    lines = text.splitlines()
    for p in params:
        if p.output:
            lines[p.line - 1] = ""
            continue
        get = f'call("ij.Macro.getValue", getArgument(), "{p.name}", "")'
        if p.kind in ("number", "integer"):
            stmt = f"{p.name} = parseFloat({get});"
        elif p.kind == "boolean":
            stmt = f'{p.name} = ({get} == "true");'
        else:
            stmt = f"{p.name} = {get};"
        lines[p.line - 1] = stmt
    code = "\n".join(lines) + "\n"  # ImageJ reports error lines reliably only with a final newline
    return code, format_argument(values), name


@dataclasses.dataclass
class MacroResult:
    """What a macro run leaves behind.

    Attributes
    ----------
    images : dict[str, Image]
        Images left open, by title (pixels, ``TCZYX`` axes, spacing, channel names).
    results : pandas.DataFrame
        The Results table with ImageJ's column names (empty if none).
    log : str
        Text the macro printed (Log window).
    rois : list of roifile.ImagejRoi
        ROI Manager contents.
    """

    images: dict
    results: object
    log: str
    rois: list
    seconds: float = 0.0

    def roi_label_image(self, shape) -> "np.ndarray":
        """ROIs painted as labels 1..n (later ROIs over earlier) in an array of ``shape`` (Y, X)."""
        import numpy as np
        from skimage.draw import polygon

        labels = np.zeros(shape, np.uint16 if len(self.rois) < 65535 else np.uint32)
        for i, roi in enumerate(self.rois, start=1):
            coords = roi.coordinates()
            if coords is None or len(coords) == 0:
                continue
            if len(coords) < 3:  # points/lines: mark the pixels
                xy = np.round(coords).astype(int)
                ok = (xy[:, 1] >= 0) & (xy[:, 1] < shape[0]) & (xy[:, 0] >= 0) & (xy[:, 0] < shape[1])
                labels[xy[ok, 1], xy[ok, 0]] = i
                continue
            rr, cc = polygon(coords[:, 1] - 0.5, coords[:, 0] - 0.5, shape=shape)
            labels[rr, cc] = i
        return labels

    def save(self, output_dir) -> list[Path]:
        """Write ``<title>.tif`` per image, ``results.csv``, ``log.txt`` and ``rois.zip``
        (when there are ROIs) into ``output_dir``, each atomically. Returns the paths."""
        from .._core.tiff import write_tiff

        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for title, img in self.images.items():
            safe = re.sub(r"[^\w.\-]+", "_", title).strip("._") or "image"
            if safe.lower().endswith((".tif", ".tiff")):
                safe = safe.rsplit(".", 1)[0]
            written.append(write_tiff(out / f"{safe}.tif", img))  # axes, spacing, names
        with atomic_path(out / "results.csv") as tmp:
            self.results.to_csv(tmp, index=False)
        written.append(out / "results.csv")
        written.append(atomic_write_text(out / "log.txt", self.log))
        if self.rois:
            import roifile

            with atomic_path(out / "rois.zip") as tmp:
                roifile.roiwrite(tmp, self.rois)
            written.append(out / "rois.zip")
        return written
