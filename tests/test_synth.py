"""The synthetic garment world: determinism, the real formats, and the structure composition needs."""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from valstudy.data.synth import synthesize
from valstudy.errors import ValstudyError

DATASETS = ("fashion200k", "shoes", "fashioniq")


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("synth")
    roots = {}
    for d in DATASETS:
        roots[d] = base / d
        synthesize(d, roots[d], size="tiny", seed=0)
    return roots


def _extras(root: Path):
    attrs = json.loads((root / "extras" / "attributes.json").read_text())
    pairs = json.loads((root / "extras" / "pairs.json").read_text())
    return attrs, pairs


def _diff(a: dict, b: dict) -> set[str]:
    return {k for k in set(a) | set(b) if a.get(k) != b.get(k)}


# ------------------------------------------------------------------------------------------ determinism
@pytest.mark.parametrize("dataset", DATASETS)
def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tiny, tmp_path, dataset):
    first = _hashes(tiny[dataset])
    synthesize(dataset, tmp_path / "again", size="tiny", seed=0)
    assert _hashes(tmp_path / "again") == first
    synthesize(dataset, tmp_path / "other", size="tiny", seed=1)
    other = _hashes(tmp_path / "other")
    shared = set(first) & set(other)
    assert sum(first[k] != other[k] for k in shared) + len(set(first) ^ set(other)) > len(first) // 2


def test_regenerating_into_the_same_root_replaces_it(tmp_path):
    synthesize("shoes", tmp_path / "s", size="tiny", seed=3)
    before = _hashes(tmp_path / "s")
    synthesize("shoes", tmp_path / "s", size="tiny", seed=4)
    synthesize("shoes", tmp_path / "s", size="tiny", seed=3)
    assert _hashes(tmp_path / "s") == before


def test_bad_arguments_raise_one_line_errors_naming_the_choices(tmp_path):
    with pytest.raises(ValstudyError, match="fashion200k, shoes, fashioniq"):
        synthesize("deepfashion", tmp_path / "a")
    with pytest.raises(ValstudyError, match="small, medium"):
        synthesize("shoes", tmp_path / "a", size="huge")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "mine.txt").write_text("not synthetic")
    with pytest.raises(ValstudyError, match="not empty"):
        synthesize("shoes", tmp_path / "b", size="tiny")
    assert (tmp_path / "b" / "mine.txt").read_text() == "not synthetic"


# ------------------------------------------------------------------------------------------ Fashion200k
def _f200k_labels(root: Path) -> dict[str, dict[str, str]]:
    """split -> {image path: description}, checking the three tab-separated fields."""
    out = {"train": {}, "test": {}}
    for cat in ("dress", "jacket", "pants", "skirt", "top"):
        for split in out:
            f = root / "labels" / f"{cat}_{split}_detect_all.txt"
            for line in f.read_text().splitlines():
                fields = line.split("\t")
                assert len(fields) == 3, (f, line)
                path, score, desc = fields
                assert 0.0 <= float(score) <= 1.0
                assert re.fullmatch(r"women/[a-z]+/[a-z_\-]+/(\d+)/\1_\d+\.jpeg", path), path
                assert (root / path).is_file()
                out[split][path] = desc
    return out


def _one_word_apart(a: str, b: str) -> bool:
    x, y = a.split(), b.split()
    return len(x) == len(y) and sum(u != v for u, v in zip(x, y)) == 1


def test_fashion200k_files_parse_and_queries_follow_the_tirg_rule(tiny):
    root = tiny["fashion200k"]
    labels = _f200k_labels(root)
    assert labels["train"] and labels["test"] and not set(labels["train"]) & set(labels["test"])
    test = labels["test"]
    queries = [line.split() for line in (root / "test_queries.txt").read_text().splitlines()]
    assert queries and all(len(q) == 2 for q in queries)
    for src, tgt in queries:
        assert _one_word_apart(test[src], test[tgt]), (test[src], test[tgt])
    # Naive reference for TIRG's rule: every test image with a one-word sibling caption is a source, once.
    captions = set(test.values())
    modifiable = [p for p, c in test.items() if any(_one_word_apart(c, o) for o in captions)]
    assert [s for s, _ in queries] == modifiable
    # One-word pairs exist in quantity in training too.
    train_caps = set(labels["train"].values())
    assert sum(any(_one_word_apart(c, o) for o in train_caps) for c in train_caps) >= len(train_caps) // 2


