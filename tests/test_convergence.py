"""The plateau criterion on validation curves (valstudy.analysis.convergence)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from valstudy.analysis.convergence import convergence_table, plateau_gain, validation_curve


def _write_run(path, values, steps=100):
    path.mkdir(parents=True)
    with open(path / "metrics.jsonl", "w") as f:
        for i, v in enumerate(values, 1):
            f.write(json.dumps({"step": i * steps // len(values), "loss": 0.1}) + "\n")
            f.write(json.dumps({"step": i * steps // len(values), "eval": [
                {"protocol": "validation", "R@10": v, "R@1": v / 2}]}) + "\n")
        f.write('{"step": 10')  # a torn last line is ignored
    return path


def test_gain_compares_the_last_fifth_with_the_fifth_before():
    curve = pd.DataFrame({"step": [10, 20, 30, 40, 50, 60, 70, 80, 90, 100],
                          "R@10": [1, 2, 3, 4, 5, 6, 7, 10, 20, 30]})
    assert plateau_gain(curve) == (20 + 30) / 2 - (7 + 10) / 2
    assert np.isnan(plateau_gain(curve.iloc[:0]))


def test_rising_curves_are_not_converged_and_flat_ones_are(tmp_path):
    rising = [_write_run(tmp_path / f"r{s}", [10 * i + s for i in range(1, 11)]) for s in range(3)]
    flat = [_write_run(tmp_path / f"f{s}", [10, 30, 50, 60, 61, 61, 62, 62, 61, 62 + s]) for s in range(3)]
    table = convergence_table({"rising": rising, "flat": flat}).set_index("variant")
    assert not table.loc["rising", "converged"] and table.loc["rising", "plateau gain"] == 20
    assert table.loc["flat", "converged"] and table.loc["flat", "seeds"] == 3
    assert table.loc["flat", "final validation R@10"] == 63
    assert list(validation_curve(flat[0])["step"]) == list(range(10, 101, 10))


def test_runs_without_validation_evaluations_give_rows_that_judge_nothing(tmp_path):
    (tmp_path / "short").mkdir()
    (tmp_path / "short" / "metrics.jsonl").write_text(json.dumps({"step": 2, "loss": 0.3}) + "\n")
    table = convergence_table({"val": [tmp_path / "short"], "tirg": [tmp_path / "short"]}).set_index("variant")
    assert list(table["seeds"]) == [0, 0] and not table["converged"].any()
    assert table["plateau gain"].isna().all()  # the rehearsal's two-step runs: the training chapter says so
