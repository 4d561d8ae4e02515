"""Three outcomes for a paired comparison: a difference, an equivalence within a margin, or inconclusive.

Every comparison pairs VAL with another model trained with the same random seed. Over n seeds the paired
differences d_s = R@K(VAL, s) - R@K(other, s) have mean d and standard deviation s_d; with the standard error
se = s_d / sqrt(n):

- **difference**: the 95% interval d +- t(0.975, n-1) se excludes zero (the two-sided paired t-test, p < 0.05);
- **equivalence** within +-``MARGIN`` points: the 90% interval d +- t(0.95, n-1) se lies inside (-MARGIN, MARGIN)
  (two one-sided tests, TOST, each at 5%; p = the larger of the two one-sided p-values);
- **inconclusive** otherwise, with the seeds a power analysis from the observed s_d would need: the smallest n at
  which a paired t-test has 80% power against a true difference of MARGIN points (about the same n gives TOST 80%
  power to show equivalence if there is no difference).

Within each dataset's family of comparisons, Holm's step-down correction is applied to the difference tests and,
separately, to the equivalence tests: a claim *survives Holm* when its adjusted p-value is below 0.05, so the chance
of any false claim in the family stays at 5%.
"""
from __future__ import annotations

import math

import pandas as pd

from .stats import t_cdf, t_quantile

MARGIN = 3.0     # points of R@K: the equivalence margin (and the effect the power analysis is sized for)
ALPHA = 0.05
POWER = 0.8
MAX_SEEDS = 200  # the power analysis reports "more than this" beyond it