def test_fashion200k_pairs_name_the_one_changed_attribute_and_duplicates_count(tiny):
    root = tiny["fashion200k"]
    attrs, pairs = _extras(root)
    test = _f200k_labels(root)["test"]
    assert len(pairs) == len((root / "test_queries.txt").read_text().splitlines())
    for p in pairs:
        assert len(p["changed"]) == 1 and set(p["changed"]) == _diff(attrs[p["reference"]], attrs[p["target"]])
        ws = [w for w in test[p["reference"]].split() if w not in test[p["target"]].split()]
        wt = [w for w in test[p["target"]].split() if w not in test[p["reference"]].split()]
        assert p["text"] == f"replace {ws[0]} with {wt[0]}"
    # Several gallery images carry each target caption (views of one product, or equal products).
    per_caption = Counter(test.values())
    assert max(per_caption[test[p["target"]]] for p in pairs) >= 2
    # TIRG removes words with str.replace: no word may be a substring of another word of its caption.
    for desc in test.values():
        words = desc.split()
        assert not any(a != b and a in b for a in words for b in words), desc


# ------------------------------------------------------------------------------------------ Shoes
def test_shoes_files_parse_in_the_real_format(tiny):
    root = tiny["shoes"]
    images = {p.name: p for p in (root / "attributedata").rglob("*.jpg")}
    for name, p in images.items():
        m = re.fullmatch(r"img_womens_([a-z_]+)_\d+\.jpg", name)
        assert m and p.parent.name in ("0", "1") and p.parent.parent.name == f"womens_{m.group(1)}"
    triplets = json.loads((root / "relative_captions_shoes.json").read_text())
    assert triplets and all(set(t) == {"ImageName", "ReferenceImageName", "RelativeCaption"} for t in triplets)
    assert all(t["ImageName"] in images and t["ReferenceImageName"] in images and t["RelativeCaption"]
               for t in triplets)
    tags = json.loads((root / "captions_shoes.json").read_text())
    assert 0 < len(tags) < len(images) and all(set(t) == {"ImageName", "Caption"} and t["ImageName"] in images
                                               for t in tags)
    train = (root / "train_im_names.txt").read_text().splitlines()
    evals = (root / "eval_im_names.txt").read_text().splitlines()
    assert train and evals and not set(train) & set(evals) and set(train) | set(evals) <= set(images)
    listed = set(train) | set(evals)
    assert any(t["ImageName"] not in listed or t["ReferenceImageName"] not in listed for t in triplets)


@pytest.mark.parametrize("dataset", ("shoes", "fashioniq"))
def test_relative_pairs_change_one_or_two_attributes_as_pairs_json_says(tiny, dataset):
    attrs, pairs = _extras(tiny[dataset])
    assert pairs
    for p in pairs:
        assert set(p["changed"]) == _diff(attrs[p["reference"]], attrs[p["target"]])
        assert 1 <= len(p["changed"]) <= 2 and "category" not in p["changed"]
        assert set(p.get("mentioned", p["changed"])) <= set(p["changed"])
    # Composition is necessary: a text is shared by several references, a reference has several targets.
    refs_per_text: dict[str, set[str]] = {}
    targets_per_ref: dict[str, set[str]] = {}
    for p in pairs:
        refs_per_text.setdefault(p["text"].lower().rstrip("."), set()).add(p["reference"])
        targets_per_ref.setdefault(p["reference"], set()).add(p["target"])
    assert max(len(v) for v in refs_per_text.values()) >= 3
    assert max(len(v) for v in targets_per_ref.values()) >= 2


