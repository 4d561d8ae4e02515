"""Seeds and paired intervals: means and spreads over random seeds, and paired 95% t-intervals.

Every comparison the study states is VAL against another model trained with the same random seed (a baseline, or
an ablation of VAL). Over n seeds the paired differences d_s = R@K(VAL, s) - R@K(other, s) give a mean, a standard
deviation and a 95% t-interval, mean +- t(0.975, n - 1) * std / sqrt(n) (t = 4.303 for 3 seeds).
``valstudy.analysis.verdicts`` turns them into the study's three outcomes; ``valstudy.analysis.findings`` writes the
README's generated block.
"""
from __future__ import annotations

import functools
import math

import pandas as pd

from ..errors import ValstudyError
from .common import ABLATION_GROUPS, VARIANT_LABELS

DATASET_NAMES = {"fashion200k": "Fashion200k", "shoes": "Shoes", "fashioniq": "FashionIQ"}
HEADLINE = "R@10"  # the recall the sentences speak of (the paper's headline recall on every dataset)


def t_cdf(x: float, df: int) -> float:
    """P(T <= x) for Student's t with ``df`` degrees of freedom (regularised incomplete beta, continued fraction)."""
    if not math.isfinite(x):
        return 1.0 if x > 0 else 0.0
    z = df / (df + x * x)
    tail = 0.5 * _betainc(df / 2, 0.5, z)  # P(T > |x|)
    return 1.0 - tail if x >= 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) (Numerical Recipes' continued fraction)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x))
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _betainc(b, a, 1.0 - x)
    f, c, d = 1.0, 1.0, 0.0
    for i in range(400):
        m = i // 2
        if i == 0:
            num = 1.0
        elif i % 2 == 0:
            num = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        else:
            num = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + num * d
        d = 1.0 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1.0 + num / (c if abs(c) > 1e-300 else 1e-300)
        f *= c * d
        if abs(1.0 - c * d) < 1e-14:
            break
    return front * (f - 1.0) / a


@functools.lru_cache(maxsize=None)
def t_quantile(df: int, p: float = 0.975) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (bisection on :func:`t_cdf`).

    Computed rather than tabled so any seed count works: df = 2 gives 4.303, df = 1 gives 12.706.
    """
    if df < 1:
        raise ValueError(f"t quantile needs df >= 1, got {df}")
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def per_seed(df: pd.DataFrame, protocol: str, metrics: tuple[str, ...] = ("R@",)) -> pd.DataFrame:
    """R@K per (variant, seed) under one protocol, averaged over categories (FashionIQ), from ``gather_results``.

    ``variant`` is the method for the method comparison (``val``, ``tirg``, ...) and the ablation's name for
    ablations (``no_sa``, ...); full VAL is the methods' ``val``. ``metrics``: the column prefixes kept, in this
    order, each by increasing K (``("R@", "valid@")`` adds valid@K where evaluation computed it).
    """
    sel = df[df["protocol"] == protocol]
    if sel.empty:
        raise ValstudyError(f"no results under protocol {protocol!r}; train the runs first (python -m valstudy.study)")
    variant = sel["variant"] if "variant" in sel else sel["method"]
    sel = sel.assign(variant=variant.fillna(sel["method"]))
    ks = [c for prefix in metrics for c in sorted((c for c in sel.columns if c.startswith(prefix)
                                                   and c[len(prefix):].isdigit()), key=lambda c: int(c[len(prefix):]))]
    return sel.groupby(["variant", "seed"], sort=False)[ks].mean()


def ablation_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The ablation runs and full VAL's method-comparison runs with the ablations' seeds (seed 0 without any)."""
    abl = df["experiment"] == "ablations"
    seeds = set(df.loc[abl, "seed"]) or {0}
    return df[abl | ((df["experiment"] == "methods") & (df["method"] == "val") & df["seed"].isin(seeds))]


def seed_summary(seeds: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation (ddof 1; NaN for one seed) over the seeds of each variant, and the seed count."""
    g = seeds.groupby(level="variant", sort=False)
    out = g.mean().add_suffix(" mean").join(g.std(ddof=1).add_suffix(" std"))
    ks = list(seeds.columns)
    out = out[[f"{k} {s}" for k in ks for s in ("mean", "std")]]
    out["seeds"] = g.size()
    return out


def ablation_table(seeds: pd.DataFrame) -> pd.DataFrame:
    """Full VAL and each ablation: group, mean and std of each R@K and of their mean over the seeds, seed count.

    ``seeds`` is :func:`per_seed` restricted to ``val`` and the ablations; rows in the paper's order, labelled.
    """
    seeds = seeds.assign(**{"mean R@K": seeds.mean(axis=1)})
    t = seed_summary(seeds)
    order = list(VARIANT_LABELS)  # full VAL, then the ablations in the paper's order
    t = t.iloc[sorted(range(len(t)), key=lambda i: order.index(t.index[i]) if t.index[i] in order else len(order))]
    t.insert(0, "group", [ABLATION_GROUPS.get(v, "full model") for v in t.index])
    t.index = pd.Index([VARIANT_LABELS.get(v, v) for v in t.index], name="variant")
    return t


def paired_differences(seeds: pd.DataFrame, reference: str = "val", level: float = 0.95) -> pd.DataFrame:
    """VAL minus each other variant, seed by seed (only seeds both were trained with), per R@K.

    Columns: variant, metric, n (paired seeds), mean, std, t, low, high (the ``level`` t-interval of the mean
    difference; NaN with fewer than 2 seeds), excludes_zero.
    """
    if reference not in seeds.index.get_level_values("variant"):
        raise ValstudyError(f"no {reference!r} runs to compare against; train them first (python -m valstudy.study)")
    ref = seeds.xs(reference, level="variant")
    rows = []
    for variant in dict.fromkeys(seeds.index.get_level_values("variant")):
        if variant == reference:
            continue
        other = seeds.xs(variant, level="variant")
        common = ref.index.intersection(other.index)
        for metric in seeds.columns:
            d = (ref.loc[common, metric] - other.loc[common, metric]).astype(float)
            n = len(d)
            mean = float(d.mean()) if n else math.nan
            std = float(d.std(ddof=1)) if n > 1 else math.nan
            t = t_quantile(n - 1, 0.5 + level / 2) if n > 1 else math.nan
            half = t * std / math.sqrt(n) if n > 1 else math.nan
            low, high = mean - half, mean + half
            rows.append({"variant": variant, "metric": metric, "n": n, "mean": mean, "std": std, "t": t,
                         "low": low, "high": high, "excludes_zero": bool(n > 1 and (low > 0 or high < 0))})
    return pd.DataFrame(rows)


def mean_interval(values, level: float = 0.95) -> dict:
    """n, mean, std and the ``level`` t-interval of the mean of ``values`` (NaN interval below 2 values)."""
    v = pd.Series(values, dtype=float).dropna()
    n, mean = len(v), float(v.mean()) if len(v) else math.nan
    std = float(v.std(ddof=1)) if n > 1 else math.nan
    half = t_quantile(n - 1, 0.5 + level / 2) * std / math.sqrt(n) if n > 1 else math.nan
    return {"n": n, "mean": mean, "std": std, "low": mean - half, "high": mean + half}


def region_excess(maps: list[dict], masks: list, levels) -> pd.DataFrame:
    """Per level, over the queries with a changed region: the share of JA spatial-attention mass inside the region
    minus the region's area fraction (0 for attention spread uniformly), its mean and 95% t-interval over queries."""
    from .attention import upsample

    rows = {}
    for lv in levels:
        excess = []
        for m, mask in zip(maps, masks):
            if mask is None or lv not in m.get("spatial", {}):
                continue
            up = upsample(m["spatial"][lv], mask.shape)
            excess.append(float((up * mask).sum() / max(up.sum(), 1e-12)) - float(mask.mean()))
        rows[lv] = mean_interval(excess)
    return pd.DataFrame.from_dict(rows, orient="index")


def region_sentence(level: str, row: dict, dataset: str = "") -> str:
    """One level of :func:`region_excess` as a sentence: a direction only when the interval excludes zero."""
    where = f"On synthetic {DATASET_NAMES.get(dataset, dataset)}, at the {level} level" if dataset else \
        f"At the {level} level"
    n = int(row["n"])
    if n < 2:
        return f"{where} only {n} query has a changed region: no interval, no claim."
    interval = f"95% interval over {n} queries: {row['low']:+.3f} to {row['high']:+.3f}"
    if row["low"] > 0 or row["high"] < 0:
        word = "more" if row["mean"] > 0 else "less"
        return (f"{where} the joint-attention spatial map puts {abs(row['mean']):.3f} {word} of its mass inside the "
                f"changed region than uniform attention would ({interval}).")
    return (f"{where} the study detects no difference between the joint-attention mass inside the changed region "
            f"and the region's share of the image (mean {row['mean']:+.3f}; {interval}).")


def mean_std_text(summary: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """The summary as ``mean ± std`` strings (one column per R@K) for display; the numbers stay in the CSV."""
    ks = [c[:-5] for c in summary.columns if c.endswith(" mean")]
    out = pd.DataFrame(index=summary.index)
    for k in ks:
        m, s = summary[f"{k} mean"], summary[f"{k} std"]
        out[k] = [f"{a:.{digits}f}" + ("" if math.isnan(b) else f" ± {b:.{digits}f}") for a, b in zip(m, s)]
    if "seeds" in summary:
        out["seeds"] = summary["seeds"]
    return out
