"""Is each synthetic configuration's step budget enough? Train VAL with the default steps and with twice as many.

    python bench/convergence.py [--datasets shoes fashioniq fashion200k] [--seed 0] [--root build/convergence]
                                [--jobs 2] [--json]

For each dataset: generate the synthetic data (small, random seed 0) unless present, then train VAL from the
``<dataset>_synth`` configuration twice, with its default ``steps`` and with ``steps`` doubled (the learning-rate decay
moves with it: it is a fraction of the steps), two runs at a time with one thread each. Prints the test R@10 of both
(Fashion200k and Shoes: R@10 of the default protocol; FashionIQ: the mean R@10 over categories of the VAL protocol)
and their difference. A budget passes when doubling it moves test R@10 by at most ``--tolerance`` points (3).
Finished runs are reused, so a second call only prints.
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


def _train(dataset: str, data: Path, run_dir: Path, steps: int, seed: int) -> float:
    if (run_dir / "results.json").is_file():
        return 0.0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "valstudy", "train", "--config", f"{dataset}_synth", "--quiet",
                    "--run-dir", str(run_dir), "--set", f"data.root={data}", f"steps={steps}", f"seed={seed}"],
                   env=env, check=True, capture_output=True, text=True)
    return time.time() - t0


def _recall(run_dir: Path, dataset: str) -> float:
    summary = json.loads((run_dir / "results.json").read_text())["summary"]
    return float(summary[PROTOCOL[dataset]]["R@10"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="*", default=["shoes", "fashioniq", "fashion200k"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--root", default="build/convergence")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--tolerance", type=float, default=3.0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    root = Path(a.root).resolve()
    jobs = []
    for ds in a.datasets:
        data = root / "data" / ds
        if not (data / "extras" / "world.json").is_file():
            subprocess.run([sys.executable, "-m", "valstudy", "data", "synth", "--dataset", ds, "--root", str(data),
                            "--size", "small", "--seed", "0"], check=True, capture_output=True)
        steps = get_config(f"{ds}_synth").steps
        for n in (steps, 2 * steps):
            jobs.append((ds, data, root / "runs" / ds / f"val_{n}", n))
    with ThreadPoolExecutor(max_workers=a.jobs) as pool:
        seconds = list(pool.map(lambda j: _train(*j, a.seed), jobs))
    rows = []
    for ds in a.datasets:
        (_, _, one, n), (_, _, two, _) = [j for j in jobs if j[0] == ds]
        r1, r2 = _recall(one, ds), _recall(two, ds)
        rows.append({"dataset": ds, "steps": n, "R@10": round(r1, 2), "steps_doubled": 2 * n,
                     "R@10_doubled": round(r2, 2), "change": round(r2 - r1, 2),
                     "passes": abs(r2 - r1) <= a.tolerance})
    out = {"seed": a.seed, "tolerance": a.tolerance, "rows": rows, "train_seconds": round(sum(seconds), 1)}
    if a.json:
        print(json.dumps(out, indent=1))
    else:
        for r in rows:
            print(f"{r['dataset']:12s} R@10 {r['R@10']:6.2f} at {r['steps']:5d} steps, {r['R@10_doubled']:6.2f} at "
                  f"{r['steps_doubled']:5d}: change {r['change']:+.2f} ({'passes' if r['passes'] else 'FAILS'})")
    return 0 if all(r["passes"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
