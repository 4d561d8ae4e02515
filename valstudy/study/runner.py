"""The study on an executor: which runs are to do, the task graph (data, then runs, then notebooks), progress, and
the report at the end.

A run whose record holds the plan's configuration (and the current evaluation and measures versions) is not done
again, whichever machine made the record, unless the study is asked to retrain everything (``fresh``: ``make
study``). Data generation is a task each run that reads the dataset waits for; notebooks wait for the runs of their
dataset. A run that fails for its own reason fails once, with its error; every other run goes on, and the study
reports the failures at the end. A worker that dies mid-run is Dask's to notice: the run goes to another worker and
resumes from its last checkpoint.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import PROFILES, Profile, config_hash
from ..errors import ValstudyError
from ..io import read_json
from .plan import RunSpec, StudyPaths, absolute
from .records import machine, record_path, record_state
from .tasks import _evaluation_version, _measures_version, data_task, ensure_data, measures_for, run_task


def versions(spec: RunSpec | None = None) -> dict:
    """The evaluation and measures versions ``spec``'s record must carry to count as current (a run without
    measures needs no measures version)."""
    measures = _measures_version() if spec is None or measures_for(spec) else None
    return {"evaluation_version": _evaluation_version(), "measures_version": measures}


def to_do(specs: list[RunSpec], paths: StudyPaths, fresh: bool = False) -> list[RunSpec]:
    """The runs of ``specs`` without a current record (all of them when ``fresh``)."""
    if fresh:
        return list(specs)
    return [s for s in specs if record_state(s, paths.records, paths.data, versions(s)) != "recorded"]


def estimate_seconds(specs: list[RunSpec], profile: Profile, paths: StudyPaths, workers: int) -> float:
    """Rough wall time of ``specs`` on ``workers`` workers: their steps over the median training speed (steps per
    second of a run on one worker) of the records made on this kind of machine (same CPU), else of those made on any
    machine, else the profile's guess. The records read are this profile's and those of the profiles that train on
    the same synthetic data (in a fresh clone, ``quick`` reads the committed study's)."""
    folders = [paths.records] + [absolute(p.records_dir) for p in PROFILES.values()
                                 if p.name != profile.name and p.data_size == profile.data_size != "real"]
    here, speeds = machine()["cpu"], {True: [], False: []}
    for path in (path for folder in dict.fromkeys(folders) for path in folder.glob("*/*/*.json")):
        record = read_json(path)
        meta, steps = record.get("meta", {}), record.get("config", {}).get("steps")
        train = meta.get("seconds", {}).get("train")
        if train and train["wall"] > 0 and steps and len(meta.get("workers", [])) == 1:
            speeds[meta.get("machine", {}).get("cpu") == here].append(steps / train["wall"])
    measured = speeds[True] or speeds[False]
    speed = statistics.median(measured) if measured else profile.speed_guess
    steps = sum(s.config.steps + s.config.pretrain_steps for s in specs)
    return steps / max(speed, 1e-6) / max(workers, 1)


def describe_pending(specs: list[RunSpec], profile: Profile, paths: StudyPaths, workers: int) -> str:
    """One line: how many runs are to train and roughly how long that takes here."""
    secs = estimate_seconds(specs, profile, paths, workers)
    took = f"{secs / 60:.0f} min" if secs >= 90 else f"{secs:.0f} s"
    return (f"{len(specs)} run(s) of profile {profile.name!r} to bring to a record, roughly {took} of training on "
            f"{workers} worker(s) of this machine")


@dataclass
class StudyReport:
    """What one pass of the study did."""

    done: list[dict] = field(default_factory=list)       # run_task summaries
    failed: list[tuple[str, str]] = field(default_factory=list)  # (run or notebook, one-line error)
    recorded: int = 0                                     # runs skipped: their record is current

    def raise_failures(self) -> None:
        """A ValstudyError listing every failure (after every other task has finished)."""
        if self.failed:
            lines = "; ".join(f"{name}: {err}" for name, err in self.failed)
            raise ValstudyError(f"{len(self.failed)} task(s) failed (every other result is kept): {lines}")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}" if not isinstance(exc, ValstudyError) else text[-1]


