"""FashionIQ loader: a hand-made fixture in the real format, and the real annotations when present."""
from __future__ import annotations

import json

import pytest
import torch

from conftest import REAL_FASHIONIQ
from valstudy.data.fashioniq import CAPTION_JOINER, FashionIQ
from valstudy.text import tokenize
from valstudy.errors import DataError, MissingResourceError


def splits_by_category(ds, protocol):
    return {s.category: s for s in ds.eval_splits(protocol)}


def test_train_triplets_every_nonempty_caption(fashioniq_root):
    ds = FashionIQ(fashioniq_root)
    t = ds.train_triplets()
    assert [(x.reference, x.text, x.target, x.category) for x in t] == [
        ("D1", "is red", "D2", "dress"), ("D3", "is longer", "D4", "dress"), ("D3", "has sleeves", "D4", "dress"),
        ("S1", "is plain", "S2", "shirt"), ("S1", "has buttons", "S2", "shirt"), ("T1", "is green", "T2", "toptee")]
    c = ds.report.counts
    assert c["dress_train_empty_captions"] == 1 and c["toptee_train_empty_captions"] == 1
    assert ds.vocabulary_texts() == [x.text for x in t]
    assert ds.side_information() == []
    assert ds.train_images() == ["D1", "D2", "D3", "D4", "S1", "S2", "T1", "T2"]


def test_val_protocol(fashioniq_root):
    ds = FashionIQ(fashioniq_root)
    s = splits_by_category(ds, "val")
    d = s["dress"]
    assert [(q.reference, q.text, q.target) for q in d.queries] == [
        ("D5", "is darker", "D6"), ("D5", "is shorter", "D6"), ("D6", "is blue", "D7")]
    assert d.gallery == ["D5", "D6", "D7"]
    assert d.positives == [frozenset({1}), frozenset({1}), frozenset({2})]
    assert d.exclude == [0, 0, 1]
    assert d.dropped == {"missing_image_pairs": 0, "empty_captions": 3}
    assert ds.eval_splits() == ds.eval_splits("val")
    assert len(s["shirt"].queries) == 2 and s["shirt"].gallery == ["S3", "S4"]


def test_official_protocol_is_the_start_kits(fashioniq_root):
    # XiaoxiaoGuo/fashion-iq start_kit: Ranker ranks every image of split.<cat>.val.json and excludes nothing;
    # data_loader.py joins caption 0, the token <and>, caption 1, whatever their content.
    ds = FashionIQ(fashioniq_root)
    s = splits_by_category(ds, "official")
    d = s["dress"]
    assert d.gallery == ["D5", "D6", "D7", "D8", "D9"]
    assert CAPTION_JOINER == " <and> "
    assert [q.text for q in d.queries] == ["is darker <and> is shorter", " <and> is blue", " <and> "]
    assert d.positives == [frozenset({1}), frozenset({2}), frozenset({2})]
    assert d.exclude == [-1, -1, -1]          # the candidate stays in the gallery
    assert "empty_pairs" not in d.dropped and ds.report.counts["dress_official_queries_with_a_blank_caption"] == 2
    t = s["toptee"]
    assert t.gallery == ["T4", "T5"] and t.exclude == [-1] and t.positives == [frozenset({0})]


def test_official_protocol_can_retrieve_the_candidate(fashioniq_root):
    # A query whose composite feature sits on its candidate ranks the candidate first (the kit's rule), so the target
    # comes second; with VAL's protocol the candidate is removed and the target comes first.
    from valstudy.metrics import evaluate_split

    ds = FashionIQ(fashioniq_root)
    for protocol, expected_rank in (("official", 2), ("val", 1)):
        split = splits_by_category(ds, protocol)["shirt"]
        g = torch.eye(len(split.gallery))
        cand, tgt = split.gallery.index("S3"), split.gallery.index("S4")
        q = (g[cand] * 1.0 + g[tgt] * 0.9).expand(len(split.queries), -1)
        row = evaluate_split(q, g, split, ks=(1, 2))
        assert row["R@1"] == (100.0 if expected_rank == 1 else 0.0) and row["R@2"] == 100.0, protocol


