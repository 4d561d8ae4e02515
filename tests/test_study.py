"""The study plan, its folders and records, and the reuse rule: a run whose record holds the plan's configuration is
not done again; a changed configuration gets a new run folder, and nothing is deleted."""
import json
import subprocess
import types
from pathlib import Path

import pytest
import torch

from valstudy.config import ABLATIONS, METHODS, PROFILES, SLOW_ABLATIONS, config_to_dict, get_config, slow_factor
from valstudy.config.study import resolve_profile
from valstudy.errors import ValstudyError
from valstudy.evaluation import EVALUATION_VERSION
from valstudy.study import RunSpec, StudyPaths, absolute, plan, prepare, profile_paths, run_folder
from valstudy.study import tasks
from valstudy.study.records import portable, localise, record_path, record_state
from valstudy.study.runner import describe_pending, to_do, versions

SYNTH = PROFILES["synthetic"]


def test_synthetic_plan_has_every_method_and_ablation_over_its_seeds(tmp_path):
    specs = plan("fashioniq", SYNTH, tmp_path)
    methods = [s for s in specs if s.labels["experiment"] == "methods"]
    assert sorted((s.config.model.method, s.config.seed) for s in methods) == sorted(
        (m, seed) for m in METHODS for seed in SYNTH.seeds_of("fashioniq", m))
    ablations = [s for s in specs if s.labels["experiment"] == "ablations"]
    assert sorted((s.labels["variant"], s.config.seed) for s in ablations) == sorted(
        (a, seed) for a in SYNTH.ablations for seed in SYNTH.seeds_of("fashioniq", a))
    assert [s.config.seed for s in specs] == sorted(s.config.seed for s in specs)  # seed by seed
    by = {s.name: s.config for s in specs}
    no_ja = by["fashioniq/ablation_no_ja/seed0"]
    assert no_ja.model.use_ja is False and no_ja.model.init_w_sa == 1.0 and no_ja.model.method == "val"
    # FashionIQ pre-trains L_vs on Fashion200k (the supplementary, Section 2), for a third of its L_vv steps
    lvs = by["fashioniq/ablation_lvs/seed0"]
    assert lvs.side_info == "pretrain" and lvs.side_info_root == str(tmp_path / "fashion200k")
    budget = get_config("fashioniq_synth").steps
    assert lvs.pretrain_steps == budget // 3
    for name, cfg in by.items():  # the named configuration's budget (a slow ablation's multiple of it); every run
        slow = slow_factor(name.split("/")[1].removeprefix("ablation_"), "fashioniq")  # logs validation curves
        assert cfg.steps == budget * slow and cfg.eval_every == cfg.steps // SYNTH.evaluations > 0
        assert cfg.data.val_fraction > 0 and cfg.data.root == str(tmp_path / "fashioniq")
        assert bool(cfg.keep_checkpoints) == ("/val/" in name)  # VAL's method runs keep snapshots, nothing else
        assert all(0 < s < budget for s in cfg.keep_checkpoints)
    assert {s.config.steps for s in plan("shoes", PROFILES["smoke"], tmp_path)} == {PROFILES["smoke"].steps}
    assert all(slow_factor(a, d) >= 1 for a in ABLATIONS for d in ("fashion200k", "shoes", "fashioniq"))
    assert slow_factor(None, "shoes") == 1 and set(SLOW_ABLATIONS) <= set(ABLATIONS)
    real = {s.labels["variant"]: s.config.steps for s in plan("shoes", PROFILES["real"], tmp_path)}
    assert set(real.values()) == {get_config("shoes_paper").steps} and {"lvs", "no_ja"} <= set(real)


def test_paths_and_the_profile_come_from_the_profile_an_argument_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert absolute("data") == absolute(absolute("data")) and absolute("data").is_absolute()
    assert (absolute("valstudy") / "study" / "plan.py").is_file()
    p = profile_paths("synthetic")
    assert (p.data, p.runs, p.records, p.figures) == (absolute("data/synthetic"), absolute("runs/synthetic"),
                                                       absolute("records/synthetic"), absolute("figures"))
    assert profile_paths("smoke").runs == absolute("build/smoke/runs")
    assert profile_paths("real", data="elsewhere").data == absolute("elsewhere")
    with pytest.raises(ValstudyError, match="runs of profile 'smoke' live there"):
        profile_paths("synthetic", runs="build/smoke/runs")
    assert resolve_profile(None, {}).name == "synthetic"  # the study's, by default
    assert resolve_profile(None, {"VALSTUDY_PROFILE": "smoke"}).name == "smoke"
    assert resolve_profile("quick", {"VALSTUDY_PROFILE": "smoke"}).name == "quick"  # a name given wins
    with pytest.raises(ValstudyError, match=r"\$VALSTUDY_PROFILE: unknown profile 'nope'"):
        resolve_profile("", {"VALSTUDY_PROFILE": "nope"})


