"""Attention measures over random seeds, with 95% intervals, and the sentences the chapter and the README state.

The inputs are :func:`valstudy.analysis.attention_run.measure_run` dicts, one per random seed of one dataset's VAL
runs (computed in the chapter, or read from records). Every number is a mean over seeds with its 95% t-interval
(``stats.mean_interval``: t(0.975, n - 1) * std / sqrt(n)); a comparison (the gate against its null, text against
image sensitivity) is the interval of the paired difference per seed, and a direction is claimed only where that
interval excludes zero.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .stats import DATASET_NAMES, mean_interval

# Per-seed differences the sentences judge: name -> (key a, key b, on the log scale).
PAIRED = {"ratio_vs_null": ("ratio", "ratio_null", True),
          "ratio_vs_shuffled": ("ratio", "ratio_shuffled", True),
          "corr_vs_shuffled": ("residual_mask_corr", "residual_mask_corr_shuffled", False),
          "text_vs_image": ("text_sensitivity", "image_sensitivity", False)}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v is not None and math.isfinite(v)


def seed_intervals(records: list[dict]) -> dict:
    """Per level, the mean and 95% interval over seeds of every number :func:`measure_run` gives for it, plus the
    paired differences of ``PAIRED``; and the same for ``r10`` and ``delta_r10_all_mean_gates``.

    Returns ``{"dataset", "seeds", "r10", "delta_r10_all_mean_gates", "levels": {level: {key: {n, mean, std, low,
    high}}}}``; a key measured in no seed (real data's region measures) is absent.
    """
    levels: dict[str, dict] = {}
    for lv in dict.fromkeys(lv for r in records for lv in r["levels"]):
        rows = [r["levels"][lv] for r in records if lv in r["levels"]]
        keys = dict.fromkeys(k for row in rows for k, v in row.items() if _number(v))
        out = {k: mean_interval([row[k] for row in rows if _number(row.get(k))]) for k in keys}
        for name, (a, b, log) in PAIRED.items():
            pairs = [(row[a], row[b]) for row in rows if _number(row.get(a)) and _number(row.get(b))]
            if pairs:
                out[name] = mean_interval([math.log(x / y) if log else x - y for x, y in pairs if not log or
                                           (x > 0 and y > 0)])
        levels[lv] = out
    top = {k: mean_interval([r[k] for r in records if _number(r.get(k))])
           for k in ("r10", "delta_r10_all_mean_gates")}
    return {"dataset": records[0]["dataset"] if records else None, "seeds": len(records),
            "synthetic": bool(records) and all(r.get("regions") for r in records), **top, "levels": levels}


def control_table(records: list[dict]) -> pd.DataFrame:
    """The positive control beside VAL, mean over seeds: one row per (level, source) with ``strength`` and the
    region measures; VAL's own gates are the row with source "VAL"."""
    rows = []
    for r in records:
        for lv, control in (r.get("positive_control") or {}).items():
            for c in control:
                rows.append({"level": lv, **c})
            rows.append({"level": lv, "source": "VAL", "strength": None,
                         **{k: r["levels"][lv].get(k) for k in control[0] if k not in ("source", "strength")}})
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    df["strength"] = df["strength"].astype(float)
    keys = ["level", "source", "strength"]
    return (df.groupby(keys, sort=False, dropna=False).mean(numeric_only=True).reset_index())


def blend_equivalent(table: pd.DataFrame, level: str, ratio: float) -> float | None:
    """The blend strength s at which a blend of prior and region has ``ratio`` (linear between the positive
    control's strengths); None outside the range the blends cover."""
    b = table[(table["level"] == level) & (table["source"] == "blend")].sort_values("strength")
    if b.empty or not _number(ratio):
        return None
    s, r = b["strength"].to_numpy(), b["ratio"].to_numpy()
    if not (r.min() <= ratio <= r.max()) or np.any(np.diff(r) <= 0):
        return None
    return float(np.interp(ratio, r, s))


def _iv(row: dict, digits: int = 2, sign: str = "") -> str:
    """'mean (95% interval over n seeds: low to high)', or 'mean (one seed, no interval)'."""
    f = f"{sign}.{digits}f"
    if row["n"] < 2:
        return f"{row['mean']:{f}} (one seed, no interval)"
    return f"{row['mean']:{f}} (95% interval over {row['n']} seeds: {row['low']:{f}} to {row['high']:{f}})"


def _data(summary: dict) -> str:
    """'synthetic Shoes' (data with changed regions) or 'Shoes'."""
    name = DATASET_NAMES.get(summary["dataset"], summary["dataset"])
    return f"synthetic {name}" if summary.get("synthetic") else name


def _excludes_zero(row: dict | None) -> bool:
    return row is not None and row["n"] >= 2 and (row["low"] > 0 or row["high"] < 0)


def _versus_null(d: dict) -> str:
    """The sentence on the gate's ratio over its query-averaged map's (per-seed log differences ``d``)."""
    factor = f"factor {math.exp(d['mean']):.3f}"
    if d["n"] < 2:
        return f" Against its own query-averaged map: {factor} (one seed, no claim)."
    factor += f"; 95% interval {math.exp(d['low']):.3f} to {math.exp(d['high']):.3f}"
    if _excludes_zero(d):
        side = ("above", "into") if d["mean"] > 0 else ("below", "out of")
        return (f" The gate is {side[0]} its own query-averaged map there ({factor}): its per-query part moves mass "
                f"{side[1]} the changed region.")
    return (f" The study detects no difference between the gate and its own query-averaged map ({factor}): what "
            f"lies inside the region is what a fixed prior puts there.")


def level_sentences(summary: dict, level: str, control: pd.DataFrame | None = None) -> list[str]:
    """The sentences of one dataset's level, generated from :func:`seed_intervals` (and the positive control's
    :func:`control_table`, for the blend strength VAL's ratio equals): the ratio with its null and ceiling, the
    residual against the region, text against image sensitivity, the interventions, and a finding."""
    where = f"On {_data(summary)}, at the {level} level"
    m = summary["levels"].get(level, {})
    out = []
    if "ratio" in m:
        refs = {"ratio_null": "its query-averaged map (the null) scores {:.2f}",
                "ratio_shuffled": "paired with other queries' regions it scores {:.2f}",
                "ratio_mask": "the region itself {:.1f}", "ratio_mask_grid": "the region on this level's grid {:.1f}"}
        s = (f"{where}, the joint-attention spatial gate's mass inside the changed region is {_iv(m['ratio'])} times "
             f"the region's area share (1 = a uniform map; geometric mean over queries); "
             + ", ".join(text.format(m[k]["mean"]) for k, text in refs.items() if k in m) + ".")
        if "ratio_vs_null" in m:
            s += _versus_null(m["ratio_vs_null"])
        eq = blend_equivalent(control, level, m["ratio"]["mean"]) if control is not None and len(control) else None
        if eq is not None and eq >= 0.005:
            s += f" A blend of {eq:.0%} region and {1 - eq:.0%} prior scores the same ratio."
        out.append(s)
    if "residual_mask_corr" in m:
        sh, auc = m.get("residual_mask_corr_shuffled"), m.get("residual_mask_auc")
        out.append(f"{where}, the residual (gate minus its query-averaged map) correlates "
                   f"{_iv(m['residual_mask_corr'], sign='+')} with the changed region"
                   + (f" (with other queries' regions {sh['mean']:+.2f})" if sh else "")
                   + (f"; its AUC is {auc['mean']:.2f} (0.5 = chance, below 0.5 = lower inside the region)" if auc
                      else "") + ".")
    if "text_sensitivity" in m and "image_sensitivity" in m:
        d = m.get("text_vs_image")
        s = (f"{where}, another caption moves the spatial gate by {_iv(m['text_sensitivity'], 4)}, another image "
             f"under the same caption by {_iv(m['image_sensitivity'], 4)} (mean absolute differences on the gate's "
             f"[0, 1] scale)")
        if d is None or d["n"] < 2:
            s += "; with one seed, no comparison."
        elif _excludes_zero(d):
            s += f": the gate follows the {'text' if d['mean'] > 0 else 'image'} more."
        else:
            s += ": the study detects no difference between the two."
        out.append(s)
    for key, what in (("delta_r10_mean_gate", "the spatial gate by its query-averaged map"),
                      ("delta_r10_mean_channel", "the channel gate by its query-averaged vector"),
                      ("delta_r10_sa_zero", "the self-attention stream's output by zero")):
        if key in m:
            out.append(f"{where}, replacing {what} changes R@10 by {_iv(m[key], 1, '+')} points.")
    if "delta_r10_mean_gate" in m:
        d = m["delta_r10_mean_gate"]
        if d["n"] < 2:
            verdict = "with one seed there is no interval, so no finding on whether retrieval uses the spatial gate"
        elif _excludes_zero(d):
            verdict = (f"the spatial gate's per-query part matters to retrieval: without it R@10 "
                       f"{'falls' if d['mean'] < 0 else 'rises'} by {abs(d['mean']):.1f} points")
        else:
            verdict = ("the spatial gate's per-query part does not measurably matter to retrieval: the 95% interval "
                       "of the change in R@10 includes zero")
        out.append(f"Finding ({level} level): {verdict}.")
    return out


def attention_sentences(summary: dict, control: pd.DataFrame | None = None) -> list[str]:
    """Every level's :func:`level_sentences` of one dataset, low to high, then all levels' gates at once."""
    out = [s for lv in summary["levels"] for s in level_sentences(summary, lv, control)]
    d = summary.get("delta_r10_all_mean_gates")
    if d and d["n"]:
        out.append(f"On {_data(summary)}, replacing every level's spatial gate by its query-averaged map at once "
                   f"changes R@10 by {_iv(d, 1, '+')} points (R@10 {summary['r10']['mean']:.1f}).")
    return out


def interval_frame(summary: dict, keys) -> pd.DataFrame:
    """Rows ``level``, ``measure``, ``n``, ``mean``, ``low``, ``high`` of :func:`seed_intervals` for ``keys`` (the
    frame ``plotting.region_ratio_plot`` and ``plotting.interval_bars`` draw); measures a level lacks are left out."""
    rows = [{"level": lv, "measure": k, **m[k]} for lv, m in summary["levels"].items() for k in keys if k in m]
    return pd.DataFrame(rows, columns=["level", "measure", "n", "mean", "std", "low", "high"])


def interval_table(summary: dict, keys: dict[str, str], digits: int = 2) -> pd.DataFrame:
    """One row per level, one column per key (renamed by ``keys``): "mean [low, high]" over seeds (the mean alone
    for one seed; "-" where not measured)."""
    def cell(m):
        if m is None:
            return "-"
        if m["n"] < 2:
            return f"{m['mean']:.{digits}f}"
        return f"{m['mean']:.{digits}f} [{m['low']:.{digits}f}, {m['high']:.{digits}f}]"

    return pd.DataFrame({label: [cell(m.get(k)) for m in summary["levels"].values()] for k, label in keys.items()},
                        index=pd.Index(list(summary["levels"]), name="level"))


def readme_line(summary: dict) -> str:
    """One line per dataset for the README's generated block: per level the ratio (null; ceiling), the text and
    image sensitivity, and the spatial gate's intervention with its interval."""
    parts = []
    for lv, m in summary["levels"].items():
        bits = []
        if "ratio" in m:
            bits.append(f"ratio {m['ratio']['mean']:.2f} (null {m['ratio_null']['mean']:.2f}, region "
                        f"{m['ratio_mask']['mean']:.1f})")
        if "text_sensitivity" in m and "image_sensitivity" in m:
            bits.append(f"moved by another caption {m['text_sensitivity']['mean']:.2g} / another image "
                        f"{m['image_sensitivity']['mean']:.2g}")
        if "delta_r10_mean_gate" in m:
            d = m["delta_r10_mean_gate"]
            bits.append(f"R@10 with the mean gate {d['mean']:+.1f}" + (
                f" [{d['low']:+.1f}, {d['high']:+.1f}]" if d["n"] >= 2 else ""))
        parts.append(f"{lv} " + ", ".join(bits))
    name = DATASET_NAMES.get(summary["dataset"], summary["dataset"])
    seeds = f"{summary['seeds']} seed" + ("s, 95% intervals" if summary["seeds"] != 1 else ", no interval")
    return (f"- {name} (JA spatial gate, {seeds}; ratio 1 = uniform): "
            + "; ".join(parts) + ".")