def test_caption_joiner_reads_as_the_word_and():
    assert tokenize("is red" + CAPTION_JOINER + "") == ["is", "red", "and"]


def test_images_in_category_folders_are_found(fashioniq_root):
    ds = FashionIQ(fashioniq_root)
    assert ds.image_path("T4") == fashioniq_root / "toptee" / "T4.jpg"
    assert ds.image_path("D5") == fashioniq_root / "images" / "D5.jpg"
    assert ds.report.missing_images == []


def test_missing_image_dropped_from_queries_and_gallery(fashioniq_root):
    (fashioniq_root / "images" / "D6.jpg").unlink()
    ds = FashionIQ(fashioniq_root)
    val, off = splits_by_category(ds, "val")["dress"], splits_by_category(ds, "official")["dress"]
    assert val.queries == [] and val.gallery == ["D5", "D7"]          # only the caption-less pair D5 -> D7 is left
    assert val.dropped["missing_image_pairs"] == 2
    assert off.gallery == ["D5", "D7", "D8", "D9"] and [q.text for q in off.queries] == [" <and> "]
    assert off.dropped == {"missing_image_pairs": 2, "missing_gallery_images": 1, "target_not_in_split": 0}
    assert ds.report.missing_images == [str(fashioniq_root / "images" / "D6.jpg")]
    assert any("missing" in n for n in ds.report.notes)
    with pytest.raises(DataError, match="D6.jpg: image file missing"):
        FashionIQ(fashioniq_root, strict=True)
    assert len(splits_by_category(FashionIQ(fashioniq_root, check_images=False), "val")["dress"].queries) == 3


def test_categories_subset(fashioniq_root):
    ds = FashionIQ(fashioniq_root, categories=("shirt",))
    assert [s.category for s in ds.eval_splits()] == ["shirt"]
    assert {t.category for t in ds.train_triplets()} == {"shirt"}


def test_bad_captions_entry(fashioniq_root):
    path = fashioniq_root / "captions" / "cap.shirt.val.json"
    path.write_text(json.dumps([{"target": "S4", "candidate": "S3", "captions": "not a list"}]))
    with pytest.raises(DataError, match="cap.shirt.val.json.*entry 0: 'captions' must be a list"):
        FashionIQ(fashioniq_root, check_images=False)
    path.write_text(json.dumps([{"target": "S4", "captions": ["a", "b"]}]))
    with pytest.raises(DataError, match=r"cap.shirt.val.json \[candidate\]: entry 0 has no key 'candidate'"):
        FashionIQ(fashioniq_root, check_images=False)


def test_missing_split_file(fashioniq_root):
    (fashioniq_root / "image_splits" / "split.toptee.val.json").unlink()
    with pytest.raises(MissingResourceError, match="split.toptee.val.json"):
        FashionIQ(fashioniq_root, check_images=False)


@pytest.fixture(scope="module")
def real():
    if not (REAL_FASHIONIQ / "captions").is_dir():
        pytest.skip(f"real FashionIQ annotations not found at {REAL_FASHIONIQ}")
    return FashionIQ(REAL_FASHIONIQ, check_images=False)


def test_real_val_protocol_counts(real):
    s = splits_by_category(real, "val")
    assert [len(s[c].gallery) for c in ("dress", "shirt", "toptee")] == [2628, 3089, 2902]
    assert [len(s[c].queries) for c in ("dress", "shirt", "toptee")] == [4034, 4075, 3920]


def test_real_official_protocol_counts(real):
    s = splits_by_category(real, "official")
    assert [len(s[c].gallery) for c in ("dress", "shirt", "toptee")] == [3817, 6346, 5373]
    assert [len(s[c].queries) for c in ("dress", "shirt", "toptee")] == [2017, 2038, 1961]   # one per val pair
