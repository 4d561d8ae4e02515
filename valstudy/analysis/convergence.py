"""Has a run converged? Validation curves, the plateau criterion, and the step budgets it chose.

Every run of the synthetic study evaluates its EMA weights on its world's validation split
(``valstudy.data.synth.validation``; real data: a quarter of the training references held out,
``valstudy.data.validation``) at every eighth of its L_vv steps. The learning rate drops tenfold after 75% of the
steps, and a drop flattens any curve, so the criterion reads the curve where the rate is still constant
(validation R@10, in points, on the mean curve over a variant's random seeds):

    plateau gain = mean of the evaluations in the last third of the constant-rate segment (steps 50-75%)
                   - mean of the evaluations in the third before it (25-50%)

A variant is on a plateau when its plateau gain is below ``PLATEAU_POINTS``: at a constant rate, the last third of
its steps raised validation recall by less than that. The gain of each seed's own curve gives the criterion's
spread (its 95% interval over seeds). A negative gain is reported as it is. The doubling check
(``bench/convergence.py``) trains every variant for twice its steps and compares validation recall at the end.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ValstudyError
from ..io import read_json
from .common import VARIANT_LABELS

PLATEAU_POINTS = 2.0        # the largest validation R@10 gain over the window that counts as a plateau
WINDOW = (0.25, 0.5, 0.75)  # the criterion's windows, as fractions of the L_vv steps: (25%, 50%] against (50%, 75%]


def validation_curve(record: dict, metric: str = "R@10") -> pd.DataFrame:
    """(step, value) of the validation evaluations a run's record holds, the steps counted from the start of L_vv
    (a pre-training phase, L_vs, comes first in some ablations)."""
    pre = int(record.get("config", {}).get("pretrain_steps", 0) or 0)
    rows = [{"step": int(ev["step"]) - pre, metric: float(split[metric])}
            for ev in record["metrics"]["evaluations"] for split in ev["eval"]
            if split.get("protocol") == "validation" and int(ev["step"]) > pre]
    return pd.DataFrame(rows, columns=["step", metric])


def plateau_gain(curve: pd.DataFrame, steps: int, metric: str = "R@10", window=WINDOW) -> float:
    """Mean ``metric`` over the evaluations in (``window[1]``, ``window[2]``] of ``steps`` minus the mean over
    (``window[0]``, ``window[1]``] (NaN when either holds no evaluation)."""
    if curve.empty:
        return float("nan")
    a, b, c = (w * steps for w in window)
    late = curve[(curve["step"] > b) & (curve["step"] <= c)]
    early = curve[(curve["step"] > a) & (curve["step"] <= b)]
    if late.empty or early.empty:
        return float("nan")
    return float(late[metric].mean() - early[metric].mean())


def _steps(record: dict) -> int:
    return int(record["config"]["steps"])


def convergence_table(runs: dict[str, list[dict]], metric: str = "R@10",
                      threshold: float = PLATEAU_POINTS) -> pd.DataFrame:
    """One row per variant: its seeds, L_vv steps (and pre-training), final validation ``metric`` (seed mean), the
    plateau gain of the seed-mean curve with the 95% interval of the per-seed gains, and whether it is below
    ``threshold``. ``runs`` maps a variant's name to its records (one per random seed)."""
    from .stats import mean_interval

    rows = []
    for variant, records in runs.items():
        pairs = [(r, validation_curve(r, metric)) for r in records]
        pairs = [(r, c) for r, c in pairs if not c.empty]
        if not pairs:  # no validation evaluations (e.g. the rehearsal's two-step runs): a row that judges nothing
            rows.append({"variant": variant, "seeds": 0, "steps": np.nan, "pretrain steps": 0,
                         f"final validation {metric}": np.nan, "plateau gain": np.nan, "gain low": np.nan,
                         "gain high": np.nan, "converged": False})
            continue
        steps = _steps(pairs[0][0])
        mean = pd.concat(c for _, c in pairs).groupby("step", as_index=False)[metric].mean()
        gain = plateau_gain(mean, steps, metric)
        spread = mean_interval([plateau_gain(c, steps, metric) for _, c in pairs])
        rows.append({"variant": variant, "seeds": len(pairs), "steps": steps,
                     "pretrain steps": int(pairs[0][0]["config"].get("pretrain_steps", 0) or 0),
                     f"final validation {metric}": float(mean[metric].iloc[-1]), "plateau gain": gain,
                     "gain low": spread["low"], "gain high": spread["high"],
                     "converged": bool(np.isfinite(gain) and gain < threshold)})
    return pd.DataFrame(rows)


