"""``python -m valstudy study STAGE``: the study driver behind ``make study``, ``make figures`` and ``make verify``."""
from __future__ import annotations

import argparse
import time

from ..config import DATASETS, PROFILES
from ..errors import ValstudyError
from .executor import SlurmOptions, close, dashboard, open_client
from .notebooks import NOTEBOOKS, PER_DATASET, notebook_jobs, notebook_task
from .plan import REPO, absolute, get_profile, plan, profile_paths
from .runner import StudyReport, describe_pending, ensure_runs, to_do, wait_all

USAGE = """\
stages:
  data       generate the synthetic datasets (reused when present); real data is checked
  train      bring every run of the plan to a current record: train, evaluate and measure what is missing
  notebooks  execute every notebook for every dataset (papermill) from the records
  all        train, then notebooks
  figures    notebooks from the committed records, training nothing (make figures)
  verify     retrain a random sample of recorded runs here and report how far each number moves (make verify)

profiles (default: $VALSTUDY_PROFILE, else from --data):
  synthetic  the study: the generated worlds, every method and ablation over the planned random seeds
  quick      a first look: one random seed, no ablations (records and figures under build/quick/)
  smoke      a wiring check: tiny data, 12-step runs (build/smoke/); what make test runs the notebooks with
  real       the paper's configurations on real data (a GPU per run)
  rehearsal  the real route on a CPU: real annotation files, stand-in images allowed, a tiny model for 2 steps

where tasks run (Dask): a local cluster with one single-threaded worker per core (per GPU on a GPU machine) unless
--jobs N, --scheduler tcp://HOST:PORT (or $DASK_SCHEDULER_ADDRESS) or --cluster slurm says otherwise."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The study's arguments, on the ``study`` subcommand of ``python -m valstudy``."""
    p.description, p.epilog = "The whole study: data, runs, records, notebooks, figures.", USAGE
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("stage", choices=("data", "train", "notebooks", "all", "figures", "verify"))
    p.add_argument("--data", default="synthetic", choices=("synthetic", "real"), help="which data the study uses")
    p.add_argument("--profile", default=None, choices=tuple(PROFILES), help="default: from --data")
    p.add_argument("--data-root", default=None, help="real data: the folder holding fashion200k/ shoes/ fashioniq/")
    p.add_argument("--runs-root", default=None, help="run folders (default: the profile's, e.g. runs/synthetic)")
    p.add_argument("--records-root", default=None, help="records (default: the profile's, e.g. records/synthetic)")
    p.add_argument("--figures-dir", default=None, help="figures (default: the profile's, e.g. figures/)")
    p.add_argument("--datasets", nargs="*", default=None, choices=DATASETS,
                   help="default: all three (synthetic), those present under --data-root (real data)")
    p.add_argument("--fresh", action="store_true",
                   help="retrain every run of the plan, ignoring records (finished run folders here are reused)")
    p.add_argument("--jobs", type=int, default=None, help="local workers (default: one per core, or per GPU)")
    p.add_argument("--scheduler", default=None, help="a running Dask scheduler, tcp://HOST:PORT")
    p.add_argument("--cluster", default=None, choices=("local", "slurm"), help="start a cluster (default: local)")
    s = SlurmOptions()
    p.add_argument("--slurm-jobs", type=int, default=s.jobs, help="Slurm jobs (workers) to start")
    p.add_argument("--slurm-queue", default=None, help="Slurm partition")
    p.add_argument("--slurm-account", default=None)
    p.add_argument("--slurm-walltime", default=s.walltime)
    p.add_argument("--slurm-memory", default=s.memory)
    p.add_argument("--slurm-gpus", type=int, default=0, help="GPUs per Slurm job")
    p.add_argument("--sample", type=int, default=6, help="verify: how many recorded runs to retrain")
    p.add_argument("--verify-seed", type=int, default=None, help="verify: the sample's random seed (default: new)")


def _datasets(args, prof, paths) -> list[str]:
    if args.datasets is not None:
        return list(args.datasets)
    if not prof.real_data:
        return list(DATASETS)
    found = [d for d in DATASETS if (paths.data / d).is_dir()]
    if not found:
        raise ValstudyError(f"{paths.data}: holds none of {', '.join(f'{d}/' for d in DATASETS)}; see data/README.md "
                            f"for the layout, or name the datasets with --datasets")
    return found


def run(args: argparse.Namespace) -> int:
    """Run the stage ``args.stage``; a ValstudyError propagates (the CLI prints it in one line)."""
    prof = get_profile(args.profile or (args.data if args.data == "real" else None))
    paths = profile_paths(prof, data=args.data_root if prof.real_data else None, runs=args.runs_root,
                          records=args.records_root, figures=args.figures_dir)
    datasets = _datasets(args, prof, paths)
    specs = [s for ds in datasets for s in plan(ds, prof, paths.data)]
    if args.stage == "verify":
        from .verify import verify
        return verify(args, prof, paths, specs)
    t0, report = time.time(), StudyReport()
    client, cluster, where = open_client(args.scheduler, args.cluster, args.jobs, SlurmOptions(
        jobs=args.slurm_jobs, queue=args.slurm_queue, account=args.slurm_account, walltime=args.slurm_walltime,
        memory=args.slurm_memory, gpus=args.slurm_gpus))
    try:
        workers = max(len(client.scheduler_info().get("workers", {})), 1)
        link = dashboard(client)
        print(f"{where}" + (f"; dashboard {link}" if link else ""), flush=True)
        if args.stage == "data":
            from .tasks import data_task
            futures = {ds: client.submit(data_task, ds, prof, str(paths.data), True, key=f"data-{ds}", pure=False)
                       for ds in datasets}
            wait_all(futures, report, "data", progress=False)
        runs = {}
        if args.stage in ("train", "all"):
            todo = to_do(specs, paths, args.fresh)
            print(f"{len(specs)} runs in the plan; " + (describe_pending(todo, prof, paths, workers) if todo
                                                       else "every one recorded"), flush=True)
            exported = tuple(f"{ds}/{name}" for ds in datasets for name in prof.exported)
            report = ensure_runs(client, specs, prof, paths, args.fresh, exported, check_images=prof.real_data)
        if args.stage in ("notebooks", "all", "figures"):
            if args.stage == "figures":
                missing = to_do(specs, paths)
                if missing:
                    raise ValstudyError(f"{len(missing)} of {len(specs)} runs have no current record (first: "
                                        f"{missing[0].name}); run `make study` to train them")
            failed = {name.split("/")[0] for name, _ in report.failed}
            executed = absolute(prof.executed_dir) if prof.executed_dir else None
            out = absolute(f"build/notebooks/{prof.name}")
            params = {"DATA_ROOT": str(paths.data)} if prof.real_data else {}
            figures = str(paths.figures) if args.figures_dir else None
            retime = {"RETIME": True} if args.stage == "all" and args.fresh else {}  # make study times again
            jobs = {f"{nb}_{ds}": client.submit(notebook_task, nb, ds, prof.name, str(out),
                                                {**params, **(retime if nb == "costs" else {})},
                                                str(executed) if executed else None, figures=figures,
                                                key=f"notebook-{nb}-{ds}", pure=False)
                    for nb, ds in notebook_jobs(prof, tuple(d for d in datasets if d not in failed))}
            wait_all(jobs, report, "notebooks")
        report.raise_failures()
    finally:
        close(client, cluster)
    print(f"study stage '{args.stage}' ({prof.name}) done in {time.time() - t0:.0f} s", flush=True)
    return 0


__all__ = ["add_arguments", "run", "NOTEBOOKS", "PER_DATASET", "REPO"]
