"""The validation split carved out of the training set (valstudy.data.validation)."""
from __future__ import annotations

import pytest

from valstudy.data import load_dataset
from valstudy.data.synth import synthesize
from valstudy.data.validation import HeldOut, held_out


def test_held_out_is_a_fixed_share_of_keys():
    keys = [f"img_{i}.jpg" for i in range(4000)]
    share = sum(held_out(k, 0.2) for k in keys) / len(keys)
    assert 0.17 < share < 0.23
    assert [held_out(k, 0.2) for k in keys] == [held_out(k, 0.2) for k in keys]  # no per-process hash salt
    assert not any(held_out(k, 0.0) for k in keys)


@pytest.mark.parametrize("dataset", ["shoes", "fashion200k", "fashioniq"])
def test_validation_carved_from_training_never_overlaps_training_references(tmp_path, dataset):
    """Data without a validation split of their own (real data): a share of the training references is held out."""
    synthesize(dataset, tmp_path / dataset, size="tiny", seed=0)
    (tmp_path / dataset / "extras" / "validation.json").unlink()  # as real data: no split of its own
    ds = load_dataset(dataset, tmp_path / dataset, check_images=False)
    h = HeldOut(ds, 0.3)
    train_refs = {t.reference for t in h.train_triplets(0)}
    split = h.eval_split()
    assert split.queries and split.protocol == "validation"
    assert not train_refs & {q.reference for q in split.queries}
    # every training triplet is on exactly one side
    triplets = ds.train_triplets(0)
    kept = [t for t in triplets if t.reference in train_refs]
    assert len(kept) == len(h.train_triplets(0)) and len(kept) < len(triplets)
    assert h.train_triplets(3, seed=1) == [t for t in ds.train_triplets(3, seed=1) if t.reference in train_refs]
    for q, pos, ex in zip(split.queries, split.positives, split.exclude):
        assert split.gallery[ex] == q.reference and [split.gallery[i] for i in pos] == [q.target]


def test_a_synthetic_world_brings_its_own_validation_split(tmp_path):
    """The world's validation families (extras/validation.json): nothing is taken from training, queries are the
    world's own, and every gallery image with the target's attributes counts as correct."""
    import json

    from valstudy.data import load_dataset
    from valstudy.data.synth import synthesize
    from valstudy.data.validation import HeldOut

    synthesize("shoes", tmp_path / "shoes", size="tiny", seed=0)
    ds = load_dataset("shoes", tmp_path / "shoes")
    held = HeldOut(ds, 0.25)
    assert held.train_triplets(0) == ds.train_triplets(0)  # every training triplet stays in training
    split = held.eval_split()
    spec = json.loads((tmp_path / "shoes" / "extras" / "validation.json").read_text())
    attrs = json.loads((tmp_path / "shoes" / "extras" / "attributes.json").read_text())
    assert split.protocol == "validation" and len(split.queries) == len(spec["queries"]) > 0
    assert split.gallery == spec["gallery"] and not set(split.gallery) & set(ds.train_images())
    listed = set((tmp_path / "shoes" / "train_im_names.txt").read_text().split()) | set(
        (tmp_path / "shoes" / "eval_im_names.txt").read_text().split())
    assert not set(split.gallery) & listed  # no annotation file names a validation image
    for q, pos, ex in zip(split.queries, split.positives, split.exclude):
        assert split.gallery[ex] == q.reference and split.gallery.index(q.target) in pos
        assert all(attrs[split.gallery[i]] == attrs[q.target] for i in pos)
        assert ds.image_path(q.reference).is_file()
