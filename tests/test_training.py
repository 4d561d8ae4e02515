"""Training: the loss falls on every synthetic dataset, resume is exact, runs are reused or refused, eval CLI."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from valstudy.cli import main
from valstudy.data.synth import synthesize
from valstudy.errors import ValstudyError
from valstudy.training import get_config, train
from valstudy.training.configs import config_differences, config_to_dict
from valstudy.training.loop import Run

DATASETS = ("fashion200k", "shoes", "fashioniq")


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("synth")
    return {d: str(synthesize(d, base / d, size="tiny", seed=0) and base / d) for d in DATASETS}


def tiny(dataset, root, **kw):
    over = {"data.root": root, "steps": 6, "batch_size": 8, "checkpoint_every": 2, "log_every": 1,
            "model.small_width": 8, "model.lstm_hidden": 64, "model.text_dim": 64, "model.word_dim": 32,
            "seed": 0, **kw}
    return get_config(f"{dataset}_synth", over)


@pytest.mark.parametrize("dataset", DATASETS)
def test_training_reduces_loss_on_a_fixed_batch(dataset, roots, tmp_path):
    run = Run(tiny(dataset, roots[dataset], steps=25, lr=1e-3), tmp_path / "run", progress=False)
    refs, texts, tgts = run._batches("lvv", 0, 1, 0).dataset[0]
    run.model.eval()
    with torch.no_grad():
        before = run.criterion(run.model.encode_query(refs, texts), run.model.encode_target(tgts)).item()
    run.fit()
    run.model.eval()
    with torch.no_grad():
        after = run.criterion(run.model.encode_query(refs, texts), run.model.encode_target(tgts)).item()
    assert after < before
    lines = [json.loads(l) for l in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines] == list(range(1, 26))
    assert {"config.json", "meta.json", "vocab.json", "final.pt", "checkpoint.pt"} <= {
        p.name for p in (tmp_path / "run").iterdir()}
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["torch"] == torch.__version__ and meta["seed"] == 0 and meta["git_sha"]


def _weights(run_dir):
    state = torch.load(Path(run_dir) / "final.pt", weights_only=True)
    return state["model"], state["ema"]


def test_resume_after_interruption_gives_identical_weights(roots, tmp_path):
    cfg = tiny("shoes", roots["shoes"], steps=8)
    train(cfg, tmp_path / "whole", progress=False)
    Run(cfg, tmp_path / "cut", progress=False).fit(stop_after=5)   # checkpoint at step 4, then "killed" at 5
    assert not (tmp_path / "cut" / "final.pt").exists()
    train(cfg, tmp_path / "cut", progress=False)                  # resumes from step 4
    for a, b in zip(_weights(tmp_path / "whole"), _weights(tmp_path / "cut")):
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), k
    steps = [json.loads(l)["step"] for l in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, 9))


def test_resume_after_sigkill(roots, tmp_path):
    args = ["--config", "shoes_synth", "--quiet", "--no-eval", "--set", f"data.root={roots['shoes']}", "steps=40",
            "batch_size=8", "checkpoint_every=3", "model.small_width=8", "model.lstm_hidden=64",
            "model.text_dim=64", "model.word_dim=32"]
    cmd = [sys.executable, "-m", "valstudy", "train", *args]
    proc = subprocess.Popen(cmd + ["--run-dir", str(tmp_path / "cut")])
    ckpt = tmp_path / "cut" / "checkpoint.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert ckpt.exists()
    assert subprocess.run(cmd + ["--run-dir", str(tmp_path / "cut")]).returncode == 0
    assert subprocess.run(cmd + ["--run-dir", str(tmp_path / "whole")]).returncode == 0
    for a, b in zip(_weights(tmp_path / "whole"), _weights(tmp_path / "cut")):
        for k in a:
            assert torch.equal(a[k], b[k]), k


def test_finished_run_is_reused_and_other_config_refused(roots, tmp_path):
    cfg = tiny("shoes", roots["shoes"], steps=2)
    assert train(cfg, tmp_path / "r", progress=False)["reused"] is False
    assert train(cfg, tmp_path / "r", progress=False)["reused"] is True
    with pytest.raises(ValstudyError, match="another configuration"):
        train(tiny("shoes", roots["shoes"], steps=3), tmp_path / "r", progress=False)


def test_overrides_parse_and_reject_unknown_keys():
    cfg = get_config("shoes_synth", ["model.method=tirg", "steps=7", "model.levels=low,high", "model.use_sa=false"])
    assert (cfg.model.method, cfg.steps, cfg.model.levels, cfg.model.use_sa) == ("tirg", 7, ("low", "high"), False)
    with pytest.raises(ValstudyError, match="unknown configuration key 'stepz'"):
        get_config("shoes_synth", ["stepz=3"])
    with pytest.raises(ValstudyError, match="unknown configuration"):
        get_config("nope")


def test_paper_configs_mirror_the_paper():
    f, s, q = (get_config(n) for n in ("fashion200k_paper", "shoes_paper", "fashioniq_paper"))
    assert (f.steps, s.steps, q.steps) == (160_000, 30_000, 50_000)
    assert f.lr_decay_at == 0.5 and s.lr_decay_at == 0 and q.lr_decay_at == 0
    assert all(c.lr == 2e-4 and c.batch_size == 32 and c.weight_decay == 4e-5 and c.ema_decay == 0.9999
               for c in (f, s, q))
    assert (f.model.backbone, s.model.backbone, q.model.backbone) == ("mobilenet_v1", "resnet50", "resnet50")
    assert q.data.random_resized_crop and not s.data.random_resized_crop
    # the authors' scripts: no EMA warm-up, zero loss without a semi-hard negative, one-GPU BatchNorm under DDP
    assert all(not c.ema_warmup and c.triplet_fallback == "zero" and c.sync_batchnorm for c in (f, s, q))
    # the synthetic configurations keep their behaviour
    assert all(c.ema_warmup and c.triplet_fallback == "largest" and not c.sync_batchnorm and not c.model.paper_shapes
               for c in (get_config(f"{d}_synth") for d in ("fashion200k", "shoes", "fashioniq")))


def test_fashion200k_paper_config_trains_l_vv_alone():
    # The paper's Fashion200k rows are L_vv alone; L_vv + L_vs is the "lvs" ablation, and TIRG never has L_vs.
    from valstudy.config import PROFILES
    from valstudy.study.plan import plan

    assert get_config("fashion200k_paper").side_info == "none"
    specs = {s.name: s.config for s in plan("fashion200k", PROFILES["real"], "data/real")}
    with_lvs = sorted(name for name, c in specs.items() if c.side_info != "none")
    assert with_lvs == ["fashion200k/ablation_lvs/seed0"]
    assert specs["fashion200k/ablation_lvs/seed0"] != specs["fashion200k/val/seed0"]


@pytest.mark.parametrize("name", ["shoes_paper", "fashioniq_paper"])
def test_resnet_paper_configs_use_the_papers_map_shapes(name):
    from valstudy.models.backbones import build_backbone, feature_shapes

    cfg = get_config(name, {"model.pretrained": False})
    assert cfg.model.paper_shapes
    shapes = feature_shapes(build_backbone(cfg.model), cfg.model.image_size)
    assert shapes == [(512, 16, 16), (1024, 8, 8), (2048, 8, 8)]   # the paper's 16x16, 8x8, 8x8 at 256 px


def test_a_run_saved_before_a_new_configuration_key_is_the_same_run(tmp_path):
    cfg = get_config("shoes_synth")
    saved = config_to_dict(cfg)
    del saved["triplet_fallback"], saved["ema_warmup"]     # a run folder written before these keys existed
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert config_differences(cfg, tmp_path) == []
    assert config_differences(get_config("shoes_synth", {"triplet_fallback": "zero"}), tmp_path) == [
        "triplet_fallback"]


def test_eval_cli_on_a_tiny_run(roots, tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(tiny("fashioniq", roots["fashioniq"], steps=2), run_dir, progress=False)
    assert main(["eval", "--run", str(run_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    protocols = {(r["protocol"], r["category"]) for r in out["splits"]}
    assert protocols == {(p, c) for p in ("val", "official") for c in ("dress", "shirt", "toptee")}
    for r in out["splits"]:
        assert r["queries"] > 0 and r["gallery"] > 0 and 0 <= r["R@10"] <= r["R@50"] <= 100
    assert json.loads((run_dir / "results.json").read_text())["summary"]["val"]["mean"] >= 0


def test_eval_cli_missing_run_is_one_line(tmp_path, capsys):
    assert main(["eval", "--run", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nothing" in err and "not found" in err


def test_evaluations_during_training_leave_the_weights_unchanged_and_snapshots_are_kept(roots, tmp_path):
    train(tiny("shoes", roots["shoes"], steps=4), tmp_path / "plain", progress=False)
    train(tiny("shoes", roots["shoes"], steps=4, eval_every=2, keep_checkpoints=(2, 3)), tmp_path / "curves",
          progress=False)
    for a, b in zip(_weights(tmp_path / "plain"), _weights(tmp_path / "curves")):
        for k in a:
            assert torch.equal(a[k], b[k]), k
    evals = [json.loads(l) for l in (tmp_path / "curves" / "metrics.jsonl").read_text().splitlines() if "eval" in l]
    assert [e["step"] for e in evals] == [2, 4]  # every eval_every steps and at the last step
    for step in (2, 3):
        snap = torch.load(tmp_path / "curves" / f"ckpt_{step}.pt", weights_only=True)
        assert snap["step"] == step and set(snap["ema"]) == set(_weights(tmp_path / "plain")[1])
    assert not (tmp_path / "curves" / "ckpt_4.pt").exists() and not (tmp_path / "plain" / "ckpt_2.pt").exists()


def test_train_cli_takes_a_saved_configuration(roots, tmp_path):
    from valstudy.config import config_to_dict
    from valstudy.io import write_json

    cfg = tiny("shoes", roots["shoes"], steps=2, seed=3)
    path = write_json(tmp_path / "request.json", config_to_dict(cfg))
    assert main(["train", "--config-file", str(path), "--run-dir", str(tmp_path / "run"), "--quiet",
                 "--no-eval"]) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == config_to_dict(cfg)
    assert main(["train", "--run-dir", str(tmp_path / "run2")]) == 2  # neither --config nor --config-file


@pytest.mark.parametrize("warmup, kept", [(True, 2 / 11), (False, 0.9)])
def test_ema_warmup_is_an_option(warmup, kept):
    # TensorFlow's num_updates warm-up keeps min(decay, (1 + s) / (10 + s)) of the shadow; the authors' scripts
    # keep ``decay`` from the first step, the shadow starting at the initial weights.
    from valstudy.training.ema import EMA

    model = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.constant_(model.weight, 1.0)
    ema = EMA(model, 0.9, warmup=warmup)
    torch.nn.init.constant_(model.weight, 0.0)
    ema.update(model, step=1)
    assert ema.model.weight.item() == pytest.approx(kept)


def test_paper_configs_spare_qkv_and_depthwise_from_weight_decay_and_set_the_codes_batchnorm():
    from valstudy.models import build_model
    from valstudy.training.state import param_groups

    for name, momentum, eps in (("fashion200k_paper", 3e-4, 1e-3), ("shoes_paper", 3e-3, 1e-5)):
        cfg = get_config(name, {"model.pretrained": False, "model.word_dim": 8, "model.lstm_hidden": 8,
                                "model.text_dim": 8})
        assert cfg.weight_decay_scope == "code"
        model = build_model(cfg.model, 10)
        names = {id(p): n for n, p in model.named_parameters()}
        decayed, _ = param_groups(model, cfg.weight_decay, cfg.weight_decay_scope)
        spared = [n for n, p in model.named_parameters() if n.endswith(("f_q.weight", "f_k.weight", "f_v.weight",
                                                                         "conv_dw.weight"))]
        assert spared and not {names[id(p)] for p in decayed["params"]} & set(spared)
        everything, _ = param_groups(model, cfg.weight_decay, "all")   # the synthetic configurations' rule
        assert set(spared) <= {names[id(p)] for p in everything["params"]}
        bns = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert bns and all(m.momentum == momentum and m.eps == eps for m in bns)
    synth = build_model(get_config("shoes_synth").model, 10)
    assert all(m.momentum == 0.1 and m.eps == 1e-5 for m in synth.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_optional_numbers_parse_from_the_command_line():
    cfg = get_config("shoes_synth", ["model.bn_momentum=0.003", "model.bn_eps=none"])
    assert cfg.model.bn_momentum == 0.003 and cfg.model.bn_eps is None


@pytest.mark.parametrize("tail, why", [('{"step": 6, "phase": "lv', "no newline, not JSON"),
                                       ('{"step": 6, "phase": "lvv"}', "no newline"),
                                       ('{"step": 6, "pha\x00\x00\n', "not JSON"),
                                       ('{"step": 6, "phase": "lvv"}\n', None)])
def test_resumed_metrics_keep_the_checkpoints_lines_and_name_a_torn_one(tmp_path, capsys, tail, why):
    from valstudy.training.folder import RunFolder

    folder = RunFolder(tmp_path)
    lines = [json.dumps({"step": s, "loss": 1.0 / s}) for s in range(1, 6)]
    folder.metrics.write_text("\n".join(lines) + "\n" + tail)
    folder.keep_metrics_up_to(4)
    assert folder.metrics.read_text() == "\n".join(lines[:4]) + "\n"
    said = capsys.readouterr().err.splitlines()
    if why is None:  # a whole last line is dropped as any line after the checkpoint is: nothing to say
        assert said == []
    else:
        size = len(tail.rstrip("\n").encode())
        assert said == [f"valstudy: {folder.metrics}:6: dropped a torn final line ({size} bytes; {why}): the run "
                        "stopped while writing it, after its last checkpoint (step 4)"]
