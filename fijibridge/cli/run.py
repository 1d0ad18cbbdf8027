"""``fijibridge run PIPELINE.yml``: run a pipeline file.

Outputs go to ``--output-dir`` (default ``results/<pipeline name>``): one folder per
step, ``run.json`` and ``report.html``.  The exit code is 0 when every item got
through every step, 1 when something failed (the failures are listed).
"""

from __future__ import annotations

import argparse
import logging

from ._common import add_common_options, is_quiet

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "run", help="run a pipeline file (macros, Python and built-in steps)",
        description="Run a pipeline file; see pipelines/ for examples.")
    p.add_argument("pipeline", metavar="PIPELINE",
                   help="pipeline file, or a shipped name (see: fijibridge pipelines)")
    p.add_argument("--input", action="append", metavar="PATH",
                   help="input images (any format fijibridge reads): a file, folder or glob "
                        "(repeatable); replaces the file's items source (e.g. the synthetic "
                        "cohort)")
    p.add_argument("--samples", metavar="SHEET.csv",
                   help="sample sheet: CSV with columns file, condition, individual[, other "
                        "metadata]; files relative to the sheet; with --input, the sheet's "
                        "files must be among them")
    p.add_argument("--spacing", metavar="Z,Y,X",
                   help="voxel size in µm of the input files (Y,X for 2-D), for files that "
                        "state none; replaces what a file states; recorded in run.json")
    p.add_argument("--resume", action="store_true",
                   help="skip items whose outputs exist for the same parameters and inputs")
    p.add_argument("--executor", default=None, help="sequential, processes or dask "
                   "(default: sequential; dask with --workers > 1 or --scheduler)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--workers", type=int, default=1, metavar="N",
                   help="worker processes (processes / dask executors)")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="address of a running Dask scheduler (e.g. tcp://host:8786)")
    g.add_argument("--cluster", metavar="FILE",
                   help="YAML file whose 'executor:' section says where workers run "
                        "(kind: local, slurm or pbs; cores, memory, walltime, queue …)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value of the file (e.g. --set cohort.n=5)")
    p.add_argument("--profile", metavar="NAME",
                   help="apply a profile declared in the file (e.g. small, for CI)")
    p.add_argument("--small", action="store_const", const="small", dest="profile",
                   help="same as --profile small")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_common_options(p, output_help="default results/<pipeline name>; a folder apart "
                                      "from the inputs (neither holding them nor inside an "
                                      "input folder)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    import sys
    from pathlib import Path

    from .._core.paths import confined_path
    from ..pipeline import load_pipeline, parse_overrides, run_pipeline
    from ..pipeline.store import check_spacing

    overrides = parse_overrides(args.set)
    spec = load_pipeline(args.pipeline, overrides=overrides, profile=args.profile)
    executor = args.executor or ("dask" if (args.scheduler or args.workers > 1) else "sequential")
    if args.cluster:
        if args.executor:
            raise ValueError("--cluster names the executor itself (its kind:); drop "
                             f"--executor {args.executor}")
        executor = Path(args.cluster)
    out = (Path(args.output_dir) if args.output_dir else
           confined_path("results", spec.name, what="pipeline name (default output folder)"))
    summary = run_pipeline(spec, output_dir=out, inputs=args.input, resume=args.resume,
                           executor=executor, workers=args.workers, scheduler=args.scheduler,
                           progress=not (args.no_progress or is_quiet(args)),
                           overrides=overrides, samples=args.samples,
                           spacing=check_spacing(args.spacing, name="--spacing")
                           if args.spacing else None)
    for sid, m in summary.metrics.items():
        acc = m.get("accuracy")
        if acc is not None:
            print(f"{sid}: accuracy {acc:.3f} ± {m.get('accuracy_std', 0):.3f}")
    print(f"{summary.items} items in {summary.seconds:.1f} s -> {summary.output_dir} "
          f"(report: {summary.report_html.name}, {summary.run_json.name})")
    if summary.failures:
        print(f"{len(summary.failures)} failure(s):", file=sys.stderr)
        for f in summary.failures:
            print(f"  {f['step']} [{f['item'] or 'dataset'}]: {f['error']}", file=sys.stderr)
        return 1
    return 0
