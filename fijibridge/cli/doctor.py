"""``fijibridge doctor``: what fijibridge finds on this machine, and the fix for each gap."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys


#: ``fijibridge doctor --help``: what is checked, and the exit status
DESCRIPTION = ("Report Java, the engine chosen, ImageJ version, installed plugins "
               "(DeconvolutionLab2, PSF Generator), Bio-Formats for macros, display and "
               "torch; exit 0 when an engine works.")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("doctor", description=DESCRIPTION,
                              help="check Java, ImageJ/Fiji, plugins, display and torch")
    # grouped in --help: the engine is found as `fijibridge macro` and the pipelines find it
    engine = p.add_argument_group("engine", "which ImageJ/Fiji to look at")
    engine.add_argument("--engine", default="auto", help="auto|imagej|fiji (default: auto)")
    engine.add_argument("--fiji-dir", help="a Fiji.app folder (default: $FIJI_HOME)")
    engine.add_argument("--imagej-jar",
                        help="an ij.jar or ImageJ folder (default: $IMAGEJ_JAR, system)")
    engine.add_argument("--plugins-dir", help="ImageJ plugins folder to inspect")
    p.add_argument("--no-start", action="store_true", help="do not start the engine (faster)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run)


def _check(report, name, ok, detail, fix=None):
    report.append({"check": name, "ok": bool(ok), "detail": detail, "fix": None if ok else fix})


def _bioformats_fix(spec) -> str:
    from ..bridge.bioformats import _DOWNLOAD

    return (f"drop bioformats_package.jar (from {_DOWNLOAD}) into {spec.plugins_dir}, or set "
            "FIJIBRIDGE_BIOFORMATS_JAR to its path; macros that run Bio-Formats Importer / "
            "Macro Extensions need it")


def _check_bioformats(report, spec) -> None:
    """Whether macros can run Bio-Formats (``run("Bio-Formats Importer", …)``, ``Ext.``)."""
    name = "Bio-Formats for macros"
    if spec.kind == "imagej":
        jars = spec.bioformats_jars
        detail = (f"available: {', '.join(map(str, jars))}" if jars else
                  "not found (no FIJIBRIDGE_BIOFORMATS_JAR, no bioformats_package.jar in "
                  f"{spec.plugins_dir})")
        _check(report, name, bool(jars), detail, _bioformats_fix(spec))
    elif spec.kind == "fiji":
        jars = sorted((spec.fiji_dir / "jars").rglob("bio-formats_plugins*.jar"))
        _check(report, name, bool(jars), f"available: {jars[-1]}" if jars else
               f"not found in {spec.fiji_dir / 'jars'}",
               "Fiji ships Bio-Formats: run Help > Update... in Fiji to restore it")


def _check_bioformats_started(report) -> None:
    """Once the engine runs: does ImageJ know ``run("Bio-Formats Importer")``?"""
    from ..bridge.bioformats import macro_commands_available

    item = next((i for i in report if i["check"] == "Bio-Formats for macros"), None)
    if item is None or not item["ok"]:
        return
    if not macro_commands_available():
        item.update(ok=False, detail=item["detail"] + ", but ImageJ has no "
                    "\"Bio-Formats Importer\" command (is the jar complete?)",
                    fix="replace the jar with bioformats_package.jar from "
                        "https://www.openmicroscopy.org/bio-formats/downloads/")
    else:
        item["detail"] += " (run(\"Bio-Formats Importer\") works)"


def run(args) -> int:
    from .. import __version__
    from .._core.errors import FijiBridgeError
    from ..bridge import find_plugin_jars, resolve_engine
    from ..bridge._java import find_java_home, java_version

    report: list[dict] = []
    _check(report, "fijibridge", True, f"{__version__} on Python {platform.python_version()}")
    java_ok = False
    try:
        home = find_java_home()
        _check(report, "java", True, f"{java_version(home)} at {home}")
        java_ok = True
    except FijiBridgeError as e:
        _check(report, "java", False, str(e), "apt-get install openjdk-17-jre-headless, or set JAVA_HOME")
    spec = None
    try:
        spec = resolve_engine(args.engine, fiji_dir=args.fiji_dir, imagej_jar=args.imagej_jar,
                              plugins_dir=args.plugins_dir)
        where = spec.fiji_dir or spec.ij_jar or "running JVM"
        _check(report, "engine", True, f"{spec.kind} ({where})")
    except FijiBridgeError as e:
        _check(report, "engine", False, str(e),
               "apt-get install imagej xvfb, or set FIJI_HOME to a Fiji.app")
    display = os.environ.get("DISPLAY")
    xvfb = shutil.which("Xvfb")
    if spec is not None and spec.kind == "imagej":
        _check(report, "display", bool(display or xvfb),
               f"DISPLAY={display}" if display else (f"none; a private Xvfb will be started ({xvfb})"
                                                     if xvfb else "none, and no Xvfb"),
               "apt-get install xvfb")
    if spec is not None:
        plugins = find_plugin_jars(spec.plugins_dir)
        for name, jar in plugins.items():
            _check(report, f"plugin {name}", jar is not None,
                   f"installed: {jar}" if jar else f"not installed in {spec.plugins_dir}",
                   f"copy its jar into {spec.plugins_dir} (from the ImageJ update site); "
                   "fijibridge's native implementation is used meanwhile")
        _check_bioformats(report, spec)
    engine_ok = False
    if spec is not None and java_ok and not args.no_start:
        try:
            from ..bridge import open_session

            session = open_session(args.engine, fiji_dir=args.fiji_dir,
                                   imagej_jar=args.imagej_jar, plugins_dir=args.plugins_dir)
            result = session.run_macro('print(getVersion());')
            _check(report, "imagej", True, f"ImageJ {result.log.strip()} started in "
                   f"{session.startup_seconds:.1f} s; Java {session.java_version}")
            engine_ok = True
            _check_bioformats_started(report)
        except Exception as e:  # report every failure; doctor must not crash
            _check(report, "imagej", False, f"{type(e).__name__}: {e}",
                   "run with -v for details; check the items above")
    elif spec is not None and java_ok:
        engine_ok = True
    try:
        import torch

        cuda = torch.cuda.is_available()
        device = f"cuda ({torch.cuda.get_device_name(0)})" if cuda else "cpu"
        _check(report, "torch", True, f"{torch.__version__}, device {device}, "
               f"{torch.get_num_threads()} threads")
    except ImportError:
        _check(report, "torch", False, "not installed",
               "pip install torch==2.13.0 (CPU build on machines without a GPU)")
    if args.json:
        print(json.dumps({"ok": engine_ok, "checks": report}, indent=2))
    else:
        for item in report:
            mark = "ok " if item["ok"] else "!! "
            print(f"{mark}{item['check']:<26} {item['detail']}")
            if item["fix"]:
                print(f"   {'':<26} fix: {item['fix']}")
        print("engine works" if engine_ok else "no working engine", file=sys.stderr)
    return 0 if engine_ok else 1
