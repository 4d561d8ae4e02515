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