def test_records_hold_portable_paths():
    cfg = {"data": {"root": "/x/data/synthetic/shoes"}, "side_info_root": "/x/data/synthetic/fashion200k", "n": 3,
           "other": "/x/data/synthetically"}
    out = portable(cfg, "/x/data/synthetic")
    assert out == {"data": {"root": "{data}/shoes"}, "side_info_root": "{data}/fashion200k", "n": 3,
                   "other": "/x/data/synthetically"}  # only the data root itself and what lies under it
    assert localise(out, "/y/d") == {**cfg, "data": {"root": "/y/d/shoes"}, "side_info_root": "/y/d/fashion200k"}


def _fake_children(calls, fail: str | None = None):
    """Stand-ins for the run's child processes: train writes the configuration and weights, eval the results,
    measure the measures; each as ``python -m valstudy <command>`` would. Other commands run for real."""
    real = subprocess.run

    def run(cmd, **kw):
        if list(cmd[1:3]) != ["-m", "valstudy"]:
            return real(cmd, **kw)
        calls.append(cmd[3])
        if cmd[3] == fail:
            return subprocess.CompletedProcess(cmd, 2, "", "Traceback...\nvalstudy: error: boom")
        run_dir = Path(cmd[cmd.index("--run-dir") + 1] if "--run-dir" in cmd else cmd[cmd.index("--run") + 1])
        if cmd[3] == "train":
            (run_dir / "config.json").write_text(Path(cmd[cmd.index("--config-file") + 1]).read_text())
            torch.save({"step": 5, "model": {}, "ema": {"w": torch.ones(2)}}, run_dir / "final.pt")
            (run_dir / "vocab.json").write_text("{}")
            (run_dir / "meta.json").write_text(json.dumps({"git_sha": "x", "seed": 0}))
            (run_dir / "metrics.jsonl").write_text(json.dumps({"step": 5, "phase": "lvv", "loss": 0.5}) + "\n")
        if cmd[3] in ("train", "eval"):
            (run_dir / "results.json").write_text(json.dumps({
                "evaluation_version": EVALUATION_VERSION, "dataset": "shoes", "method": "val", "seed": 0,
                "weights": "ema", "summary": {}, "splits": [{"protocol": "default", "queries": 3, "gallery": 4,
                                                             "R@10": 50.0, "ranks": [1, 2, 30]}]}))
        if cmd[3] == "measure":
            from valstudy.analysis.measures import MEASURES_VERSION
            (run_dir / "measures.json").write_text(json.dumps({"measures_version": MEASURES_VERSION,
                                                               **{k: {} for k in cmd[cmd.index("--what") + 1:]}}))
        return subprocess.CompletedProcess(cmd, 0, "", "")
    return run


def _paths(tmp_path) -> StudyPaths:
    paths = StudyPaths(tmp_path / "data", tmp_path / "runs", tmp_path / "records", tmp_path / "figures")
    for p in (paths.data, paths.runs, paths.records):
        p.mkdir(parents=True, exist_ok=True)
    return paths