# ------------------------------------------------------------------------------------------ FashionIQ
def test_fashioniq_files_parse_in_the_real_format(tiny):
    root = tiny["fashioniq"]
    _, pairs = _extras(root)
    listed = {(p["reference"], p["target"], p["text"]) for p in pairs}
    empty = 0
    for cat in ("dress", "shirt", "toptee"):
        for split in ("train", "val", "test"):
            ids = json.loads((root / "image_splits" / f"split.{cat}.{split}.json").read_text())
            assert ids and all(re.fullmatch(r"B00[0-9A-Z]{7}", a) and (root / "images" / f"{a}.jpg").is_file()
                               for a in ids)
            entries = json.loads((root / "captions" / f"cap.{cat}.{split}.json").read_text())
            keys = {"candidate", "captions"} | ({"target"} if split != "test" else set())
            assert entries and all(set(e) == keys and len(e["captions"]) == 2 for e in entries)
            for e in entries:
                assert e["candidate"] in ids and e.get("target", ids[0]) in ids
                empty += sum(c == "" for c in e["captions"])
                if split != "test":
                    assert all((e["candidate"], e["target"], c) in listed for c in e["captions"] if c)
    assert empty >= 3


def test_fashioniq_captions_of_a_pair_may_name_different_changes(tiny):
    _, pairs = _extras(tiny["fashioniq"])
    by_pair: dict[tuple, list] = {}
    for p in pairs:
        by_pair.setdefault((p["reference"], p["target"]), []).append(set(p["mentioned"]))
    assert any(len(m) == 2 and m[0] != m[1] and len(m[0] | m[1]) == 2 for m in by_pair.values())


@pytest.mark.parametrize("dataset", ("shoes", "fashioniq"))
def test_some_queries_are_satisfied_by_several_gallery_images(tiny, dataset):
    """The supplementary's Figs. 5-6: several gallery images share the target's attributes, so the text cannot single one out."""
    attrs, pairs = _extras(tiny[dataset])
    queries = [p for p in pairs if p["split"] in ("val", "eval")]
    gallery = {k for p in queries for k in (p["reference"], p["target"])}
    sig = Counter(json.dumps(attrs[k], sort_keys=True) for k in gallery)
    assert any(sig[json.dumps(attrs[p["target"]], sort_keys=True)] >= 2 for p in queries)


# ------------------------------------------------------------------------------------------ extras
def test_regions_have_the_image_size_and_show_the_parts(tmp_path):
    root = tmp_path / "f"
    synthesize("fashioniq", root, size="tiny", seed=0, image_size=40)
    attrs, _ = _extras(root)
    parts = json.loads((root / "extras" / "parts.json").read_text())
    assert parts["parts"][0] == "background" and set(parts["attribute_part"]) >= {"colour", "sleeve", "neckline"}
    world = json.loads((root / "extras" / "world.json").read_text())
    assert (world["dataset"], world["size"], world["seed"], world["image_size"]) == ("fashioniq", "tiny", 0, 40)
    with np.load(root / "extras" / "regions.npz") as z:
        assert sorted(z.files) == sorted(attrs)
        sleeve = parts["parts"].index("sleeve")
        for key, a in attrs.items():
            r = z[key]
            assert r.dtype == np.uint8 and r.shape == (40, 40) and r.max() < len(parts["parts"])
            assert Image.open(root / "images" / f"{key}.jpg").size == (40, 40)
            assert (r > 0).mean() > 0.08 and (r == 0).any()
            assert ((r == sleeve).sum() > 0) == (a["sleeve"] != "none"), (key, a)


def test_shoe_regions_follow_the_shaft_attribute(tiny):
    root = tiny["shoes"]
    attrs, _ = _extras(root)
    shaft = json.loads((root / "extras" / "parts.json").read_text())["parts"].index("shaft")
    with np.load(root / "extras" / "regions.npz") as z:
        for key, a in attrs.items():
            tall = (z[key] == shaft).sum()
            assert (tall > 0) == (a["shaft"] != "low"), (key, a)
