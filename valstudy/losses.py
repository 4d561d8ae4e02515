"""Matching losses (yanbeic/VAL `model.py`; google/tirg `torch_functions.py`): semi-hard triplet (authors' code),
batch softmax (TIRG), hierarchical sum.

L_vv compares composite features with target image features per level; L_vs is the same loss with the image's tagged
description as the text (the authors' answer in issue 8 of their repository). Row i of the query batch matches row i
of the target batch; every other row is a negative (duplicates in a batch are not detected).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import TRIPLET_FALLBACKS, TRIPLET_MINING
from .errors import ValstudyError


def _check_pair(q: torch.Tensor, t: torch.Tensor) -> None:
    if q.dim() != 2 or q.shape != t.shape:
        raise ValstudyError(f"loss: expected query and target features of the same shape (B, d), "
                            f"got {tuple(q.shape)} and {tuple(t.shape)}")
    if q.shape[0] < 2:
        raise ValstudyError("loss: a batch needs at least 2 items, so that each has a negative")


class TripletLoss(nn.Module):
    """Bidirectional hinge triplet loss with semi-hard negatives on squared L2 distances (authors' ``model.py``).

    Features are L2-normalised, D[i, j] = ||q_i - t_j||^2. For anchor q_i the positive is t_i; negatives t_j (j != i)
    *closer* than a positive distance are ignored and the nearest remaining one is used:
    loss_i = max(D[i, i] - D[i, neg] + margin, 0). The same with the targets as anchors (D transposed); each
    direction is averaged over the batch and the two are summed.

    Which positive distance a negative is compared with, ``mining`` decides: ``"per_anchor"`` (default) ignores
    t_j for anchor i when D[i, j] < D[i, i], the anchor's own positive distance (the usual semi-hard rule);
    ``"code"`` ignores it when D[i, j] < D[j, j], as the authors' code does: ``tf.less(dist_neg_all, dist_pos)``
    compares the (B, B) distances with the (B,) positive distances, which broadcasting lays along the last axis,
    so column j is compared with the positive distance of anchor j (in both directions).

    When no negative remains, ``fallback`` decides:
    ``"largest"`` (default) uses the largest negative distance, as TensorFlow's ``triplet_semihard_loss`` does;
    ``"zero"`` gives that anchor zero loss, as the authors' code does (it sets ignored distances to 1e8).

    Parameters
    ----------
    margin : float
        Hinge margin (code: 0.2).
    fallback : {"largest", "zero"}
        What an anchor without a semi-hard negative uses (see above).
    mining : {"per_anchor", "code"}
        Which positive distance decides that a negative is too close (see above).
    """

    def __init__(self, margin: float = 0.2, fallback: str = "largest", mining: str = "per_anchor"):
        super().__init__()
        if fallback not in TRIPLET_FALLBACKS:
            raise ValstudyError(f"TripletLoss: fallback must be one of {', '.join(TRIPLET_FALLBACKS)}, "
                                f"got {fallback!r}")
        if mining not in TRIPLET_MINING:
            raise ValstudyError(f"TripletLoss: mining must be one of {', '.join(TRIPLET_MINING)}, got {mining!r}")
        self.margin, self.fallback, self.mining = margin, fallback, mining

    def _direction(self, d: torch.Tensor) -> torch.Tensor:
        # d: (B, B) distances, rows = anchors, diagonal = positives.
        b = d.shape[0]
        pos = d.diagonal()  # (B,)
        is_neg = ~torch.eye(b, dtype=torch.bool, device=d.device)
        # Semi-hard: not closer than a positive distance; the anchor's own (per_anchor) or, as the code's
        # tf.less((B, B), (B,)) broadcasts, the one of the negative's own anchor (code).
        bound = pos[:, None] if self.mining == "per_anchor" else pos[None, :]  # (B, 1) or (1, B)
        keep = is_neg & (d >= bound)  # (B, B)
        inf = torch.finfo(d.dtype).max
        nearest_kept = d.masked_fill(~keep, inf).min(dim=1).values  # (B,)
        has_kept = keep.any(dim=1)
        if self.fallback == "largest":
            largest = d.masked_fill(~is_neg, -inf).max(dim=1).values
            neg = torch.where(has_kept, nearest_kept, largest)
            return F.relu(pos - neg + self.margin).mean()
        loss = F.relu(pos - nearest_kept + self.margin)  # no kept negative: pos - huge -> 0, as the code's 1e8
        return torch.where(has_kept, loss, torch.zeros_like(loss)).mean()

    def forward(self, q: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _check_pair(q, t)
        q, t = F.normalize(q, dim=1), F.normalize(t, dim=1)
        d = (q[:, None, :] - t[None, :, :]).pow(2).sum(-1)  # (B, B) squared L2, as the code computes it
        return self._direction(d) + self._direction(d.t())


class SoftmaxLoss(nn.Module):
    """Batch-based classification loss of TIRG (google/tirg `torch_functions.py`; the paper's L_vv form).

    TIRG's ``NormalizationLayer`` scales each L2-normalised feature by a learnable s (initialised to 4), so the
    logits are (s q_i) . (s t_j) = s^2 cos(q_i, t_j): an initial scale of 16. Cross-entropy of row i against label
    i, averaged over the batch, one direction (query -> target) as in TIRG. ``s`` is a parameter of this module:
    the optimiser must include the loss's parameters.
    """

    def __init__(self, init_scale: float = 4.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(init_scale)))

    def forward(self, q: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        _check_pair(q, t)
        logits = self.scale ** 2 * F.normalize(q, dim=1) @ F.normalize(t, dim=1).t()  # (B, B)
        return F.cross_entropy(logits, torch.arange(q.shape[0], device=q.device))


class HierarchicalLoss(nn.Module):
    """Hierarchical matching: one base loss per level, summed (supplementary, Section 1; yanbeic/VAL `model.py`)."""

    def __init__(self, losses: list[nn.Module]):
        super().__init__()
        self.losses = nn.ModuleList(losses)

    def forward(self, q_levels: list[torch.Tensor], t_levels: list[torch.Tensor]) -> torch.Tensor:
        if len(q_levels) != len(self.losses) or len(t_levels) != len(self.losses):
            raise ValstudyError(f"HierarchicalLoss: built for {len(self.losses)} levels, got {len(q_levels)} query "
                                f"and {len(t_levels)} target levels")
        return sum(loss(q, t) for loss, q, t in zip(self.losses, q_levels, t_levels))


def build_loss(name: str, n_levels: int, margin: float = 0.2, fallback: str = "largest",
               mining: str = "per_anchor") -> HierarchicalLoss:
    """A :class:`HierarchicalLoss` of ``n_levels`` base losses.

    Parameters
    ----------
    name : {"triplet", "softmax"}
        ``triplet``: :class:`TripletLoss` (authors' code); ``softmax``: :class:`SoftmaxLoss` (TIRG form, one
        learnable scale per level).
    n_levels : int
        Number of levels (``len(model.levels)``).
    margin, fallback, mining
        The triplet loss's settings (:class:`TripletLoss`; a configuration's ``triplet_fallback`` and
        ``triplet_mining``).
    """
    if n_levels < 1:
        raise ValstudyError(f"build_loss: n_levels must be at least 1, got {n_levels}")
    if name == "triplet":
        return HierarchicalLoss([TripletLoss(margin, fallback, mining) for _ in range(n_levels)])
    if name == "softmax":
        return HierarchicalLoss([SoftmaxLoss() for _ in range(n_levels)])
    raise ValstudyError(f"build_loss: unknown loss {name!r}; expected 'triplet' or 'softmax'")
