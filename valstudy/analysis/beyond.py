"""Beyond the paper: valid@K against R@K (by method, and by caption vagueness), and the simulated user over methods
and seeds.

The numbers come from each run's record (``valstudy.study.records``): its results (``valstudy.evaluation``:
valid@K, ``by_style``) and the simulated user's sessions measured on its weights when it was recorded
(``valstudy.analysis.measures``, ``valstudy.simulate``).
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from ..errors import ValstudyError
from .common import VARIANT_LABELS

STYLE_ORDER = ("absolute", "relative", "vague", "unknown")


def paper_rank(method: str) -> int:
    """A method's place in the paper's order (``VARIANT_LABELS``: VAL first); unknown methods come last."""
    order = list(VARIANT_LABELS)
    return order.index(method) if method in order else len(order)


def metric_table(records: Sequence[dict]) -> pd.DataFrame:
    """Mean and std over seeds of R@K, valid@K, precision@K and refsim@K per (method, protocol), FashionIQ's
    categories averaged first. ``records``: the method runs' records (:func:`method_records`)."""
    rows = []
    for rec in records:
        res = rec["results"]
        for s in res["splits"]:
            rows.append({"method": res["method"], "seed": res["seed"], "protocol": s["protocol"],
                         **{k: v for k, v in s.items() if k.startswith(("R@", "valid@", "precision@", "refsim@"))
                            and "ceiling" not in k}})
    df = pd.DataFrame(rows).groupby(["method", "seed", "protocol"], sort=False).mean().reset_index()
    cols = [c for c in df.columns if c not in ("method", "seed", "protocol")]
    out = df.groupby(["method", "protocol"], sort=False)[cols].agg(["mean", "std"])
    out.columns = [f"{m} {stat}" for m, stat in out.columns]  # "R@10 mean", "R@10 std", as summary_table names them
    out["seeds"] = df.groupby(["method", "protocol"], sort=False)["seed"].nunique()
    return out


