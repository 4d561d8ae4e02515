"""The study plan, its folders and the reuse rule of ``make study``: a run is reused while its configuration is
unchanged; a changed configuration gets a new folder, and nothing is deleted."""
import json
import subprocess
from pathlib import Path

import pytest

from valstudy.config import ABLATIONS, METHODS, PROFILES, SLOW_ABLATIONS, config_to_dict, get_config, slow_factor
from valstudy.errors import ValstudyError
from valstudy.evaluation import EVALUATION_VERSION
from valstudy.study import RunSpec, absolute, plan, prepare, profile_paths, run_folder, train_run
from valstudy.study.runner import describe_pending


def test_synthetic_plan_has_every_method_and_ablation_over_three_seeds(tmp_path):
    specs = plan("fashioniq", PROFILES["synthetic"], tmp_path)
    methods = [s for s in specs if s.labels["experiment"] == "methods"]
    assert sorted((s.config.model.method, s.config.seed) for s in methods) == sorted(
        (m, seed) for m in METHODS for seed in (0, 1, 2))
    ablations = [s for s in specs if s.labels["experiment"] == "ablations"]
    assert sorted((s.labels["variant"], s.config.seed) for s in ablations) == sorted(
        (a, seed) for a in PROFILES["synthetic"].ablations for seed in (0, 1, 2))
    by = {s.name: s.config for s in specs}
    no_ja = by["fashioniq/ablation_no_ja/seed1"]
    assert no_ja.model.use_ja is False and no_ja.model.init_w_sa == 1.0 and no_ja.model.method == "val"
    # FashionIQ pre-trains L_vs on Fashion200k (the supplementary, Section 2), for a third of its L_vv steps
    lvs = by["fashioniq/ablation_lvs/seed0"]
    assert lvs.side_info == "pretrain" and lvs.side_info_root.endswith("synthetic/fashion200k")
    budget = get_config("fashioniq_synth").steps
    assert lvs.pretrain_steps == budget // 3
    evaluations = PROFILES["synthetic"].evaluations
    for name, cfg in by.items():  # the named configuration's budget (a slow ablation's multiple of it); every run
        slow = slow_factor(name.split("/")[1].removeprefix("ablation_"), "fashioniq")  # logs validation curves
        assert cfg.steps == budget * slow and cfg.eval_every == cfg.steps // evaluations > 0
        assert cfg.data.val_fraction > 0
        assert cfg.data.root == str(tmp_path / "synthetic" / "fashioniq")
        # VAL's method runs keep snapshots for the attention along training; nothing else does
        assert bool(cfg.keep_checkpoints) == ("/val/" in name)
        assert all(0 < s < budget for s in cfg.keep_checkpoints)
    assert {s.config.steps for s in plan("shoes", PROFILES["smoke"], tmp_path)} == {PROFILES["smoke"].steps}
    # the slow ablations train longer only in the synthetic study; the real data keeps the paper's iterations
    assert all(slow_factor(a, d) > 1 for a in ("lvs", "no_ja") for d in ("fashion200k", "shoes", "fashioniq"))
    # the factor is per dataset: low level only is slow on Fashion200k alone
    f200k = {s.labels["variant"]: s.config.steps for s in plan("fashion200k", PROFILES["synthetic"], tmp_path)}
    assert f200k["low"] == 2 * f200k["val"] == 2 * get_config("fashion200k_synth").steps
    assert by["fashioniq/ablation_low/seed0"].steps == budget and slow_factor("low", "shoes") == 1
    assert slow_factor(None, "shoes") == slow_factor("mid", "fashion200k") == 1
    assert set(SLOW_ABLATIONS) <= set(ABLATIONS)
    real = {s.labels["variant"]: s.config.steps for s in plan("shoes", PROFILES["real"], tmp_path)}
    assert set(real.values()) == {get_config("shoes_paper").steps} and {"lvs", "no_ja"} <= set(real)


def test_paths_follow_the_profile_and_relative_paths_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute("data") == absolute(absolute("data")) and absolute("data").is_absolute()
    assert (absolute("valstudy") / "study" / "plan.py").is_file()
    data, runs, figures = profile_paths("synthetic")
    assert (data, runs, figures) == (absolute("data"), absolute("runs/synthetic"), absolute("figures"))
    assert profile_paths("smoke")[1] == absolute("build/smoke/runs")
    assert profile_paths("real", "elsewhere")[0] == absolute("elsewhere")
    with pytest.raises(ValstudyError, match="runs of profile 'smoke' live there"):
        profile_paths("synthetic", runs="build/smoke/runs")


def _fake_processes(calls, write_results=True):
    def run(cmd, env, capture_output, text):
        calls.append(cmd)
        run_dir = Path(cmd[cmd.index("--run-dir") + 1] if "--run-dir" in cmd else cmd[cmd.index("--run") + 1])
        if "--config-file" in cmd:  # as the trainer: the configuration and the weights
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "config.json").write_text(Path(cmd[cmd.index("--config-file") + 1]).read_text())
            (run_dir / "final.pt").write_text("weights")
        if write_results:
            (run_dir / "results.json").write_text(json.dumps({"evaluation_version": EVALUATION_VERSION}))
        return subprocess.CompletedProcess(cmd, 0, "", "")
    return run


