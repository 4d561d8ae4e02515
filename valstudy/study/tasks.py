"""What a Dask worker does for the study: generate a dataset, bring one run to its record, execute one notebook.

Every task is a plain function of picklable arguments, so any executor can run it (``valstudy.study.executor``
submits them to Dask). A run's work happens in child processes (``python -m valstudy train / eval / measure``) that
read and write the run folder; the task waits for them, writes the run's record and returns a small summary. A child
dies with the worker that started it (Linux ``PR_SET_PDEATHSIG``), so a worker killed mid-run leaves only the run
folder's last checkpoint behind: the task, retried on another worker, resumes from it.
"""
from __future__ import annotations

import ctypes
import fcntl
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..config import Profile, config_to_dict
from ..errors import ValstudyError
from ..io import append_line, read_json, write_json
from .plan import RunSpec, StudyPaths, data_root, run_folder
from .records import build_record, export_model, record_path, write_record

WORKER_ENV = "VALSTUDY_WORKER"  # the worker's name, handed to the run's child processes


def worker_name() -> str:
    """The Dask worker running this task (its name, else its address), or ``local`` outside a worker."""
    try:
        from distributed import get_worker

        w = get_worker()
        name = w.name if w.name is not None else w.address
        return f"local-{name}" if isinstance(name, int) else str(name)  # a LocalCluster numbers its workers
    except (ImportError, ValueError):
        return os.environ.get(WORKER_ENV, "local")


def _die_with_parent() -> None:  # runs in the child before exec: SIGKILL when the thread that started it ends
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except OSError:
        pass  # not Linux: the child may outlive a killed worker; the run folder's lock then refuses a second one


def spawn(args: list[str], log: Path, threads: int, what: str, env: dict | None = None) -> tuple[float, float]:
    """Run ``python -m valstudy <args>`` with ``threads`` threads, appending its output to ``log``; returns its
    (wall, CPU) seconds. A failure is a ValstudyError naming ``what`` and the child's last line of error output."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), **(env or {})}
    log.parent.mkdir(parents=True, exist_ok=True)
    t0, c0 = time.time(), _child_cpu()
    with open(log, "a") as out:
        out.write(f"$ valstudy {' '.join(args)}  [{time.strftime('%Y-%m-%d %H:%M:%S')}, {worker_name()}]\n")
        out.flush()
        proc = subprocess.run([sys.executable, "-m", "valstudy", *args], env=env, stdout=out,
                              stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
        out.write(proc.stderr)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        raise ValstudyError(f"{what} failed: {last} (log: {log})")
    return time.time() - t0, _child_cpu() - c0


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # this process's finished children, user + system
    return usage.ru_utime + usage.ru_stime


def check_visible(paths: StudyPaths) -> None:
    """A worker must see the study's folders (a cluster's shared filesystem); one that cannot fails with a clear
    error instead of training into a folder nobody else sees."""
    for what, folder in (("data root", paths.data), ("runs root", paths.runs), ("records root", paths.records)):
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise ValstudyError(f"worker {worker_name()} cannot see the {what} {folder} (or cannot write there); "
                                f"every worker needs the study's folders on a shared filesystem")


def ensure_data(dataset: str, profile: Profile, root: str | Path, check_images: bool = False) -> Path:
    """Generate a synthetic dataset unless it is there already with the profile's world (size, seed, training
    scale); real data is checked (``data check``, its report printed; ``check_images`` decodes every image)."""
    target = data_root(dataset, profile, root)
    if profile.real_data:
        from ..data.check import check_dataset, format_report
        print(format_report(check_dataset(dataset, target, images=check_images)), flush=True)
        return target
    from ..data.synth import SYNTH_VERSION, synthesize
    from ..locks import FolderBusyError, wait_for

    world = target / "extras" / "world.json"
    want = {"version": SYNTH_VERSION, "size": profile.data_size, "seed": profile.data_seed,
            "train_scale": profile.train_scale}
    for _ in range(2):  # a second time after waiting for another process that was writing this very folder
        if world.is_file() and not (target / ".synth-in-progress.json").exists():
            w = read_json(world)
            if {**w, "train_scale": w.get("train_scale", 1)}.items() >= want.items():
                return target
        try:
            synthesize(dataset, target, size=profile.data_size, seed=profile.data_seed,
                       train_scale=profile.train_scale)
            return target
        except FolderBusyError:
            wait_for(target)
    raise ValstudyError(f"{target}: another process keeps writing this synthetic data folder; try again later")


def data_task(dataset: str, profile: Profile, data: str, check_images: bool = False) -> str:
    """Generate (synthetic) or check (real) one dataset; returns its folder."""
    return str(ensure_data(dataset, profile, data, check_images=check_images))


def _evaluation_version() -> int:
    from ..evaluation import EVALUATION_VERSION
    return EVALUATION_VERSION


def _measures_version() -> int:
    from ..analysis.measures import MEASURES_VERSION
    return MEASURES_VERSION


def measures_for(spec: RunSpec) -> tuple[str, ...]:
    """The measures a run's record carries: the simulated user for every method run, the attention measures for
    VAL's method runs (``valstudy.analysis.measures``)."""
    if spec.labels.get("experiment") != "methods":
        return ()
    return ("simulation", "attention") if spec.labels.get("variant") == "val" else ("simulation",)


