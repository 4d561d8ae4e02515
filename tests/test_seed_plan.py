"""The seed plan: random seeds set from the pilot's spread on the validation split, never from a verdict or a test
number (valstudy/study/seeds.py), and the configuration's copy of docs/seeds.json."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from valstudy.analysis.verdicts import seeds_needed
from valstudy.config import CONFIGS, PROFILES, SEED_PLAN
from valstudy.study import plan
from valstudy.study.seeds import final_validation, plan_seeds

REPO = Path(__file__).resolve().parents[1]


def _record(variant, seed, final, test=50.0, early=10.0):
    evals = [{"step": 50, "eval": [{"protocol": "validation", "R@10": early}]},
             {"step": 100, "eval": [{"protocol": "validation", "R@10": final}, {"protocol": "default", "R@10": test}]}]
    return {"name": f"shoes/{variant}/seed{seed}", "labels": {"experiment": "methods", "variant": variant},
            "config": {"seed": seed, "steps": 100}, "metrics": {"evaluations": evals},
            "results": {"default": {"R@10": test}}}


def _pilot(diffs: dict[str, list[float]], shift: float = 0.0, test=lambda v, s: 50.0, extra_seeds=0):
    val = [60.0, 70.0, 65.0, 62.0][:len(next(iter(diffs.values())))]
    recs = [_record("val", s, x, test("val", s)) for s, x in enumerate(val)]
    for v, d in diffs.items():
        recs += [_record(v, s, val[s] - d[s] + shift, test(v, s)) for s in range(len(d))]
    rng = np.random.default_rng(0)
    recs += [_record(v, 3 + k, float(rng.uniform(0, 100))) for v in ["val", *diffs] for k in range(extra_seeds)]
    return recs


def test_the_plan_follows_the_spread_of_the_paired_validation_differences():
    diffs = {"tirg": [1.0, 5.0, 3.0], "no_sa": [2.0, 2.1, 1.9], "concat": [0.0, 9.0, -9.0]}
    seeds, rows = plan_seeds(_pilot(diffs), lo=3, hi=40, pilot=3)
    sd = float(np.std(diffs["tirg"], ddof=1))
    assert seeds["tirg"] == seeds_needed(sd) > 3          # a spread of 2 points needs more than the pilot's seeds
    assert seeds["no_sa"] == 3                             # a tiny spread keeps the pilot's three
    assert "concat" not in seeds                           # the baselines are not among the paper's questions
    assert seeds["val"] == max(seeds["tirg"], seeds["no_sa"])  # VAL is paired with every comparison's seeds
    row = next(r for r in rows if r["variant"] == "tirg")
    assert row["pilot seeds"] == 3 and row["paired sd"] == pytest.approx(sd) and row["reference"] == "val"
    capped, _ = plan_seeds(_pilot(diffs), lo=3, hi=5, pilot=3)
    assert capped["tirg"] == 5 and capped["val"] == 5      # clamped to what the machine can give


def test_the_plan_reads_neither_the_mean_difference_nor_the_test_split_nor_later_seeds():
    diffs = {"tirg": [1.0, 5.0, 3.0], "no_ja": [0.0, 4.0, -1.0]}
    base, _ = plan_seeds(_pilot(diffs), lo=3, hi=40, pilot=3)
    assert plan_seeds(_pilot(diffs, shift=-25.0), lo=3, hi=40, pilot=3)[0] == base  # another verdict, same plan
    wild = lambda v, s: float(np.random.default_rng(s).uniform(0, 100))  # noqa: E731
    assert plan_seeds(_pilot(diffs, test=wild), lo=3, hi=40, pilot=3)[0] == base
    assert plan_seeds(_pilot(diffs, extra_seeds=2), lo=3, hi=40, pilot=3)[0] == base  # runs after the pilot
    with pytest.raises(ValueError, match="pilot"):
        plan_seeds(_pilot(diffs), lo=2, hi=8, pilot=3)       # fewer seeds than the pilot already trained


def test_final_validation_takes_each_runs_last_validation_evaluation():
    table = final_validation([_record("val", 0, 61.5, early=12.0), _record("tirg", 1, 40.0)])
    assert table.to_dict("records") == [{"variant": "val", "seed": 0, "R@10": 61.5},
                                         {"variant": "tirg", "seed": 1, "R@10": 40.0}]


def test_the_configuration_holds_the_committed_plan_and_the_study_plans_those_seeds(tmp_path):
    path = REPO / "docs" / "seeds.json"
    committed = {ds: v["seed_plan"] for ds, v in json.loads(path.read_text())["datasets"].items()} \
        if path.is_file() else {}
    assert SEED_PLAN == committed, "valstudy/config/study.py's SEED_PLAN differs from docs/seeds.json: copy it"
    for ds, v in (json.loads(path.read_text())["datasets"].items() if path.is_file() else ()):
        assert v["steps"] == CONFIGS[f"{ds}_synth"].steps, f"{ds}: its seed plan comes from a pilot of another budget"
    prof = PROFILES["synthetic"]
    for ds, variants in SEED_PLAN.items():
        specs = plan(ds, prof, tmp_path)
        for variant, n in variants.items():
            assert sorted(s.config.seed for s in specs if s.labels["variant"] == variant) == list(range(n))
