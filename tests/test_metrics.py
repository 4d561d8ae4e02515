"""Recall@K and first-hit ranks on hand-made rankings; evaluate_split on a hand-made split with a known answer."""
import pytest
import torch

from valstudy.data.base import EvalSplit, Query
from valstudy.errors import ValstudyError
from valstudy.metrics import evaluate_split, first_hit_rank, recall_at_k

RANKED = torch.tensor([[3, 1, 2, 0],   # positives {1, 2}: first hit at rank 2
                       [0, 5, 6, 7],   # {0}: rank 1
                       [7, 8, 9, 1],   # {4}: never ranked -> 0
                       [4, 2, 9, 5],   # {5, 9}: rank 3
                       [6, 7, 8, 9]])  # {}: no positive at all -> 0
POSITIVES = [frozenset({1, 2}), frozenset({0}), frozenset({4}), frozenset({5, 9}), frozenset()]


def test_first_hit_rank():
    assert first_hit_rank(RANKED, POSITIVES).tolist() == [2, 1, 0, 3, 0]
    assert first_hit_rank(RANKED, [[2, 1], [0], [4], [9], []]).tolist() == [2, 1, 0, 3, 0]  # any iterable


def test_recall_at_k():
    ranks = first_hit_rank(RANKED, POSITIVES)
    r = recall_at_k(ranks, ks=(1, 2, 3, 4), depth=RANKED.shape[1])
    assert r == pytest.approx({"R@1": 20.0, "R@2": 40.0, "R@3": 60.0, "R@4": 60.0})
    assert r == recall_at_k(ranks.tolist(), ks=(1, 2, 3, 4))  # a list of ranks as well as a tensor
    assert list(recall_at_k(ranks, ks=(1,))) == ["R@1"]
    with pytest.raises(ValstudyError, match="R@10 needs the top 10"):
        recall_at_k(ranks, ks=(10,), depth=RANKED.shape[1])
    with pytest.raises(ValstudyError, match="5 positive sets"):
        first_hit_rank(RANKED[:3], POSITIVES)


def make_split():
    # Gallery on a line: image j sits at x = j. Queries land at known places; the reference image is excluded.
    gallery = [f"img{j}" for j in range(6)]
    queries = [Query(reference="img0", text="t0", target="img1"),   # at x=0.1: ranking 1,2,... (0 excluded)
               Query(reference="img5", text="t1", target="img2"),   # at x=4.9: 4,3,2 -> target at rank 3
               Query(reference="img3", text="t2", target="img3"),   # positive is its own (excluded) reference
               Query(reference="x", text="t3", target="img4")]      # not in gallery (-1), x=3.2 -> 3,4: rank 2
    feats = torch.tensor([[0.1], [4.9], [3.0], [3.2]])
    split = EvalSplit(name="toy", protocol="test", queries=queries, gallery=gallery,
                      positives=[frozenset({1}), frozenset({2, 0}), frozenset({3}), frozenset({4})],
                      exclude=[0, 5, 3, -1], category="dress", dropped={"missing_images": 2})
    return split, feats, torch.arange(6.0)[:, None]


def test_evaluate_split_known_answer():
    split, q, g = make_split()
    r = evaluate_split(q, g, split, ks=(1, 2, 3))
    assert r["ranks"] == [1, 3, 0, 2]
    assert r["R@1"] == pytest.approx(25.0) and r["R@2"] == pytest.approx(50.0) and r["R@3"] == pytest.approx(75.0)
    assert (r["name"], r["protocol"], r["category"], r["queries"], r["gallery"]) == ("toy", "test", "dress", 4, 6)
    assert r["dropped"] == {"missing_images": 2}
    # k beyond the gallery: every rankable image is within the top k
    r = evaluate_split(q, g, split, ks=(1, 10, 50))
    assert r["R@50"] == pytest.approx(75.0) and r["R@10"] == pytest.approx(75.0)


def test_evaluate_split_checks_its_inputs():
    split, q, g = make_split()
    with pytest.raises(ValstudyError, match="toy"):
        evaluate_split(q[:3], g, split)
    with pytest.raises(ValstudyError, match="gallery features"):
        evaluate_split(q, g[:5], split)
    split.positives[1] = frozenset({9})
    with pytest.raises(ValstudyError, match="outside the gallery"):
        evaluate_split(q, g, split)


def test_full_rankings_in_chunks_equal_one_pass():
    from valstudy.metrics import rank_split

    split, q, g = make_split()
    ranked, ranks = rank_split(q, g, split, depth=len(split.gallery))
    assert ranked.shape == (4, 5) and ranks.tolist() == [1, 3, 0, 2]  # the reference excluded: 5 of 6 ranked
    assert ranked[1].tolist() == [4, 3, 2, 1, 0]
    chunked, chunk_ranks = rank_split(q, g, split, depth=len(split.gallery), chunk=3)
    assert torch.equal(chunked, ranked) and torch.equal(chunk_ranks, ranks)
