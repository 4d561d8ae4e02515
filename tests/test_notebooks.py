"""Every study notebook executed by papermill with the smoke profile, asserting on the metrics JSON it records.

Data, runs and records are the shared smoke ones (``build/smoke/``: a notebook of the smoke profile trains the runs it
reads that have no record, once; lock-protected); figures go to ``tmp_path``. All tests share one xdist worker
(``--dist loadgroup``): they reuse the same runs.
"""
from __future__ import annotations

import json
import os
import math
from pathlib import Path

import pandas as pd
import pytest

from valstudy.data import DATASETS
from valstudy.config.study import FIGURES_ENV, PROFILE_ENV
from valstudy.study import PROFILES, REPO

pytestmark = [pytest.mark.xdist_group("notebooks"), pytest.mark.slow]
SMOKE = PROFILES["smoke"]


def execute(notebook: str, tmp_path: Path, **params) -> tuple[dict, Path]:
    """Run the stored ``notebooks/<notebook>.ipynb`` under ``VALSTUDY_PROFILE=smoke`` with its figures in
    ``tmp_path/figures`` (``VALSTUDY_FIGURES_DIR``; its parameters as stored but ``params``); return (its record, the
    figures folder)."""
    import papermill as pm

    figures = tmp_path / "figures"
    # the stored notebook leaves the profile and the figures folder to the environment, as a reader's kernel would
    before = {name: os.environ.get(name) for name in (PROFILE_ENV, FIGURES_ENV)}
    os.environ.update({PROFILE_ENV: "smoke", FIGURES_ENV: str(figures)})
    try:
        pm.execute_notebook(str(REPO / "notebooks" / f"{notebook}.ipynb"), str(tmp_path / f"{notebook}.ipynb"),
                            parameters=params, cwd=str(REPO), progress_bar=False, kernel_name="python3")
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value
    record = json.loads((figures / f"{notebook}_{params.get('DATASET', 'all')}.json").read_text())
    assert record["profile"] == "smoke", f"{notebook}: the stored notebook did not take $VALSTUDY_PROFILE"
    for name in record["figures"]:
        assert (figures / name).stat().st_size > 5000, f"{name} missing or empty"
        assert name.startswith(f"{notebook}_{params.get('DATASET', 'all')}_")
    return record, figures


def recall_ok(value) -> bool:
    return isinstance(value, (int, float)) and 0.0 <= value <= 100.0


def test_datasets(tmp_path):
    rec, _ = execute("datasets", tmp_path, DATASET="shoes")
    assert {"examples", "lengths", "vocabulary"} == {n.split("_")[-1][:-4] for n in rec["figures"]}
    c = rec["counts"]
    assert c["default_queries"] > 0 and c["train_triplets"] > 0
    assert rec["texts"] == {"train": c["train_triplets"], "test": c["default_queries"]}
    assert rec["paper_counts"]["default_queries"] == 3492  # docs/protocols.md, labelled as the paper's
    assert rec["vocabulary_size"] > len(rec["top_words"]) > 0
    counts = [n for _, n in rec["top_words"]]
    assert counts == sorted(counts, reverse=True)
    assert len(rec["examples"]) == 4 and all(e["text"] for e in rec["examples"])


def test_training(tmp_path):
    rec, _ = execute("training", tmp_path, DATASET="shoes")
    assert rec["steps"] == SMOKE.steps
    every = SMOKE.steps // SMOKE.evaluations
    steps = [e["step"] for e in rec["evaluations"]]
    # validation evaluations every steps / evaluations steps (the last at the final step), then the final test one
    assert steps == list(range(every, SMOKE.steps + 1, every)) + [SMOKE.steps]
    for e in rec["evaluations"][:-1]:
        recalls = {k: v for k, v in e.items() if "R@" in k and v is not None and v == v}  # the validation split's
        assert sorted(recalls) == ["R@1", "R@10", "R@50"]
        assert all(recall_ok(v) for v in recalls.values())
    variants = {r["variant"] for r in rec["convergence"]}
    assert variants == set(SMOKE.methods) | set(SMOKE.ablations)
    assert {r["variant"] for r in rec["validation_curves"]} == variants
    assert math.isfinite(rec["final_loss"]) and rec["final_loss"] > 0


