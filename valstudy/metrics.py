"""Recall at K for composed image retrieval, and the evaluation of one test split.

VAL.md section 4: rank the gallery for each query, exclude the query's own reference image, R@K = percentage of
queries whose best-ranked correct image is within the top K. What "correct" means is the protocol's business and
arrives as ``EvalSplit.positives`` (Fashion200k: every gallery image whose caption equals the target's; Shoes and
FashionIQ: the target alone); the exclusion arrives as ``EvalSplit.exclude``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from valstudy.data.base import EvalSplit
from valstudy.errors import ValstudyError
from valstudy.retrieval import topk

__all__ = ["first_hit_rank", "recall_at_k", "evaluate_split"]


def first_hit_rank(ranked: Tensor, positives: Sequence[Iterable[int]]) -> Tensor:
    """1-based rank of each query's best-ranked correct gallery item, 0 if none is among the ``K`` ranked.

    Parameters
    ----------
    ranked : Tensor (Q, K) long
        Gallery indices, best first (as returned by ``valstudy.retrieval.topk``).
    positives : sequence of Q sets of int
        The gallery indices that count as correct for each query.

    Returns
    -------
    Tensor (Q,) long
    """
    ranked = torch.as_tensor(ranked).cpu()
    if ranked.dim() != 2 or len(positives) != ranked.shape[0]:
        raise ValstudyError(f"first_hit_rank: ranked has shape {tuple(ranked.shape)} but there are "
                            f"{len(positives)} positive sets (expected (Q, K) and Q sets)")
    ranks = torch.zeros(ranked.shape[0], dtype=torch.long)
    for i, (row, pos) in enumerate(zip(ranked.tolist(), positives)):
        pos = pos if isinstance(pos, (set, frozenset)) else set(pos)
        for r, j in enumerate(row):
            if j in pos:
                ranks[i] = r + 1
                break
    return ranks


def recall_at_k(ranked: Tensor, positives: Sequence[Iterable[int]], ks: Iterable[int] = (1, 10, 50)
                ) -> dict[str, float]:
    """Percentage of queries whose best-ranked correct gallery item is within the top ``k``, for each ``k``.

    Parameters
    ----------
    ranked : Tensor (Q, K) long
        Gallery indices, best first; every ``k`` must be at most ``K`` unless the gallery itself is shorter.
    positives : sequence of Q sets of int
        The gallery indices that count as correct for each query.
    ks : iterable of int

    Returns
    -------
    dict ``{"R@1": ..., "R@10": ..., ...}`` in percent (0-100).
    """
    ranks = first_hit_rank(ranked, positives)
    return _recalls(ranks, ks, depth=ranked.shape[1])


def _recalls(ranks: Tensor, ks: Iterable[int], depth: int | None = None) -> dict[str, float]:
    """Percent of ``ranks`` in ``[1, k]``; ``depth``: how many were ranked (None: the whole gallery was)."""
    out = {}
    for k in ks:
        if k < 1:
            raise ValstudyError(f"recall_at_k: k must be >= 1, got {k}")
        if depth is not None and k > depth:
            raise ValstudyError(f"recall_at_k: R@{k} needs the top {k} but only {depth} were ranked")
        hit = (ranks >= 1) & (ranks <= k)
        out[f"R@{k}"] = 100.0 * hit.float().mean().item() if ranks.numel() else 0.0
    return out


def evaluate_split(query_feats: Tensor, gallery_feats: Tensor, split: EvalSplit, ks: Iterable[int] = (1, 10, 50),
                   device: str | torch.device | None = None) -> dict:
    """Rank ``split``'s gallery for each of its queries and report R@K under its protocol.

    Parameters
    ----------
    query_feats : Tensor (Q, D)
        Composite features of ``split.queries``, in order.
    gallery_feats : Tensor (N, D)
        Target features of ``split.gallery``, in order.
    split : EvalSplit
        Queries, gallery, positives and the per-query excluded reference image.
    ks : iterable of int
    device : str or torch.device, optional
        Passed to ``valstudy.retrieval.topk``.

    Returns
    -------
    dict with ``name``, ``protocol``, ``category``, ``queries`` (Q), ``gallery`` (N), ``dropped``, one ``R@k`` per
    ``k`` (percent) and ``ranks``: each query's 1-based first-hit rank within the top ``max(ks)`` (0 = not there).
    """
    ks = sorted(set(ks))
    if not ks:
        raise ValstudyError(f"evaluate_split [{split.name}]: no k given")
    n_q, n = len(split.queries), len(split.gallery)
    if query_feats.shape[0] != n_q:
        raise ValstudyError(f"evaluate_split [{split.name}]: {query_feats.shape[0]} query features for {n_q} queries")
    if gallery_feats.shape[0] != n:
        raise ValstudyError(f"evaluate_split [{split.name}]: {gallery_feats.shape[0]} gallery features for "
                            f"{n} gallery images")
    bad = [i for i, pos in enumerate(split.positives) if any(not 0 <= j < n for j in pos)]
    if bad:
        raise ValstudyError(f"evaluate_split [{split.name}]: query {bad[0]} has a positive outside the gallery "
                            f"(0..{n - 1})")
    exclude = torch.tensor(split.exclude, dtype=torch.long)
    _, ranked = topk(query_feats, gallery_feats, max(ks), exclude=exclude, device=device)
    ranks = first_hit_rank(ranked.cpu(), split.positives)
    result = {"name": split.name, "protocol": split.protocol, "category": split.category, "queries": n_q,
              "gallery": n, "dropped": dict(split.dropped)}
    # topk ranked min(max(ks), N - 1) images: when the gallery is shorter than k, every rankable image is in the top k.
    result.update(_recalls(ranks, ks))
    result["ranks"] = ranks.tolist()
    return result

