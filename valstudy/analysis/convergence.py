"""Has a run converged? Validation curves, the plateau criterion, and the step budgets it chose.

Every run of the synthetic study evaluates its EMA weights on a validation split carved out of its training set
(``valstudy.data.validation``) ten times along training. The criterion, applied to the mean curve over a variant's
random seeds (validation R@10, in points):

    plateau gain = mean of the evaluations in the last 20% of the steps
                   - mean of the evaluations in the 20% of the steps before them

A variant has converged when its plateau gain is below ``PLATEAU_POINTS``: training longer would not raise its
validation recall by more than that. A negative gain (validation recall falling at the end) is reported as it is;
its size says how much the model overfits at the end.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ValstudyError

PLATEAU_POINTS = 2.0  # the largest validation R@10 gain over the last 20% of the steps that counts as a plateau
TAIL = 0.2            # the share of the steps the criterion compares


def validation_curve(run_dir: str | Path, metric: str = "R@10") -> pd.DataFrame:
    """(step, value) of the validation evaluations logged during training (``metrics.jsonl``)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise ValstudyError(f"{path}: no metrics.jsonl; train the run first (valstudy train --run-dir {run_dir})")
    rows = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a torn last line of an interrupted run
            continue
        for split in record.get("eval", []):
            if split.get("protocol") == "validation":
                rows.append({"step": int(record["step"]), metric: float(split[metric])})
    return pd.DataFrame(rows, columns=["step", metric])


def plateau_gain(curve: pd.DataFrame, metric: str = "R@10", tail: float = TAIL) -> float:
    """Mean ``metric`` over the evaluations in the last ``tail`` of the steps minus the mean over the ``tail``
    before them (NaN when either window holds no evaluation)."""
    if curve.empty:
        return float("nan")
    last = int(curve["step"].max())
    end = curve[curve["step"] > last * (1 - tail)]
    before = curve[(curve["step"] > last * (1 - 2 * tail)) & (curve["step"] <= last * (1 - tail))]
    if end.empty or before.empty:
        return float("nan")
    return float(end[metric].mean() - before[metric].mean())


def convergence_table(runs: dict[str, list[str | Path]], metric: str = "R@10",
                      threshold: float = PLATEAU_POINTS) -> pd.DataFrame:
    """One row per variant: its seeds, steps, final validation ``metric`` (seed mean), the plateau gain of the seed-
    mean curve, and whether it is below ``threshold``.

    ``runs`` maps a variant's name to its run folders (one per random seed)."""
    rows = []
    for variant, dirs in runs.items():
        curves = [validation_curve(d, metric) for d in dirs]
        curves = [c for c in curves if not c.empty]
        if not curves:  # no validation evaluations (e.g. the rehearsal's two-step runs): a row that judges nothing
            rows.append({"variant": variant, "seeds": 0, "steps": np.nan, f"final validation {metric}": np.nan,
                         "plateau gain": np.nan, "converged": False})
            continue
        mean = pd.concat(curves).groupby("step", as_index=False)[metric].mean()
        gain = plateau_gain(mean, metric)
        rows.append({"variant": variant, "seeds": len(curves), "steps": int(mean["step"].max()),
                     f"final validation {metric}": float(mean[metric].iloc[-1]), "plateau gain": gain,
                     "converged": bool(np.isfinite(gain) and gain < threshold)})
    return pd.DataFrame(rows)


def mean_curves(runs: dict[str, list[str | Path]], metric: str = "R@10") -> pd.DataFrame:
    """Long table (variant, step, mean, std over seeds) of the validation curves, for plotting."""
    frames = []
    for variant, dirs in runs.items():
        curves = [validation_curve(d, metric).assign(seed=i) for i, d in enumerate(dirs)]
        curves = [c for c in curves if not c.empty]
        if curves:
            g = pd.concat(curves).groupby("step")[metric]
            frames.append(pd.DataFrame({"variant": variant, "mean": g.mean(), "std": g.std(ddof=1)}).reset_index())
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["variant", "step", "mean", "std"])
