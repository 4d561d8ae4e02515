"""Pilots of the decisive study, on a pilot world (synthetic data of random seed 1; the study's world is seed 0).

    python bench/pilot.py [--what training-size ceiling] [--seeds 0 1 2 3 4] [--jobs 2] [--root build/pilot]
                          [--out docs/pilot.json]

Nothing here reads the study's own test split: the world's sizes, the training size and the seed counts are chosen
from these pilots and from validation curves only.

- ``training-size``: VAL and TIRG on Shoes, one run per random seed of ``--seeds``, with today's training set
  (``train_scale`` 1) and with twice as many training images (2): the spread over seeds of each method's test R@10,
  the spread of the paired difference VAL - TIRG, and a single run's sampling error of R@10 (binomial, over the
  distinct test triplets: sqrt(p (1 - p) / n)).
- ``ceiling``: VAL, TIRG and concatenation on Fashion200k and FashionIQ, the first seed only: whether any method's
  test R@10 comes near the ceiling (the decisive study asks for at most 90 on every dataset and category).
- ``budget``: VAL, TIRG and the two ablations that learned slowest before (w/o JA, L_vv + L_vs) on every dataset,
  the first seed, at the chosen training scale (``--budget-scale``) and ``--budget-steps`` L_vv steps with an
  evaluation every 1/16 of them: where each validation curve flattens at a constant learning rate chooses the
  study's step budgets.

Runs are reused when their ``results.json`` exists, so an interrupted pilot resumes. The record (``--out``) holds every
run's numbers and the summaries; it holds no absolute path.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from valstudy.config import get_config  # noqa: E402
from valstudy.io import read_json, write_json  # noqa: E402

PILOT_WORLD_SEED = 1
PROTOCOL = {"fashion200k": "default", "shoes": "dedup", "fashioniq": "val"}  # Shoes: each distinct triplet once
EVALUATIONS = 6  # validation evaluations along each run (the curves say where each method flattens)


def _data(root: Path, dataset: str, train_scale: int) -> Path:
    data = root / "data" / f"{dataset}-train{train_scale}"
    if not (data / "extras" / "world.json").is_file() or (data / ".synth-in-progress.json").exists():
        subprocess.run([sys.executable, "-m", "valstudy", "data", "synth", "--dataset", dataset, "--root", str(data),
                        "--size", "small", "--seed", str(PILOT_WORLD_SEED), "--train-scale", str(train_scale)],
                       check=True, capture_output=True)
    return data


def _train(job: tuple) -> tuple:
    dataset, data, run_dir, method, seed, *extra = job
    if not (run_dir / "results.json").is_file():
        steps = get_config(f"{dataset}_synth").steps
        sets = [f"eval_every={steps // EVALUATIONS}"] if not extra else list(extra[0])
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        t0 = time.time()
        proc = subprocess.run([sys.executable, "-m", "valstudy", "train", "--config", f"{dataset}_synth", "--quiet",
                               "--run-dir", str(run_dir), "--set", f"data.root={data}", f"model.method={method}",
                               f"seed={seed}", *sets],
                              env=env, capture_output=True, text=True)
        if proc.returncode:
            raise RuntimeError(f"{run_dir}: {proc.stderr.strip().splitlines()[-1:]}")
        print(f"{run_dir.relative_to(run_dir.parents[3])}: {time.time() - t0:.0f} s", flush=True)
    return job


def _row(dataset: str, run_dir: Path, **labels) -> dict:
    res = read_json(run_dir / "results.json")
    protocol = PROTOCOL[dataset]
    splits = [s for s in res["splits"] if s["protocol"] == protocol]
    per_cat = {s.get("category") or "": {"R@10": s["R@10"], "queries": s["queries"]} for s in splits}
    r10 = float(res["summary"][protocol]["R@10"])
    n = sum(s["queries"] for s in splits)
    # A single run's sampling error of R@10 (points): binomial over the queries; FashionIQ's R@10 is the mean over
    # categories, so its variance is the mean of the per-category variances over the number of categories.
    var = [(c["R@10"] / 100) * (1 - c["R@10"] / 100) / max(c["queries"], 1) for c in per_cat.values()]
    se = 100 * math.sqrt(sum(var)) / len(var)
    curve = [{"step": r["step"], "R@10": r["eval"][0]["R@10"]} for r in
             map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines()) if "eval" in r]
    return {"dataset": dataset, **labels, "protocol": protocol, "R@10": r10, "queries": n, "sampling_se": se,
            "categories": per_cat, "validation": curve}


def _sd(xs: list[float]) -> float | None:
    return statistics.stdev(xs) if len(xs) > 1 else None


def training_size_summary(rows: list[dict]) -> list[dict]:
    """Per training scale: each method's mean and standard deviation over seeds, and the paired VAL - TIRG spread."""
    out = []
    for scale in sorted({r["train_scale"] for r in rows}):
        rs = [r for r in rows if r["train_scale"] == scale]
        by = {m: {r["seed"]: r["R@10"] for r in rs if r["method"] == m} for m in ("val", "tirg")}
        common = sorted(set(by["val"]) & set(by["tirg"]))
        diff = [by["val"][s] - by["tirg"][s] for s in common]
        out.append({"train_scale": scale, "seeds": len(common),
                    **{f"{m} mean": statistics.fmean(v.values()) for m, v in by.items() if v},
                    **{f"{m} sd": _sd(list(v.values())) for m, v in by.items()},
                    "paired sd": _sd(diff), "paired mean": statistics.fmean(diff) if diff else None,
                    "sampling_se": statistics.fmean(r["sampling_se"] for r in rs)})
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--what", nargs="*", default=["training-size", "ceiling"],
                   choices=("training-size", "ceiling", "budget"))
    p.add_argument("--budget-scale", type=int, default=1, help="training scale of the budget pilot")
    p.add_argument("--budget-steps", type=int, default=2400, help="L_vv steps of the budget pilot")
    p.add_argument("--budget-datasets", nargs="*", default=["fashioniq", "shoes", "fashion200k"])
    p.add_argument("--budget-variants", nargs="*", default=["val", "tirg", "no_ja", "lvs"])
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    p.add_argument("--scales", type=int, nargs="*", default=[1, 2], help="training scales of the training-size pilot")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--root", default="build/pilot")
    p.add_argument("--out", default="docs/pilot.json")
    a = p.parse_args()
    root = Path(a.root).resolve()
    jobs, labels = [], []
    if "ceiling" in a.what:
        for ds in ("fashion200k", "fashioniq"):
            data = _data(root, ds, 1)
            for method in ("val", "tirg", "concat"):
                jobs.append((ds, data, root / "runs" / f"{ds}-train1" / method / f"seed{a.seeds[0]}", method,
                             a.seeds[0]))
                labels.append({"pilot": "ceiling", "train_scale": 1, "method": method, "seed": a.seeds[0]})
    if "training-size" in a.what:
        for scale in a.scales:
            data = _data(root, "shoes", scale)
            for seed in a.seeds:
                for method in ("val", "tirg"):
                    jobs.append(("shoes", data, root / "runs" / f"shoes-train{scale}" / method / f"seed{seed}", method,
                                 seed))
                    labels.append({"pilot": "training-size", "train_scale": scale, "method": method, "seed": seed})
    if "budget" in a.what:
        from valstudy.config import ABLATIONS, lvs_overrides

        for ds in a.budget_datasets:
            data = _data(root, ds, a.budget_scale)
            for variant in a.budget_variants:
                over = {"steps": a.budget_steps, "eval_every": a.budget_steps // 16}
                if variant in ABLATIONS:
                    side = str(_data(root, "fashion200k", a.budget_scale))
                    over.update(ABLATIONS[variant] or lvs_overrides(ds, a.budget_steps, side, paper=False))
                sets = [f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in over.items()]
                method = "tirg" if variant == "tirg" else "val"
                jobs.append((ds, data, root / "runs" / f"{ds}-train{a.budget_scale}-budget{a.budget_steps}" / variant /
                             f"seed{a.seeds[0]}", method, a.seeds[0], sets))
                labels.append({"pilot": "budget", "train_scale": a.budget_scale, "method": variant,
                               "seed": a.seeds[0]})
    with ThreadPoolExecutor(a.jobs) as pool:
        done = list(pool.map(_train, jobs))
    rows = [_row(job[0], job[2], **lab) for job, lab in zip(done, labels)]
    record = {"world_seed": PILOT_WORLD_SEED, "rows": rows,
              "training_size": training_size_summary([r for r in rows if r["pilot"] == "training-size"])}
    out = Path(a.out)
    if out.is_file():  # keep what another --what wrote
        old = read_json(out)
        keep = [r for r in old.get("rows", []) if (r["pilot"], r["dataset"], r["method"], r["seed"],
                                                    r["train_scale"]) not in
                {(r["pilot"], r["dataset"], r["method"], r["seed"], r["train_scale"]) for r in rows}]
        record["rows"] = keep + rows
        record["training_size"] = training_size_summary([r for r in record["rows"] if r["pilot"] == "training-size"])
    write_json(out, record)
    for s in record["training_size"]:
        print(json.dumps(s))
    for r in record["rows"]:
        if r["pilot"] == "ceiling":
            print(r["dataset"], r["method"], f"R@10 {r['R@10']:.1f}",
                  {c: round(v["R@10"], 1) for c, v in r["categories"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
