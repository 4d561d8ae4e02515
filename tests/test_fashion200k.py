"""Fashion200k loader against a hand-made fixture in the real format (tests/conftest.py)."""
from __future__ import annotations

import pytest

from conftest import F200K_TRAIN, f200k_test_keys
from valstudy.data import load_dataset
from valstudy.data.fashion200k import Fashion200k, different_word, parent_captions
from valstudy.errors import DataError, MissingResourceError, ValstudyError


def test_different_word_follows_tirg():
    assert different_word("pink lace dress", "pink silk dress") == ("lace", "silk", "replace lace with silk")
    # several differing words: the first of each side
    assert different_word("red long dress", "blue short dress")[2] == "replace red with blue"
    # identical captions: TIRG's loop leaves the last word
    assert different_word("pink silk dress", "pink silk dress")[2] == "replace dress with dress"


def test_parent_captions_remove_whole_words():
    assert parent_captions("red striped dress") == ["striped dress", "red dress", "red striped"]
    assert parent_captions("red red dress") == ["dress", "red red"]


def test_counts_and_modifiable_images(fashion200k_root):
    ds = Fashion200k(fashion200k_root)
    c = ds.report.counts
    assert c["train_images"] == sum(len(v) for v in F200K_TRAIN.values()) == 7
    assert c["train_unique_captions"] == 6
    # red striped dress (2 images) <-> blue striped dress; black leather <-> black denim jacket
    assert c["train_modifiable_images"] == 5
    assert c["test_images"] == 5 and c["test_queries"] == 4
    assert ds.report.missing_images == []


def test_eval_split_duplicate_captions_count_and_reference_excluded(fashion200k_root):
    ds = Fashion200k(fashion200k_root)
    [split] = ds.eval_splits()
    keys = f200k_test_keys()
    assert split.gallery == keys
    texts = [q.text for q in split.queries]
    assert texts == ["replace lace with silk", "replace silk with lace", "replace dress with skirt",
                     "replace dress with dress"]
    # query 0: every image captioned "pink silk dress" counts (11_0, 11_1 and 12_0, whose caption has extra space)
    assert split.positives[0] == frozenset({1, 2, 3})
    assert split.positives[1] == frozenset({0})
    assert split.positives[2] == frozenset({4})
    # query 3: source 12_0 has the target caption itself; it is excluded from the positives and the ranking
    assert split.exclude == [0, 1, 2, 3]
    assert split.positives[3] == frozenset({1, 2})
    with pytest.raises(ValstudyError, match="default"):
        ds.eval_splits("dedup")


def test_train_triplets_resampled_per_epoch_and_deterministic(fashion200k_root):
    ds = Fashion200k(fashion200k_root)
    t0 = ds.train_triplets(epoch=0, seed=0)
    assert t0 == ds.train_triplets(epoch=0, seed=0)
    assert len(t0) == 5
    by_ref = {t.reference: t for t in t0}
    assert set(by_ref) == {"women/dresses/casual/1/1_0.jpeg", "women/dresses/casual/1/1_1.jpeg",
                           "women/dresses/casual/2/2_0.jpeg", "women/jackets/coats/4/4_0.jpeg",
                           "women/jackets/coats/5/5_0.jpeg"}
    assert by_ref["women/dresses/casual/1/1_0.jpeg"].target == "women/dresses/casual/2/2_0.jpeg"
    assert by_ref["women/dresses/casual/1/1_0.jpeg"].text == "replace red with blue"
    assert by_ref["women/jackets/coats/4/4_0.jpeg"].text == "replace leather with denim"
    assert by_ref["women/jackets/coats/4/4_0.jpeg"].category == "jacket"
    # the blue dress's target is one of the two red-dress images, re-sampled across epochs
    targets = {t.target for e in range(20) for t in ds.train_triplets(epoch=e) if t.reference.endswith("2_0.jpeg")}
    assert targets == {"women/dresses/casual/1/1_0.jpeg", "women/dresses/casual/1/1_1.jpeg"}


def test_side_information_and_vocabulary(fashion200k_root):
    ds = load_dataset("fashion200k", fashion200k_root)
    side = ds.side_information()
    assert len(side) == 7 and ("women/skirts/mini/3/3_0.jpeg", "green floral skirt") in side
    assert sorted(ds.vocabulary_texts()) == sorted(c for rows in F200K_TRAIN.values() for _, c in rows)
    assert len(ds.train_images()) == 7
    assert ds.image_path("women/pants/wide/6/6_0.jpeg").is_file()


def test_missing_images_dropped_or_strict(fashion200k_root):
    (fashion200k_root / "women/dresses/lace/10/10_0.jpeg").unlink()          # test: source of q0, target of q1
    (fashion200k_root / "women/dresses/casual/2/2_0.jpeg").unlink()          # train: the only blue dress
    ds = Fashion200k(fashion200k_root)
    [split] = ds.eval_splits()
    assert len(split.gallery) == 4 and len(split.queries) == 2
    assert split.dropped["missing_image"] == 2
    assert ds.report.counts["train_modifiable_images"] == 2                  # only the jackets remain
    assert len(ds.report.missing_images) == 2 and any("dropped" in n for n in ds.report.notes)
    with pytest.raises(DataError, match="2_0.jpeg"):
        Fashion200k(fashion200k_root, strict=True)
    # annotation-only mode touches no image file
    ds = Fashion200k(fashion200k_root, check_images=False)
    assert len(ds.eval_splits()[0].queries) == 4 and ds.report.missing_images == []


def test_bad_label_line_names_file_and_line(fashion200k_root):
    path = fashion200k_root / "labels" / "dress_train_detect_all.txt"
    path.write_text(path.read_text() + "women/x.jpeg\tno description\n")
    with pytest.raises(DataError, match=r"dress_train_detect_all.txt:4: expected 3 tab-separated fields"):
        Fashion200k(fashion200k_root, check_images=False)


def test_bad_query_line(fashion200k_root):
    path = fashion200k_root / "test_queries.txt"
    path.write_text(path.read_text() + "women/unknown.jpeg women/dresses/silk/11/11_0.jpeg\n")
    with pytest.raises(DataError, match=r"test_queries.txt:5: image women/unknown.jpeg is not in the test label"):
        Fashion200k(fashion200k_root, check_images=False)
    path.write_text("only_one_field\n")
    with pytest.raises(DataError, match=r"test_queries.txt:1: expected 2"):
        Fashion200k(fashion200k_root, check_images=False)


def test_missing_root_and_file(tmp_path, fashion200k_root):
    with pytest.raises(MissingResourceError, match="data/README.md"):
        Fashion200k(tmp_path / "absent")
    (fashion200k_root / "test_queries.txt").unlink()
    with pytest.raises(MissingResourceError, match="test_queries.txt"):
        Fashion200k(fashion200k_root)


def test_unknown_dataset_name(tmp_path):
    with pytest.raises(ValstudyError, match="fashion200k, shoes, fashioniq"):
        load_dataset("mnist", tmp_path)
