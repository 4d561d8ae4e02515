"""The study on a real Dask cluster: a scheduler and two single-threaded workers started as separate processes over
TCP on the loopback address (``dask scheduler``, ``dask worker``), as a user would start them by hand.

- The smoke study trained through the scheduler finishes, its runs name both workers in ``meta.json``, and every
  run's results equal those of the same study on a local cluster.
- A worker killed with ``kill -9`` while it trains: the run goes to the other worker, resumes from its last
  checkpoint, and ends with the weights an uninterrupted run has.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from valstudy.config import PROFILES, config_to_dict
from valstudy.study import REPO, RunSpec, StudyPaths, plan, run_config
from valstudy.study.records import record_path

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("cluster")]
SMOKE = PROFILES["smoke"]


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two workers (w1, w2) on 127.0.0.1: (scheduler address, {worker name: process})."""
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    deadline = time.time() + 60
    while not sched_file.is_file() and time.time() < deadline:
        time.sleep(0.2)
    workers = {}
    for name in ("w1", "w2"):  # no nanny: the process killed is the worker itself, and nothing restarts it
        workers[name] = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(sched_file), "--nthreads",
             "1", "--name", name, "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = json.loads(sched_file.read_text())["address"]
    from distributed import Client
    with Client(address, timeout="60s") as c:
        c.wait_for_workers(2, timeout=120)
    yield address, workers
    for p in [*workers.values(), *procs]:
        p.kill()
        p.wait()


def _study(tmp_path: Path, where: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "valstudy", "study", "train", "--profile", "smoke", "--datasets",
                           "shoes", "--runs-root", str(tmp_path / where / "runs"), "--records-root",
                           str(tmp_path / where / "records"), *flags], cwd=REPO, capture_output=True, text=True,
                          timeout=1200)


def test_the_smoke_study_through_a_scheduler_uses_both_workers_and_equals_a_local_run(cluster, tmp_path):
    address, _ = cluster
    remote = _study(tmp_path, "remote", "--scheduler", address)
    assert remote.returncode == 0, remote.stderr[-2000:]
    assert f"Dask scheduler {address} (2 workers now)" in remote.stdout
    local = _study(tmp_path, "local", "--jobs", "2")
    assert local.returncode == 0, local.stderr[-2000:]
    specs = plan("shoes", SMOKE, tmp_path)
    workers = set()
    for spec in specs:
        meta = json.loads((tmp_path / "remote" / "runs" / spec.name / "meta.json").read_text())
        workers.add(meta["worker"])
        a, b = (json.loads(record_path(tmp_path / w / "records", spec).read_text()) for w in ("remote", "local"))
        assert a["results"] == b["results"], spec.name  # every recall of every split, and every rank
        assert a["metrics"]["loss"]["loss"] == b["metrics"]["loss"]["loss"]
        assert a["meta"]["worker"] in ("w1", "w2") and b["meta"]["worker"] in ("local-0", "local-1")
    assert workers == {"w1", "w2"}


def _final(run_dir: Path) -> dict:
    return torch.load(run_dir / "final.pt", map_location="cpu", weights_only=True)


def test_a_worker_killed_mid_run_costs_only_the_steps_since_the_checkpoint(cluster, tmp_path):
    from distributed import Client

    from valstudy.study.runner import ensure_data, ensure_runs

    address, workers = cluster
    paths = StudyPaths(REPO / SMOKE.data_dir, tmp_path / "runs", tmp_path / "records", tmp_path / "figures")
    ensure_data("shoes", SMOKE, paths.data)
    cfg = run_config("shoes", SMOKE, paths.data, "val", 0)
    cfg.steps, cfg.checkpoint_every, cfg.eval_every, cfg.keep_checkpoints = 80, 10, 0, ()
    spec = RunSpec("shoes/val/seed0", cfg.validate(), {"experiment": "ablations", "variant": "long"})
    run_dir, killed = paths.runs / spec.name, {}

    def kill_when_past_a_checkpoint():
        deadline = time.time() + 600
        while time.time() < deadline:
            metrics, journal = run_dir / "metrics.jsonl", run_dir / "study.jsonl"
            if metrics.is_file() and journal.is_file() and (run_dir / "checkpoint.pt").is_file():
                steps = [json.loads(line).get("step", 0) for line in metrics.read_text().splitlines()
                         if line.endswith("}")]
                if steps and max(steps) >= 35:
                    name = json.loads(journal.read_text().splitlines()[-1])["worker"]
                    os.kill(workers[name].pid, signal.SIGKILL)
                    killed.update(name=name, step=max(steps))
                    return
            time.sleep(0.1)

    watcher = threading.Thread(target=kill_when_past_a_checkpoint)
    watcher.start()
    with Client(address, timeout="60s") as client:
        report = ensure_runs(client, [spec], SMOKE, paths, progress=False)
    watcher.join()
    assert not report.failed and killed, (report.failed, killed)
    meta = json.loads((run_dir / "meta.json").read_text())
    survivor = ({"w1", "w2"} - {killed["name"]}).pop()
    assert meta["workers"] == [killed["name"], survivor] and meta["worker"] == survivor

    # the same configuration trained without interruption: the same weights, to the last bit
    ref = tmp_path / "uninterrupted"
    ref.mkdir()
    (ref / "config.json").write_text(json.dumps(config_to_dict(spec.config)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "valstudy", "train", "--config-file", str(ref / "config.json"), "--quiet",
                    "--no-eval", "--run-dir", str(ref / "run")], cwd=REPO, env=env, check=True, capture_output=True)
    a, b = _final(run_dir), _final(ref / "run")
    assert a["step"] == b["step"] == 80
    for part in ("model", "ema"):
        assert a[part].keys() == b[part].keys()
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
