"""Are the synthetic step budgets enough, and how far does a number move when it is recomputed elsewhere?

    python bench/convergence.py [--runs runs/synthetic] [--datasets shoes fashioniq fashion200k] [--seeds 0 1 2]
                                [--threads 2] [--root build/convergence] [--jobs 2] [--json]

For each dataset, VAL from the ``<dataset>_synth`` configuration, for each random seed of ``--seeds``:
- ``R@10``: the study's run (``<runs>/<dataset>/val/seed<k>``, trained by ``make study`` with one thread), or, when
  that is absent, a run trained here with one thread;
- ``R@10_doubled``: the configuration with twice the steps (the learning-rate decay moves with it: it is a fraction
  of the steps);
- ``R@10_threads`` (the first seed only): the same configuration retrained with ``--threads`` threads: floating-point
  sums then run in another order, which is what moves a number between machines and thread counts.
Test R@10: Fashion200k and Shoes, the default protocol; FashionIQ, the mean over categories of the VAL protocol.
A budget passes when doubling it moves the seed-mean test R@10 by at most ``--tolerance`` points (3). Runs are reused
when present (``<root>/runs/<dataset>/val_doubled/seed<k>``, ``val_threads<T>/seed<k>``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from valstudy.config import get_config  # noqa: E402

PROTOCOL = {"fashion200k": "default", "shoes": "default", "fashioniq": "val"}


def _train(dataset: str, data: Path, run_dir: Path, steps: int, seed: int, threads: int) -> float:
    if (run_dir / "results.json").is_file():
        return 0.0
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "valstudy", "train", "--config", f"{dataset}_synth", "--quiet",
                    "--run-dir", str(run_dir), "--set", f"data.root={data}", f"steps={steps}", f"seed={seed}"],
                   env=env, check=True, capture_output=True, text=True)
    return time.time() - t0


def _recall(run_dir: Path, dataset: str) -> float:
    summary = json.loads((run_dir / "results.json").read_text())["summary"]
    return float(summary[PROTOCOL[dataset]]["R@10"])


def _study_data(study_run: Path) -> Path | None:
    config = study_run / "config.json"
    return Path(json.loads(config.read_text())["data"]["root"]) if config.is_file() else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs/synthetic", help="the study's runs (the one-thread reference)")
    p.add_argument("--datasets", nargs="*", default=["shoes", "fashioniq", "fashion200k"])
    p.add_argument("--seeds", type=int, nargs="*", default=[0], help="random seeds of the doubled runs")
    p.add_argument("--threads", type=int, default=2, help="threads of the retrained run (first seed only)")
    p.add_argument("--root", default="build/convergence")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--tolerance", type=float, default=3.0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    root = Path(a.root).resolve()
    jobs, rows = [], {}  # jobs: _train's arguments (dataset, data, run folder, steps, seed, threads)
    for ds in a.datasets:
        steps = get_config(f"{ds}_synth").steps
        refs = []
        for seed in a.seeds:
            study_run = Path(a.runs).resolve() / ds / "val" / f"seed{seed}"
            data = _study_data(study_run)
            if data is None:  # no study here: generate the data and train the reference too
                data = root / "data" / ds
                if not (data / "extras" / "world.json").is_file():
                    subprocess.run([sys.executable, "-m", "valstudy", "data", "synth", "--dataset", ds, "--root",
                                    str(data), "--size", "small", "--seed", "0"], check=True, capture_output=True)
                study_run = root / "runs" / ds / "val_reference" / f"seed{seed}"
                jobs.append((ds, data, study_run, steps, seed, 1))
            doubled = root / "runs" / ds / "val_doubled" / f"seed{seed}"
            jobs.append((ds, data, doubled, 2 * steps, seed, 1))
            refs.append((study_run, doubled))
        threads = root / "runs" / ds / f"val_threads{a.threads}" / f"seed{a.seeds[0]}"
        jobs.append((ds, data, threads, steps, a.seeds[0], a.threads))
        rows[ds] = (refs, threads, steps)

    def train(job):
        return _train(*job)

    with ThreadPoolExecutor(max_workers=a.jobs) as pool:  # one-thread runs, --jobs at a time
        seconds = list(pool.map(train, [j for j in jobs if j[5] == 1]))
    # Runs of several threads each: no more at once than the cores hold. Oversubscribed, torch's OpenMP threads wait
    # on each other: two two-thread runs on two cores went ten times slower than one after the other.
    with ThreadPoolExecutor(max_workers=max(1, min(a.jobs, (os.cpu_count() or 1) // a.threads))) as pool:
        seconds += list(pool.map(train, [j for j in jobs if j[5] > 1]))
    out_rows = []
    for ds, (refs, threads, steps) in rows.items():
        r = [_recall(ref, ds) for ref, _ in refs]
        r2 = [_recall(doubled, ds) for _, doubled in refs]
        rt = _recall(threads, ds)
        change = sum(r2) / len(r2) - sum(r) / len(r)  # seed-mean doubled minus seed-mean study
        out_rows.append({"dataset": ds, "steps": steps, "seeds": a.seeds, "R@10": round(sum(r) / len(r), 2),
                         "R@10_per_seed": [round(x, 2) for x in r], "threads": a.threads,
                         "R@10_threads": round(rt, 2), "threads_change": round(rt - r[0], 2),
                         "steps_doubled": 2 * steps, "R@10_doubled": round(sum(r2) / len(r2), 2),
                         "R@10_doubled_per_seed": [round(x, 2) for x in r2], "doubled_change": round(change, 2),
                         "passes": abs(change) <= a.tolerance})
    out = {"seeds": a.seeds, "tolerance": a.tolerance, "rows": out_rows, "train_seconds": round(sum(seconds), 1)}
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        for r in out_rows:
            print(f"{r['dataset']:12s} R@10 {r['R@10']:6.2f} ({r['steps']} steps, 1 thread, mean of seeds {r['seeds']}); "
                  f"{r['R@10_doubled']:6.2f} at {r['steps_doubled']} steps ({r['doubled_change']:+.2f}: "
                  f"{'passes' if r['passes'] else 'FAILS'}); seed {r['seeds'][0]} with {r['threads']} threads "
                  f"{r['R@10_threads']:6.2f} ({r['threads_change']:+.2f})")
    return 0 if all(r["passes"] for r in out_rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
