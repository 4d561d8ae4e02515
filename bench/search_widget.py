"""Time one turn of the search widget (valstudy.widget): encode (reference, text), rank the gallery, attention maps,
and draw the top K, on CPU by default.

    python bench/search_widget.py --run runs/synthetic/shoes/val/seed0 [--queries 20] [--k 8] [--threads T]
                                  [--device cpu] [--json]

Without ``--run`` it generates a small synthetic Shoes copy and trains the synthetic VAL configuration for
``--steps`` steps into a temporary folder first (timing needs a run, not a good one). The target of the issue is
under a second per query on CPU with a synthetic run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from valstudy.widget import SearchWidget  # noqa: E402


def _make_run(folder: Path, steps: int) -> Path:
    from valstudy.data.synth import synthesize
    from valstudy.training import get_config, train

    synthesize("shoes", folder / "data", size="small", seed=0)
    train(get_config("shoes_synth", {"data.root": str(folder / "data"), "steps": steps}), folder / "run",
          progress=False)
    return folder / "run"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default=None)
    p.add_argument("--steps", type=int, default=5, help="training steps of the temporary run (without --run)")
    p.add_argument("--queries", type=int, default=20)
    p.add_argument("--k", type=int, default=8)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(a.run) if a.run else _make_run(Path(tmp), a.steps)
        w = SearchWidget.from_run(run, device=a.device, k=a.k, log_path=Path(tmp) / "log.jsonl")
        texts = [q.text for q in w.queries]
        w.search(texts[0])  # warm-up
        times, cpu = [], []
        for i in range(a.queries):
            w.random_query()
            t0, c0 = time.perf_counter(), time.process_time()
            w.search(texts[i % len(texts)])
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            w.click(1 + i % a.k)
    res = {"run": str(a.run or "temporary"), "device": a.device, "threads": torch.get_num_threads(),
           "gallery": len(w.engine.gallery), "k": a.k, "queries": a.queries,
           "median_s": statistics.median(times), "max_s": max(times), "mean_s": statistics.fmean(times),
           "median_cpu_s": statistics.median(cpu)}
    if a.json:
        print(json.dumps(res, indent=1))
    else:
        print(f"search widget, one turn ({res['device']}, {res['threads']} threads, gallery {res['gallery']}, "
              f"top {a.k}): median {res['median_s']:.3f} s, max {res['max_s']:.3f} s over {a.queries} queries; "
              f"median CPU time {res['median_cpu_s']:.3f} s (all threads: on a loaded machine it is the wall time "
              f"an idle one would take with 1 thread)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