def test_a_run_is_recorded_then_not_done_again_and_a_changed_configuration_gets_a_new_folder(tmp_path, monkeypatch):
    calls, paths = [], _paths(tmp_path)
    monkeypatch.setattr(subprocess, "run", _fake_children(calls))
    spec = RunSpec("shoes/val/seed0", get_config("shoes_synth", {"steps": 5, "data.root": str(paths.data / "shoes")}),
                   {"experiment": "methods", "variant": "val"})
    assert to_do([spec], paths) == [spec]
    out = tasks.run_task(spec, paths)
    assert out["done"] == ["train", "measure"] and calls == ["train", "measure"]  # train also evaluates
    run_dir = paths.runs / "shoes" / "val" / "seed0"
    assert json.loads((run_dir / "config.json").read_text()) == config_to_dict(spec.config)  # a typed configuration
    rec = json.loads(record_path(paths.records, spec).read_text())
    assert rec["name"] == spec.name and rec["labels"] == spec.labels and rec["config"]["data"]["root"] == "{data}/shoes"
    assert str(tmp_path) not in record_path(paths.records, spec).read_text()  # no machine path in a record
    assert rec["results"]["splits"][0]["R@10"] == 50.0 and rec["meta"]["workers"] == [out["worker"]]
    assert rec["meta"]["seconds"]["train"]["wall"] >= 0 and set(rec["measures"]) >= {"measures_version"}
    assert record_state(spec, paths.records, paths.data, versions(spec)) == "recorded" and to_do([spec], paths) == []
    assert to_do([spec], paths, fresh=True) == [spec]  # make study retrains whatever the records say

    changed = RunSpec(spec.name, get_config("shoes_synth", {"steps": 6, "data.root": str(paths.data / "shoes")}),
                      spec.labels)
    assert to_do([changed], paths) == [changed]  # the record holds another configuration
    tasks.run_task(changed, paths)
    new_dir = run_folder(paths.runs, changed)
    assert new_dir.parent == run_dir.parent and new_dir.name.startswith("seed0-")
    assert json.loads((run_dir / "config.json").read_text())["steps"] == 5  # the earlier run is untouched
    assert torch.load(run_dir / "final.pt")["step"] == 5


def test_stale_results_are_evaluated_again_not_retrained(tmp_path, monkeypatch):
    calls, paths = [], _paths(tmp_path)
    monkeypatch.setattr(subprocess, "run", _fake_children(calls))
    spec = RunSpec("shoes/tirg/seed0", get_config("shoes_synth", {"steps": 5, "model.method": "tirg"}),
                   {"experiment": "ablations", "variant": "x"})
    tasks.run_task(spec, paths)
    run_dir = run_folder(paths.runs, spec)
    res = json.loads((run_dir / "results.json").read_text())
    (run_dir / "results.json").write_text(json.dumps({**res, "evaluation_version": EVALUATION_VERSION - 1}))
    calls.clear()
    assert tasks.run_task(spec, paths)["done"] == ["eval"] and calls == ["eval"]


def test_a_failed_run_is_one_line_naming_it_and_its_log(tmp_path, monkeypatch):
    paths = _paths(tmp_path)
    monkeypatch.setattr(subprocess, "run", _fake_children([], fail="train"))
    spec = RunSpec("shoes/val/seed0", get_config("shoes_synth"), {"experiment": "methods", "variant": "val"})
    with pytest.raises(ValstudyError, match=r"run shoes/val/seed0 failed: valstudy: error: boom \(log: .*study.log\)"):
        tasks.run_task(spec, paths)


def test_a_worker_that_cannot_see_the_study_folders_fails_the_run_clearly(tmp_path):
    paths = StudyPaths(tmp_path, tmp_path / "not-shared" / "runs", tmp_path, tmp_path)
    spec = RunSpec("shoes/val/seed0", get_config("shoes_synth"), {"experiment": "methods", "variant": "val"})
    with pytest.raises(ValstudyError, match=r"cannot see the runs root .*not-shared/runs.*shared filesystem"):
        tasks.run_task(spec, paths)