def run_key(spec: RunSpec) -> str:
    """The run's Dask key: its name and its configuration's hash, so two runs of one name and other settings (the
    study's run and its doubled one, say) submitted to one client are two tasks, never one result served twice."""
    return f"run-{spec.name}-{config_hash(spec.config)}"


def submit_runs(client, specs: list[RunSpec], profile: Profile, paths: StudyPaths, fresh: bool = False,
                export: tuple[str, ...] = (), check_images: bool = False, threads: int = 1) -> tuple[dict, dict, int]:
    """Submit the data and run tasks of ``specs`` to ``client``: ({run name: future}, {dataset: future},
    how many runs were skipped as recorded). Runs named in ``export`` also copy their weights next to their record."""
    todo = to_do(specs, paths, fresh)
    for folder in (paths.data, paths.runs, paths.records):
        folder.mkdir(parents=True, exist_ok=True)
    datasets = sorted({d for s in todo for d in s.needs})
    data = {ds: client.submit(data_task, ds, profile, str(paths.data), check_images, key=f"data-{ds}", pure=False)
            for ds in datasets}
    runs = {s.name: client.submit(run_task, s, paths, threads, s.name in export,
                                  after=tuple(data[d] for d in s.needs), key=run_key(s), pure=False)
            for s in todo}
    return runs, data, len(specs) - len(todo)


def wait_all(futures: dict, report: StudyReport, bar_label: str = "runs", progress: bool = True) -> None:
    """Wait for every future (a progress bar with the time left), collecting results and one-line failures."""
    from distributed import as_completed

    if not futures:
        return
    names = {f.key: name for name, f in futures.items()}
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(futures), desc=bar_label, unit="run" if bar_label == "runs" else "task", smoothing=0)
    for fut in as_completed(list(futures.values())):
        name = names[fut.key]
        try:
            report.done.append(fut.result())
        except Exception as e:  # the task's own error, or KilledWorker after too many worker deaths
            report.failed.append((name, _one_line(e)))
            if bar is not None:
                bar.write(f"FAILED {name}: {_one_line(e)}")
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()


def ensure_runs(client, specs: list[RunSpec], profile: Profile, paths: StudyPaths, fresh: bool = False,
                export: tuple[str, ...] = (), progress: bool = True, check_images: bool = False) -> StudyReport:
    """Bring every run of ``specs`` to a current record on ``client``'s cluster; the report of what happened."""
    t0 = time.time()
    runs, data, recorded = submit_runs(client, specs, profile, paths, fresh, export, check_images)
    report = StudyReport(recorded=recorded)
    wait_all(data, report, "data", progress=False)
    wait_all(runs, report, "runs", progress)
    if progress:
        print(f"{len(report.done)} run(s) done, {recorded} already recorded, {len(report.failed)} failed, in "
              f"{time.time() - t0:.0f} s", flush=True)
    return report


def pending(specs: list[RunSpec], paths: StudyPaths) -> list[RunSpec]:
    """The runs of ``specs`` whose record is missing or stale."""
    return to_do(specs, paths)


def needs_measures(spec: RunSpec) -> tuple[str, ...]:
    """The measures ``spec``'s record carries (re-exported for the notebooks' helpers)."""
    return measures_for(spec)


def record_of(spec: RunSpec, paths: StudyPaths) -> dict:
    """The record of one run; a missing one stops with a message naming it and how to make it."""
    path = record_path(paths.records, spec)
    if not path.is_file():
        raise ValstudyError(f"{path}: no record of run {spec.name}; run `make study` (or `python -m valstudy study "
                            f"train`) to train it")
    return read_json(path)