def vagueness_table(records: Sequence[dict], protocol: str, k: int) -> pd.DataFrame:
    """Per (method, caption style): queries, mean number of valid targets, R@k, valid@k and their gap, pooled over
    categories and averaged over seeds."""
    rows, methods = [], list(dict.fromkeys(rec["results"]["method"] for rec in records))
    for rec in records:
        res = rec["results"]
        for s in res["splits"]:
            if s["protocol"] != protocol or "by_style" not in s:
                continue
            for style, c in s["by_style"].items():
                rows.append({"method": res["method"], "seed": res["seed"], "style": style, "queries": c["queries"],
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
                                        else c.map(methods.index))


def recall_valid_table(results: pd.DataFrame) -> pd.DataFrame:
    """R@K beside valid@K per (method, protocol): mean and std over seeds of each and of their gap
    ``valid@K - R@K`` (taken seed by seed), FashionIQ's categories averaged first, and the seed count.

    ``results``: ``valstudy.results.gather_results`` rows. Only the K with both R@K and valid@K, and only the
    (method, protocol) pairs with valid@K, appear; the table is empty where no run has valid@K (real data: the
    attributes it needs exist only in the synthetic world). Methods in the paper's order (VAL first).
    """
    ks = sorted((c[len("valid@"):] for c in results.columns if c.startswith("valid@")
                 and c[len("valid@"):].isdigit() and f"R@{c[len('valid@'):]}" in results.columns), key=int)
    if not ks:
        return pd.DataFrame()
    cols = [f"{m}@{k}" for k in ks for m in ("R", "valid")]
    df = results.dropna(subset=[f"valid@{k}" for k in ks], how="all")
    df = df.groupby(["method", "protocol", "seed"], sort=False)[cols].mean()  # categories averaged, per seed
    for k in ks:
        df[f"valid@{k} - R@{k}"] = df[f"valid@{k}"] - df[f"R@{k}"]
    cols = [c for k in ks for c in (f"R@{k}", f"valid@{k}", f"valid@{k} - R@{k}")]
    g = df.groupby(level=["method", "protocol"], sort=False)
    out = g[cols].mean().add_suffix(" mean").join(g[cols].std(ddof=1).add_suffix(" std"))
    out = out[[f"{c} {s}" for c in cols for s in ("mean", "std")]]
    out["seeds"] = g.size()
    rank = [paper_rank(m) for m in out.index.get_level_values("method")]
    return out.iloc[sorted(range(len(out)), key=rank.__getitem__)]


def simulation_per_seed(records: Sequence[dict]) -> pd.DataFrame:
    """The simulated user's success within T turns (percent) per (variant = method, seed), one column ``T=t`` per
    turn count, from the records' measures: the input of ``seed_summary`` and ``paired_differences``."""
    rows = []
    for rec in records:
        sim = rec.get("measures", {}).get("simulation")
        if sim is None:
            raise ValstudyError(f"record of {rec['name']}: no simulated user measured; run `make study` to measure it")
        rows.append({"variant": rec["results"]["method"], "seed": rec["results"]["seed"],
                     **{f"T={t + 1}": v for t, v in enumerate(sim["success"])}})
    return pd.DataFrame(rows).groupby(["variant", "seed"], sort=False).mean()


def simulation_table(per_seed: pd.DataFrame) -> pd.DataFrame:
    """Per (method, T): mean, std and count over seeds of the simulated user's success within T turns (percent),
    from :func:`simulation_per_seed`'s table."""
    long = per_seed.rename_axis(columns="T").stack().rename("success").reset_index()
    long["T"] = long["T"].str[2:].astype(int)
    out = long.rename(columns={"variant": "method"}).groupby(["method", "T"], sort=False)["success"]
    return out.agg(["mean", "std", "count"]).rename(columns={"count": "seeds"})


def method_records(records: Sequence[dict], methods: Sequence[str] | None = None) -> list[dict]:
    """The method runs' records (``experiment == "methods"``) in the paper's order, VAL first, then by seed."""
    sel = [r for r in records if r["labels"].get("experiment") == "methods"
           and (not methods or r["results"]["method"] in methods)]
    return sorted(sel, key=lambda r: (paper_rank(r["results"]["method"]), r["results"]["seed"]))


def valid_gap_sentence(table: pd.DataFrame, protocol: str, k: int = 10, dataset: str = "") -> str:
    """One protocol of :func:`recall_valid_table` as a sentence: the range of the gap valid@k - R@k over methods,
    and whether ordering the methods by mean valid@k gives their order by mean R@k."""
    from .stats import DATASET_NAMES

    part = table.xs(protocol, level="protocol")
    gap = part[f"valid@{k} - R@{k} mean"]
    lo, hi = gap.idxmin(), gap.idxmax()
    seeds = int(part["seeds"].max())
    where = f"On synthetic {DATASET_NAMES.get(dataset, dataset)} (protocol '{protocol}')" if dataset else \
        f"Under protocol '{protocol}'"

    def ranked(metric: str) -> list[str]:
        return [VARIANT_LABELS.get(m, m) for m in part[metric].sort_values(ascending=False, kind="stable").index]

    by_r, by_valid = ranked(f"R@{k} mean"), ranked(f"valid@{k} mean")
    same = f"the same order as by R@{k}" if by_valid == by_r else f"not their order by R@{k} ({', '.join(by_r)})"
    return (f"{where}, valid@{k} exceeds R@{k} by {gap[lo]:.1f} ({VARIANT_LABELS.get(lo, lo)}) to {gap[hi]:.1f} "
            f"points ({VARIANT_LABELS.get(hi, hi)}), means over {seeds} seed{'s' if seeds > 1 else ''}: the share of "
            f"queries whose top {k} holds an image doing what the text asks, though not the annotated target; "
            f"ordered by mean valid@{k}, the methods read {', '.join(by_valid)}: {same}.")
