"""Recall at K for composed image retrieval, and the evaluation of one test split.

docs/protocols.md: rank the gallery for each query, exclude the query's own reference image, R@K = percentage of
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

__all__ = ["first_hit_rank", "recall_at_k", "rank_split", "evaluate_split", "split_result", "valid_at_k",
           "valid_precision_at_k", "reference_similarity_at_k", "beyond_result"]


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


def recall_at_k(ranks, ks: Iterable[int] = (1, 10, 50), depth: int | None = None) -> dict[str, float]:
    """R@K: the percentage of queries whose best-ranked correct gallery item is within the top ``k``, for each ``k``.

    The one recall function of valstudy (evaluation, analysis and the notebooks use it).

    Parameters
    ----------
    ranks : sequence or Tensor (Q,) of int
        1-based first-hit ranks (:func:`first_hit_rank`); 0 (or anything beyond every ``k``) = not found.
    ks : iterable of int
    depth : int, optional
        How many gallery items were ranked per query; an R@k with ``k > depth`` cannot be told and raises. None:
        the whole gallery was ranked.

    Returns
    -------
    dict ``{"R@1": ..., "R@10": ..., ...}`` in percent (0-100); 0.0 for no queries.
    """
    ranks = torch.as_tensor(ranks, dtype=torch.long).reshape(-1)
    out = {}
    for k in ks:
        if k < 1:
            raise ValstudyError(f"recall_at_k: k must be >= 1, got {k}")
        if depth is not None and k > depth:
            raise ValstudyError(f"recall_at_k: R@{k} needs the top {k} but only {depth} were ranked")
        hit = (ranks >= 1) & (ranks <= k)
        out[f"R@{k}"] = 100.0 * hit.float().mean().item() if ranks.numel() else 0.0
    return out


def rank_split(query_feats: Tensor, gallery_feats: Tensor, split: EvalSplit, depth: int,
               device: str | torch.device | None = None, chunk: int | None = None) -> tuple[Tensor, Tensor]:
    """Rank ``split``'s gallery for each of its queries, its own reference image excluded.

    Parameters
    ----------
    query_feats : Tensor (Q, D)
        Composite features of ``split.queries``, in order.
    gallery_feats : Tensor (N, D)
        Target features of ``split.gallery``, in order.
    split : EvalSplit
    depth : int
        How many gallery items to rank per query (``len(split.gallery)``: the full ranking).
    device : str or torch.device, optional
        Passed to ``valstudy.retrieval.topk``.
    chunk : int, optional
        Rank this many queries at a time (bounds memory for full rankings); None = all at once.

    Returns
    -------
    ranked : Tensor (Q, min(depth, N')) long, on the CPU
        Gallery indices, best first.
    ranks : Tensor (Q,) long
        1-based rank of each query's first correct item within ``ranked`` (0 = not there).
    """
    n_q, n = len(split.queries), len(split.gallery)
    if query_feats.shape[0] != n_q:
        raise ValstudyError(f"rank_split [{split.name}]: {query_feats.shape[0]} query features for {n_q} queries")
    if gallery_feats.shape[0] != n:
        raise ValstudyError(f"rank_split [{split.name}]: {gallery_feats.shape[0]} gallery features for "
                            f"{n} gallery images")
    bad = [i for i, pos in enumerate(split.positives) if any(not 0 <= j < n for j in pos)]
    if bad:
        raise ValstudyError(f"rank_split [{split.name}]: query {bad[0]} has a positive outside the gallery "
                            f"(0..{n - 1})")
    exclude = torch.tensor(split.exclude, dtype=torch.long)
    step = chunk or max(n_q, 1)
    ranked = [topk(query_feats[i:i + step], gallery_feats, depth, exclude=exclude[i:i + step],
                   device=device)[1].cpu() for i in range(0, n_q, step)]
    # topk ranks N - 1 items when a query of its batch excludes one: every chunk is cut to the narrowest, as one
    # pass over all queries would rank them
    width = min((r.shape[1] for r in ranked), default=0)
    ranked = torch.cat([r[:, :width] for r in ranked]) if ranked else torch.zeros(0, 0, dtype=torch.long)
    return ranked, first_hit_rank(ranked, split.positives)


def evaluate_split(query_feats: Tensor, gallery_feats: Tensor, split: EvalSplit, ks: Iterable[int] = (1, 10, 50),
                   device: str | torch.device | None = None, valid: Sequence[frozenset[int]] | None = None,
                   reference: tuple[Tensor, Tensor] | None = None) -> dict:
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
    valid, reference : optional
        Valid targets and reference-encoder features (:func:`beyond_result`).

    Returns
    -------
    dict: :func:`split_result` of the first-hit ranks within the top ``max(ks)``, plus :func:`beyond_result`.
    """
    ks = sorted(set(ks))
    if not ks:
        raise ValstudyError(f"evaluate_split [{split.name}]: no k given")
    ranked, ranks = rank_split(query_feats, gallery_feats, split, max(ks), device=device)
    return {**split_result(split, ranks, ks), **beyond_result(ranked, ks, valid, reference)}


def split_result(split: EvalSplit, ranks: Tensor, ks: Iterable[int]) -> dict:
    """The result row of one split: ``name``, ``protocol``, ``category``, ``queries`` (Q), ``gallery`` (N),
    ``dropped``, one ``R@k`` per ``k`` (percent) and ``ranks`` (each query's 1-based first-hit rank, 0 = not
    ranked within the depth)."""
    result = {"name": split.name, "protocol": split.protocol, "category": split.category,
              "queries": len(split.queries), "gallery": len(split.gallery), "dropped": dict(split.dropped)}
    # topk ranked min(max(ks), N - 1) images: when the gallery is shorter than k, every rankable image is in the top k.
    result.update(recall_at_k(ranks, sorted(set(ks))))
    result["ranks"] = torch.as_tensor(ranks).tolist()
    return result


# ------------------------------------------------------------------ beyond R@K (docs/valid_targets.md)
def valid_at_k(ranked: Tensor, valid: Sequence[Iterable[int]], ks: Iterable[int] = (1, 10, 50)) -> dict[str, float]:
    """Percentage of queries with a valid target (``valstudy.valid_targets``) within the top ``k``: ``valid@k``.

    R@K with the valid targets as the correct set; since they include the protocol's positives, valid@K >= R@K.
    """
    ranks = first_hit_rank(ranked, valid)
    return {f"valid@{k[2:]}": v for k, v in recall_at_k(ranks, ks).items()}


def valid_precision_at_k(ranked: Tensor, valid: Sequence[Iterable[int]], ks: Iterable[int] = (1, 10, 50)
                         ) -> dict[str, float]:
    """Mean fraction (percent) of the top ``k`` that are valid targets: ``precision@k``.

    A query with fewer than ``k`` valid targets cannot reach 100; :func:`beyond_result` reports the ceiling as
    ``precision_ceiling@k``.
    """
    ranked = torch.as_tensor(ranked).cpu()
    out = {}
    for k in ks:
        if k > ranked.shape[1]:
            raise ValstudyError(f"valid_precision_at_k: precision@{k} needs the top {k} but only "
                                f"{ranked.shape[1]} were ranked")
        fr = [sum(j in set(v) for j in row[:k]) / k for row, v in zip(ranked.tolist(), valid)]
        out[f"precision@{k}"] = 100.0 * sum(fr) / len(fr) if fr else 0.0
    return out


def reference_similarity_at_k(ranked: Tensor, gallery_ref: Tensor, target_ref: Tensor,
                              ks: Iterable[int] = (1, 10, 50)) -> dict[str, float]:
    """Mean cosine similarity of the top ``k`` to the annotated target under a fixed reference encoder: ``refsim@k``.

    Needs no attributes, so it also runs on real data; ``refsim@all`` is the same mean over the whole gallery (the
    level a random ranking would reach).

    Parameters
    ----------
    ranked : Tensor (Q, K) long
    gallery_ref : Tensor (N, D)
        L2-normalised reference-encoder features of the gallery.
    target_ref : Tensor (Q, D)
        L2-normalised reference-encoder features of each query's annotated target.
    """
    ranked = torch.as_tensor(ranked).cpu()
    sims = target_ref.float() @ gallery_ref.float().T  # (Q, N)
    out = {}
    for k in ks:
        top = ranked[:, :k]
        out[f"refsim@{k}"] = sims.gather(1, top).mean().item() if top.numel() else 0.0
    out["refsim@all"] = sims.mean().item() if sims.numel() else 0.0
    return out


def beyond_result(ranked: Tensor, ks: Iterable[int], valid: Sequence[frozenset[int]] | None = None,
                  reference: tuple[Tensor, Tensor] | None = None) -> dict:
    """What a split's result row gains beyond R@K (``docs/valid_targets.md``).

    Parameters
    ----------
    ranked : Tensor (Q, K) long
        Gallery indices, best first.
    ks : iterable of int
    valid : sequence of Q sets of int, optional
        Each query's valid targets (``valstudy.valid_targets``); adds ``valid@k``, ``precision@k``,
        ``precision_ceiling@k`` (the best precision any ranking could reach), ``valid_ranks`` and ``valid_counts``.
    reference : (Tensor (N, D'), Tensor (Q, D')), optional
        Reference-encoder features of the gallery and of each query's target; adds ``refsim@k`` and ``refsim@all``.
    """
    ranked = torch.as_tensor(ranked).cpu()
    ks = sorted(set(ks))
    depth = ranked.shape[1]
    out: dict = {}
    if valid is not None:
        if len(valid) != ranked.shape[0]:
            raise ValstudyError(f"beyond_result: {len(valid)} valid-target sets for {ranked.shape[0]} queries")
        valid_ranks = first_hit_rank(ranked, valid)
        out.update({f"valid@{k[2:]}": v for k, v in recall_at_k(valid_ranks, ks).items()})
        out.update(valid_precision_at_k(ranked, valid, [k for k in ks if k <= depth]))
        for k in ks:
            ceil = [min(len(v), k) / k for v in valid]
            out[f"precision_ceiling@{k}"] = 100.0 * sum(ceil) / len(ceil) if ceil else 0.0
        out["valid_ranks"] = valid_ranks.tolist()
        out["valid_counts"] = [len(v) for v in valid]
    if reference is not None:
        out.update(reference_similarity_at_k(ranked, *reference, [k for k in ks if k <= depth]))
    return out
