"""How the study's wall time scales with local Dask workers: the smoke study's runs trained on 1, then 2 (or more)
single-threaded workers, each time from scratch into a temporary folder.

    python bench/scaling.py [--workers 1 2] [--profile smoke] [--json]

Run it on an otherwise idle machine: it measures wall time. Each pass retrains every run of the profile's plan
(``--fresh``, fresh run and record folders) and reports its wall time, the speed-up over the first pass, and
whether every pass wrote the same results (it must: a run's numbers do not depend on the worker that trained it).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def one_pass(workers: int, profile: str, root: Path) -> tuple[float, dict]:
    """Wall seconds of ``study train`` on ``workers`` local workers, and {record name: results} it wrote."""
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "valstudy", "study", "train", "--profile", profile, "--fresh", "--jobs",
                    str(workers), "--runs-root", str(root / "runs"), "--records-root", str(root / "records")],
                   cwd=REPO, check=True, capture_output=True, text=True)
    wall = time.time() - t0
    results = {str(p.relative_to(root / "records")): json.loads(p.read_text())["results"]
               for p in sorted((root / "records").glob("*/*/*.json"))}
    return wall, results


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    p.add_argument("--profile", default="smoke")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    rows, first = [], None
    for n in a.workers:
        with tempfile.TemporaryDirectory(prefix="valstudy-scaling-") as tmp:
            wall, results = one_pass(n, a.profile, Path(tmp))
        first = first or (wall, results)
        rows.append({"workers": n, "runs": len(results), "wall_s": round(wall, 1),
                     "speedup": round(first[0] / wall, 2), "same_results": results == first[1]})
    if a.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            print(f"{r['workers']} worker(s): {r['runs']} runs in {r['wall_s']:.0f} s, speed-up {r['speedup']:.2f}x, "
                  f"results {'identical' if r['same_results'] else 'DIFFERENT'} to the first pass")
    return 0 if all(r["same_results"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
