"""The study plan and the reuse rule of ``make study``: a run is reused while its configuration is unchanged."""
import json
import subprocess

from valstudy.study import ABLATIONS, METHODS, PROFILES, RunSpec, _train_locked, absolute, plan
from valstudy.training import get_config
from valstudy.training.configs import config_to_dict


def test_synthetic_plan_has_every_method_over_three_seeds_and_every_ablation(tmp_path):
    specs = plan("fashioniq", PROFILES["synthetic"], tmp_path)
    methods = [s for s in specs if s.labels["experiment"] == "methods"]
    assert sorted((s.overrides["model.method"], s.overrides["seed"]) for s in methods) == sorted(
        (m, seed) for m in METHODS for seed in (0, 1, 2))
    ablations = {s.labels["variant"]: s.overrides for s in specs if s.labels["experiment"] == "ablations"}
    assert set(ablations) == set(ABLATIONS)
    assert ablations["no_ja"]["model.use_ja"] is False and ablations["no_ja"]["model.init_w_sa"] == 1.0
    # FashionIQ pre-trains L_vs on Fashion200k (seed, section 2); only the seed-0 VAL run evaluates during training
    assert ablations["lvs"]["side_info"] == "pretrain" and ablations["lvs"]["side_info_root"].endswith("fashion200k")
    assert [s.name for s in specs if "eval_every" in s.overrides] == ["fashioniq/val/seed0"]
    for s in specs:  # every override is a real configuration key
        get_config(s.config, s.overrides)


def test_relative_study_paths_are_relative_to_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute("data") == absolute(absolute("data")) and absolute("data").is_absolute()
    assert absolute("data").parent.joinpath("valstudy", "study.py").is_file()


def _fake_training(calls):
    def run(cmd, env, capture_output, text):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")
    return run


def test_a_run_is_reused_while_its_configuration_is_unchanged(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", _fake_training(calls))
    spec = RunSpec("shoes/val/seed0", "shoes_synth", {"steps": 5, "seed": 0}, {"experiment": "methods"})
    run_dir = tmp_path / spec.name
    run_dir.mkdir(parents=True)
    cfg = config_to_dict(get_config(spec.config, spec.overrides))
    (run_dir / "config.json").write_text(json.dumps(cfg))
    for f in ("results.json", "final.pt"):
        (run_dir / f).write_text("x")
    assert _train_locked(spec, run_dir, threads=1)[2] == "reused" and calls == []

    changed = RunSpec(spec.name, spec.config, {"steps": 6, "seed": 0}, spec.labels)
    assert _train_locked(changed, run_dir, threads=1)[2] == "retrained (configuration changed)"
    assert len(calls) == 1 and "steps=6" in calls[0]
    assert not (run_dir / "final.pt").exists()  # the stale run was removed, not mixed with the new one
    assert json.loads((run_dir / "label.json").read_text()) == spec.labels