def test_the_price_of_training_comes_from_records_of_this_machine_else_any_else_the_guess(tmp_path, monkeypatch):
    """A fresh clone on a new kind of machine prices the quick profile from the committed study's records (the same
    data and budgets), not from a guess; records of this CPU win over other machines'."""
    import dataclasses

    import valstudy.study.runner as runner

    def write(folder, name, cpu, steps, wall):
        path = folder / "shoes" / "val" / f"{name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"config": {"steps": steps}, "meta": {
            "machine": {"cpu": cpu}, "workers": ["w"], "seconds": {"train": {"wall": wall}}}}))

    study = dataclasses.replace(PROFILES["synthetic"], records_dir=str(tmp_path / "study"))
    quick = dataclasses.replace(PROFILES["quick"], records_dir=str(tmp_path / "quick"), speed_guess=1.0)
    monkeypatch.setattr(runner, "PROFILES", {"synthetic": study, "quick": quick})
    monkeypatch.setattr(runner, "machine", lambda: {"cpu": "here"})
    paths = StudyPaths(tmp_path / "data", tmp_path / "runs", tmp_path / "quick", tmp_path / "figures")
    spec = types.SimpleNamespace(config=types.SimpleNamespace(steps=1000, pretrain_steps=0))
    assert runner.estimate_seconds([spec, spec], quick, paths, 2) == 1000  # no record: the guess, 1 step/s
    write(tmp_path / "study", "seed0", "elsewhere", 1000, 100)  # 10 steps/s on another machine
    assert runner.estimate_seconds([spec, spec], quick, paths, 2) == 100
    write(tmp_path / "study", "seed1", "here", 1000, 50)  # 20 steps/s here: this machine's records win
    write(tmp_path / "quick", "seed0", "here", 1000, 25)  # and this profile's own count among them
    assert runner.estimate_seconds([spec, spec], quick, paths, 2) == 1000 / ((20 + 40) / 2)
    smoke = dataclasses.replace(PROFILES["smoke"], speed_guess=2.0)  # other data: the study's records say nothing
    assert runner.estimate_seconds([spec], smoke, StudyPaths(*(tmp_path / "none",) * 4), 1) == 500


def test_prepare_takes_profile_and_figures_from_the_environment(tmp_path, monkeypatch, capsys):
    """A notebook's parameter cell holds only what the chapter varies: the profile and the figures folder come from
    $VALSTUDY_PROFILE and $VALSTUDY_FIGURES_DIR, and an argument given wins over them."""
    import valstudy.study.notebooks as nb

    asked = []
    monkeypatch.setattr(nb, "profile_paths", lambda prof, data=None, figures=None: asked.append(figures)
                        or _paths(tmp_path))
    monkeypatch.setenv("VALSTUDY_PROFILE", "quick")
    monkeypatch.setenv("VALSTUDY_FIGURES_DIR", str(tmp_path / "elsewhere"))
    assert prepare("costs").profile.name == "quick"
    assert capsys.readouterr().out.splitlines()[0] == "profile 'quick' (from $VALSTUDY_PROFILE)"
    assert prepare("costs", profile="synthetic", figures=tmp_path / "mine").profile.name == "synthetic"
    assert capsys.readouterr().out.splitlines()[0] == "profile 'synthetic' (given)"
    assert asked == [str(tmp_path / "elsewhere"), tmp_path / "mine"]
    monkeypatch.delenv("VALSTUDY_PROFILE")
    monkeypatch.delenv("VALSTUDY_FIGURES_DIR")
    prepare("costs")
    assert capsys.readouterr().out.splitlines()[0] == "profile 'synthetic' (the default)" and asked[-1] is None


def test_prepare_reads_records_and_trains_only_when_asked(tmp_path, monkeypatch, capsys):
    import valstudy.study.notebooks as nb

    monkeypatch.setattr(nb, "ensure_data", lambda dataset, prof, data: Path(data) / dataset)
    monkeypatch.setattr(subprocess, "run", _fake_children([]))
    monkeypatch.setattr(nb, "profile_paths", lambda prof, data=None, figures=None: _paths(tmp_path))
    with pytest.raises(ValstudyError, match=r"record\(s\) missing under .*set RETRAIN = True"):
        prepare("results", "shoes", "quick")  # quick trains nothing it lacks
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "profile 'quick' (given)" and "retraining them (RETRAIN = True): roughly" in out[1]
    study = prepare("results", "shoes", "quick", retrain=True)
    assert len(study.records()) == len(study.specs) == len(PROFILES["quick"].methods)
    assert all(r["labels"]["experiment"] == "methods" for r in study.records())
    prepare("results", "shoes", "quick")  # now every record is there
    assert "5 of 5 record(s)" in capsys.readouterr().out
    assert "bring to a record" in describe_pending(study.specs, PROFILES["quick"], study.paths, 2)
    model_dir = study.model_dir()  # the committed weights of VAL's first seed: EMA only, a portable configuration
    assert sorted(p.name for p in model_dir.iterdir()) == ["config.json", "final.pt", "vocab.json"]
    assert set(torch.load(model_dir / "final.pt")) == {"step", "ema"}
    assert json.loads((model_dir / "config.json").read_text())["data"]["root"] == "{data}/shoes"


