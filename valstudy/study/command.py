"""``python -m valstudy study {data,train,notebooks,all}``: the study driver behind ``make study``."""
from __future__ import annotations

import argparse
import sys
import time

from ..config import DATASETS, PROFILES
from ..errors import ValstudyError
from .notebooks import execute_notebooks
from .plan import REPO, absolute, get_profile, plan, profile_paths
from .runner import describe_pending, ensure_data, ensure_runs, pending

USAGE = """\
  data       generate the synthetic datasets (reused when present; real data is checked)
  train      train and evaluate every run of the plan (finished runs reused, stale results re-evaluated)
  notebooks  execute every notebook for every dataset (papermill) into build/notebooks/<profile>/
  all        the three in turn

Profiles: smoke (tiny data, a few steps: the tests and the notebooks' stored defaults), synthetic (the CPU study on
the generated data), real (the paper's configurations on real data; needs a GPU), rehearsal (the real route on a CPU:
real annotation files, stand-in images allowed, a tiny model for a few steps, evaluation at the real gallery sizes)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The study's arguments, on a parser of its own or on the ``study`` subcommand of ``valstudy``."""
    p.description, p.epilog = "The whole study: data, runs, notebooks, figures.", USAGE
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("stage", choices=("data", "train", "notebooks", "all"))
    p.add_argument("--data", default="synthetic", choices=("synthetic", "real"), help="which data the study uses")
    p.add_argument("--profile", default=None, choices=tuple(PROFILES), help="default: from --data")
    p.add_argument("--data-root", default=None, help="real data: the folder holding fashion200k/ shoes/ fashioniq/")
    p.add_argument("--jobs", type=int, default=2, help="runs trained at once, one process each")
    p.add_argument("--datasets", nargs="*", default=None, choices=DATASETS,
                   help="default: all three (synthetic), those present under --data-root (real data)")


def run(args: argparse.Namespace) -> int:
    """Run the stage ``args.stage``; a ValstudyError propagates (the CLI prints it in one line)."""
    profile = args.profile or args.data
    prof = get_profile(profile)
    data, runs, figures = profile_paths(profile, args.data_root if prof.real_data else None)
    if args.datasets is None:
        args.datasets = [d for d in DATASETS if (data / d).is_dir()] if prof.real_data else list(DATASETS)
        if not args.datasets:
            raise ValstudyError(f"{data}: holds none of {', '.join(f'{d}/' for d in DATASETS)}; see data/README.md "
                                f"for the layout, or name the datasets with --datasets")
    t0 = time.time()
    for ds in args.datasets:
        print(f"data {ds}: {ensure_data(ds, prof, data, check_images=True)}", flush=True)
    if args.stage in ("train", "all"):
        specs = [s for ds in args.datasets for s in plan(ds, prof, data)]
        todo = pending(specs, runs)
        print(f"{len(specs)} runs in the plan, {args.jobs} at a time; " + (
            describe_pending(todo, prof, runs, args.jobs) if todo else "none to train"), flush=True)
        ensure_runs(specs, runs, jobs=args.jobs)
    if args.stage in ("notebooks", "all"):
        # Non-smoke profiles also keep each executed notebook under notebooks/executed/ (the book is built there).
        executed = None if profile in ("smoke", "rehearsal", "quick") else REPO / "notebooks" / "executed" / (
            "" if profile == "synthetic" else profile)
        execute_notebooks(profile, data, runs, figures, absolute(f"build/notebooks/{profile}"),
                          datasets=tuple(args.datasets), executed=executed)
    print(f"study stage '{args.stage}' ({profile}) done in {time.time() - t0:.0f} s", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m valstudy.study ...``, the same as ``python -m valstudy study ...``; exit status 2 on a user error."""
    p = argparse.ArgumentParser(prog="python -m valstudy study")
    add_arguments(p)
    try:
        return run(p.parse_args(argv))
    except ValstudyError as e:
        print(f"valstudy study: error: {e}", file=sys.stderr)
        return 2
