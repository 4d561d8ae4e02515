"""Seeds and paired intervals (valstudy.analysis.stats) on hand-made inputs."""
from __future__ import annotations

import math

import pandas as pd
import pytest

from valstudy.analysis import stats



def results(rows):
    """A gather_results-like table from (variant, seed, R@10) triples, two categories each averaging to R@10."""
    out = []
    for variant, seed, r10 in rows:
        for cat, shift in (("dress", -1.0), ("shirt", 1.0)):
            out.append({"method": "val" if variant.startswith("no_") else variant, "variant": variant,
                        "seed": seed, "protocol": "val", "category": cat, "R@10": r10 + shift, "R@50": 2 * r10})
    return pd.DataFrame(out)


def test_t_quantile_matches_closed_forms():
    p = 0.975
    assert stats.t_quantile(1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-4)  # Cauchy: 12.706
    assert stats.t_quantile(2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-5)  # 4.303
    assert stats.t_quantile(2) == pytest.approx(4.303, abs=5e-4)
    assert 1.96 < stats.t_quantile(200) < stats.t_quantile(30) < stats.t_quantile(10)
    with pytest.raises(ValueError):
        stats.t_quantile(0)


def test_per_seed_summary_and_paired_differences_by_hand():
    df = results([("val", 0, 10), ("val", 1, 20), ("val", 2, 30), ("tirg", 0, 5), ("tirg", 1, 12), ("tirg", 2, 22),
                  ("no_sa", 0, 11), ("no_sa", 1, 18), ("no_sa", 2, 31), ("no_ja", 0, 4)])
    seeds = stats.per_seed(df, "val")
    assert seeds.loc[("val", 1), "R@10"] == 20  # categories averaged: 19 and 21
    summary = stats.seed_summary(seeds)
    assert summary.loc["val", "R@10 mean"] == 20 and summary.loc["val", "R@10 std"] == pytest.approx(10)
    assert summary.loc["no_ja", "seeds"] == 1 and math.isnan(summary.loc["no_ja", "R@10 std"])
    assert stats.mean_std_text(summary).loc["val", "R@10"] == "20.0 ± 10.0"
    assert stats.mean_std_text(summary).loc["no_ja", "R@10"] == "4.0"

    p = stats.paired_differences(seeds).set_index(["variant", "metric"])
    tirg = p.loc[("tirg", "R@10")]  # differences 5, 8, 8: mean 7, std sqrt(3), half-width t(2) * sqrt(3) / sqrt(3)
    assert tirg["n"] == 3 and tirg["mean"] == pytest.approx(7) and tirg["std"] == pytest.approx(math.sqrt(3))
    assert tirg["low"] == pytest.approx(7 - stats.t_quantile(2)) and tirg["high"] == pytest.approx(7 + 4.3027, abs=1e-3)
    assert tirg["excludes_zero"]
    no_sa = p.loc[("no_sa", "R@10")]  # differences -1, 2, -1: mean 0, the interval straddles zero
    assert no_sa["mean"] == pytest.approx(0) and no_sa["low"] < 0 < no_sa["high"] and not no_sa["excludes_zero"]
    no_ja = p.loc[("no_ja", "R@10")]  # one common seed: a difference, no interval
    assert no_ja["n"] == 1 and no_ja["mean"] == 6 and math.isnan(no_ja["low"]) and not no_ja["excludes_zero"]
