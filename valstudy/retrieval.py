"""Exact top-K retrieval by squared L2 distance, chunked so memory stays bounded.

``topk(queries, gallery, k)`` ranks the whole gallery for every query, the step between features and metrics
(docs/protocols.md: rank the gallery, exclude the query's own reference image, read off R@K).

How it works, per tile of ``cq`` queries x ``cn`` gallery images:

1. one GEMM with the bias fused gives ``s = ||g||^2 - 2 q.g`` (the squared distance minus the per-query constant
   ``||q||^2``, added back at the end); see ``_GalleryTiles`` for the backend (oneDNN on CPU, addmm on CUDA);
2. the query's own reference image gets ``+inf``;
3. the ``k' + 8`` smallest per row are kept (``_smallest``: a grouped top-k on CPU, ``torch.topk`` elsewhere);
   tiles of the gallery are merged the same way.

Memory, beyond the inputs: one float32 tile (``4 * cq * cn`` bytes; ``cq`` = 256 on CPU, 4096 on CUDA, ``cn`` = N
unless the tile would pass ``max_memory``, default 256 MiB), on CPU a packed copy of the gallery (``4 * N * D``,
twice that while it is packed), the gallery norms (``4 * N``) and O(Q * k') for candidates and outputs (~3 KB per
query at k = 50). At Fashion200k's test scale (33,480 x 29,789, 2,048-d) that is ~0.5 GB; the full distance matrix
would be 4 GB.

Determinism. Distances from a GEMM are not exact, and the rounding can depend on the tile shape, the BLAS and the
device, so two identical gallery images can come out a few ulps apart. Every computed score is taken to be within
``tol = TIE_RTOL * u * (||q||^2 + max ||g||^2)`` of the truth, ``u`` the GEMM's unit roundoff (2^-24 for float32;
larger when TF32/bf16 matmuls are allowed); the largest error measured on random 2,048-d data is ~1.4e-7 relative,
7x below the bound. Two candidates whose scores are more than ``2 * tol`` apart are therefore truly ordered; every
candidate within ``2 * tol`` of a neighbour (up to the end of the run of near-ties holding place k') is recomputed
directly in float64, ``sum((q - g)^2)``, which gives bit-identical values for identical images whatever the
chunking. The candidates are then sorted by (distance, gallery index), so equal distances put the smaller index
first. If a run of near-ties reaches past the candidates kept, those rows are searched again keeping twice as many.
The result is the same for every ``chunk_size``, ``max_memory``, backend and thread count (as long as the GEMM error
stays within ``tol``: a bound that holds in practice, not the worst case ``D * u``, which would flag most of a
random top-50 and cost ~40% more time).
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import Tensor

from valstudy.device import pick_device
from valstudy.errors import ValstudyError

__all__ = ["topk", "TIE_RTOL"]

TIE_RTOL = 16  # near-tie tolerance in units of the GEMM's unit roundoff, times ||q||^2 + max ||g||^2 (see above)
_MARGIN = 8  # extra candidates kept past k, so a near-tie at the k-th place rarely forces a second search
_QUERY_CHUNK = {"cpu": 256, "cuda": 4096}  # queries per tile; CPU: 256 measured fastest (oneDNN ~108 GFLOP/s/core)
_GROUP = 64  # columns per group in _smallest; CPU tiles are padded to a multiple of it
_REFINE_BYTES = 32 * 2**20  # (query, candidate) pairs are recomputed in float64 in batches of this size


def _features(x: Tensor, name: str, device: torch.device) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() != 2:
        raise ValstudyError(f"topk: {name} must be a 2-d tensor (rows, dim), got {getattr(x, 'shape', type(x))}")
    if not x.is_floating_point():
        raise ValstudyError(f"topk: {name} must be floating point, got {x.dtype}")
    return x.detach().to(device=device, dtype=torch.float32).contiguous()


def _sq_norms(x: Tensor, name: str) -> Tensor:
    """``||x_i||^2`` per row, without a (rows, D) temporary; also the check that ``x`` is finite."""
    if x.device.type == "cpu":
        xn = x.numpy()
        sq = torch.from_numpy(np.einsum("nd,nd->n", xn, xn))  # 10x faster than (x * x).sum(1) on CPU
    else:
        sq = torch.einsum("nd,nd->n", x, x)
    if not bool(torch.isfinite(sq).all()):
        raise ValstudyError(f"topk: {name} holds NaN, infinite or too large (|x| > 1e19) values")
    return sq


def _unit_roundoff(device: torch.device) -> float:
    """Unit roundoff of float32 matmuls as torch is set to run them (TF32 / bf16 when the user allowed them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        precision = torch.get_float32_matmul_precision()
        if device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32:
            precision = "high" if precision == "highest" else precision
        onednn = getattr(getattr(torch.backends, "mkldnn", None), "matmul", None)
        if device.type == "cpu" and getattr(onednn, "fp32_precision", "none") in ("bf16", "tf32"):
            precision = "medium" if onednn.fp32_precision == "bf16" else "high"
    return {"highest": 2.0**-24, "high": 2.0**-11, "medium": 2.0**-8}.get(precision, 2.0**-8)


_ONEDNN: list[bool] = []  # cached answer of _onednn_ok()


def _onednn_ok() -> bool:
    """Can oneDNN's fused linear (GEMM + bias) run here, and does it agree with torch.addmm on a tiny case?"""
    if not _ONEDNN:
        ok = False
        try:
            w, b, x = torch.randn(64, 8), torch.randn(64), torch.randn(3, 8)
            packed = torch.ops.mkldnn._reorder_linear_weight(w, 3)
            y = torch.ops.mkldnn._linear_pointwise(x, packed, b, "none", [], "")
            ok = bool(torch.allclose(y, torch.addmm(b, x, w.T), rtol=1e-4, atol=1e-4))
        except (AttributeError, RuntimeError, NotImplementedError):
            pass
        _ONEDNN.append(ok)
    return _ONEDNN[0]


def _chunks(q: int, n: int, chunk_size: int | tuple[int, int] | None, max_memory: int,
            device: torch.device) -> tuple[int, int]:
    """Query and gallery tile sizes: the tile ``4 * cq * cn`` bytes fits in ``max_memory``."""
    floats = max(1, max_memory // 4)
    if isinstance(chunk_size, tuple):
        cq, cn = chunk_size
    else:
        default = _QUERY_CHUNK.get(device.type, _QUERY_CHUNK["cuda"])
        cq = chunk_size if chunk_size is not None else min(default, max(1, floats // max(n, 1)))
        cn = None
    if int(cq) < 1 or (cn is not None and int(cn) < 1):
        raise ValstudyError(f"topk: chunk sizes must be positive, got {chunk_size}")
    cq = min(int(cq), max(q, 1))
    if cn is None:
        cn = n if cq * n <= floats else max(1, floats // cq)
    return cq, min(int(cn), max(n, 1))


class _GalleryTiles:
    """The gallery cut into tiles of ``cn`` items, ready for ``scores(q, t) = ||g||^2 - 2 q.g`` (c, width).

    CPU: oneDNN's fused linear on ``-2 g`` packed once (the packed copy is the gallery's size), with ``||g||^2`` as
    the bias; 104-107 GFLOP/s per core on this AMD EPYC against ~94 for the MKL behind ``torch.addmm`` (~66 when N is
    odd), and, unlike NumPy's OpenBLAS (~104), it shares torch's thread pool, so the top-k that follows does not
    fight spinning BLAS threads for the cores. Tiles are padded with ``+inf`` columns to a multiple of ``_GROUP``.
    Elsewhere (CUDA, or a torch without oneDNN): one ``torch.addmm`` per tile into a reused buffer.
    """

    def __init__(self, g: Tensor, g_sq: Tensor, cq: int, cn: int):
        self.starts = list(range(0, g.shape[0], cn))
        self.onednn = g.device.type == "cpu" and _onednn_ok()
        self.weights, self.biases = [], []
        for j0 in self.starts:
            gt, bt = g[j0:j0 + cn], g_sq[j0:j0 + cn]
            if self.onednn:
                wp = -(-gt.shape[0] // _GROUP) * _GROUP
                padded = torch.zeros(wp, g.shape[1])
                torch.mul(gt, -2.0, out=padded[: gt.shape[0]])  # exact: a power of two
                bt = torch.cat([bt, bt.new_full((wp - gt.shape[0],), float("inf"))])
                gt = torch.ops.mkldnn._reorder_linear_weight(padded, cq)
            self.weights.append(gt)
            self.biases.append(bt)
        self.widths = [min(cn, g.shape[0] - j0) for j0 in self.starts]
        self.buf = None if self.onednn else torch.empty(cq * cn, device=g.device)

    def scores(self, qc: Tensor, t: int) -> Tensor:
        if self.onednn:
            return torch.ops.mkldnn._linear_pointwise(qc, self.weights[t], self.biases[t], "none", [], "")
        tile = self.buf[: qc.shape[0] * self.widths[t]].view(qc.shape[0], self.widths[t])
        return torch.addmm(self.biases[t], qc, self.weights[t].T, alpha=-2.0, out=tile)


def _smallest(tile: Tensor, kk: int, width: int) -> tuple[Tensor, Tensor]:
    """The ``kk`` smallest values in the first ``width`` columns of ``tile`` (c, w), ascending, and their columns.

    On CPU, ``torch.topk`` over 30k columns costs ~6% of the GEMM; instead take the minimum of each group of
    ``_GROUP`` columns (one vectorised pass), keep the ``kk`` groups with the smallest minima and run ``torch.topk``
    on their ``kk * _GROUP`` values: half the cost. Exact: every value below the kk-th smallest group minimum lies in
    a kept group, and each kept group holds a value no larger than it, so the kk smallest values are all kept.
    """
    c, w = tile.shape
    n_groups = w // _GROUP
    if tile.device.type != "cpu" or w % _GROUP or n_groups < 4 * kk:  # (padding columns hold +inf)
        return torch.topk(tile[:, :width], kk, dim=1, largest=False, sorted=True)
    group_min = tile.view(c, n_groups, _GROUP).amin(2)  # (c, G)
    gid = torch.topk(group_min, kk, dim=1, largest=False, sorted=False).indices  # (c, kk)
    rows = (gid + torch.arange(c)[:, None] * n_groups).view(-1)  # (c * kk,) rows of the (c * G, _GROUP) view
    cand = tile.view(c * n_groups, _GROUP).index_select(0, rows).view(c, kk * _GROUP)
    vals, pos = torch.topk(cand, kk, dim=1, largest=False, sorted=True)  # (c, kk)
    return vals, gid.gather(1, pos // _GROUP) * _GROUP + pos % _GROUP


def _candidates(q: Tensor, tiles: _GalleryTiles, exclude: Tensor, kk: int, cq: int) -> tuple[Tensor, Tensor]:
    """The ``kk`` smallest computed scores (sorted ascending) and their gallery indices for the queries ``q``."""
    vals_all, idx_all = [], []
    for i0 in range(0, q.shape[0], cq):
        qc, ex = q[i0:i0 + cq], exclude[i0:i0 + cq]  # (c, D), (c,)
        best_v = best_i = None
        for t, (j0, w) in enumerate(zip(tiles.starts, tiles.widths)):
            tile = tiles.scores(qc, t)  # (c, w or padded w)
            hit = (ex >= j0) & (ex < j0 + w)
            if bool(hit.any()):
                rows = hit.nonzero().squeeze(1)
                tile[rows, ex[rows] - j0] = float("inf")  # the query's own reference image
            v, i = _smallest(tile, min(kk, w), w)  # (c, kk)
            del tile  # freed before the next tile is allocated, so that one reuses its memory (no heap growth)
            i += j0
            if best_v is not None:
                v, order = torch.topk(torch.cat([best_v, v], 1), min(kk, best_v.shape[1] + w), dim=1,
                                      largest=False, sorted=True)
                i = torch.cat([best_i, i], 1).gather(1, order)
            best_v, best_i = v, i
        vals_all.append(best_v)
        idx_all.append(best_i)
    return torch.cat(vals_all), torch.cat(idx_all)


def _exact(q: Tensor, g: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """``sum((q[rows] - g[cols])^2)`` in float64, pair by pair: identical images give identical values."""
    out = torch.empty(rows.shape[0], dtype=torch.float64, device=q.device)
    batch = max(1, _REFINE_BYTES // (12 * q.shape[1]))
    for s in range(0, rows.shape[0], batch):
        r, c = rows[s:s + batch], cols[s:s + batch]
        diff = g.index_select(0, c).double().sub_(q.index_select(0, r))  # (P, D) float64, exact differences
        out[s:s + batch] = torch.linalg.vecdot(diff, diff)
    return out


def _resolve(q: Tensor, g: Tensor, q_sq: Tensor, vals: Tensor, idx: Tensor, k: int, tol: Tensor,
             complete: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Turn computed candidates into exact, (distance, index)-ordered top-k lists.

    ``vals`` (R, kk) holds computed scores ``||g||^2 - 2 q.g`` sorted ascending, ``idx`` their gallery indices,
    ``tol`` (R,) the error bound on one score, ``complete`` whether the candidates cover the whole gallery.
    Returns distances (R, k), indices (R, k) and a mask of rows whose near-ties ran past the candidates.
    """
    kk = vals.shape[1]
    tied = (vals[:, 1:] - vals[:, :-1]) <= 2 * tol[:, None]  # (R, kk-1): order not certain from the GEMM
    after = ~tied[:, k - 1:]  # (R, kk-k): a clear gap after place k-1, k, ...
    has_gap = after.any(1)  # the run of near-ties holding place k ends inside the candidates
    if after.shape[1]:
        end = (k - 1) + torch.where(has_gap, after.int().argmax(1), after.shape[1])  # (R,) last place of that run
    else:
        end = torch.full_like(has_gap, kk - 1, dtype=torch.long)
    overrun = torch.zeros_like(has_gap) if complete else ~has_gap
    near = torch.zeros_like(vals, dtype=torch.bool)
    near[:, 1:] |= tied
    near[:, :-1] |= tied
    near &= torch.arange(kk, device=vals.device)[None, :] <= end[:, None]
    near &= torch.isfinite(vals)
    key = (vals + q_sq[:, None]).double()  # (R, kk) computed squared distances
    rows, cols = near.nonzero(as_tuple=True)
    if rows.numel():
        key[rows, cols] = _exact(q, g, rows, idx[rows, cols])
    # Sort by (distance, index): by index first, then a stable sort by distance.
    by_idx = idx.argsort(1)
    by_key = key.gather(1, by_idx).argsort(dim=1, stable=True)
    order = by_idx.gather(1, by_key)[:, :k]
    dists = key.gather(1, order).clamp_min_(0).float()
    return dists, idx.gather(1, order), overrun


def topk(queries: Tensor, gallery: Tensor, k: int, exclude: Tensor | None = None,
         chunk_size: int | tuple[int, int] | None = None, device: str | torch.device | None = None,
         max_memory: int = 256 * 2**20) -> tuple[Tensor, Tensor]:
    """The ``k`` nearest gallery items of every query by squared L2 distance, exactly and deterministically.

    Parameters
    ----------
    queries : Tensor (Q, D)
        Query features (composite features in VAL); cast to float32.
    gallery : Tensor (N, D)
        Gallery features (target features in VAL); cast to float32.
    k : int
        How many neighbours to return; clipped to what the gallery holds.
    exclude : Tensor (Q,) long, optional
        ``exclude[i]`` is a gallery index removed from query ``i``'s ranking (its own reference image), or -1.
    chunk_size : int or (int, int), optional
        Queries per tile, or (queries, gallery items) per tile. Default: 1024 queries and as many gallery items as
        ``max_memory`` allows. The result does not depend on it.
    device : str or torch.device, optional
        Where to compute: ``None`` -> the queries' device, ``"auto"`` -> CUDA when available.
    max_memory : int
        Bytes for the float32 distance tile (see the module docstring for the full bound).

    Returns
    -------
    dists : Tensor (Q, k') float32
        Squared L2 distances, ascending; ``k' = min(k, N - 1)`` when any query excludes an item, else ``min(k, N)``.
    idx : Tensor (Q, k') long
        Gallery indices; equal distances are ordered by index.
    """
    if not isinstance(k, int) or k < 0:
        raise ValstudyError(f"topk: k must be a non-negative int, got {k!r}")
    dev = pick_device(device, like=queries)
    q = _features(queries, "queries", dev)
    g = _features(gallery, "gallery", dev)
    if q.shape[1] != g.shape[1]:
        raise ValstudyError(f"topk: queries have dim {q.shape[1]} but gallery has dim {g.shape[1]}")
    n_q, n = q.shape[0], g.shape[0]
    if exclude is None:
        ex = torch.full((n_q,), -1, dtype=torch.long, device=dev)
    else:
        ex = torch.as_tensor(exclude).to(device=dev, dtype=torch.long).reshape(-1)
        if ex.shape[0] != n_q:
            raise ValstudyError(f"topk: exclude has {ex.shape[0]} entries for {n_q} queries")
        if bool(((ex < -1) | (ex >= n)).any()):
            raise ValstudyError(f"topk: exclude holds indices outside [-1, {n - 1}]")
    k_out = min(k, n - int(bool((ex >= 0).any())))
    out_dev = queries.device
    if n_q == 0 or k_out <= 0:
        return (torch.empty(n_q, max(k_out, 0), device=out_dev),
                torch.empty(n_q, max(k_out, 0), dtype=torch.long, device=out_dev))

    cq, cn = _chunks(n_q, n, chunk_size, max_memory, dev)
    g_sq = _sq_norms(g, "gallery")  # (N,)
    q_sq = _sq_norms(q, "queries")  # (Q,)
    tol = TIE_RTOL * _unit_roundoff(dev) * (q_sq + g_sq.max())  # (Q,) error bound on one computed score
    tiles = _GalleryTiles(g, g_sq, cq, cn)

    dists = torch.empty(n_q, k_out, device=dev)
    idx = torch.empty(n_q, k_out, dtype=torch.long, device=dev)
    todo = torch.arange(n_q, device=dev)
    kk = min(k_out + _MARGIN, n)
    while todo.numel():
        sub = todo if todo.numel() < n_q else slice(None)
        vals, cand = _candidates(q[sub], tiles, ex[sub], kk, cq)
        d, i, overrun = _resolve(q[sub], g, q_sq[sub], vals, cand, k_out, tol[sub], complete=kk >= n)
        dists[todo], idx[todo] = d, i
        todo = todo[overrun]  # near-ties ran past the kept candidates: search those rows again, keeping more
        kk = min(2 * kk, n)
    return dists.to(out_dev), idx.to(out_dev)
