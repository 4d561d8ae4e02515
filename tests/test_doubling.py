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
