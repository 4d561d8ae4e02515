"""measure_run on a tiny trained VAL: the keys the command promises, R@10 equal to results.json, interventions that
change exactly what they say and restore the model, determinism, real data (no regions) and an ablation."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from valstudy.analysis.attention_run import measure_run
from valstudy.analysis.interventions import (RecallProbe, mean_channel_gate, mean_spatial_gate, recall_under,
                                             zero_self_attention)
from valstudy.cli import main
from valstudy.config import get_config
from valstudy.data.synth import synthesize
from valstudy.evaluation import eval_run, load_run
from valstudy.features import query_loader
from valstudy.training import train

pytestmark = pytest.mark.xdist_group("attention_run")  # one worker trains the module's runs once
TINY = {"batch_size": 8, "model.small_width": 8, "model.lstm_hidden": 32, "model.text_dim": 32, "model.word_dim": 16,
        "model.image_size": 32, "data.image_size": 32}
REQUIRED = ("ratio", "ratio_null", "ratio_mask", "residual_mask_corr", "text_sensitivity", "image_sensitivity",
            "delta_r10_mean_gate")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("attention")
    synthesize("shoes", base / "data", size="tiny", seed=0, image_size=32)
    out = {}
    for name, extra in (("val", {"steps": 3, "keep_checkpoints": (1, 2)}), ("no_sa", {"steps": 2,
                                                                                      "model.use_sa": False})):
        cfg = get_config("shoes_synth", {"data.root": str(base / "data"), **TINY, **extra})
        train(cfg, base / "shoes" / name / "seed0", progress=False)
        eval_run(base / "shoes" / name / "seed0", device="cpu")
        out[name] = base / "shoes" / name / "seed0"
    return out


@pytest.fixture(scope="module")
def measured(runs):
    return measure_run(runs["val"])


def test_measure_run_has_the_promised_keys_and_results_json_r10(runs, measured):
    r = measured
    assert list(r["levels"]) == ["low", "mid", "high"] and r["run"] == "shoes/val/seed0"
    assert r["protocol"] == "default" and r["regions"] is True
    results = json.loads((runs["val"] / "results.json").read_text())
    assert r["r10"] == results["summary"]["default"]["R@10"]  # exactly: the same evaluation path
    q = r["queries"]
    assert q["measured"] == q["test"] and 0 < q["with_region"] == q["local"] + q["global"] <= q["measured"]
    for lv, row in r["levels"].items():
        assert all(k in row for k in REQUIRED), lv
        assert row["ratio"] > 0 and row["ratio_mask"] > row["ratio_mask_grid"] > 1  # the ceilings
        assert 0 <= row["text_sensitivity"] <= 1 and 0 <= row["image_sensitivity"] <= 1
        assert -100 <= row["delta_r10_mean_gate"] <= 100 and row["delta_r10_sa_zero"] is not None
        assert row["w_ja"] == r["stream_weights"][lv]["w_ja"][-1]
    assert all(w["step"] == [1, 2, 3] for w in r["stream_weights"].values())
    control = r["positive_control"]["low"]
    assert [c["source"] for c in control] == ["uniform"] + ["blend"] * 5 + ["mask"]
    text = json.dumps(r)  # JSON as it is, and no machine path in it
    assert str(runs["val"].parent) not in text and "NaN" not in text


def test_measure_run_is_deterministic(runs, measured):
    assert measure_run(runs["val"]) == measured


def test_a_sample_of_queries_is_recorded_and_r10_still_ranks_every_query(runs, measured):
    r = measure_run(runs["val"], max_queries=5, seed=3)
    assert r["queries"]["measured"] == 5 and r["queries"]["test"] == measured["queries"]["test"]
    assert r["r10"] == measured["r10"]


def test_the_probe_reuses_unchanged_levels_exactly(runs):
    model, ds, vocab, cfg = load_run(runs["val"], device="cpu")
    probe = RecallProbe(model, ds, vocab, cfg, "default")
    assert probe.cache is not None
    assert probe.r10() == probe.r10([]) == probe.baseline  # every level recomputed, or none
    assert RecallProbe(model, ds, vocab, cfg, "default", max_cache_bytes=0).r10() == probe.baseline
    gate = np.full(model.transformers["mid"].ja.kernel, 0.5)
    assert recall_under(probe, mean_spatial_gate(model, "mid", gate), ["mid"]) == \
        recall_under(probe, mean_spatial_gate(model, "mid", gate))  # only "mid" changes


def _batch(runs, n=6):
    model, ds, vocab, cfg = load_run(runs["val"], device="cpu")
    queries = ds.eval_splits("default")[0].queries[:n]
    imgs, texts = next(iter(query_loader(ds, queries, vocab, cfg, n)))
    return model, imgs, texts


def test_interventions_replace_what_they_say_and_restore_the_model(runs):
    model, imgs, texts = _batch(runs)
    before = model.encode_query(imgs, texts)  # the fast path (return_attention runs the explicit formulas)
    _, attn = model.encode_query(imgs, texts, return_attention=True)
    gate = np.linspace(0.1, 0.9, attn[0]["spatial"][0, 0].numel()).reshape(attn[0]["spatial"].shape[-2:])
    with mean_spatial_gate(model, "low", gate):
        _, inside = model.encode_query(imgs, texts, return_attention=True)
    assert torch.allclose(inside[0]["spatial"][:, 0], torch.as_tensor(gate, dtype=torch.float32).expand(6, -1, -1),
                          atol=1e-5)
    assert torch.equal(inside[1]["spatial"], attn[1]["spatial"])  # other levels untouched
    channel = np.full(attn[1]["channel"].shape[1], 0.25)
    with mean_channel_gate(model, "mid", channel):
        _, inside = model.encode_query(imgs, texts, return_attention=True)
    assert torch.allclose(inside[1]["channel"], torch.full_like(inside[1]["channel"], 0.25), atol=1e-6)
    ja, sa = model.transformers["low"].ja, model.transformers["high"].sa
    assert "spatial_conv" not in vars(ja) and "channel_conv" not in vars(model.transformers["mid"].ja)
    after = model.encode_query(imgs, texts)
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    with zero_self_attention(model, "high"):
        zeroed = model.encode_query(imgs, texts)
    assert "forward" not in vars(sa)
    w_sa = model.transformers["high"].w_sa
    saved = w_sa.data.clone()
    w_sa.data.zero_()  # the same model with the SA stream's weight at zero instead
    try:
        by_weight = model.encode_query(imgs, texts)
    finally:
        w_sa.data.copy_(saved)
    assert torch.allclose(zeroed[2], by_weight[2], atol=1e-6) and torch.equal(zeroed[0], before[0])


def test_a_queries_own_gate_as_the_mean_changes_nothing(runs):
    model, imgs, texts = _batch(runs, 1)
    with torch.no_grad():
        before = model.encode_query(imgs, texts)
        _, attn = model.encode_query(imgs, texts, return_attention=True)
    with mean_spatial_gate(model, "low", attn[0]["spatial"][0, 0].numpy()), \
            mean_channel_gate(model, "low", attn[0]["channel"][0].numpy()):
        after = model.encode_query(imgs, texts)
    assert torch.allclose(before[0], after[0], atol=1e-5)


def test_without_regions_the_region_measures_are_none(runs):
    extras = runs["val"].parents[2] / "data" / "extras"
    hidden = extras.with_name("extras_hidden")
    extras.rename(hidden)  # the folder as real data has it: no changed regions
    try:
        r = measure_run(runs["val"], max_queries=8)
    finally:
        hidden.rename(extras)
    assert r["regions"] is False and r["positive_control"] is None and r["queries"]["with_region"] == 0
    for row in r["levels"].values():
        assert row["ratio"] is None and row["ratio_mask"] is None and row["residual_mask_corr"] is None
        assert row["text_sensitivity"] is not None and row["delta_r10_mean_gate"] is not None


def test_an_ablation_without_sa_has_no_sa_measures(runs):
    r = measure_run(runs["no_sa"], max_queries=8)
    for row in r["levels"].values():
        assert row["delta_r10_sa_zero"] is None and row["sa_received_ratio"] is None and row["w_sa"] is None
        assert row["delta_r10_mean_gate"] is not None and row["ratio"] is not None
    assert r["stream_weights"]["low"]["w_sa"] == [None]


def test_the_command(runs, capsys, tmp_path):
    assert main(["attention", "--run", str(runs["val"]), "--max-queries", "6", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["levels"]) == {"low", "mid", "high"} and out["queries"]["measured"] == 6
    assert main(["attention", "--run", str(runs["val"]), "--max-queries", "6"]) == 0
    assert "R@10" in capsys.readouterr().out
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    for name in ("config.json", "vocab.json"):
        shutil.copy(runs["val"] / name, unfinished / name)
    assert main(["attention", "--run", str(unfinished)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "final.pt" in err
