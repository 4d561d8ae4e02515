"""The torch-operations kernel of the self-attention in training on the CPU: attention with dropout on its weights.

What runs where the C kernel (:mod:`~valstudy.kernels.attention_native`) does not: on a machine without a C
compiler, and for dtypes other than float32. It computes the same function with the same dropout masks
(:mod:`~valstudy.kernels.dropout_mask`), in torch operations: it walks the batch in chunks whose (n, n) weights fit
in the cache, keeps each chunk's weights and dropped weights for backward (in an :class:`AttentionStore`), and goes
back through dropout and softmax in three passes.
"""
from __future__ import annotations

import math
import threading

import torch

from .dropout_mask import dropout_keep_mask, dropout_keep_probability

CHUNK_ELEMENTS = 1 << 19  # attention weights per chunk: 2 MiB of float32, the size of one core's L2 cache


_workspace = threading.local()


def _buffer(name: str, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A per-thread scratch tensor reused across calls: fresh multi-MiB allocations cost page faults every step."""
    n = math.prod(shape)
    buf = getattr(_workspace, name, None)
    if buf is None or buf.numel() < n or buf.dtype != dtype:
        buf = torch.empty(n, dtype=dtype)
        setattr(_workspace, name, buf)
    return buf[:n].view(shape)


class AttentionStore:
    """Buffers in which a forward leaves its attention weights P and dropped weights P * mask for backward.

    Reused from step to step (fresh multi-MiB tensors cost page faults every step). Each forward stamps a new
    version; a backward whose forward was overwritten since (two forwards, then two backwards) recomputes instead.
    """

    def __init__(self):
        self.version, self.weights, self.dropped = 0, None, None

    def claim(self, shape: tuple[int, ...], dtype: torch.dtype, dropout: bool) -> int:
        n = math.prod(shape)
        for name, needed in (("weights", True), ("dropped", dropout)):
            buf = getattr(self, name)
            if needed and (buf is None or buf.numel() < n or buf.dtype != dtype):
                setattr(self, name, torch.empty(n, dtype=dtype))
        self.version += 1
        return self.version

    def view(self, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        return getattr(self, name)[:math.prod(shape)].view(shape)


def store_for(heads: int, n: int, dtype: torch.dtype) -> AttentionStore:
    """This thread's :class:`AttentionStore` for (heads, n) maps of ``dtype``: in a model, one per level, since each
    level has its own map size; two forwards that share one before their backwards are told apart by its version."""
    stores = getattr(_workspace, "stores", None)
    if stores is None:
        stores = _workspace.stores = {}
    return stores.setdefault((heads, n, dtype), AttentionStore())


class _ChunkedDropoutAttention(torch.autograd.Function):
    """out = V (P * mask / keep)^T for q, k, v in (B, heads, d, n) on the CPU, q already scaled by 1/sqrt(d).

    The batch is walked in chunks whose (n, n) weights fit in cache. Forward writes each chunk's weights P and
    dropped weights D = P * mask into ``store`` (an :class:`AttentionStore`, or None); backward reads them back, or,
    when the store holds a later forward's, recomputes them and redraws the mask from the same seed. Backward through
    the dropout and the softmax in three passes: with G = dL/dD, dL/dscores = D * G - P * rowsum(D * G)
    (since P * (G * mask) = D * G, and mask is 0 or 1).
    """

    @staticmethod
    def _chunk_weights(q, k, sl, seed, p, w, dropped):
        """P (and D = P * mask) of the batch slice ``sl`` into the (b*heads, n, n) buffers w (and dropped);
        seed None: no dropout."""
        b, heads, d, n = q[sl].shape
        torch.bmm(q[sl].reshape(b * heads, d, n).transpose(1, 2), k[sl].reshape(b * heads, d, n), out=w)
        torch._softmax(w, -1, False, out=w)  # in place: rows sum to 1
        if seed is not None:
            mask = dropout_keep_mask(seed, sl.start * heads * n, tuple(w.shape), p,
                                     out=_buffer("mask", tuple(w.shape), w.dtype))
            torch.mul(w, mask, out=dropped)

    @staticmethod
    def _buffers(store, s, b, batch, heads, n, dtype, dropout):
        """This chunk's P and D buffers: views into ``store``, or per-thread scratch when there is none."""
        if store is not None:
            rows = slice(s * heads, (s + b) * heads)
            w = store.view("weights", (batch * heads, n, n))[rows]
            return w, store.view("dropped", (batch * heads, n, n))[rows] if dropout else w
        shape = (b * heads, n, n)
        w = _buffer("w", shape, dtype)
        return w, _buffer("dropped", shape, dtype) if dropout else w

    @staticmethod
    def forward(ctx, q, k, v, p: float, seed: int, chunk: int, store: AttentionStore | None):
        batch, heads, d, n = q.shape
        out = torch.empty(batch, heads, d, n, dtype=v.dtype)
        drawn = seed if p > 0 else None
        version = store.claim((batch * heads, n, n), q.dtype, p > 0) if store is not None else None
        for s in range(0, batch, chunk):
            sl = slice(s, s + chunk)
            b = out[sl].shape[0]
            w, dropped = _ChunkedDropoutAttention._buffers(store, s, b, batch, heads, n, q.dtype, p > 0)
            _ChunkedDropoutAttention._chunk_weights(q, k, sl, drawn, p, w, dropped)
            torch.bmm(v[sl].reshape(b * heads, d, n), dropped.transpose(1, 2), out=out[sl].view(b * heads, d, n))
        keep = dropout_keep_probability(p)
        if keep != 1.0:
            out.mul_(1.0 / keep)
        ctx.save_for_backward(q, k, v)
        ctx.p, ctx.seed, ctx.chunk, ctx.keep, ctx.store, ctx.version = p, seed, chunk, keep, store, version
        return out

    @staticmethod
    def backward(ctx, grad):
        q, k, v = ctx.saved_tensors
        batch, heads, d, n = q.shape
        dq, dk, dv = (torch.empty(q.shape, dtype=q.dtype) for _ in range(3))
        grad = grad * (1.0 / ctx.keep) if ctx.keep != 1.0 else grad.contiguous()
        stored = ctx.store is not None and ctx.store.version == ctx.version
        drawn = ctx.seed if ctx.p > 0 else None
        for s in range(0, batch, ctx.chunk):
            sl = slice(s, s + ctx.chunk)
            b = q[sl].shape[0]
            shape = (b * heads, n, n)
            w, dropped = _ChunkedDropoutAttention._buffers(ctx.store if stored else None, s, b, batch, heads, n,
                                                           q.dtype, ctx.p > 0)
            if not stored:
                _ChunkedDropoutAttention._chunk_weights(q, k, sl, drawn, ctx.p, w, dropped)
            g = grad[sl].reshape(b * heads, d, n)
            torch.bmm(g, dropped, out=dv[sl].view(b * heads, d, n))
            dw = _buffer("dw", shape, q.dtype)
            torch.bmm(g.transpose(1, 2), v[sl].reshape(b * heads, d, n), out=dw)  # G = dL/dD
            dw.mul_(dropped)  # D * G
            rows = dw.sum(-1, keepdim=True)  # rowsum(D * G): (b*heads, n, 1)
            dw.addcmul_(w, rows, value=-1.0)  # dL/dscores = D * G - P * rowsum(D * G)
            torch.bmm(k[sl].reshape(b * heads, d, n), dw.transpose(1, 2), out=dq[sl].view(b * heads, d, n))
            torch.bmm(q[sl].reshape(b * heads, d, n), dw, out=dk[sl].view(b * heads, d, n))
        return dq, dk, dv, None, None, None, None


def chunked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, p: float, seed: int) -> torch.Tensor:
    """softmax(Q^T K / sqrt(d)) with dropout p on the weights (mask drawn from ``seed``), applied to V.

    q, k, v are (B, heads, d, n) on the CPU; returns (B, heads, d, n). The weights and masks wait for backward in
    this thread's store for maps of this size (:func:`store_for`).
    """
    heads, d, n = q.shape[1:]
    chunk = max(1, CHUNK_ELEMENTS // (heads * n * n))
    return _ChunkedDropoutAttention.apply(q * (1.0 / math.sqrt(d)), k, v, p, seed, chunk, store_for(heads, n, q.dtype))
