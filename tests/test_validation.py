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
def test_validation_never_overlaps_training_references(tmp_path, dataset):
    synthesize(dataset, tmp_path / dataset, size="tiny", seed=0)
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
