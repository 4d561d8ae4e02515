"""Seeds and paired intervals (valstudy.analysis.stats) on hand-made inputs, and the README's generated findings."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from valstudy.analysis import stats
from valstudy.errors import ValstudyError

REPO = Path(__file__).resolve().parents[1]


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


def test_sentences_claim_a_direction_only_when_the_interval_excludes_zero():
    base = {"metric": "R@10", "n": 3, "std": 1.0}
    up = stats.comparison_sentence({**base, "variant": "tirg", "mean": 7.0, "low": 2.7, "high": 11.3}, "shoes")
    assert up.startswith("On synthetic Shoes, VAL's R@10 is higher than TIRG's by 7.0 points") and "+2.7 to +11.3" in up
    down = stats.comparison_sentence({**base, "variant": "no_ja", "mean": -3.0, "low": -5.0, "high": -1.0})
    assert "VAL's R@10 is lower than w/o JA's by 3.0 points" in down
    flat = stats.comparison_sentence({**base, "variant": "no_sa", "mean": 4.0, "low": -1.0, "high": 9.0}, "fashioniq")
    assert "detects no difference in R@10 between VAL and w/o SA" in flat and "higher" not in flat
    one = stats.comparison_sentence({"variant": "low", "metric": "R@10", "n": 1, "mean": 5.0}, "shoes")
    assert "claims no difference" in one and "higher" not in one


def _write_shoes_records(folder):
    """Results with VAL 10 + s points above TIRG over 3 seeds (paired), and an ablations record without rows."""
    seeds = stats.per_seed(results([("val", s, 20 + s) for s in range(3)] + [("tirg", s, 10 + 2 * s)
                                                                            for s in range(3)]), "val")
    paired = stats.paired_differences(seeds).to_dict("records")
    (folder / "results_shoes.json").write_text(json.dumps({"protocols": ["default"], "paired": paired}))
    (folder / "ablations_shoes.json").write_text(json.dumps({"protocol": "default", "table": []}))


def test_findings_and_readme_block_from_records(tmp_path):
    _write_shoes_records(tmp_path)
    lines = stats.findings(tmp_path, datasets=("shoes",))
    assert lines[0].startswith("- On synthetic Shoes, VAL's R@10 is higher than TIRG's") and "'default'" in lines[0]
    assert "records no paired differences" in lines[1]
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{stats.START}\nold\n{stats.END}\nrest\n")
    assert stats.update_readme(readme, tmp_path, check=True) and "old" in readme.read_text()
    assert stats.update_readme(readme, tmp_path) and not stats.update_readme(readme, tmp_path)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("\nrest\n") and "old" not in text
    readme.write_text("no markers\n")
    with pytest.raises(ValstudyError, match="README.md: needs exactly one"):
        stats.update_readme(readme, tmp_path)


def test_the_findings_command_checks_and_rewrites_the_block(tmp_path, capsys):
    from valstudy.cli import main

    _write_shoes_records(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{stats.START}\nold\n{stats.END}\n")
    args = ["findings", "--readme", str(readme), "--figures", str(tmp_path)]
    assert main(args + ["--check"]) == 1 and "the findings block is stale" in capsys.readouterr().out
    assert main(args) == 0 and "old" not in readme.read_text()
    assert main(args + ["--check"]) == 0 and "unchanged" in capsys.readouterr().out.splitlines()[-1]
    readme.write_text("no markers\n")
    assert main(args) == 2 and "needs exactly one" in capsys.readouterr().err


def test_a_variant_trained_longer_than_val_is_named_with_its_budget(tmp_path):
    _write_shoes_records(tmp_path)
    training = tmp_path / "training_shoes.json"
    training.write_text(json.dumps({"convergence": [{"variant": "val", "steps": 1200}, {"variant": "tirg", "steps": 1200}]}))
    assert "trained" not in stats.findings(tmp_path, datasets=("shoes",))[0]
    training.write_text(json.dumps({"convergence": [{"variant": "val", "steps": 1200}, {"variant": "tirg", "steps": 2800}]}))
    assert stats.findings(tmp_path, datasets=("shoes",))[0].endswith("; it trained 2,800 steps, VAL 1,200.")


def test_convergence_lines_name_the_longer_budgets(tmp_path):
    rows = [{"variant": "val", "steps": 1200, "plateau gain": 0.5, "converged": True},
            {"variant": "lvs", "steps": 2800, "plateau gain": 2.6, "converged": False}]
    (tmp_path / "training_fashioniq.json").write_text(json.dumps({"convergence": rows, "plateau_points": 2.0}))
    (line,) = stats.convergence_lines(tmp_path, datasets=("fashioniq",))
    assert line == ("- FashionIQ: 1 of 2 variants end on a plateau after 1,200 steps (lvs 2,800, pre-training included) "
                    "(validation R@10 gain over the last 20% of the steps from +0.5 to +2.6 points, criterion < 2); "
                    "still rising: lvs (+2.6).")


def test_committed_readme_findings_are_what_the_committed_figures_give():
    block = stats.readme_block(REPO / "figures")
    assert block in (REPO / "README.md").read_text(), \
        "README.md's findings block is stale: run python -m valstudy findings --readme README.md"


def test_a_verdict_another_regeneration_did_not_reproduce_is_flagged(tmp_path):
    _write_shoes_records(tmp_path)
    same = stats.findings(tmp_path, datasets=("shoes",), rerun={("shoes", "tirg"): "higher"})
    assert "not reproduced" not in same[0]
    flipped = stats.findings(tmp_path, datasets=("shoes",), rerun={("shoes", "tirg"): "none"})
    assert flipped[0].startswith("- On synthetic Shoes, VAL's R@10 is higher than TIRG's")
    assert ("**not reproduced**: the previous study, before this one was regenerated on another CPU, found no "
            "difference") in flipped[0]
    record = tmp_path / "rerun.json"
    record.write_text(json.dumps([
        {"dataset": "shoes", "variant": "tirg", "verdict_before": "none", "same_budget": True},
        {"dataset": "fashion200k", "variant": "tirg", "verdict_before": "none", "same_budget": False}]))
    assert stats.rerun_verdicts(record) == {("shoes", "tirg"): "none"}  # another step budget is not a rerun
    assert stats.rerun_verdicts(tmp_path / "absent.json") == {}


def test_rerun_lines_summarise_how_far_numbers_and_verdicts_moved(tmp_path):
    record = tmp_path / "rerun.json"
    rows = [{"dataset": "shoes", "variant": v, "delta": d, "verdict_before": b, "verdict_after": a,
             "same_budget": True, "steps": [1200, 1200]}
            for v, d, b, a in (("val", 1.0, "-", "-"), ("tirg", -3.0, "higher", "higher"), ("no_sa", 2.0, "none", "higher"))]
    rows.append({"dataset": "fashion200k", "variant": "val", "delta": 0.5, "verdict_before": "-", "verdict_after": "-",
                 "same_budget": False, "steps": [800, 1200]})
    # a variant trained longer in the later record: named, and left out of the machine's summary
    rows.append({"dataset": "shoes", "variant": "lvs", "delta": 9.0, "verdict_before": "none", "verdict_after": "lower",
                 "same_budget": False, "steps": [1600, 2800]})
    record.write_text(json.dumps(rows))
    shoes, f200k = stats.rerun_lines(record)
    assert "test R@10 of the 3 variants moved by 2.0 points (median; largest 3.0, tirg)" in shoes
    assert "1 of 2 paired verdicts changed: no_sa (none -> higher)" in shoes
    assert shoes.endswith("not compared, their step budget changed (so their verdicts are not checked by a "
                          "regeneration): lvs (1600 -> 2800 steps).")
    assert "800 -> 1200 steps" in f200k and "not the regeneration's effect alone" in f200k
    assert stats.rerun_lines(tmp_path / "absent.json") == []
    assert stats.rerun_record(record)[0] == "on another CPU"  # a bare list of rows: the first records compared CPUs


def test_a_rerun_record_names_what_the_regeneration_changed(tmp_path):
    _write_shoes_records(tmp_path)
    record = tmp_path / "rerun.json"
    record.write_text(json.dumps({"before": "abc123", "change": "with another kernel", "rows": [
        {"dataset": "shoes", "variant": "tirg", "delta": 1.5, "verdict_before": "none", "verdict_after": "higher",
         "same_budget": True, "steps": [1200, 1200]}]}))
    assert stats.rerun_verdicts(record) == {("shoes", "tirg"): "none"}
    block = stats.readme_block(tmp_path, rerun_path=record)
    assert "The whole study regenerated with another kernel: the previous records against these" in block
    assert ("**not reproduced**: the previous study, before this one was regenerated with another kernel, found no "
            "difference") in block
