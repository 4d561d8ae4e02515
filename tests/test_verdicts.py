"""Three outcomes (valstudy.analysis.verdicts) on hand-made paired differences, and the README's generated block."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from conftest import skip_until_the_study_is_recorded

from valstudy.analysis import findings, verdicts
from valstudy.analysis.stats import per_seed, t_quantile
from valstudy.errors import ValstudyError

REPO = Path(__file__).resolve().parents[1]


def test_t_cdf_inverts_t_quantile_and_matches_closed_forms():
    for df in (1, 2, 4, 9, 30):
        for p in (0.6, 0.9, 0.95, 0.975, 0.995):
            assert verdicts.t_cdf(t_quantile(df, p), df) == pytest.approx(p, abs=1e-6)
    assert verdicts.t_cdf(1.0, 1) == pytest.approx(0.75)  # Cauchy: 1/2 + atan(x)/pi
    assert verdicts.t_cdf(-1.0, 1) == pytest.approx(0.25) and verdicts.t_cdf(0.0, 7) == 0.5
    x = 1.3  # two degrees of freedom: 1/2 + x / (2 sqrt(2 + x^2))
    assert verdicts.t_cdf(x, 2) == pytest.approx(0.5 + x / (2 * math.sqrt(2 + x * x)))


def test_holm_steps_down_and_keeps_the_order():
    assert verdicts.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert verdicts.holm([0.2, 0.001]) == pytest.approx([0.2, 0.002])
    out = verdicts.holm([0.5, math.nan])
    assert out[0] == 0.5 and math.isnan(out[1])  # a missing p-value neither counts nor is counted


def test_seeds_needed_grows_with_the_spread():
    # 80% power against 3 points at alpha 0.05: the smallest n with t(.975, n-1) + t(.8, n-1) <= 3 sqrt(n) / sd
    n = verdicts.seeds_needed(3.0)
    assert t_quantile(n - 1, 0.975) + t_quantile(n - 1, 0.8) <= 3 * math.sqrt(n) / 3.0
    assert t_quantile(n - 2, 0.975) + t_quantile(n - 2, 0.8) > 3 * math.sqrt(n - 1) / 3.0
    assert verdicts.seeds_needed(1.0) < verdicts.seeds_needed(2.0) < n < verdicts.seeds_needed(5.0)
    assert verdicts.seeds_needed(100.0) == verdicts.MAX_SEEDS + 1 and verdicts.seeds_needed(0.0) == 2


@pytest.mark.parametrize("diffs, outcome", [
    ([5.0, 6.0, 4.0, 7.0], "difference"),       # far from zero, tight
    ([0.5, -0.2, 0.8, 0.3, 0.1], "equivalence"),  # near zero, tight: the 90% interval inside +-3
    ([5.0, -3.0, 4.0, -2.0], "inconclusive"),   # wide
    ([0.2, 0.3, 0.25, 0.35], "difference"),     # tiny but consistent: a difference, smaller than the margin
])
def test_each_set_of_differences_gets_its_outcome(diffs, outcome):
    v = verdicts.judge(pd.Series(diffs))
    n, mean, sd = len(diffs), sum(diffs) / len(diffs), pd.Series(diffs).std(ddof=1)
    assert v["outcome"] == outcome and v["n"] == n and v["mean"] == pytest.approx(mean)
    assert v["low"] == pytest.approx(mean - t_quantile(n - 1, 0.975) * sd / math.sqrt(n))
    assert v["high90"] == pytest.approx(mean + t_quantile(n - 1, 0.95) * sd / math.sqrt(n))
    assert (v["p_difference"] < 0.05) == (outcome == "difference")
    assert math.isnan(v["seeds_needed"]) == (outcome != "inconclusive")
    if outcome == "inconclusive":
        assert v["seeds_needed"] == verdicts.seeds_needed(sd)
    one = verdicts.judge(pd.Series(diffs[:1]))
    assert one["outcome"] == "inconclusive" and math.isnan(one["low"])


def _seeds(rows):
    return pd.DataFrame(rows, columns=["variant", "seed", "R@10"]).set_index(["variant", "seed"])


def test_paired_verdicts_pair_by_seed_apply_holm_and_honour_a_longer_reference():
    rows = [("val", s, 50 + s) for s in range(4)] + [("tirg", s, 40 + s) for s in range(4)]
    rows += [("no_sa", s, 50 + s + d) for s, d in enumerate((0.2, -0.1, 0.1, -0.2))]
    rows += [("val_x2", s, 60 + s) for s in range(4)] + [("lvs", s, 59 + s + (s % 2)) for s in range(4)]
    out = verdicts.paired_verdicts(_seeds(rows), references={"lvs": "val_x2"}).set_index("variant")
    assert set(out.index) == {"tirg", "no_sa", "lvs"}  # VAL trained longer is a reference, not a comparison
    assert out.loc["tirg", "mean"] == 10 and out.loc["tirg", "outcome"] == "difference"
    assert out.loc["no_sa", "outcome"] == "equivalence" and out.loc["lvs", "reference"] == "val_x2"
    assert out.loc["lvs", "mean"] == pytest.approx(0.5)  # against VAL at its own budget, not VAL's 50
    p = out["p_difference"].tolist()
    assert out["holm_difference"].tolist() == pytest.approx(verdicts.holm(p))
    assert out.loc["tirg", "survives_holm"] and out.columns[:5].tolist() == ["metric", "n", "mean", "std", "outcome"]


def test_the_forest_draws_each_comparison_with_its_outcome_holm_and_seeds_needed():
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.colors import to_hex

    from valstudy import plotting

    rows = [("val", s, 50 + s) for s in range(4)] + [("tirg", s, 40 + s + (s % 2)) for s in range(4)]
    rows += [("no_sa", s, 50 + s + d) for s, d in enumerate((0.2, -0.1, 0.1, -0.2))]
    rows += [("high", s, 50 + s + d) for s, d in enumerate((-6.0, 5.0, -4.0, 6.0))]
    out = verdicts.paired_verdicts(_seeds(rows))
    out = out[out["metric"] == "R@10"].reset_index(drop=True)
    out.loc[out["variant"] == "tirg", "survives_holm"] = False  # as a larger family would leave it
    fig = plotting.verdict_forest(out, "t", verdicts.MARGIN, {"tirg": "TIRG", "no_sa": "w/o SA"})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["high", "w/o SA", "TIRG"]  # first row on top
    notes = {t.get_text() for t in ax.texts}
    need = int(out.set_index("variant").loc["high", "seeds_needed"])
    assert notes == {"difference, 4 seeds, not after Holm", "equivalence, 4 seeds",
                     f"inconclusive, 4 seeds, would need {need}"}
    dots = {round(line.get_ydata()[0]): line for line in ax.lines if line.get_marker() == "o"}
    assert to_hex(dots[2].get_markerfacecolor()) == "#ffffff"  # TIRG's claim does not survive Holm: hollow
    assert to_hex(dots[1].get_markerfacecolor()) == plotting.OUTCOME_COLOURS["equivalence"]
    assert dots[2].get_xdata()[0] == pytest.approx(out.set_index("variant").loc["tirg", "mean"])


def test_sentences_say_the_outcome_the_interval_the_seeds_and_holm():
    base = {"metric": "R@10", "std": 1.0, "p_difference": 0.01, "p_equivalence": 0.5}
    up = verdicts.verdict_sentence({**base, "variant": "tirg", "n": 5, "mean": 7.0, "low": 2.7, "high": 11.3,
                                    "low90": 3.5, "high90": 10.5, "outcome": "difference", "survives_holm": True},
                                   "shoes")
    assert up.startswith("On synthetic Shoes, VAL's R@10 is higher than TIRG's by 7.0 points (95% interval +2.7 to "
                         "+11.3 over 5 paired seeds; the claim survives Holm's correction).")
    eq = verdicts.verdict_sentence({**base, "variant": "no_sa", "n": 8, "mean": 0.4, "low": -1.0, "high": 1.8,
                                    "low90": -0.7, "high90": 1.5, "outcome": "equivalence", "survives_holm": False})
    assert "VAL and w/o SA are equivalent in R@10 within ±3 points" in eq and "does not survive" in eq
    no = verdicts.verdict_sentence({**base, "variant": "mid", "n": 4, "mean": 2.0, "low": -4.0, "high": 8.0,
                                    "low90": -2.5, "high90": 6.5, "outcome": "inconclusive", "std": 3.8,
                                    "seeds_needed": 14, "survives_holm": False}, "fashioniq")
    assert "cannot tell VAL and mid level only apart" in no and "about 14 seeds" in no and "3.8" in no


def _write_figures(folder: Path):
    """Results and ablations records of Shoes as the notebooks write them: TIRG a difference, w/o SA inconclusive,
    concat a difference (a baseline outside the paper's questions)."""
    rows = [("val", s, 50 + 2 * s) for s in range(3)] + [("tirg", s, 40 + s) for s in range(3)]
    rows += [("concat", s, 30 + s) for s in range(3)] + [("no_sa", s, 49 + s * (s - 1)) for s in range(3)]
    paired = verdicts.paired_verdicts(_seeds(rows))
    split = {v: paired[paired["variant"].isin(v)].to_dict("records") for v in (("tirg", "concat"), ("no_sa",))}
    table = [{"method": m, "protocol": "default", "category": "", "R@10 mean": 50.0, "R@10 std": 1.0, "seeds": 3}
             for m in ("val", "tirg", "concat")]
    (folder / "results_shoes.json").write_text(json.dumps({"protocol": "default", "protocols": ["default"],
                                                           "methods": ["val", "tirg", "concat"], "table": table,
                                                           "paired": split[("tirg", "concat")]}))
    (folder / "ablations_shoes.json").write_text(json.dumps({"protocol": "default", "paired": split[("no_sa",)]}))


def test_the_readme_block_counts_the_outcomes_and_writes_every_sentence(tmp_path):
    _write_figures(tmp_path)
    block = findings.readme_block(tmp_path, tmp_path / "no-records")
    assert "| Shoes | 2 | 1 | 0 | 1 |" in block  # TIRG and w/o SA are the paper's questions; concat is not
    assert "- On synthetic Shoes, VAL's R@10 is higher than TIRG's by" in block and "(protocol 'default')" in block
    assert "cannot tell VAL and w/o SA apart" in block and "| TIRG | 50.0 ± 1.0 (3) |" in block
    assert "still rising" not in block
    conv = [{"variant": v, "steps": 2400, "plateau gain": g, "converged": g < 2} for v, g in (("val", 0.4), ("tirg", 2.5))]
    (tmp_path / "training_shoes.json").write_text(json.dumps({"convergence": conv}))
    block = findings.readme_block(tmp_path, tmp_path / "no-records")
    tirg = next(line for line in block.splitlines() if line.startswith("- On synthetic Shoes, VAL's R@10 is higher than TIRG's"))
    assert tirg.endswith("(protocol 'default'); TIRG still rising at a constant learning rate (2,400 steps): compared "
                         "at equal budgets, not on a plateau.")
    assert "w/o SA still rising" not in block
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{findings.START}\nold\n{findings.END}\nrest\n")
    assert findings.update_readme(readme, tmp_path, tmp_path, check=True) and "old" in readme.read_text()
    assert findings.update_readme(readme, tmp_path, tmp_path) and not findings.update_readme(readme, tmp_path, tmp_path)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("\nrest\n") and "old" not in text
    readme.write_text("no markers\n")
    with pytest.raises(ValstudyError, match="README.md: needs exactly one"):
        findings.update_readme(readme, tmp_path, tmp_path)


def test_the_doubling_check_is_read_only_from_the_validation_split(tmp_path, monkeypatch):
    figs, docs = tmp_path / "figures", tmp_path / "docs"
    figs.mkdir(), docs.mkdir()
    conv = [{"variant": v, "steps": 1200, "plateau gain": g, "converged": g < 2} for v, g in (("val", 0.4), ("tirg", 2.5))]
    (figs / "training_shoes.json").write_text(json.dumps({"convergence": conv}))
    monkeypatch.setattr(findings, "DOCS", docs)
    rows = [{"dataset": "shoes", "variant": v, "seed": 0, "steps": 600, "steps_doubled": 1200, "gain": g,
             "plateau gain doubled": p} for v, g, p in (("val", 0.5, 0.4), ("tirg", 2.5, 2.5))]
    rows.append({"dataset": "shoes", "variant": "val", "seed": 0, "steps": 300, "steps_doubled": 600, "gain": 9.0})
    (docs / "convergence.json").write_text(json.dumps({"split": "test", "tolerance": 2.0, "rows": rows}))
    line, = findings.convergence_lines(figs, ["shoes"])
    assert line.startswith("- Shoes: 1 of 2 variants on a plateau") and "still rising: TIRG (+2.5)" in line
    assert "doubling check" not in line  # a check on test never judges a budget
    (docs / "convergence.json").write_text(json.dumps({"split": "validation", "tolerance": 2.0, "rows": rows}))
    line, = findings.convergence_lines(figs, ["shoes"])
    assert ("The doubling check from 600 to 1,200 steps (random seed 0, 2 variants) moves final validation R@10 by "
            "+0.5 to +2.5 points; gaining 2 or more: TIRG (+2.5); at 1,200 steps 1 of 2 runs meet the constant-rate "
            "criterion.") in line
    assert "from 300" not in line  # another budget's check
    (docs / "convergence.json").write_text(json.dumps({"split": "validation", "rows": [{"dataset": "shoes", "variant": "val", "seed": 0}]}))
    with pytest.raises(ValstudyError, match="convergence.json: row 0 has no 'gain'"):
        findings.convergence_lines(figs, ["shoes"])


def test_the_findings_command_checks_and_rewrites_the_block(tmp_path, capsys):
    from valstudy.cli import main

    _write_figures(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{findings.START}\nold\n{findings.END}\n")
    args = ["findings", "--readme", str(readme), "--figures", str(tmp_path), "--records", str(tmp_path)]
    assert main(args + ["--check"]) == 1 and "the findings block is stale" in capsys.readouterr().err
    assert main(args) == 0 and "old" not in readme.read_text()
    assert main(args + ["--check"]) == 0 and "unchanged" in capsys.readouterr().out.splitlines()[-1]
    readme.write_text("no markers\n")
    assert main(args) == 2 and "needs exactly one" in capsys.readouterr().err


def test_committed_readme_findings_are_what_the_committed_figures_and_records_give():
    skip_until_the_study_is_recorded()
    block = findings.readme_block(REPO / "figures", REPO / "records" / "synthetic")
    assert block in (REPO / "README.md").read_text(), \
        "README.md's findings block is stale: run python -m valstudy findings --readme README.md"


def test_per_seed_reads_a_results_table_as_the_notebooks_do():
    df = pd.DataFrame([{"method": "val", "variant": "val", "seed": s, "protocol": "default", "category": "",
                        "R@10": 10.0 + s} for s in range(2)])
    assert per_seed(df, "default")["R@10"].tolist() == [10.0, 11.0]