@pytest.mark.parametrize("dataset", ["shoes", "fashioniq"])
def test_results(tmp_path, dataset):
    rec, figures = execute("results", tmp_path, DATASET=dataset)
    assert rec["protocols"] == list(DATASETS[dataset].protocols)
    assert sorted(n[len(f"results_{dataset}_"):-4] for n in rec["figures"]) == sorted(rec["protocols"])
    assert rec["methods"] == list(SMOKE.methods)
    table = pd.read_csv(figures / f"results_{dataset}.csv")
    assert len(table) == len(rec["table"]) > 0
    for row in rec["table"]:
        ks = [k for k in row if k.startswith("R@") and k.endswith(" mean")]
        assert ks and all(recall_ok(row[k]) for k in ks)
        assert row["seeds"] == len(SMOKE.seeds)
    assert {p["variant"] for p in rec["paired"]} == set(SMOKE.methods) - {"val"}
    for p in rec["paired"]:
        assert p["n"] == len(SMOKE.seeds) and (p["low"] is None) == (p["n"] < 2)  # one seed: no interval
    # valid@K beside R@K: every method under every protocol, valid@K >= R@K, the gap their difference
    valid = pd.read_csv(figures / f"results_{dataset}_valid.csv")
    assert len(valid) == len(rec["valid"]) == len(SMOKE.methods) * len(rec["protocols"])
    assert {(r["method"], r["protocol"]) for r in rec["valid"]} == {(m, p) for m in SMOKE.methods
                                                                     for p in rec["protocols"]}
    for row in rec["valid"]:
        ks = [k[2:-5] for k in row if k.startswith("R@") and k.endswith(" mean")]
        assert ks and row["seeds"] == len(SMOKE.seeds)
        for k in ks:
            assert recall_ok(row[f"R@{k} mean"]) and row[f"valid@{k} mean"] >= row[f"R@{k} mean"]
            assert row[f"valid@{k} - R@{k} mean"] == pytest.approx(row[f"valid@{k} mean"] - row[f"R@{k} mean"])
        # the averaged R@K is the summary's average row (FashionIQ) or its only row
        summary = [r for r in rec["table"] if r["method"] == row["method"] and r["protocol"] == row["protocol"]]
        avg = next(r for r in summary if r["category"] in ("average", ""))
        assert row[f"R@{ks[0]} mean"] == pytest.approx(avg[f"R@{ks[0]} mean"])
    assert {(p["variant"], p["metric"]) for p in rec["valid_paired"]} == {
        (m, f"valid@{k}") for m in set(SMOKE.methods) - {"val"} for k in ks}
    if dataset == "fashioniq":  # per protocol: 3 categories + their average, per method
        for protocol in ("val", "official"):
            for method in SMOKE.methods:
                rows = {r["category"]: r for r in rec["table"] if r["protocol"] == protocol and r["method"] == method}
                assert set(rows) == {"dress", "shirt", "toptee", "average"}
                for k in ("R@10 mean", "R@50 mean"):
                    mean = sum(rows[c][k] for c in ("dress", "shirt", "toptee")) / 3
                    assert rows["average"][k] == pytest.approx(mean)
        paper = {r["method (paper)"]: r for r in rec["paper"]}
        assert paper["VAL (L_vv+L_vs)"]["dress R@10"] is None  # only the average is cited: shown as '-', not NaN
        assert paper["VAL (L_vv)"]["average"] == 33.82 and "cited" in paper["TIRG"]["source"]


def test_ablations(tmp_path):
    rec, figures = execute("ablations", tmp_path, DATASET="shoes")
    variants = {r["variant"]: r for r in rec["table"]}
    assert set(variants) == {"VAL", "w/o SA", "high level only"}  # the smoke profile's ablations + full VAL
    assert {"w/o JA", "softmax loss", "L_vv + L_vs"} <= set(rec["not_run"])
    for r in variants.values():
        ks = [k[:-5] for k in r if k.startswith("R@") and k.endswith(" mean")]
        assert ks == ["R@1", "R@10", "R@50"] and all(recall_ok(r[f"{k} mean"]) for k in ks)
        assert r["mean R@K mean"] == pytest.approx(sum(r[f"{k} mean"] for k in ks) / 3)
        assert r["seeds"] >= 1
    # VAL minus each ablation, seed by seed: the recorded difference is the difference of the recorded means
    paired = {(p["variant"], p["metric"]): p for p in rec["paired"]}
    assert {v for v, _ in paired} == {"no_sa", "high"}
    for (v, k), p in paired.items():
        label = {"no_sa": "w/o SA", "high": "high level only"}[v]
        if p["n"] == variants["VAL"]["seeds"] == variants[label]["seeds"]:
            assert p["mean"] == pytest.approx(variants["VAL"][f"{k} mean"] - variants[label][f"{k} mean"])
    assert len(pd.read_csv(figures / "ablations_shoes_paired.csv")) == len(rec["paired"])
    assert "ablations_shoes_verdicts.png" in rec["figures"] and (figures / "ablations_shoes_verdicts.png").is_file()


def test_qualitative(tmp_path):
    rec, _ = execute("qualitative", tmp_path, DATASET="shoes")
    assert rec["queries"] > 0 and len(rec["success"]) == len(rec["failure"]) == 4
    assert max(r["rank"] for r in rec["success"]) <= min(r["rank"] for r in rec["failure"])
    ours, stored = rec["recall_from_ranks"], rec["recall_results_json"]
    assert set(ours) == set(stored)
    for split in ours:  # the notebook's ranks reproduce the run's own evaluation (one query of slack for ties)
        for k, v in ours[split].items():
            assert recall_ok(v) and v == pytest.approx(stored[split][k], abs=100 / rec["queries"] + 1e-9)


