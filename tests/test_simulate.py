"""The simulated user (valstudy.simulate) and the search engine under it (valstudy.search)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from valstudy.cli import main
from valstudy.data.base import EvalSplit, Query
from valstudy.data.synth import synthesize
from valstudy.errors import ValstudyError
from valstudy.search import SearchEngine
from valstudy.simulate import simulate, simulate_run, user_caption
from valstudy.training import get_config, train
from valstudy.valid_targets import phrase_styles


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("sim")
    synthesize("shoes", base / "data", size="tiny", seed=0, image_size=32)
    cfg = get_config("shoes_synth", {"data.root": str(base / "data"), "steps": 2, "batch_size": 8,
                                     "model.small_width": 8, "model.lstm_hidden": 32, "model.text_dim": 32,
                                     "model.word_dim": 16, "model.image_size": 32, "data.image_size": 32})
    train(cfg, base / "run", progress=False)
    return base / "run"


def _shoe(colour="red", heel="flat", toe="round"):
    return {"category": "shoe", "colour": colour, "shade": "dark", "texture": "solid", "heel": heel, "shaft": "low",
            "toe": toe, "closure": "laces"}


def test_user_caption_names_one_differing_attribute():
    rng = np.random.default_rng(0)
    cur, tgt = _shoe("red", "flat"), _shoe("blue", "high")
    for _ in range(20):
        text, a = user_caption(rng, cur, tgt)
        assert a in ("colour", "heel")
        assert phrase_styles(text, a, cur[a], tgt[a], "shoe")  # a template phrase for that change
    assert user_caption(rng, cur, dict(cur)) is None


class FakeEngine:
    """Ranks by a fixed rule, so the simulated user's bookkeeping can be checked without a model."""

    def __init__(self, attributes, gallery, queries, rule):
        self.attributes, self.gallery, self.rule = attributes, gallery, rule
        self.split = EvalSplit("fake", "default", queries, gallery, [frozenset()] * len(queries),
                               [-1] * len(queries))
        self.dataset, self.cfg = SimpleNamespace(name="shoes"), SimpleNamespace(data=SimpleNamespace(root="x"))
        self.calls = []

    def search(self, refs, texts, k=1):
        self.calls.append(list(refs))
        return torch.tensor([self.rule(r, t)[:k] for r, t in zip(refs, texts)])


def test_success_within_t_turns_is_cumulative():
    attrs = {"r": _shoe("red", "flat"), "m": _shoe("blue", "flat"), "t": _shoe("blue", "high"),
             "x": _shoe("green", "mid", "pointed")}
    gallery = ["r", "m", "t", "x"]
    # from r the engine returns m (one step closer), from m the target: success at turn 2
    step = {"r": [1, 3], "m": [2, 3]}
    eng = FakeEngine(attrs, gallery, [Query("r", "", "t")], lambda r, t: step[r])
    res = simulate(eng, turns=4, k=1)
    assert res["success"] == [0.0, 100.0, 100.0, 100.0] and res["succeeded_at"] == [2]
    assert eng.calls == [["r"], ["m"]]   # the top result became the next reference; no query after success
    # an engine that never finds it: 0 everywhere; with k=2 the second result counts
    never = FakeEngine(attrs, gallery, [Query("r", "", "t")], lambda r, t: [3, 2])
    assert simulate(never, turns=3, k=1)["success"] == [0.0, 0.0, 0.0]
    assert simulate(never, turns=3, k=2)["success"] == [100.0, 100.0, 100.0]


def test_a_negative_user_seed_is_named():
    attrs = {"r": _shoe("red"), "t": _shoe("blue")}
    eng = FakeEngine(attrs, ["r", "t"], [Query("r", "", "t")], lambda r, t: [1, 0])
    with pytest.raises(ValstudyError, match="--seed -1: .* non-negative integer"):
        simulate(eng, seed=-1)
    assert eng.calls == [] and simulate(eng, seed=1)["success"] == [100.0] * 5