def mean_curves(runs: dict[str, list[dict]], metric: str = "R@10") -> pd.DataFrame:
    """Long table (variant, step, fraction of the variant's L_vv steps, mean, std over seeds) of the validation
    curves, for plotting."""
    frames = []
    for variant, records in runs.items():
        curves = [validation_curve(r, metric).assign(seed=i) for i, r in enumerate(records)]
        curves = [c for c in curves if not c.empty]
        if curves:
            g = pd.concat(curves).groupby("step")[metric]
            frame = pd.DataFrame({"variant": variant, "mean": g.mean(), "std": g.std(ddof=1)}).reset_index()
            frames.append(frame.assign(fraction=frame["step"] / _steps(records[0])))
    columns = ["variant", "step", "fraction", "mean", "std"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


DOUBLING = Path(__file__).resolve().parents[2] / "docs" / "convergence.json"  # bench/convergence.py writes it


def doubling_rows(dataset: str | None = None, path: str | Path = DOUBLING) -> tuple[list[dict], float]:
    """The doubling check's rows (of ``dataset``, or all) and its tolerance in points, from ``path``, which
    ``bench/convergence.py`` writes; none when it is absent or was run on any split but validation (a budget is
    never judged on test)."""
    path = Path(path)
    check = read_json(path) if path.is_file() else {}
    if check.get("split") != "validation":
        return [], PLATEAU_POINTS
    rows = check.get("rows", [])
    for i, r in enumerate(rows):
        for key in ("dataset", "variant", "seed", "gain"):
            if key not in r:
                raise ValstudyError(f"{path}: row {i} has no '{key}' (rerun bench/convergence.py)")
    return [r for r in rows if dataset in (None, r["dataset"])], float(check.get("tolerance", PLATEAU_POINTS))


def budget_rows(rows: list[dict], steps) -> list[dict]:
    """The doubling check's rows that bear on budgets ``steps``: the check that doubled to them (it chose them) and
    the check that doubled from them."""
    steps = set(steps)
    return [r for r in rows if r.get("steps") in steps or r.get("steps_doubled") in steps]


def doubling_sentences(rows: list[dict], tolerance: float, threshold: float = PLATEAU_POINTS) -> list[str]:
    """One sentence per doubling (from ``steps`` to ``steps_doubled``) of the check's ``rows``: how far final
    validation R@10 moved, which variants gained ``tolerance`` points or more, and how many doubled runs meet the
    constant-rate criterion (gain below ``threshold``)."""
    out = []
    for s, d in sorted({(r["steps"], r["steps_doubled"]) for r in rows}):
        group = [r for r in rows if (r["steps"], r["steps_doubled"]) == (s, d)]
        gains = [r["gain"] for r in group]
        big = [r for r in group if r["gain"] >= tolerance]
        flat = [r for r in group if r.get("plateau gain doubled") is not None
                and r["plateau gain doubled"] < threshold]
        seeds = sorted({r["seed"] for r in group})
        out.append(
            f"The doubling check from {s:,} to {d:,} steps (random seed {', '.join(map(str, seeds))}, {len(group)} "
            f"variants) moves final validation R@10 by {min(gains):+.1f} to {max(gains):+.1f} points" +
            ("" if not big else f"; gaining {tolerance:g} or more: " + ", ".join(
                f"{VARIANT_LABELS.get(r['variant'], r['variant'])} ({r['gain']:+.1f})" for r in big)) +
            f"; at {d:,} steps {len(flat)} of {len(group)} runs meet the constant-rate criterion.")
    return out


def still_rising(table: pd.DataFrame | list[dict]) -> dict[str, int]:
    """The variants a convergence table (``convergence_table``, or its records) judges still rising at a constant
    learning rate, with their L_vv steps."""
    rows = table.to_dict("records") if isinstance(table, pd.DataFrame) else list(table)
    return {r["variant"]: int(r["steps"]) for r in rows
            if r.get("plateau gain") is not None and np.isfinite(r["plateau gain"]) and not r["converged"]}


def plateau_note(row: dict, rising: dict[str, int]) -> str:
    """The clause a comparison's sentence ends with when either side was still rising (``still_rising``): its
    verdict is at equal budgets, not between plateaus; empty otherwise."""
    sides = [v for v in (row.get("reference") or "val", row["variant"]) if v in rising]
    if not sides:
        return ""
    return ("; " + " and ".join(VARIANT_LABELS.get(v, v) for v in sides) + f" still rising at a constant learning "
            f"rate ({rising[sides[0]]:,} steps): compared at equal budgets, not on a plateau")


def by_variant(records: list[dict]) -> dict[str, list[dict]]:
    """Records grouped by their variant label, in order (the input ``convergence_table`` takes)."""
    out: dict[str, list[dict]] = {}
    for rec in records:
        out.setdefault(rec["labels"]["variant"], []).append(rec)
    return out
