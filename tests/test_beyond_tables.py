"""The beyond-the-paper tables (valstudy.analysis.beyond) on hand-made inputs: R@K beside valid@K over seeds, the
simulated user's success per seed and over seeds, and the order of the methods."""
from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from valstudy.errors import ValstudyError

from valstudy.analysis import beyond, stats


def results(rows, valid=True):
    """gather_results-like rows from (method, seed, R@10, valid@10): two categories each averaging to the given
    values (FashionIQ-like), R@50 = valid@50 = 90."""
    out = []
    for method, seed, r10, v10 in rows:
        for cat, shift in (("dress", -2.0), ("shirt", 2.0)):
            row = {"method": method, "seed": seed, "protocol": "val", "category": cat, "R@10": r10 + shift,
                   "R@50": 90.0}
            if valid:
                row.update({"valid@10": v10 + shift, "valid@50": 90.0})
            out.append(row)
    return pd.DataFrame(out)


ROWS = [("tirg", 0, 10, 14), ("tirg", 1, 20, 21), ("tirg", 2, 30, 35),
        ("val", 0, 40, 41), ("val", 1, 50, 56), ("val", 2, 60, 62)]


def test_recall_valid_table_by_hand():
    t = beyond.recall_valid_table(results(ROWS))
    assert list(t.index) == [("val", "val"), ("tirg", "val")]  # VAL first, whatever the input order
    val = t.loc[("val", "val")]
    assert val["R@10 mean"] == 50 and val["R@10 std"] == pytest.approx(10)  # categories averaged: 38/42 -> 40
    assert val["valid@10 mean"] == pytest.approx(53) and val["seeds"] == 3
    # the gap is taken seed by seed (1, 6, 2), so its std is not a difference of the two stds
    assert val["valid@10 - R@10 mean"] == pytest.approx(3)
    assert val["valid@10 - R@10 std"] == pytest.approx(math.sqrt(7))
    assert t.loc[("tirg", "val"), "valid@10 - R@10 mean"] == pytest.approx((4 + 1 + 5) / 3)
    assert t.loc[("tirg", "val"), "valid@50 - R@50 std"] == 0
    text = stats.mean_std_text(t)
    assert list(text.columns) == ["R@10", "valid@10", "valid@10 - R@10", "R@50", "valid@50", "valid@50 - R@50",
                                  "seeds"]
    assert text.loc[("val", "val"), "valid@10 - R@10"] == "3.0 ± 2.6"


def test_recall_valid_table_without_valid_targets_is_empty_and_skips_runs_without_them():
    assert beyond.recall_valid_table(results(ROWS, valid=False)).empty  # real data: no attributes
    mixed = pd.concat([results(ROWS), results([("concat", 0, 5, 0)], valid=False)], ignore_index=True)
    assert "concat" not in beyond.recall_valid_table(mixed).index.get_level_values("method")


def test_per_seed_keeps_the_asked_metrics_in_order_for_paired_valid_differences():
    seeds = stats.per_seed(results(ROWS), "val", metrics=("R@", "valid@"))
    assert list(seeds.columns) == ["R@10", "R@50", "valid@10", "valid@50"]
    assert list(stats.per_seed(results(ROWS), "val").columns) == ["R@10", "R@50"]
    p = stats.paired_differences(seeds[["valid@10"]]).set_index("metric").loc["valid@10"]
    assert p["n"] == 3 and p["mean"] == pytest.approx((27 + 35 + 27) / 3)  # VAL minus TIRG, seed by seed


def test_valid_gap_sentence_reports_the_range_and_whether_the_order_changes():
    t = beyond.recall_valid_table(results(ROWS))
    same = beyond.valid_gap_sentence(t, "val", 10, "fashioniq")
    assert same.startswith("On synthetic FashionIQ (protocol 'val'), valid@10 exceeds R@10 by 3.0 (VAL) to 3.3")
    assert "the same order as by R@10" in same and "over 3 seeds" in same
    flipped = beyond.recall_valid_table(results([("val", 0, 40, 41), ("tirg", 0, 39, 60)]))
    assert "not their order by R@10 (VAL, TIRG)" in beyond.valid_gap_sentence(flipped, "val", 10)


def _record(method, seed, success=None, experiment="methods"):
    """A run's record with the simulated user measured on it (``measures.simulation``)."""
    measures = {"simulation": {"seed": 0, "success": success}} if success is not None else {}
    return {"name": f"shoes/{method}/seed{seed}", "labels": {"experiment": experiment, "variant": method},
            "results": {"method": "val" if experiment == "ablations" else method, "seed": seed}, "measures": measures}


def test_simulation_over_seeds_from_the_records():
    curves = {("val", 0): [10, 20, 30], ("val", 1): [20, 30, 50], ("tirg", 0): [5, 5, 10], ("tirg", 1): [5, 15, 20]}
    seeds = beyond.simulation_per_seed([_record(m, s, c) for (m, s), c in curves.items()])
    assert list(seeds.columns) == ["T=1", "T=2", "T=3"] and seeds.loc[("val", 1), "T=3"] == 50

    table = beyond.simulation_table(seeds)
    assert table.loc[("val", 3), "mean"] == 40 and table.loc[("val", 3), "std"] == pytest.approx(math.sqrt(200))
    assert table.loc[("tirg", 2), "mean"] == 10 and (table["seeds"] == 2).all()
    assert list(table.loc["val"].index) == [1, 2, 3]
    summary = stats.seed_summary(seeds)
    assert summary.loc["val", "T=1 mean"] == 15 and summary.loc["tirg", "seeds"] == 2
    p = stats.paired_differences(seeds).set_index("metric").loc["T=3"]  # VAL minus TIRG: 20 and 30
    assert p["n"] == 2 and p["mean"] == 25
    with pytest.raises(ValstudyError, match="record of shoes/tirg/seed2: no simulated user measured"):
        beyond.simulation_per_seed([_record("tirg", 2)])


def test_method_records_keep_method_runs_in_the_papers_order():
    records = [_record("tirg", 1), _record("val", 1), _record("val", 0), _record("no_sa", 0, experiment="ablations")]
    assert [r["name"] for r in beyond.method_records(records)] == ["shoes/val/seed0", "shoes/val/seed1",
                                                                  "shoes/tirg/seed1"]