def test_a_failing_notebook_is_one_line_naming_it_and_its_cell(tmp_path, monkeypatch):
    import papermill as pm

    from valstudy.study import execute_notebook

    def fail(*args, **kwargs):
        raise pm.PapermillExecutionError(5, 6, "x = t['plateau gain']", "KeyError", "'plateau gain'", [])

    monkeypatch.setattr(pm, "execute_notebook", fail)
    with pytest.raises(ValstudyError) as e:
        execute_notebook("training", "shoes", "smoke", tmp_path / "out")
    message = str(e.value)
    assert "\n" not in message and "notebook training [shoes]" in message and "In [6]" in message
    assert "KeyError: 'plateau gain'" in message and str(tmp_path / "out" / "training_shoes.ipynb") in message


def test_executed_copies_travel():
    from valstudy.study.notebooks import travel

    nb = {"metadata": {"papermill": {"start_time": "t", "end_time": "u", "duration": 1.0, "parameters": {"A": 1},
                                     "input_path": "/abs/in.ipynb"}},
          "cells": [{"cell_type": "code", "id": "random", "metadata": {"tags": ["injected-parameters"],
                                                                       "execution": {"t": 1}}, "source": ""},
                    {"cell_type": "markdown", "id": "m", "metadata": {"papermill": {"duration": 2}},
                     "source": "See [notes](../docs/protocols.md#x), [the next](ablations.ipynb), "
                               "[costs](costs.ipynb) and [the web](https://example.org/a.md)."}]}
    out = travel(nb, "shoes")
    assert out["metadata"]["papermill"] == {"parameters": {"A": 1}}
    assert out["cells"][0]["id"] == "injected-parameters" and "execution" not in out["cells"][0]["metadata"]
    assert out["cells"][1]["source"] == ("See [notes](../../docs/protocols.md#x), [the next](ablations_shoes.ipynb), "
                                         "[costs](costs_all.ipynb) and [the web](https://example.org/a.md).")


def _widget_notebook(ids: list[str]) -> dict:
    """A notebook as papermill writes one with widgets: a view in an output, models named by random ids (``ids``),
    the state stored in the id order nbformat writes (sorted). Box 0 shows image 1 (layout 2); two boxes that no
    view shows (3, 4) hold different images (5, 6) with identical layouts (7, 8)."""
    i = ids
    ref = lambda k: f"IPY_MODEL_{i[k]}"  # noqa: E731
    state = {i[0]: {"model_name": "BoxModel", "state": {"children": [ref(1)]}},
             i[1]: {"model_name": "ImageModel", "state": {"value": "a", "layout": ref(2)}},
             i[2]: {"model_name": "LayoutModel", "state": {}},
             i[3]: {"model_name": "BoxModel", "state": {"children": [ref(5)]}},
             i[4]: {"model_name": "BoxModel", "state": {"children": [ref(6)]}},
             i[5]: {"model_name": "ImageModel", "state": {"value": "b", "layout": ref(7)}},
             i[6]: {"model_name": "ImageModel", "state": {"value": "c", "layout": ref(8)}},
             i[7]: {"model_name": "LayoutModel", "state": {}}, i[8]: {"model_name": "LayoutModel", "state": {}}}
    view = {"model_id": i[0], "version_major": 2, "version_minor": 0}
    return {"metadata": {"widgets": {"application/vnd.jupyter.widget-state+json": {
                "state": dict(sorted(state.items())), "version_major": 2, "version_minor": 0}}},
            "cells": [{"cell_type": "code", "id": "c", "metadata": {}, "source": "w", "outputs": [
                {"output_type": "display_data", "metadata": {},
                 "data": {"application/vnd.jupyter.widget-view+json": view, "text/plain": "Box()"}}]}]}