def seeds_needed(sd: float, margin: float = MARGIN, power: float = POWER, alpha: float = ALPHA) -> int:
    """The smallest n (at least 2) at which a paired t-test at ``alpha`` (two-sided) has ``power`` against a true
    difference of ``margin``, for paired differences of standard deviation ``sd`` (the t approximation
    t(1 - alpha/2, n-1) + t(power, n-1) <= margin sqrt(n) / sd); ``MAX_SEEDS + 1`` when more than ``MAX_SEEDS``."""
    if not sd > 0:
        return 2
    for n in range(2, MAX_SEEDS + 1):
        if t_quantile(n - 1, 1 - alpha / 2) + t_quantile(n - 1, power) <= margin * math.sqrt(n) / sd:
            return n
    return MAX_SEEDS + 1


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN)."""
    idx = sorted((i for i, p in enumerate(pvalues) if p == p), key=lambda i: pvalues[i])
    out, running = [math.nan] * len(pvalues), 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, (len(idx) - rank) * pvalues[i]))
        out[i] = running
    return out


def judge(d: pd.Series, margin: float = MARGIN) -> dict:
    """The outcome of one set of paired differences (see the module docstring)."""
    d = d.dropna().astype(float)
    n = len(d)
    mean = float(d.mean()) if n else math.nan
    if n < 2:
        return {"n": n, "mean": mean, "std": math.nan, "outcome": "inconclusive", "p_difference": math.nan,
                "p_equivalence": math.nan, "low": math.nan, "high": math.nan, "low90": math.nan,
                "high90": math.nan, "seeds_needed": math.nan}
    sd = float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    t95, t90 = t_quantile(n - 1, 0.975), t_quantile(n - 1, 0.95)
    if se > 0:
        p_diff = 2 * (1 - t_cdf(abs(mean) / se, n - 1))
        p_equiv = max(1 - t_cdf((mean + margin) / se, n - 1), t_cdf((mean - margin) / se, n - 1))
    else:  # every seed gave the same difference
        p_diff = 0.0 if mean != 0 else 1.0
        p_equiv = 0.0 if abs(mean) < margin else 1.0
    low, high, low90, high90 = mean - t95 * se, mean + t95 * se, mean - t90 * se, mean + t90 * se
    outcome = ("difference" if low > 0 or high < 0 else
               "equivalence" if -margin < low90 and high90 < margin else "inconclusive")
    return {"n": n, "mean": mean, "std": sd, "outcome": outcome, "p_difference": p_diff, "p_equivalence": p_equiv,
            "low": low, "high": high, "low90": low90, "high90": high90,
            "seeds_needed": seeds_needed(sd, margin) if outcome == "inconclusive" else math.nan}


def paired_verdicts(seeds: pd.DataFrame, reference: str = "val", margin: float = MARGIN,
                    references: dict[str, str] | None = None) -> pd.DataFrame:
    """VAL minus each other variant, seed by seed (the seeds both were trained with), per R@K: mean, std, the
    intervals, the outcome, the p-values with Holm's adjustment within the family (every variant and this metric),
    and the seeds an inconclusive comparison would need.

    ``seeds``: one row per (variant, seed), a column per metric (``stats.per_seed``). ``references``: a variant's
    own reference when it is not ``reference`` (a variant trained longer is paired with VAL trained as long).
    Columns: variant, metric, n, mean (VAL - other), std, low, high (95%), low90, high90, outcome, p_difference,
    p_equivalence, holm_difference, holm_equivalence, survives_holm, seeds_needed, reference.
    """
    variants = list(dict.fromkeys(seeds.index.get_level_values("variant")))
    rows = []
    for variant in variants:
        ref = (references or {}).get(variant, reference)
        if variant == reference or variant in (references or {}).values() or ref not in variants:
            continue
        a, b = seeds.xs(ref, level="variant"), seeds.xs(variant, level="variant")
        common = a.index.intersection(b.index)
        for metric in seeds.columns:
            rows.append({"variant": variant, "metric": metric, **judge(a.loc[common, metric] -
                                                                      b.loc[common, metric], margin),
                         "reference": ref})
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    for metric, idx in out.groupby("metric").groups.items():
        out.loc[idx, "holm_difference"] = holm(out.loc[idx, "p_difference"].tolist())
        out.loc[idx, "holm_equivalence"] = holm(out.loc[idx, "p_equivalence"].tolist())
    out["survives_holm"] = [(o == "difference" and hd < ALPHA) or (o == "equivalence" and he < ALPHA)
                            for o, hd, he in zip(out["outcome"], out["holm_difference"], out["holm_equivalence"])]
    first = ["variant", "metric", "n", "mean", "std"]
    return out[first + [c for c in out.columns if c not in first]]


def verdict_sentence(row: dict, dataset: str = "", other: str | None = None, reference: str = "VAL",
                     margin: float = MARGIN) -> str:
    """One comparison as a sentence with its outcome, interval, seed count and whether it survives Holm."""
    from .common import VARIANT_LABELS
    from .stats import DATASET_NAMES

    other = other or VARIANT_LABELS.get(row["variant"], row["variant"])
    where = f"On synthetic {DATASET_NAMES.get(dataset, dataset)}, " if dataset else ""
    metric, n, mean = row["metric"], int(row["n"]), row["mean"]
    if n < 2:
        return (f"{where}{reference} against {other}: {metric} difference {mean:+.1f} points from {n} seed; one seed "
                f"gives no interval, so the study claims nothing.")
    holm_word = "survives Holm's correction" if row.get("survives_holm") else "does not survive Holm's correction"
    ci95 = f"95% interval {row['low']:+.1f} to {row['high']:+.1f}"
    ci90 = f"90% interval {row['low90']:+.1f} to {row['high90']:+.1f}"
    if row["outcome"] == "difference":
        side = "higher" if mean > 0 else "lower"
        small = (f"; the difference is also smaller than the ±{margin:g}-point margin ({ci90})"
                 if -margin < row["low90"] and row["high90"] < margin else "")
        return (f"{where}{reference}'s {metric} is {side} than {other}'s by {abs(mean):.1f} points ({ci95} over "
                f"{n} paired seeds; the claim {holm_word}){small}.")
    if row["outcome"] == "equivalence":
        return (f"{where}{reference} and {other} are equivalent in {metric} within ±{margin:g} points (mean paired "
                f"difference {mean:+.1f}, {ci90} over {n} paired seeds; the claim {holm_word}).")
    need = int(row["seeds_needed"]) if row["seeds_needed"] == row["seeds_needed"] else 0
    need_text = (f"more than {MAX_SEEDS}" if need > MAX_SEEDS else f"about {need}")
    return (f"{where}the study cannot tell {reference} and {other} apart in {metric} (inconclusive: mean paired "
            f"difference {mean:+.1f}, {ci95}, {ci90} over {n} paired seeds); deciding would need {need_text} seeds "
            f"(80% power against a {margin:g}-point difference at the observed paired standard deviation of "
            f"{row['std']:.1f}).")


def verdict_table(paired: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """:func:`paired_verdicts` as a student reads it: one row per comparison, columns named for what they are."""
    from .common import VARIANT_LABELS

    rows = paired if metric is None else paired[paired["metric"] == metric]
    out = pd.DataFrame({
        "against": [VARIANT_LABELS.get(v, v) for v in rows["variant"]], "metric": rows["metric"],
        "seeds": rows["n"], "VAL − other (points)": rows["mean"].round(1),
        "95% interval": [f"{a:+.1f} to {b:+.1f}" if a == a else "-" for a, b in zip(rows["low"], rows["high"])],
        f"90% interval (equivalence: inside ±{MARGIN:g})": [f"{a:+.1f} to {b:+.1f}" if a == a else "-"
                                                            for a, b in zip(rows["low90"], rows["high90"])],
        "outcome": rows["outcome"], "survives Holm": rows["survives_holm"],
        "seeds needed": [int(n) if n == n else "" for n in rows["seeds_needed"]]})
    return out.reset_index(drop=True)