def run_state(run_dir: Path, spec: RunSpec) -> str:
    """``missing`` (to train, or to resume), ``stale`` (trained; results or measures to redo) or ``finished``."""
    if not (run_dir / "final.pt").is_file():
        return "missing"
    results = run_dir / "results.json"
    if not results.is_file() or read_json(results).get("evaluation_version") != _evaluation_version():
        return "stale"
    need = measures_for(spec)
    if need:
        m = read_json(run_dir / "measures.json") if (run_dir / "measures.json").is_file() else {}
        if m.get("measures_version") != _measures_version() or any(k not in m for k in need):
            return "stale"
    return "finished"


def run_task(spec: RunSpec, paths: StudyPaths, threads: int = 1, export: bool = False, after: tuple = ()) -> dict:
    """Train, evaluate and measure one run (each step only when not done yet), then write its record.

    ``after``: results of tasks this one waits for (the datasets it reads). A lock beside the run folder keeps two
    workers off one run: the second waits, then finds it finished. Returns the run's name, what was done, seconds
    and worker.
    """
    check_visible(paths)
    worker, t0 = worker_name(), time.time()
    base = paths.runs / spec.name
    base.parent.mkdir(parents=True, exist_ok=True)
    with open(base.parent / f".{base.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run_dir = run_folder(paths.runs, spec)
        run_dir.mkdir(parents=True, exist_ok=True)
        done = []

        def step(what: str, args: list[str], label: str) -> None:
            journal = run_dir / "study.jsonl"  # who did what, how long: the record's meta
            append_line(journal, json.dumps({"event": "start", "what": what, "worker": worker}))
            wall, cpu = spawn(args, run_dir / "study.log", threads, label, {WORKER_ENV: worker})
            append_line(journal, json.dumps({"event": "done", "what": what, "worker": worker, "wall": round(wall, 2),
                                             "cpu": round(cpu, 2)}))
            done.append(what)

        if not (run_dir / "final.pt").is_file():
            with tempfile.TemporaryDirectory(prefix="valstudy-run-") as tmp:
                cfg_file = write_json(Path(tmp) / "config.json", config_to_dict(spec.config))
                step("train", ["train", "--config-file", str(cfg_file), "--quiet", "--run-dir", str(run_dir)],
                     f"run {spec.name}")
        results = run_dir / "results.json"
        if not results.is_file() or read_json(results).get("evaluation_version") != _evaluation_version():
            step("eval", ["eval", "--run", str(run_dir)], f"evaluation of {spec.name}")
        if run_state(run_dir, spec) == "stale":
            step("measure", ["measure", "--run", str(run_dir), "--what", *measures_for(spec)],
                 f"measures of {spec.name}")
        write_json(run_dir / "label.json", spec.labels)
        meta = _worker_meta(run_dir, worker)
        write_record(build_record(spec, run_dir, paths.data, meta), paths.records)
        if export:
            export_model(run_dir, paths.records, spec.name, paths.data)
    return {"name": spec.name, "done": done or ["recorded"], "seconds": time.time() - t0, "worker": worker,
            "record": str(record_path(paths.records, spec))}


def _worker_meta(run_dir: Path, worker: str) -> dict:
    """Who trained the run (several workers when one died and another resumed it), who finished it, and the wall and
    CPU seconds of each step, from the run's journal; the workers go into ``meta.json`` too."""
    path = run_dir / "study.jsonl"
    events = [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []
    workers = [e["worker"] for e in events if e["event"] == "start" and e["what"] == "train"]
    extra = {"worker": workers[-1] if workers else worker, "workers": workers or [worker]}
    meta_path = run_dir / "meta.json"
    if meta_path.is_file():
        meta = read_json(meta_path)
        if {k: meta.get(k) for k in extra} != extra:
            write_json(meta_path, {**meta, **extra})
    seconds: dict[str, dict[str, float]] = {}
    for e in events:
        if e["event"] == "done":
            cell = seconds.setdefault(e["what"], {"wall": 0.0, "cpu": 0.0})
            cell["wall"] += e["wall"]
            cell["cpu"] += e["cpu"]
    from .records import machine
    return {**extra, "seconds": seconds, "machine": machine()}
