"""The doubling check (bench/convergence.py): a doubled run is the run the study trains once its budget doubles, and
its record can then stand as the study's."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from valstudy.config import named
from valstudy.io import read_json, write_json
from valstudy.study import StudyPaths, plan
from valstudy.study.plan import get_profile
from valstudy.study.records import portable_config, record_path

REPO = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_convergence", REPO / "bench" / "convergence.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _seed0(dataset: str, data: Path):
    return [s for s in plan(dataset, get_profile("synthetic"), data) if s.config.seed == 0]


@pytest.mark.parametrize("dataset", ["fashion200k", "shoes"])
def test_a_doubled_run_is_the_run_of_the_doubled_budget(dataset, tmp_path, monkeypatch):
    bench = _bench()
    before = _seed0(dataset, tmp_path)
    steps = named.CONFIGS[f"{dataset}_synth"].steps
    monkeypatch.setitem(named.CONFIGS, f"{dataset}_synth", named._synth(dataset, 2 * steps))
    after = {s.name: s for s in _seed0(dataset, tmp_path)}
    assert {s.name for s in before} == set(after) and len(after) == 11
    for spec in before:
        assert bench.doubled(spec).config == after[spec.name].config, spec.name
        assert bench.doubled(spec).config != spec.config


def _record(spec, data: Path, **labels) -> dict:
    return {"name": spec.name, "labels": {**spec.labels, **labels}, "config": portable_config(spec, data),
            "metrics": {}, "results": {}, "measures": {}}


def test_adopt_copies_a_doubled_record_only_where_the_plan_trains_its_budget(tmp_path, monkeypatch):
    bench = _bench()
    data = tmp_path / "data"
    here = StudyPaths(data, tmp_path / "b" / "runs", tmp_path / "b" / "records", tmp_path / "b" / "figures")
    study = StudyPaths(data, tmp_path / "runs", tmp_path / "records", tmp_path / "figures")
    specs = [s for s in _seed0("shoes", data) if s.labels["variant"] in ("val", "tirg")]
    for spec in specs:
        write_json(record_path(study.records, spec), _record(spec, data))
        long = bench.doubled(spec)
        write_json(record_path(here.records, long), _record(long, data, doubled=True))
    steps = named.CONFIGS["shoes_synth"].steps
    assert bench.adopt(specs, here, study) == []  # the plan still trains the budget, not twice it
    monkeypatch.setitem(named.CONFIGS, "shoes_synth", named._synth("shoes", 2 * steps))
    now = [s for s in _seed0("shoes", data) if s.labels["variant"] in ("val", "tirg")]
    assert sorted(bench.adopt(now, here, study)) == sorted(s.name for s in now)
    for spec in now:
        rec = read_json(record_path(study.records, spec))
        assert rec["config"]["steps"] == 2 * steps and "doubled" not in rec["labels"]
    assert bench.adopt(now, here, study) == []  # already the study's


def test_a_run_and_its_doubled_run_are_two_tasks_on_one_client(tmp_path):
    """One Dask client, the study's run and its doubled one (same name, other steps): two keys, so neither is served
    the other's result (this once left five doubled FashionIQ runs untrained)."""
    from valstudy.study.runner import submit_runs

    class Client:
        def __init__(self):
            self.keys = []

        def submit(self, fn, *args, key, pure, **kw):
            self.keys.append(key)
            return key

    bench = _bench()
    spec = _seed0("shoes", tmp_path / "data")[0]
    paths = StudyPaths(tmp_path / "data", tmp_path / "runs", tmp_path / "records", tmp_path / "figures")
    client = Client()
    submit_runs(client, [spec], get_profile("synthetic"), paths)
    submit_runs(client, [bench.doubled(spec)], get_profile("synthetic"), paths)
    runs = [k for k in client.keys if k.startswith("run-")]
    assert len(runs) == 2 and len(set(runs)) == 2 and all(spec.name in k for k in runs)


def _halves():
    import sys
    sys.path.insert(0, str(REPO / "bench"))  # the script imports its neighbour, bench/convergence.py
    spec = importlib.util.spec_from_file_location("bench_halves", REPO / "bench" / "doubling_from_halves.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _curve_record(steps: int, values: list[float], **extra) -> dict:
    evals = [{"step": steps * (k + 1) // len(values), "eval": [{"protocol": "validation", "R@10": v}]}
             for k, v in enumerate(values)]
    return {"config": {"steps": steps, "eval_every": steps // len(values), "model": {"method": "concat"}, **extra},
            "metrics": {"evaluations": evals}}


def test_halves_row_pairs_the_half_budget_run_with_the_study_and_refuses_other_changes(tmp_path, monkeypatch):
    halves = _halves()
    study, half = tmp_path / "records", tmp_path / "halves"
    write_json(study / "shoes" / "concat" / "seed0.json", _curve_record(4800, [10, 20, 30, 40, 50, 52, 53, 54]))
    write_json(half / "shoes" / "concat" / "seed0.json", _curve_record(2400, [10, 20, 30, 40, 45, 47, 48, 50]))
    write_json(tmp_path / "conv.json", {"check": "doubling", "split": "validation", "seed": 0, "tolerance": 2.0,
                                        "rows": [{"dataset": "shoes", "variant": "tirg", "steps": 2400}]})
    argv = ["x", "--dataset", "shoes", "--variants", "concat", "--records", str(study), "--halves", str(half),
            "--out", str(tmp_path / "conv.json")]
    monkeypatch.setattr("sys.argv", argv)
    assert halves.main() == 0
    rows = read_json(tmp_path / "conv.json")["rows"]
    assert rows[0]["variant"] == "tirg" and len(rows) == 2  # the other rows are kept
    row = rows[1]
    assert (row["steps"], row["steps_doubled"], row["gain"], row["passes"]) == (2400, 4800, 4.0, False)
    assert row["plateau gain doubled"] == pytest.approx((50 + 52) / 2 - (30 + 40) / 2)  # (2,400, 3,600] vs (1,200, 2,400]
    write_json(half / "shoes" / "concat" / "seed0.json", _curve_record(2400, [10, 20, 30, 40], lr=0.5))
    assert halves.main() == 1  # another learning rate: not the same variant at half the steps
