"""Losses against hand-computed values and a naive reference."""
import math

import numpy as np
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


def _code_triplet(images: np.ndarray, texts: np.ndarray, margin: float) -> float:
    """yanbeic/VAL `model.py` `bidirectional_matching_loss` (semi_hard=True, a static batch size) transcribed line by
    line into NumPy, whose broadcasting is TensorFlow's: ``np.less`` of a (B, B) and a (B,) array compares column j
    with element j, as ``tf.less`` does."""
    INF = 1e8
    normalization = lambda x: x / np.sqrt(np.maximum(np.sum(x * x, 1, keepdims=True), 1e-10))  # noqa: E731
    hinge_loss = lambda dist1, dist2: np.mean(np.maximum(dist1 - dist2 + margin, 0))  # noqa: E731
    pairwise_distance = lambda f1, f2, dim: np.sum(np.square(np.subtract(f1, f2)), dim)  # noqa: E731
    mask_dist = lambda mask, dist_neg_all, infinity: np.where(mask, np.ones_like(dist_neg_all) * infinity,  # noqa: E731
                                                              dist_neg_all)
    images, texts = normalization(images), normalization(texts)
    self_mask = np.eye(images.shape[0]).astype(bool)
    dist_pos_img = pairwise_distance(images, texts, 1)
    dist_neg_img_all = pairwise_distance(images[:, np.newaxis], texts, 2)
    hard_mask = np.less(dist_neg_img_all, dist_pos_img)
    dist_neg_img_all = mask_dist(hard_mask, dist_neg_img_all, INF)
    dist_neg_img_all = mask_dist(self_mask, dist_neg_img_all, INF)
    img2text = hinge_loss(dist_pos_img, np.min(dist_neg_img_all, 1))
    dist_pos_text = pairwise_distance(texts, images, 1)
    dist_neg_text_all = pairwise_distance(texts[:, np.newaxis], images, 2)
    hard_mask = np.less(dist_neg_text_all, dist_pos_text)
    dist_neg_text_all = mask_dist(hard_mask, dist_neg_text_all, INF)
    dist_neg_text_all = mask_dist(self_mask, dist_neg_text_all, INF)
    text2img = hinge_loss(dist_pos_text, np.min(dist_neg_text_all, 1))
    return float(img2text + text2img)


def _varied_batch(b: int = 32, d: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite features and targets whose positive distances range from near 0 to near orthogonal."""
    g = torch.Generator().manual_seed(seed)
    q = torch.nn.functional.normalize(torch.randn(b, d, generator=g, dtype=torch.float64), dim=1)
    noise = torch.linspace(0.05, 1.5, b, dtype=torch.float64)[:, None] * torch.randn(b, d, generator=g,
                                                                                      dtype=torch.float64)
    return q, q + noise


def test_code_mining_is_the_authors_broadcast_and_differs_from_per_anchor():
    q, t = _varied_batch()
    qn, tn = (torch.nn.functional.normalize(x, dim=1).numpy() for x in (q, t))
    dist = ((qn[:, None] - tn[None]) ** 2).sum(-1)                                 # (B, B)
    pos = dist.diagonal()
    off = ~np.eye(len(pos), dtype=bool)
    # the batch tells the rules apart: masks (in both directions) and losses differ
    assert (np.less(dist, pos[None, :]) != np.less(dist, pos[:, None]))[off].any()
    assert (np.less(dist.T, pos[None, :]) != np.less(dist.T, pos[:, None]))[off].any()
    reference = _code_triplet(q.numpy(), t.numpy(), 0.2)
    assert TripletLoss(0.2, "zero", "code")(q, t).item() == pytest.approx(reference, rel=1e-9, abs=1e-12)
    assert TripletLoss(0.2, "zero", "per_anchor")(q, t).item() != pytest.approx(reference, rel=1e-3)
    # the same through build_loss, per level
    assert build_loss("triplet", 2, fallback="zero", mining="code")([q, q], [t, t]).item() == pytest.approx(
        2 * reference, rel=1e-9, abs=1e-12)


def test_code_mining_by_hand():
    # Squared L2 between unit vectors: q0=(1,0) q1=(0,1) q2=(-1,0); t0=(0,1) t1=(0,1) t2=(0,-1).
    # D (rows q, columns t) = [[2, 2, 2], [0, 0, 4], [2, 2, 2]], positives D[i, i] = (2, 0, 2).
    # q->t per_anchor (keep D[i, j] >= D[i, i]): q0 nearest kept 2 -> .2; q1 0 -> .2; q2 2 -> .2       mean .2
    # q->t code (keep D[i, j] >= D[j, j]): q0 2 -> .2; q1 drops t0 (0 < 2), keeps 4 -> 0; q2 2 -> .2    mean .4/3
    # t->q, D^T = [[2, 0, 2], [2, 0, 2], [2, 4, 2]]:
    #   per_anchor: t0 drops q1 (0 < 2), keeps 2 -> .2; t1 2 -> 0; t2 2 -> .2                          mean .4/3
    #   code: t0 keeps q1 (0 >= D[1, 1] = 0), a negative closer than t0's own positive -> 2.2; t1 0; t2 .2  mean 2.4/3
    q = _t([[1, 0], [0, 1], [-1, 0]])
    t = _t([[0, 1], [0, 1], [0, -1]])
    assert TripletLoss(0.2, "zero", "per_anchor")(q, t).item() == pytest.approx(0.2 + 0.4 / 3, abs=1e-6)
    assert TripletLoss(0.2, "zero", "code")(q, t).item() == pytest.approx(0.4 / 3 + 2.4 / 3, abs=1e-6)


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


def test_bad_settings_raise_naming_the_choices():
    with pytest.raises(ValstudyError, match="mining must be one of per_anchor, code"):
        TripletLoss(mining="broadcast")
    with pytest.raises(ValstudyError, match="fallback must be one of largest, zero"):
        build_loss("triplet", 1, fallback="smallest")


def test_bad_shapes_raise():
    with pytest.raises(ValstudyError, match="same shape"):
        TripletLoss()(torch.randn(3, 4), torch.randn(3, 5))
    with pytest.raises(ValstudyError, match="at least 2"):
        SoftmaxLoss()(torch.randn(1, 4), torch.randn(1, 4))


def test_training_state_mines_as_the_configuration_says():
    # the *_paper configurations train with the authors' broadcast, the synthetic study with per_anchor
    from valstudy.config import get_config
    from valstudy.training.state import TrainingState

    model = torch.nn.Linear(2, 2)
    model.levels = ("low", "mid", "high")
    for name, rule in (("fashioniq_paper", "code"), ("shoes_synth", "per_anchor")):
        cfg = get_config(name)
        assert cfg.triplet_mining == rule
        state = TrainingState(cfg, model, torch.device("cpu"))
        assert [l.mining for l in state.criterion.losses] == [rule] * 3, name
