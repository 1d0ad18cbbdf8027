"""The real DeconvolutionLab2 plugin, through fijibridge's Java bridge.

The macro is fixed text that receives the option string as a parameter (no values pasted
into macro code)::

    #@ String dl2_options
    run("DeconvolutionLab2 Run", dl2_options);

:func:`dl2_run_options` builds that option string from :class:`DeconvOptions` with what a
headless, reproducible run needs: ``-out stack NAME noshow -path DIR`` (``noshow`` on every
``-out``), ``-monitor console`` and ``-multithreading no`` (the macro then waits for the
result instead of returning while DL2 still works in another thread).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from .._core.errors import PluginMissingError
from .options import DeconvOptions, parse_dl2, to_dl2

__all__ = ["DL2_MACRO", "dl2_macro", "dl2_run_options", "find_dl2_jar", "run_dl2", "DL2_INSTALL"]

log = logging.getLogger(__name__)

#: ImageJ macro running DL2 with the options given as the script parameter ``dl2_options``
DL2_MACRO = '#@ String dl2_options\nrun("DeconvolutionLab2 Run", dl2_options);\n'
DL2_INSTALL = ("install DeconvolutionLab2: download DeconvolutionLab_2.jar from "
               "http://bigwww.epfl.ch/deconvolution/deconvolutionlab2/ into that plugins folder "
               "(Fiji: Help > Update… > Manage update sites is not needed), then restart")


def dl2_run_options(options: DeconvOptions | str, *, out_name: str = "result",
                    out_dir=None) -> str:
    """DL2 option text for a headless run writing ``out_dir/out_name.tif``.

    Existing ``-out``, ``-monitor``, ``-multithreading`` and ``-path`` options are replaced;
    every ``-out`` gets ``noshow``.
    """
    if isinstance(options, str):
        options = parse_dl2(options)
    if any(ch.isspace() for ch in out_name) or not out_name:
        raise ValueError(f"out_name must be one word; got {out_name!r}")
    text = to_dl2(options, include_extra=False)
    keep = {k: v for k, v in options.extra.items()
            if k not in ("-out", "-monitor", "-multithreading", "-path")}
    for kw, value in keep.items():
        text += f" {kw} {value}".rstrip()
    text += f" -out stack {out_name} noshow"
    if out_dir is not None:
        out_dir = str(out_dir)
        if any(ch.isspace() for ch in out_dir):
            raise ValueError(f"DL2 cannot write to a folder with spaces: {out_dir!r}")
        text += f" -path {out_dir}"
    text += " -monitor console -multithreading no"
    return text


def dl2_macro(options: DeconvOptions | str, *, out_name: str = "result", out_dir=None):
    """``(macro_code, args)`` for ``session.run_macro(macro_code, args=args)``."""
    return DL2_MACRO, {"dl2_options": dl2_run_options(options, out_name=out_name, out_dir=out_dir)}


def find_dl2_jar(plugins_dir) -> Path | None:
    """The DeconvolutionLab2 jar in ``plugins_dir`` (searched recursively), or None.

    Plugin discovery lives in the bridge: see :func:`fijibridge.bridge.plugins.find_dl2_jar`.
    """
    from ..bridge.plugins import find_dl2_jar as _find

    return _find(plugins_dir)


def _dl2_log_lines(log_text: str, limit: int = 12) -> str:
    """The last lines DL2 wrote to the log (``-monitor console``), one string."""
    lines = [ln.strip() for ln in (log_text or "").splitlines() if ln.strip()]
    return " | ".join(lines[-limit:]) or "(DL2 wrote nothing to the log)"


def run_dl2(image, psf, options: DeconvOptions | str, *, session, work_dir=None) -> np.ndarray:
    """Run the real DeconvolutionLab2 plugin in ``session`` (from
    ``fijibridge.bridge.open_session(engine="imagej"|"fiji")``) and return its result.

    ``image`` and ``psf`` are arrays (written as TIFF files into ``work_dir``) or file paths;
    the ``-image``/``-psf`` of ``options`` are replaced by them.

    Raises
    ------
    ValueError
        Options DL2 would not understand (an unknown algorithm: DL2 silently runs Identity),
        checked with the native parser before any Java work.
    FileNotFoundError
        ``image`` or ``psf`` is a path to no file (the message says which and where).
    PluginMissingError
        No DeconvolutionLab2 jar in ``session.plugins_dir``; the message names the folder and
        how to install the plugin.
    EngineError
        DL2 wrote no result; the message gives its last log lines.
    """
    from .._core.errors import EngineError
    from .._core.tiff import read_tiff, write_tiff

    if isinstance(options, str):
        options = parse_dl2(options)
    # DeconvOptions is mutable: check the text DL2 will get with the native parser, before
    # any Java work (DL2 runs Identity for an algorithm it does not know, silently)
    parse_dl2(to_dl2(options, include_extra=False))
    for name, value in (("image", image), ("PSF", psf)):
        if isinstance(value, (str, Path)) and not Path(value).is_file():
            raise FileNotFoundError(f"{name} file not found: {str(Path(value).resolve())!r}")
    plugins = getattr(session, "plugins_dir", None)
    if plugins is None or find_dl2_jar(plugins) is None:
        raise PluginMissingError(f"DeconvolutionLab2 is not installed: no DeconvolutionLab2*.jar "
                                 f"in {str(plugins)!r} (searched recursively); {DL2_INSTALL}")
    tmp = tempfile.TemporaryDirectory(prefix="fijibridge-dl2-", dir=work_dir)
    with tmp as folder:
        folder = Path(folder)
        paths = {}
        for name, value in (("image", image), ("psf", psf)):
            if isinstance(value, (str, Path)):
                paths[name] = str(Path(value).resolve())
            else:
                p = folder / f"{name}.tif"
                write_tiff(p, np.asarray(value, dtype=np.float32))
                paths[name] = str(p)
        run_options = DeconvOptions(**{**options.__dict__, **paths})
        code, args = dl2_macro(run_options, out_name="result", out_dir=folder)
        parse_dl2(args["dl2_options"])  # exactly what DL2 receives
        log.info("DeconvolutionLab2 Run %s", args["dl2_options"])
        result = session.run_macro(code, args=args)  # MacroError on a macro failure
        out = folder / "result.tif"
        if not out.is_file():
            raise EngineError(f"DeconvolutionLab2 wrote no result (image {paths['image']!r}, "
                              f"PSF {paths['psf']!r}; options: {args['dl2_options']}); DL2 said: "
                              f"{_dl2_log_lines(result.log)}")
        return np.asarray(read_tiff(out).data, dtype=np.float32)