def test_simulate_run_and_cli(tiny_run, capsys):
    res = simulate_run(tiny_run, turns=5, write=False)
    s = res["success"]
    assert len(s) == 5 and res["sessions"] > 0
    assert all(0.0 <= a <= b <= 100.0 for a, b in zip(s, s[1:]))
    assert main(["simulate", "--run", str(tiny_run), "--turns", "3", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["success"]) == 3 and out["method"] == "val"
    assert json.loads((tiny_run / "simulation.json").read_text())["success"] == out["success"]


def test_search_engine_excludes_the_reference_and_gives_attention(tiny_run):
    eng = SearchEngine.from_run(tiny_run, device="cpu")
    ref = eng.split.queries[0].reference
    ranked = eng.search([ref], [eng.split.queries[0].text], k=5)
    assert ranked.shape == (1, 5) and eng.index[ref] not in ranked[0].tolist()
    maps = eng.attention(ref, "is red")
    assert set(maps["spatial"]) == {"low", "mid", "high"} and all(m.ndim == 2 for m in maps["spatial"].values())


def test_simulate_needs_attributes(tiny_run, tmp_path):
    eng = SearchEngine.from_run(tiny_run, device="cpu")
    eng.attributes = None
    with pytest.raises(ValstudyError, match="attributes.json"):
        simulate(eng)


def test_search_widget_turns_clicks_and_log(tiny_run, tmp_path):
    pytest.importorskip("ipywidgets")
    from valstudy.widget import SearchWidget

    log = tmp_path / "log.jsonl"
    w = SearchWidget.from_run(tiny_run, k=4, log_path=log, seed=1)
    w.random_query()
    session, target = w.session, w.target
    shown = w.search("is red")
    assert len(shown) == 4 and len(w.results.children) == 4 and w.reference not in shown
    assert len(w.attention.children) == 3      # one map per level
    chosen = w.click(2)
    assert w.reference == chosen == shown[1]
    w.search("has a higher heel")
    assert w.search("   ") == []               # nothing typed: no turn, nothing logged
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x["event"] for x in lines] == ["search", "click", "search"]
    assert all(x["session"] == session for x in lines) and [x["turn"] for x in lines] == [1, 1, 2]
    assert lines[0]["target"] == target and lines[0]["shown"] == shown and lines[1]["click"] == chosen
    assert lines[2]["reference"] == chosen and lines[2]["text"] == "has a higher heel"
    w.random_query()
    assert w.session != session and w.turn == 0
    w.random_query(session="study-7")
    assert w.session == "study-7" and "session study-7" in w.status.value


def test_simulated_session_is_named_apart_from_people_s_in_the_log(tiny_run, tmp_path):
    pytest.importorskip("ipywidgets")
    from valstudy.widget import SearchWidget

    log = tmp_path / "log.jsonl"
    w = SearchWidget.from_run(tiny_run, k=4, log_path=log, seed=1)
    rows = w.simulated_session(turns=2, seed=5)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert rows and lines and {x["session"] for x in lines} == {"simulated-5"} and w.session == "simulated-5"


def test_search_state_runs_turns_and_logs_without_a_view(tiny_run, tmp_path):
    from valstudy.widget import SearchState

    engine = SearchEngine.from_run(tiny_run, device="cpu")
    log = tmp_path / "log.jsonl"
    state = SearchState(engine, k=len(engine.gallery) - 1, log_path=log, seed=3)  # every image but the reference
    q = state.pick_query()
    assert SearchState(engine, 4, None, seed=3).pick_query() == q  # the seed picks the query
    state.start(q.reference, q.target)
    shown, maps, rank = state.search(q.text)
    assert state.turn == 1 and shown == state.shown and q.reference not in shown and q.target in shown
    assert rank == shown.index(q.target) + 1 and set(maps["spatial"]) == {"low", "mid", "high"}
    assert state.click(2) == shown[1] == state.reference
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert [x["event"] for x in lines] == ["search", "click"] and lines[0]["target_rank"] == rank
    assert {x["session"] for x in lines} == {state.session} and lines[1]["rank"] == 2
