"""Attention measures over seeds: intervals as stats.mean_interval gives them, and sentences that claim a direction
only where the 95% interval excludes zero."""
from __future__ import annotations

import math

import pytest

from valstudy.analysis.attention_seeds import attention_sentences, blend_equivalent, control_table, seed_intervals
from valstudy.analysis.stats import mean_interval


def _record(seed, ratio, null, delta, text, image, control_ratios=(1.1, 1.3, 1.6, 2.2, 4.0)):
    level = {"ratio": ratio, "ratio_null": null, "ratio_shuffled": null, "ratio_mask": 9.0, "ratio_mask_grid": 6.0,
             "residual_mask_corr": 0.3, "residual_mask_corr_shuffled": 0.0, "residual_mask_auc": 0.6,
             "text_sensitivity": text, "image_sensitivity": image, "delta_r10_mean_gate": delta,
             "delta_r10_mean_channel": -1.0 - seed, "delta_r10_sa_zero": None, "w_ja": 1.0, "w_sa": None}
    control = [{"source": "uniform", "strength": None, "ratio": 1.0, "residual_mask_corr": None}]
    control += [{"source": "blend", "strength": s, "ratio": r, "residual_mask_corr": 0.7}
                for s, r in zip((0.0, 0.1, 0.25, 0.5, 1.0), control_ratios)]
    return {"dataset": "shoes", "seed": seed, "regions": True, "r10": 50.0 + seed, "delta_r10_all_mean_gates": -1.0,
            "levels": {"low": level}, "positive_control": {"low": control}}


def test_intervals_are_mean_interval_over_seeds_and_absent_measures_are_left_out():
    records = [_record(s, 1.2 + 0.01 * s, 1.1, -5.0 - s, 0.02, 0.01) for s in range(3)]
    summary = seed_intervals(records)
    low = summary["levels"]["low"]
    assert low["ratio"] == pytest.approx(mean_interval([1.2, 1.21, 1.22]))
    assert low["delta_r10_mean_gate"]["mean"] == pytest.approx(-6.0) and "delta_r10_sa_zero" not in low
    assert low["ratio_vs_null"]["mean"] == pytest.approx(sum(math.log(r / 1.1) for r in (1.2, 1.21, 1.22)) / 3)
    assert low["text_vs_image"]["mean"] == pytest.approx(0.01)
    assert summary["seeds"] == 3 and summary["r10"]["mean"] == pytest.approx(51.0)


def test_sentences_claim_a_direction_only_where_the_interval_excludes_zero():
    matters = seed_intervals([_record(s, 1.2 + 0.01 * s, 1.1, -5.0 - s, 0.02 + 0.001 * s, 0.01) for s in range(3)])
    text = "\n".join(attention_sentences(matters))
    assert "per-query part matters to retrieval: without it R@10 falls by 6.0 points" in text
    assert "above its own query-averaged map" in text and "follows the text more" in text
    assert "On synthetic Shoes, at the low level" in text
    unclear = seed_intervals([_record(s, 1.1 + 0.01 * (s - 1), 1.1, (-1.0, 1.5, 0.2)[s], 0.01 + 0.001 * (s - 1),
                                      0.01) for s in range(3)])
    text = "\n".join(attention_sentences(unclear))
    assert "does not measurably matter to retrieval" in text
    assert "detects no difference between the gate and its own query-averaged map" in text
    assert "detects no difference between the two" in text


def test_one_seed_gives_no_interval_and_no_claim():
    text = "\n".join(attention_sentences(seed_intervals([_record(0, 1.3, 1.1, -9.0, 0.02, 0.01)])))
    assert "one seed, no interval" in text and "no finding on whether retrieval uses the spatial gate" in text
    assert "no claim" in text and "no comparison" in text and "matters" not in text


def test_blend_equivalent_interpolates_the_positive_control():
    records = [_record(0, 1.3, 1.1, 0.0, 0.01, 0.01)]
    table = control_table(records)
    assert set(table["source"]) == {"uniform", "blend", "VAL"}
    assert blend_equivalent(table, "low", 1.3) == pytest.approx(0.1)
    assert blend_equivalent(table, "low", 1.45) == pytest.approx(0.175)
    assert blend_equivalent(table, "low", 1.0) is None  # below the prior: no blend of region and prior gives it
    assert "A blend of 10% region and 90% prior scores the same ratio" in " ".join(
        attention_sentences(seed_intervals(records), table))