def test_executed_widgets_get_the_same_ids_whatever_ids_ipywidgets_drew():
    import random
    import uuid

    from valstudy.study.notebooks import travel

    written = set()
    for seed in range(6):
        rng = random.Random(seed)
        nb = travel(_widget_notebook([uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(9)]), "shoes")
        written.add(json.dumps(nb, indent=1))
    assert len(written) == 1  # one file, whichever random ids the kernel gave the models
    nb = json.loads(written.pop())
    state = nb["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    first = f"{0:032x}"
    assert nb["cells"][0]["outputs"][0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] == first
    assert state[first]["state"]["children"] == [f"IPY_MODEL_{1:032x}"] and list(state) == sorted(state)
    images = {m["state"]["value"]: m["state"]["layout"][10:] for m in state.values() if m["model_name"] == "ImageModel"}
    assert len(set(images.values())) == 3 and all(state[k]["model_name"] == "LayoutModel" for k in images.values())


def test_an_executed_copys_links_read_back_as_its_notebook_writes_them():
    from valstudy.study.notebooks import executed_link, source_link

    for target in ("../docs/protocols.md", "../docs/shapes.md#levels", "ablations.ipynb", "training.ipynb#3",
                   "costs.ipynb"):
        assert source_link(executed_link(target, "fashioniq"), "fashioniq") == target
    assert executed_link("ablations.ipynb", "fashioniq") == "ablations_fashioniq.ipynb"
    # a copy written before links were rewritten already links as the notebook does
    assert source_link("../docs/protocols.md", "shoes") == "../docs/protocols.md"
    assert source_link("ablations.ipynb", "shoes") == "ablations.ipynb"
    assert source_link("results_shoes.ipynb", "fashioniq") == "results_shoes.ipynb"  # another dataset's: kept


def test_notebooks_run_on_kernels_that_talk_over_local_sockets(tmp_path, capfd, monkeypatch):
    import shutil
    import tempfile

    import nbformat
    import papermill as pm

    from valstudy.study.notebooks import _ipc_kernel_manager

    runtime = tempfile.mkdtemp(prefix="jr")  # a short runtime folder wherever the user's is (socket names are short)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", runtime)

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import os\nfrom ipykernel.kernelapp import IPKernelApp\n"
                                          "print(IPKernelApp.instance().transport)\n"
                                          "print(os.environ['VALSTUDY_PROFILE'], os.environ['JUPYTER_RUNTIME_DIR'])")]
    nbformat.write(nb, tmp_path / "in.ipynb")
    monkeypatch.setenv("VALSTUDY_PROFILE", "synthetic")  # the kernel's environment: this process's, then env's
    pm.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "out.ipynb"), progress_bar=False,
                        kernel_name="python3", kernel_manager_class=_ipc_kernel_manager({"VALSTUDY_PROFILE": "smoke"}),
                        cwd=str(tmp_path))
    (out,) = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs
    assert out["text"].split() == ["ipc", "smoke", runtime]
    assert "without encryption" not in capfd.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ipynb", "out.ipynb"]  # no socket files left here
    assert not any(Path(runtime).iterdir())  # nor in the runtime folder
    shutil.rmtree(runtime)


def test_kernels_started_at_once_get_their_own_sockets_or_tcp_where_a_path_is_too_long(monkeypatch):
    from valstudy.study.notebooks import _ipc_kernel_manager

    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", "/tmp/jr")  # only the path's length is looked at
    a, b = _ipc_kernel_manager()(kernel_name="python3"), _ipc_kernel_manager()(kernel_name="python3")
    assert a.transport == b.transport == "ipc" and a.ip != b.ip and a.ip.startswith("/tmp/jr/kernel-")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", "/tmp/" + "d" * 80)
    assert _ipc_kernel_manager()(kernel_name="python3").transport == "tcp"


def test_a_slow_ablation_is_compared_with_val_trained_as_long(tmp_path, monkeypatch):
    import valstudy.config.study as config_study
    from valstudy.study.plan import reference_variants

    monkeypatch.setitem(config_study.SLOW_ABLATIONS, "lvs", {"fashioniq": 2})
    specs = plan("fashioniq", SYNTH, tmp_path)
    steps = {s.name: s.config.steps for s in specs}
    budget = get_config("fashioniq_synth").steps
    lvs_seeds = SYNTH.seeds_of("fashioniq", "lvs")
    assert {n for n in steps if "/val_x2/" in n} == {f"fashioniq/val_x2/seed{s}" for s in lvs_seeds}
    assert all(steps[f"fashioniq/val_x2/seed{s}"] == steps[f"fashioniq/ablation_lvs/seed{s}"] == 2 * budget
               for s in lvs_seeds)
    assert steps["fashioniq/val/seed0"] == budget and reference_variants(specs) == {"lvs": "val_x2"}
    assert not any("/val_x" in s.name for s in plan("shoes", SYNTH, tmp_path))  # no slow ablation there
