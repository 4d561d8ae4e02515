"""Shoes loader against a hand-made fixture in the real format (tests/conftest.py)."""
from __future__ import annotations

import json

import pytest

from conftest import A1, A2, A3, A4, E1, E2, E3, X3
from valstudy.data.shoes import Shoes
from valstudy.errors import DataError, MissingResourceError, ValstudyError


def test_training_lines_once_per_listed_image(shoes_root):
    ds = Shoes(shoes_root)
    t = ds.train_triplets()
    # triplets 0 and 1 touch two training images each, triplet 3 one: 2 + 2 + 1 lines
    assert [(x.reference, x.text, x.target) for x in t] == [
        (A1, "is darker", A2), (A1, "is darker", A2),
        (A2, "has a higher heel", A3), (A2, "has a higher heel", A3),
        (A4, "is pointier", E3)]
    assert t == ds.train_triplets(epoch=3, seed=1)       # fixed across epochs
    c = ds.report.counts
    assert c["triplets_in_neither_list"] == 1 and c["triplets_in_train_and_eval"] == 1


def test_eval_default_keeps_duplicate_lines_dedup_removes_them(shoes_root):
    ds = Shoes(shoes_root)
    [default] = ds.eval_splits()
    [dedup] = ds.eval_splits("dedup")
    assert [(q.reference, q.target) for q in default.queries] == [(E1, E2), (E1, E2), (A4, E3), (X3, E1)]
    assert [(q.reference, q.target) for q in dedup.queries] == [(E1, E2), (A4, E3), (X3, E1)]
    assert dedup.dropped["duplicate_lines_removed"] == 1
    # gallery = eval list + every query image
    for s in (default, dedup):
        assert s.gallery == [E1, E2, E3, A4, X3]
        g = s.gallery
        assert [set(p) for p in s.positives] == [{g.index(q.target)} for q in s.queries]
        assert s.exclude == [g.index(q.reference) for q in s.queries]
    with pytest.raises(ValstudyError, match="default, dedup"):
        ds.eval_splits("val")


def test_side_information_restricted_to_training_images(shoes_root):
    ds = Shoes(shoes_root)
    assert ds.side_information() == [(A1, "black boots"), (A2, "brown boots")]
    assert ds.vocabulary_texts() == ["black boots", "brown boots"] + [t.text for t in ds.train_triplets()]
    assert ds.train_images() == [A1, A2, A3, A4]


def test_image_path_finds_both_subfolders(shoes_root):
    ds = Shoes(shoes_root)
    assert ds.image_path(A1).parent.name == "0" and ds.image_path(A2).parent.name == "1"
    assert ds.image_path(A1).is_file() and ds.image_path(A2).is_file()


def test_missing_image_drops_lines_consistently(shoes_root):
    Shoes(shoes_root).image_path(E1).unlink()
    ds = Shoes(shoes_root)
    [default] = ds.eval_splits()
    # every query touching E1 goes, and E1 leaves the gallery
    assert [(q.reference, q.target) for q in default.queries] == [(A4, E3)]
    assert default.dropped["missing_image"] == 3
    assert default.gallery == [E2, E3, A4]
    assert ds.report.counts["eval_missing_image"] == 3
    assert len(ds.report.missing_images) == 1 and ds.report.notes
    with pytest.raises(DataError, match=E1):
        Shoes(shoes_root, strict=True)
    assert len(Shoes(shoes_root, check_images=False).eval_splits()[0].queries) == 4


def test_json_entry_missing_key(shoes_root):
    path = shoes_root / "relative_captions_shoes.json"
    data = json.loads(path.read_text())
    del data[2]["RelativeCaption"]
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"relative_captions_shoes.json \[RelativeCaption\]: entry 2 has no key"):
        Shoes(shoes_root, check_images=False)


def test_malformed_json_names_file_and_line(shoes_root):
    (shoes_root / "captions_shoes.json").write_text('[\n{"ImageName": "a", "Caption": "b"},\noops\n]')
    with pytest.raises(DataError, match=r"captions_shoes.json:3: malformed JSON"):
        Shoes(shoes_root, check_images=False)


def test_bad_name_list_line(shoes_root):
    (shoes_root / "eval_im_names.txt").write_text(f"{E1}\n{E2} {E3}\n")
    with pytest.raises(DataError, match=r"eval_im_names.txt:2: expected one image name"):
        Shoes(shoes_root, check_images=False)


def test_missing_file(shoes_root):
    (shoes_root / "train_im_names.txt").unlink()
    with pytest.raises(MissingResourceError, match="train_im_names.txt.*data/README.md"):
        Shoes(shoes_root, check_images=False)
