"""The plateau criterion on validation curves (valstudy.analysis.convergence), read where the rate is constant."""
from __future__ import annotations

import numpy as np
import pandas as pd

from valstudy.analysis.convergence import (by_variant, convergence_table, mean_curves, plateau_gain, plateau_note,
                                          still_rising, validation_curve)


def _record(values, steps=80, pretrain=0):
    """A run's record with one validation evaluation every eighth of its L_vv steps (after ``pretrain`` steps)."""
    evals = [{"step": pretrain + i * steps // len(values),
              "eval": [{"protocol": "validation", "R@10": v, "R@1": v / 2}]} for i, v in enumerate(values, 1)]
    return {"config": {"steps": steps, "pretrain_steps": pretrain}, "metrics": {"evaluations": evals, "loss": {}}}


def test_gain_compares_steps_50_75_with_25_50_and_ignores_the_decayed_end():
    curve = pd.DataFrame({"step": [10, 20, 30, 40, 50, 60, 70, 80], "R@10": [1, 2, 3, 4, 5, 6, 50, 90]})
    # (20, 40] holds 30, 40 -> 3.5; (40, 60] holds 50, 60 -> 5.5; the jump after the drop at 60 is not read
    assert plateau_gain(curve, 80) == 5.5 - 3.5
    assert np.isnan(plateau_gain(curve.iloc[:0], 80)) and np.isnan(plateau_gain(curve.iloc[:2], 80))


def test_rising_curves_are_not_converged_and_flat_ones_are_with_the_spread_over_seeds():
    rising = [_record([10 * i + s for i in range(1, 9)]) for s in range(3)]
    flat = [_record([10, 30, 59, 60, 60.5 + s, 61, 62, 62]) for s in range(3)]
    table = convergence_table({"rising": rising, "flat": flat}).set_index("variant")
    assert not table.loc["rising", "converged"] and table.loc["rising", "plateau gain"] == 20
    assert table.loc["rising", "gain low"] == table.loc["rising", "gain high"] == 20  # every seed gains 20
    assert table.loc["flat", "converged"] and table.loc["flat", "seeds"] == 3 and table.loc["flat", "steps"] == 80
    assert table.loc["flat", "plateau gain"] == (61.5 + 61) / 2 - 59.5  # the seed-mean curve
    assert table.loc["flat", "final validation R@10"] == 62
    assert list(validation_curve(flat[0])["step"]) == list(range(10, 81, 10))


def test_a_pretraining_phase_is_left_out_and_curves_are_drawn_against_the_fraction_of_steps():
    rec = _record([5, 6, 7, 8, 9, 10, 11, 12], steps=80, pretrain=30)
    rec["metrics"]["evaluations"].insert(0, {"step": 20, "eval": [{"protocol": "validation", "R@10": 1.0}]})
    curve = validation_curve(rec)
    assert list(curve["step"]) == list(range(10, 81, 10)) and curve["R@10"].iloc[0] == 5  # L_vv steps only
    curves = mean_curves({"lvs": [rec]})
    assert list(curves["fraction"]) == [i / 8 for i in range(1, 9)]


def test_runs_without_validation_evaluations_give_rows_that_judge_nothing():
    short = {"config": {"steps": 2}, "metrics": {"evaluations": [], "loss": {}}}
    table = convergence_table({"val": [short], "tirg": [short]}).set_index("variant")
    assert list(table["seeds"]) == [0, 0] and not table["converged"].any()
    assert table["plateau gain"].isna().all()  # the rehearsal's two-step runs: the training chapter says so


def test_a_comparison_with_a_rising_side_says_it_is_at_equal_budgets():
    records = [{**_record([10 * i for i in range(1, 9)]), "labels": {"variant": "tirg"}},
               {**_record([10, 30, 59, 60, 60, 61, 62, 62]), "labels": {"variant": "val"}},
               {**_record([10, 30, 59, 60, 60, 60, 62, 62]), "labels": {"variant": "no_sa"}}]
    rising = still_rising(convergence_table(by_variant(records)))
    assert rising == {"tirg": 80}
    assert plateau_note({"variant": "no_sa"}, rising) == ""
    assert plateau_note({"variant": "tirg"}, rising) == (
        "; TIRG still rising at a constant learning rate (80 steps): compared at equal budgets, not on a plateau")
    assert plateau_note({"variant": "no_sa", "reference": "tirg"}, rising).startswith("; TIRG still rising")
    assert still_rising([{"variant": "x", "steps": 8, "plateau gain": float("nan"), "converged": False}]) == {}
