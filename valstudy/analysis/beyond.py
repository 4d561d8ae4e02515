"""Beyond the paper: valid@K against R@K by caption vagueness, and the simulated user over methods and seeds.

The numbers come from each run's ``results.json`` (``valstudy.evaluation``: valid@K, ``by_style``) and
``simulation.json`` (``valstudy.simulate``); a run evaluated before valid@K existed is evaluated again, and a
simulation with other settings is run again, so the notebook always shows current numbers.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from ..io import read_json

STYLE_ORDER = ("absolute", "relative", "vague", "unknown")


def ensure_valid_results(run_dir: str | Path) -> dict:
    """``results.json`` of a finished run, evaluated again when an older evaluation wrote it (no valid@K yet)."""
    from ..evaluation import EVALUATION_VERSION, eval_run

    path = Path(run_dir) / "results.json"
    res = read_json(path) if path.is_file() else None
    if res is not None and res.get("evaluation_version") == EVALUATION_VERSION:
        return res
    return eval_run(run_dir)


def metric_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over seeds of R@K, valid@K, precision@K and refsim@K per (method, protocol), FashionIQ's
    categories averaged first. ``runs``: one row per run with ``run_dir`` and ``method``."""
    rows = []
    for r in runs.itertuples():
        res = ensure_valid_results(r.run_dir)
        for s in res["splits"]:
            rows.append({"method": r.method, "seed": res["seed"], "protocol": s["protocol"],
                         **{k: v for k, v in s.items() if k.startswith(("R@", "valid@", "precision@", "refsim@"))
                            and "ceiling" not in k}})
    df = pd.DataFrame(rows).groupby(["method", "seed", "protocol"], sort=False).mean().reset_index()
    cols = [c for c in df.columns if c not in ("method", "seed", "protocol")]
    out = df.groupby(["method", "protocol"], sort=False)[cols].agg(["mean", "std"])
    out.columns = [f"{m} {stat}" for m, stat in out.columns]  # "R@10 mean", "R@10 std", as summary_table names them
    out["seeds"] = df.groupby(["method", "protocol"], sort=False)["seed"].nunique()
    return out


def vagueness_table(runs: pd.DataFrame, protocol: str, k: int) -> pd.DataFrame:
    """Per (method, caption style): queries, mean number of valid targets, R@k, valid@k and their gap, pooled over
    categories and averaged over seeds."""
    rows = []
    for r in runs.itertuples():
        res = ensure_valid_results(r.run_dir)
        for s in res["splits"]:
            if s["protocol"] != protocol or "by_style" not in s:
                continue
            for style, c in s["by_style"].items():
                rows.append({"method": r.method, "seed": res["seed"], "style": style, "queries": c["queries"],
                             "valid targets": c["mean valid targets"] * c["queries"],
                             f"R@{k}": c[f"R@{k}"] * c["queries"], f"valid@{k}": c[f"valid@{k}"] * c["queries"]})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows).groupby(["method", "seed", "style"], sort=False).sum().reset_index()
    for c in ("valid targets", f"R@{k}", f"valid@{k}"):
        df[c] = df[c] / df["queries"]
    df = df.groupby(["method", "style"], sort=False)[["queries", "valid targets", f"R@{k}", f"valid@{k}"]].mean()
    df["gap"] = df[f"valid@{k}"] - df[f"R@{k}"]
    order = {s: i for i, s in enumerate(STYLE_ORDER)}
    return df.reset_index().sort_values(["method", "style"], key=lambda c: c.map(order) if c.name == "style"
                                        else c.map(lambda m: list(runs["method"].unique()).index(m)))


def simulation_table(runs: pd.DataFrame, turns: int = 5, k: int = 1, user_seed: int = 0) -> pd.DataFrame:
    """Per (method, T): mean and std over seeds of the simulated user's success within T turns (percent).
    Reuses each run's ``simulation.json`` when it was made with the same settings."""
    from ..simulate import simulate_run

    rows = []
    for r in runs.itertuples():
        path = Path(r.run_dir) / "simulation.json"
        sim = read_json(path) if path.is_file() else None
        if not sim or (sim.get("turns"), sim.get("k"), sim.get("user_seed")) != (turns, k, user_seed):
            sim = simulate_run(r.run_dir, turns=turns, k=k, seed=user_seed)
        rows += [{"method": r.method, "seed": sim["seed"], "T": t + 1, "success": v}
                 for t, v in enumerate(sim["success"])]
    df = pd.DataFrame(rows)
    out = df.groupby(["method", "T"], sort=False)["success"].agg(["mean", "std", "count"])
    return out.rename(columns={"count": "seeds"})


def method_runs(table: pd.DataFrame, methods: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per method run (``experiment == "methods"``) of ``valstudy.results.gather_results``'s table."""
    sel = table[table["experiment"] == "methods"] if "experiment" in table else table
    runs = sel.drop_duplicates("run_dir")[["run_dir", "method", "seed"]]
    if methods:
        runs = runs[runs["method"].isin(methods)]
    return runs.reset_index(drop=True)
