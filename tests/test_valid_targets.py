"""Valid targets (docs/valid_targets.md), valid@K, precision of valid targets and the reference-encoder similarity."""
from __future__ import annotations

import pytest
import torch

from valstudy.data import load_dataset
from valstudy.data.base import EvalSplit, Query
from valstudy.data.synth import synthesize
from valstudy.metrics import evaluate_split, reference_similarity_at_k, valid_precision_at_k
from valstudy.reference_encoder import reference_features
from valstudy.valid_targets import ValidTargets, allowed_values, phrase_styles


def test_allowed_values_per_style():
    assert allowed_values("sleeve", "none", "long", "absolute") == {"long"}
    assert allowed_values("sleeve", "none", "long", "relative") == {"short", "long"}
    assert allowed_values("heel", "high", "flat", "vague") == {"flat", "mid"}       # "is more casual"
    assert allowed_values("colour", "red", "blue", "vague") == {"orange", "yellow", "green", "blue", "purple",
                                                                  "pink", "brown"}
    assert allowed_values("texture", "solid", "dots", "vague") == {"stripes", "dots", "checks", "floral"}
    assert allowed_values("texture", "dots", "solid", "vague") == {"solid"}
    assert allowed_values("texture", "dots", "floral", "vague") == {"stripes", "checks", "floral"}


def test_phrase_styles_reads_the_templates():
    assert phrase_styles("Is more casual.", "heel", "high", "flat", "shoe") == {"vague"}
    assert phrase_styles("has a lower heel and is blue", "heel", "high", "mid", "shoe") == {"relative"}
    assert phrase_styles("is flat", "heel", "high", "flat", "shoe") == {"absolute"}
    assert phrase_styles("is red with stripes", "texture", "solid", "stripes", "dress") == {"absolute"}
    # "is short" (absolute) must not be read inside "is shorter" (relative)
    assert phrase_styles("is shorter", "hem", "maxi", "mini", "dress") == {"relative"}
    assert phrase_styles("is blue", "sleeve", "long", "none", "dress") == set()


def _attrs(colour, sleeve, hem="knee", category="dress"):
    return {"category": category, "colour": colour, "shade": "dark", "texture": "solid", "sleeve": sleeve,
            "neckline": "v", "hem": hem}


def test_valid_set_worked_by_hand():
    attributes = {"ref": _attrs("red", "long"), "tgt": _attrs("blue", "long"), "green": _attrs("green", "long"),
                  "green_short": _attrs("green", "short"), "red_copy": _attrs("red", "long"),
                  "blue_skirt": _attrs("blue", "long", category="skirt"), "tgt2": _attrs("blue", "long")}
    pairs = [{"reference": "ref", "target": "tgt", "text": "has a different color", "changed": ["colour"]},
             {"reference": "ref", "target": "tgt", "text": "is blue", "changed": ["colour"]}]
    gallery = ["ref", "tgt", "green", "green_short", "red_copy", "blue_skirt", "tgt2"]
    queries = [Query("ref", "has a different color", "tgt"), Query("ref", "is blue", "tgt")]
    split = EvalSplit("t", "default", queries, gallery, [frozenset({1})] * 2, [0, 0])
    sv = ValidTargets(attributes, pairs).for_split(split)
    # vague: any other colour, sleeves kept, same category, not the reference or its copy
    assert sv.valid[0] == {1, 2, 6}
    assert sv.valid[1] == {1, 6}                                     # absolute: the target's colour only
    assert sv.styles == ["vague", "absolute"]
    assert sv.report["unmatched_queries"] == 0 and sv.report["unparsed_phrases"] == 0


def test_unmentioned_change_takes_either_value():
    attributes = {"ref": _attrs("red", "long"), "tgt": _attrs("blue", "none"), "a": _attrs("blue", "long"),
                  "b": _attrs("blue", "short"), "c": _attrs("green", "none")}
    pairs = [{"reference": "ref", "target": "tgt", "text": "is blue", "changed": ["colour", "sleeve"],
              "mentioned": ["colour"]}]
    split = EvalSplit("t", "val", [Query("ref", "is blue", "tgt")], ["ref", "tgt", "a", "b", "c"],
                      [frozenset({1})], [0])
    assert ValidTargets(attributes, pairs).for_split(split).valid[0] == {1, 2}


def test_unmatched_query_falls_back_to_positives_and_is_counted():
    attributes = {"ref": _attrs("red", "long"), "tgt": _attrs("blue", "long")}
    split = EvalSplit("t", "default", [Query("ref", "something else", "tgt")], ["ref", "tgt"], [frozenset({1})], [0])
    sv = ValidTargets(attributes, []).for_split(split)
    assert sv.valid == [frozenset({1})] and sv.report["unmatched_queries"] == 1 and sv.styles == ["unknown"]


def test_precision_and_reference_similarity_known_answers():
    ranked = torch.tensor([[0, 1, 2], [2, 1, 0]])
    valid = [frozenset({0, 2}), frozenset({1})]
    p = valid_precision_at_k(ranked, valid, ks=(1, 3))
    assert p["precision@1"] == pytest.approx(50.0) and p["precision@3"] == pytest.approx(100 * (2 / 3 + 1 / 3) / 2)
    g = torch.eye(3)
    s = reference_similarity_at_k(ranked, g, g[[0, 1]], ks=(1, 3))
    assert s["refsim@1"] == pytest.approx(0.5) and s["refsim@3"] == pytest.approx(1 / 3)
    assert s["refsim@all"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("name", ["shoes", "fashioniq", "fashion200k"])
def test_valid_at_k_bounds_recall_on_synthetic_data(tmp_path, name):
    root = tmp_path / name
    synthesize(name, root, size="tiny", image_size=32)
    ds = load_dataset(name, root)
    vt = ValidTargets.load(root)
    gen = torch.Generator().manual_seed(0)
    for protocol in ds.protocols:
        for split in ds.eval_splits(protocol):
            sv = vt.for_split(split)
            assert sv.report["unmatched_queries"] == 0 and sv.report["unparsed_phrases"] == 0
            assert sv.report["positives_outside_rule"] == 0   # the annotated targets meet the rule
            assert all(pos <= v for pos, v in zip(split.positives, sv.valid))
            q, n = len(split.queries), len(split.gallery)
            ks = (1, 3, 10)
            ref = reference_features(ds, split.gallery, [x.target for x in split.queries])
            row = evaluate_split(torch.randn(q, 8, generator=gen), torch.randn(n, 8, generator=gen), split, ks=ks,
                                 valid=sv.valid, reference=ref)
            for k in ks:
                assert row[f"valid@{k}"] >= row[f"R@{k}"]
                if f"precision@{k}" in row:
                    assert row[f"precision@{k}"] <= row[f"precision_ceiling@{k}"] + 1e-9
            assert -1.0 <= row["refsim@1"] <= 1.0
    if name == "fashion200k":   # one-word "replace" texts name the target's value: valid = TIRG's positives
        assert all(v == pos for v, pos in zip(sv.valid, split.positives))


def test_real_data_has_no_valid_targets(tmp_path):
    assert ValidTargets.load(tmp_path) is None


def test_vagueness_figure_on_real_data_says_there_are_no_styles():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from valstudy import plotting

    fig = plotting.vagueness_bars(pd.DataFrame(), 10, "fashioniq")  # real data: the table has no rows, no columns
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == 1 and "no caption styles" in texts[0]