def test_attention(tmp_path):
    rec, _ = execute("attention", tmp_path, DATASET="shoes")
    assert rec["regions"] is True and rec["levels"] == ["low", "mid", "high"] and rec["seeds"] == [0]
    assert sorted(rec["figures"]) == sorted(f"attention_shoes_{s}.png" for s in (
        "maps", "self", "control_maps", "control", "region", "sensitivity", "intervention", "weights", "training"))
    (r,) = rec["records"]  # one measure_run dict per seed (the record's measures["attention"]): attention --json
    results = json.loads((REPO / SMOKE.runs_dir / r["run"] / "results.json").read_text())
    assert r["r10"] == results["summary"][r["protocol"]]["R@10"]  # the run's own evaluation, exactly
    assert 0 < r["queries"]["with_region"] <= r["queries"]["measured"] <= r["queries"]["test"]
    for level, m in r["levels"].items():
        assert m["ratio_mask"] > m["ratio_mask_grid"] > 1 and m["ratio"] > 0 and m["ratio_null"] > 0
        assert m["text_sensitivity"] >= 0 and m["image_sensitivity"] >= 0
        assert all(m[k] is not None for k in ("delta_r10_mean_gate", "delta_r10_mean_channel", "delta_r10_sa_zero"))
        assert rec["summary"]["levels"][level]["ratio"]["mean"] == pytest.approx(m["ratio"])
    assert [c["source"] for c in r["positive_control"]["low"]] == ["uniform"] + ["blend"] * 5 + ["mask"]
    assert sum(s.startswith("Finding (") for s in rec["sentences"]) == 3 and rec["findings"][0].startswith("- Shoes")
    assert {row["seed"] for row in rec["along_training"]} == {0} and len(rec["shown"]) == 4


def test_costs(tmp_path):
    from valstudy.flops import flops_report

    rec, _ = execute("costs", tmp_path, MAX_GALLERY=16000)
    report = flops_report()
    assert [(r["name"], r["input"], r["macs"]) for r in rec["flops_rows"]] == \
        [(r["name"], r["input"], r["macs"]) for r in report["rows"]]
    assert rec["paper"]["composite_transformers"] == 8.10e7
    assert [t["gallery"] for t in rec["timing"] if t["device"] == "cpu"] == [1000, 2000, 4000, 8000, 16000]
    assert all(t["seconds"] > 0 for t in rec["timing"])
    # matching is O(QN): time grows with N (a loose bound: the machine is shared)
    assert rec["loglog_slope"]["cpu"] > 0.4


def test_beyond(tmp_path):
    from valstudy.analysis import SIMULATION

    rec, _ = execute("beyond", tmp_path, DATASET="shoes")
    assert sorted(rec["figures"]) == ["beyond_shoes_simulation.png", "beyond_shoes_vagueness.png"]
    for row in rec["metrics"]:   # valid@K >= R@K for every method and protocol (means over seeds)
        for k in (1, 10, 50):
            assert recall_ok(row[f"R@{k} mean"]) and row[f"valid@{k} mean"] >= row[f"R@{k} mean"]
    assert {r["style"] for r in rec["vagueness"]} <= {"absolute", "relative", "vague", "unknown"}
    assert all(r[f"valid@{rec['k']}"] >= r[f"R@{rec['k']}"] for r in rec["vagueness"])
    for method in SMOKE.methods:
        curve = [r["mean"] for r in rec["simulation"] if r["method"] == method]
        assert len(curve) == SIMULATION["turns"] and all(0 <= a <= b <= 100 for a, b in zip(curve, curve[1:]))
    # every seed of every method, and the over-seeds table is their mean
    assert {(r["variant"], r["seed"]) for r in rec["simulation_per_seed"]} == {
        (m, s) for m in SMOKE.methods for s in SMOKE.seeds}
    assert all(r["seeds"] == len(SMOKE.seeds) for r in rec["simulation"])
    for r in rec["simulation"]:
        per = [s[f"T={r['T']}"] for s in rec["simulation_per_seed"] if s["variant"] == r["method"]]
        assert r["mean"] == pytest.approx(sum(per) / len(per))
    assert {p["variant"] for p in rec["simulation_paired"]} == set(SMOKE.methods) - {"val"}


def test_search(tmp_path):
    rec, _ = execute("search", tmp_path, DATASET="shoes", LOG=str(tmp_path / "log.jsonl"))
    assert rec["turns"] >= 1 and rec["figures"] == ["search_shoes_session.png"]
    assert rec["gallery"] > 0 and rec["run"].startswith("committed weights")
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["event"] == "search" and len(lines) >= rec["turns"]