def test_a_run_is_reused_and_a_changed_configuration_gets_a_new_folder(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", _fake_processes(calls))
    spec = RunSpec("shoes/val/seed0", get_config("shoes_synth", {"steps": 5}), {"experiment": "methods"})
    run_dir, _, how = train_run(spec, tmp_path)
    assert (run_dir, how) == (tmp_path / "shoes" / "val" / "seed0", "trained") and len(calls) == 1
    assert "--config-file" in calls[0] and "--set" not in calls[0]  # a typed configuration, not key=value strings
    assert json.loads((run_dir / "config.json").read_text()) == config_to_dict(spec.config)
    assert json.loads((run_dir / "label.json").read_text()) == spec.labels
    assert train_run(spec, tmp_path)[1:] == (0.0, "reused") and len(calls) == 1

    changed = RunSpec(spec.name, get_config("shoes_synth", {"steps": 6}), spec.labels)
    new_dir, _, how = train_run(changed, tmp_path)
    assert new_dir.parent == run_dir.parent and new_dir.name.startswith("seed0-") and "new folder" in how
    assert (run_dir / "final.pt").read_text() == "weights"  # the earlier run is untouched
    assert json.loads((run_dir / "config.json").read_text())["steps"] == 5
    assert run_folder(tmp_path, spec) == run_dir and run_folder(tmp_path, changed) == new_dir
    assert train_run(changed, tmp_path)[2] == "reused" and train_run(spec, tmp_path)[2] == "reused"


def test_a_finished_run_with_results_of_another_evaluation_is_re_evaluated_not_retrained(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", _fake_processes(calls))
    spec = RunSpec("shoes/val/seed0", get_config("shoes_synth", {"steps": 5}), {"experiment": "methods"})
    run_dir = train_run(spec, tmp_path)[0]
    (run_dir / "results.json").write_text(json.dumps({"evaluation_version": EVALUATION_VERSION - 1}))
    assert train_run(spec, tmp_path)[2] == "re-evaluated"
    assert calls[-1][2:4] == ["valstudy", "eval"] and len(calls) == 2
    assert json.loads((run_dir / "results.json").read_text())["evaluation_version"] == EVALUATION_VERSION


def test_a_failed_run_is_one_line_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "boom\nlast"))
    spec = RunSpec("shoes/val/seed0", get_config("shoes_synth"), {})
    with pytest.raises(ValstudyError, match=r"run .*shoes/val/seed0 failed: last"):
        train_run(spec, tmp_path)


def test_prepare_announces_missing_runs_in_one_line(tmp_path, monkeypatch, capsys):
    import valstudy.study.notebooks as nb

    monkeypatch.setattr(nb, "ensure_data", lambda dataset, prof, data: Path(data) / dataset)
    monkeypatch.setattr(subprocess, "run", _fake_processes([]))
    study = prepare("shoes", "smoke", tmp_path / "data", tmp_path / "runs", tmp_path / "figures")
    out = capsys.readouterr().out.splitlines()
    n = len(study.specs)
    assert out[0].startswith(f"{n} run(s) of profile 'smoke' to train, roughly") and 'PROFILE="smoke"' in out[0]
    assert len(out) == 1 + n and all(line.startswith("[") for line in out[1:])
    assert study.run_dirs() == [tmp_path / "runs" / s.name for s in study.specs]
    prepare("shoes", "smoke", tmp_path / "data", tmp_path / "runs", tmp_path / "figures")
    assert capsys.readouterr().out == ""  # everything reused: nothing to say
    assert "smoke" in describe_pending(study.specs, PROFILES["smoke"], tmp_path / "runs")


def test_a_failing_notebook_is_one_line_naming_it_and_its_cell(tmp_path, monkeypatch):
    import papermill as pm

    from valstudy.study import execute_notebooks

    def fail(*args, **kwargs):
        raise pm.PapermillExecutionError(5, 6, "x = t['plateau gain']", "KeyError", "'plateau gain'", [])

    monkeypatch.setattr(pm, "execute_notebook", fail)
    with pytest.raises(ValstudyError) as e:
        execute_notebooks("smoke", tmp_path, tmp_path, tmp_path, tmp_path / "out", datasets=("shoes",),
                          notebooks=("training",))
    message = str(e.value)
    assert "\n" not in message and "notebook training [shoes]" in message and "In [6]" in message
    assert "KeyError: 'plateau gain'" in message and str(tmp_path / "out" / "training_shoes.ipynb") in message


def test_notebooks_run_on_kernels_that_talk_over_local_sockets(tmp_path, capfd, monkeypatch):
    import shutil
    import tempfile

    import nbformat
    import papermill as pm

    from valstudy.study.notebooks import _ipc_kernel_manager

    runtime = tempfile.mkdtemp(prefix="jr")  # a short runtime folder wherever the user's is (socket names are short)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", runtime)

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from ipykernel.kernelapp import IPKernelApp\n"
                                          "print(IPKernelApp.instance().transport)")]
    nbformat.write(nb, tmp_path / "in.ipynb")
    pm.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False,
                        kernel_name="python3", kernel_manager_class=_ipc_kernel_manager(), cwd=str(tmp_path))
    (out,) = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs
    assert out["text"].strip() == "ipc"
    assert "without encryption" not in capfd.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ipynb", "out.ipynb"]  # no socket files left here
    assert not any(Path(runtime).iterdir())  # nor in the runtime folder
    shutil.rmtree(runtime)


def test_kernels_fall_back_to_tcp_where_a_socket_path_would_be_too_long(monkeypatch):
    from valstudy.study.notebooks import _ipc_kernel_manager

    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", "/tmp/jr")  # only the path's length is looked at
    assert _ipc_kernel_manager()(kernel_name="python3").transport == "ipc"
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", "/tmp/" + "d" * 60)
    assert _ipc_kernel_manager()(kernel_name="python3").transport == "tcp"
