"""Data and runs of the study: generate the synthetic data, train and evaluate every run of the plan (reused when
finished), each run in its own process (``python -m valstudy train --config-file``), ``jobs`` at a time."""
from __future__ import annotations

import fcntl
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..config import Profile, config_to_dict
from ..errors import ValstudyError
from ..io import read_json, write_json
from .plan import RunSpec, data_root, run_folder

# Rough L_vv steps per second of one run, per profile, before any run of it finished on this machine (then the
# finished runs' own speed is used): 2-core CPU for smoke and synthetic, one GPU for real.
# synthetic, quick: the study's 122,400 steps (evaluations included) took 93 min at 2 jobs on a 2-core Intel Xeon;
# rehearsal: evaluation-bound.
GUESS_STEPS_PER_S = {"smoke": 5.0, "synthetic": 11.0, "quick": 11.0, "real": 3.0, "rehearsal": 0.05}


def ensure_data(dataset: str, profile: Profile, root: str | Path, seed: int = 0, check_images: bool = False) -> Path:
    """Generate a synthetic dataset unless it is there already (real data is checked, never generated).

    Real data: ``data check`` runs first and its report is printed; ``check_images`` also decodes every image
    (``make study`` does, once; notebooks read the annotations only).
    """
    target = data_root(dataset, profile, root)
    if profile.real_data:
        from ..data.check import check_dataset, format_report
        print(format_report(check_dataset(dataset, target, images=check_images)), flush=True)
        return target
    from ..data.synth import synthesize
    from ..locks import FolderBusyError

    world = target / "extras" / "world.json"
    deadline = time.time() + 900
    while True:
        # Another process (a second notebook, a test worker) may be generating this very folder: wait for it.
        if world.is_file() and not (target / ".synth-in-progress.json").exists():
            w = read_json(world)
            if w.get("size") == profile.data_size and w.get("seed") == seed:
                return target
        try:
            synthesize(dataset, target, size=profile.data_size, seed=seed)
            return target
        except FolderBusyError:
            if time.time() > deadline:
                raise
            time.sleep(1.0)


def _evaluation_version() -> int:
    from ..evaluation import EVALUATION_VERSION
    return EVALUATION_VERSION


def run_state(run_dir: Path) -> str:
    """``finished`` (trained and evaluated by this evaluation), ``stale`` (trained, results from an older
    evaluation or none) or ``missing`` (to train, or to resume)."""
    if not (run_dir / "final.pt").is_file():
        return "missing"
    results = run_dir / "results.json"
    if results.is_file() and read_json(results).get("evaluation_version") == _evaluation_version():
        return "finished"
    return "stale"


def _run(cmd: list[str], threads: int, what: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ValstudyError(f"{what} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")


def train_run(spec: RunSpec, runs_root: str | Path, threads: int = 1) -> tuple[Path, float, str]:
    """Train and evaluate one run unless finished (re-evaluate it when its results are stale); (folder, seconds,
    what was done). A lock beside the folder makes two processes asking for one run train it once."""
    base = Path(runs_root) / spec.name
    base.parent.mkdir(parents=True, exist_ok=True)
    with open(base.parent / f".{base.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run_dir = run_folder(runs_root, spec)
        state, t0 = run_state(run_dir), time.time()
        if state == "finished":
            return run_dir, 0.0, "reused"
        if state == "stale":  # the weights are this configuration's: evaluate again, no training
            _run([sys.executable, "-m", "valstudy", "eval", "--run", str(run_dir)], threads,
                 f"evaluation of {run_dir}")
            how = "re-evaluated"
        else:
            with tempfile.TemporaryDirectory(prefix="valstudy-run-") as tmp:
                cfg_file = write_json(Path(tmp) / "config.json", config_to_dict(spec.config))
                _run([sys.executable, "-m", "valstudy", "train", "--config-file", str(cfg_file), "--quiet",
                      "--run-dir", str(run_dir)], threads, f"run {run_dir}")
            how = "trained" if run_dir.name == base.name else "trained (configuration changed: new folder)"
        write_json(run_dir / "label.json", spec.labels)
        return run_dir, time.time() - t0, how


def ensure_runs(specs: list[RunSpec], runs_root: str | Path, jobs: int = 1, verbose: bool = True) -> list[Path]:
    """Train and evaluate every run not already finished, ``jobs`` at a time (one thread each when jobs > 1);
    prints one line per run. Returns the runs' folders in the order of ``specs``."""
    threads = max(1, (os.cpu_count() or 1) // max(jobs, 1))
    out = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(train_run, s, runs_root, threads) for s in specs]
        for i, (spec, f) in enumerate(zip(specs, futures), 1):
            run_dir, secs, how = f.result()
            out.append(run_dir)
            if verbose:
                print(f"[{i}/{len(specs)}] {spec.name}: {how}" + (f" in {secs:.0f} s" if secs else ""), flush=True)
    return out


def pending(specs: list[RunSpec], runs_root: str | Path) -> list[RunSpec]:
    """The runs of ``specs`` that still need training."""
    return [s for s in specs if run_state(_folder_or_base(runs_root, s)) == "missing"]


def _folder_or_base(runs_root, spec: RunSpec) -> Path:
    try:
        return run_folder(runs_root, spec)
    except ValstudyError:
        return Path(runs_root) / spec.name


def estimate_seconds(specs: list[RunSpec], profile: Profile, runs_root: str | Path, jobs: int = 1) -> float:
    """Rough wall time to train ``specs``: their steps over the speed of this profile's finished runs on this machine
    (``steps_per_s`` in their metrics), or over a per-profile guess when none has finished."""
    speeds = []
    for path in Path(runs_root).glob("*/*/*/metrics.jsonl"):
        for line in reversed(path.read_text().splitlines()[-3:]):
            try:
                speeds.append(float(json.loads(line)["steps_per_s"]))
                break
            except (ValueError, KeyError, TypeError):
                continue  # an evaluation line, or one cut short
    speed = statistics.median(speeds) if speeds else GUESS_STEPS_PER_S.get(profile.name, 5.0)
    steps = sum(s.config.steps + s.config.pretrain_steps for s in specs)
    return steps / max(speed, 1e-6) / max(jobs, 1)


def describe_pending(specs: list[RunSpec], profile: Profile, runs_root: str | Path, jobs: int = 1) -> str:
    """One line: how many runs are to train and roughly how long that takes here."""
    secs = estimate_seconds(specs, profile, runs_root, jobs)
    took = f"{secs / 60:.0f} min" if secs >= 90 else f"{secs:.0f} s"
    return (f"{len(specs)} run(s) of profile {profile.name!r} to train, roughly {took} on this machine; "
            f'PROFILE="smoke" is a quick wiring check')
