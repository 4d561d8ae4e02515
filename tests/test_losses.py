"""Losses against hand-computed values and a naive reference."""
import math

import pytest
import torch

from valstudy.errors import ValstudyError
from valstudy.losses import HierarchicalLoss, SoftmaxLoss, TripletLoss, build_loss


def _t(rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_triplet_semi_hard_selection_by_hand():
    # Squared L2 between unit vectors. q0=(1,0) q1=(0,1) q2=(0,-1); t0=(0,1) t1=(1,0) t2=(-1,0).
    # q->t: q0: pos 2, negs {0 (closer: ignored), 4} -> max(2-4+.2, 0) = 0
    #       q1: pos 2, negs {0 (ignored), 2 (kept: not closer)} -> 0.2   (the hardest, 0, would give 2.2)
    #       q2: pos 2, negs {4, 2} -> nearest kept 2 -> 0.2                       mean 0.4/3
    # t->q: t0: pos 2, negs {0 ignored, 4} -> 0; t1: pos 2, {0 ignored, 2} -> 0.2; t2: pos 2, {4, 2} -> 0.2
    q = _t([[1, 0], [0, 1], [0, -1]]) * 3  # unnormalised on purpose: the loss L2-normalises
    t = _t([[0, 1], [1, 0], [-1, 0]])
    loss = TripletLoss(margin=0.2)(q, t)
    assert loss.item() == pytest.approx(0.8 / 3, abs=1e-6)


def test_triplet_without_semi_hard_negative_by_hand():
    # q0=(1,0) t0=(-1,0): pos 4, both negatives at 2 are closer -> none remains.
    #   "largest" (TF triplet_semihard_loss): 4 - 2 + 0.2 = 2.2; "zero" (authors' code, 1e8 mask): 0.
    # q1=(0,1)=t1, q2=(0,-1)=t2: pos 0, nearest negative 2 -> 0. The target-anchored direction is the same.
    q = _t([[1, 0], [0, 1], [0, -1]])
    t = _t([[-1, 0], [0, 1], [0, -1]])
    assert TripletLoss(0.2, "largest")(q, t).item() == pytest.approx(2 * 2.2 / 3, abs=1e-6)
    assert TripletLoss(0.2, "zero")(q, t).item() == pytest.approx(0.0, abs=1e-7)


def _naive_triplet(q, t, margin):
    q, t = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(t, dim=1)
    total = 0.0
    for a, b in ((q, t), (t, q)):
        per = []
        for i in range(len(a)):
            pos = float(((a[i] - b[i]) ** 2).sum())
            negs = [float(((a[i] - b[j]) ** 2).sum()) for j in range(len(a)) if j != i]
            kept = [d for d in negs if d >= pos]
            neg = min(kept) if kept else max(negs)
            per.append(max(pos - neg + margin, 0.0))
        total += sum(per) / len(per)
    return total


def test_triplet_matches_naive_reference_on_random_batches():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        q, t = torch.randn(4, 3, generator=g), torch.randn(4, 3, generator=g)
        assert TripletLoss(0.2)(q, t).item() == pytest.approx(_naive_triplet(q, t, 0.2), abs=1e-5)


def test_softmax_loss_by_hand():
    # TIRG: logits = s^2 cos with s = 4 -> 16 cos. Matched pairs: CE = log(1 + e^-16) per row.
    e = _t([[1, 0], [0, 1]]).double()  # float64: log(1 + e^-16) is below float32 resolution near 0
    loss = SoftmaxLoss()
    assert loss.scale.item() == 4.0 and loss.scale.requires_grad
    assert loss(e, e).item() == pytest.approx(math.log1p(math.exp(-16)), rel=1e-6)
    # Swapped pairs: logits [[0, 16], [16, 0]] with labels 0, 1 -> CE = log(1 + e^16) per row.
    assert loss(e, e.flip(0)).item() == pytest.approx(math.log1p(math.exp(16)), rel=1e-5)
    loss(e, e.flip(0)).backward()
    assert loss.scale.grad is not None and loss.scale.grad.item() != 0


def test_hierarchical_sums_levels_and_checks_count():
    g = torch.Generator().manual_seed(1)
    q = [torch.randn(3, 4, generator=g), torch.randn(3, 6, generator=g)]
    t = [torch.randn(3, 4, generator=g), torch.randn(3, 6, generator=g)]
    h = build_loss("triplet", 2)
    assert isinstance(h, HierarchicalLoss)
    expected = TripletLoss()(q[0], t[0]) + TripletLoss()(q[1], t[1])
    assert h(q, t).item() == pytest.approx(expected.item(), abs=1e-6)
    with pytest.raises(ValstudyError, match="2 levels"):
        h(q[:1], t[:1])


def test_build_loss_softmax_has_one_scale_per_level():
    h = build_loss("softmax", 3)
    assert len(list(h.parameters())) == 3
    with pytest.raises(ValstudyError, match="unknown loss"):
        build_loss("contrastive", 1)


def test_bad_shapes_raise():
    with pytest.raises(ValstudyError, match="same shape"):
        TripletLoss()(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValstudyError, match="at least 2"):
        SoftmaxLoss()(torch.randn(1, 4), torch.randn(1, 4))
