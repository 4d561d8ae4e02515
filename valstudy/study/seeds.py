"""Plan the study's random seeds from its pilot's spread on the validation split, never from a verdict.

The pilot is the study's own first ``pilot`` random seeds of every variant (the synthetic profile's ``seeds``, their
records under ``records/synthetic``): the seeds the plan adds come after them, so no pilot run is wasted. For each of
the paper's comparisons (VAL against TIRG and against each ablation; the baselines concat, image-only and text-only
keep the pilot's seeds), the standard deviation over the pilot's seeds of the paired difference of *final
validation* R@10 (the last evaluation of each run on its validation split, paired by seed) sets the seeds the
comparison gets: the smallest n at which a paired t-test has 80% power against a difference of
``valstudy.analysis.verdicts.MARGIN`` points (``seeds_needed``), clamped to [``lo``, ``hi``] (what the machine can
give). Nothing from the test split is read, and of the validation numbers only the spread is: the pilot's mean
differences, intervals and outcomes play no part, so the plan is the same whatever the verdicts will be. VAL (or the
VAL variant a comparison pairs with) gets the most seeds any of its comparisons gets, so every comparison is paired
on all of its own seeds.

The validation split is smaller than the test split, so its sampling error adds to the seed-to-seed spread: the
plan errs towards more seeds. ``bench/seeds.py`` writes the plan to ``docs/seeds.json``; the synthetic profile's
``SEED_PLAN`` (``valstudy/config/study.py``) holds a copy, and a test checks that the two agree.
"""
from __future__ import annotations

import math

import pandas as pd

from ..analysis.convergence import validation_curve
from ..analysis.findings import BASELINES
from ..analysis.verdicts import MARGIN, seeds_needed


def final_validation(records: list[dict], metric: str = "R@10") -> pd.DataFrame:
    """One row per run: its variant, seed, and ``metric`` at its last validation evaluation (runs without one are
    left out)."""
    rows = []
    for rec in records:
        curve = validation_curve(rec, metric)
        if curve.empty:
            continue
        last = curve.groupby("step")[metric].mean().sort_index()
        rows.append({"variant": rec["labels"]["variant"], "seed": int(rec["config"]["seed"]),
                     metric: float(last.iloc[-1])})
    return pd.DataFrame(rows, columns=["variant", "seed", metric])


def plan_seeds(records: list[dict], lo: int, hi: int, pilot: int, references: dict[str, str] | None = None,
               metric: str = "R@10", margin: float = MARGIN) -> tuple[dict[str, int], list[dict]]:
    """(variant -> random seeds, one row per comparison: its pilot seeds, the paired SD of final validation
    ``metric`` and the seeds it needs and gets). ``references`` maps a variant to the VAL variant it is paired with
    (``valstudy.study.plan.reference_variants``; default VAL's method runs)."""
    if not 2 <= pilot <= lo <= hi:
        raise ValueError(f"need 2 <= pilot ({pilot}) <= lo ({lo}) <= hi ({hi})")
    refs = references or {}
    table = final_validation(records, metric)
    table = table[table["seed"] < pilot].set_index(["variant", "seed"])[metric]
    variants = list(dict.fromkeys(table.index.get_level_values("variant")))
    out, rows = {}, []
    for v in variants:
        ref = refs.get(v, "val")
        if v == "val" or v in refs.values() or v in BASELINES or ref not in variants:
            continue
        d = (table.xs(ref, level="variant") - table.xs(v, level="variant")).dropna()
        sd = float(d.std(ddof=1)) if len(d) > 1 else math.nan
        need = seeds_needed(sd, margin) if sd == sd else hi
        out[v] = min(max(need, lo), hi)
        rows.append({"variant": v, "reference": ref, "pilot seeds": len(d), "paired sd": sd, "seeds needed": need,
                     "seeds planned": out[v]})
    for ref in sorted({refs.get(v, "val") for v in out}):  # a reference gets its comparisons' most seeds
        out[ref] = max(n for v, n in out.items() if refs.get(v, "val") == ref)
    return out, rows


__all__ = ["final_validation", "plan_seeds"]
