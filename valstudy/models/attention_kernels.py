"""Fast paths for the composite transformer: attention with dropout on its weights, and a map-sized convolution.

Both compute what the explicit formulas in ``composite_transformer.py`` compute (tests compare them), only cheaper:

* :func:`attention` is softmax(Q^T K / sqrt(d)) with dropout on the weights, applied to V, for maps in the channel
  layout (B, heads, d, n). On CUDA, and wherever no dropout is drawn, it is torch's fused
  ``scaled_dot_product_attention``. On the CPU in training, SDPA's fused kernels do not take ``dropout_p`` (torch
  falls back to its unfused formula) and the (n, n) weights of the low level (256 x 256 per head at 64 px) overflow the
  cache. There, float32 maps go to the C kernel (:mod:`~valstudy.models.attention_native`: a block of rows at a
  time, in cache, weights recomputed in backward), and everything else, or everything on a machine without a C
  compiler, to :class:`_ChunkedDropoutAttention`, in torch operations: it walks the batch in cache-sized chunks,
  keeps the weights and the dropped weights for backward, and goes back through dropout and softmax in three
  passes. Both draw the same mask from the same seed (:mod:`~valstudy.models.dropout_mask`).
* :func:`map_conv_matrix` turns a one-channel convolution whose kernel covers the whole h x w map into one
  (hw, hw) matrix, so the spatial gate is a matrix product instead of an h x w convolution.
"""
from __future__ import annotations

import math
import threading

import torch
import torch.nn.functional as F

from .attention_native import NativeDropoutAttention, library as native_library
from .dropout_mask import dropout_keep_mask, dropout_keep_probability, dropout_threshold, mask_bits  # noqa: F401

_CHUNK_ELEMENTS = 1 << 19  # attention weights per chunk: 2 MiB of float32, one core's L2 on the machines we measured


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
    """Buffers in which a module's forward leaves its attention weights P and dropped weights P * mask for backward.

    Reused from step to step (fresh multi-MiB tensors cost page faults every step). Each forward stamps a new
    version; a backward whose forward was overwritten since (two forwards, then two backwards) recomputes instead.
    Copies (``deepcopy``, pickling) start empty.
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

    def __deepcopy__(self, memo):
        return AttentionStore()

    def __getstate__(self):
        return {"version": 0, "weights": None, "dropped": None}


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


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0,
              store: AttentionStore | None = None) -> torch.Tensor:
    """softmax(Q^T K / sqrt(d)) with dropout ``dropout_p`` on the weights, applied to V, in the channel layout.

    Parameters
    ----------
    q, k, v : torch.Tensor
        (B, heads, d, n): each head's d channels over the n = h*w positions (a (B, c, h, w) map viewed as heads).
    dropout_p : float
        Dropout on the attention weights; pass 0 outside training.
    store : AttentionStore, optional
        The calling module's buffers for the CPU kernel's weights and masks (None: backward recomputes them).

    Returns
    -------
    torch.Tensor
        (B, heads, d, n): per position, the weighted sum of the values.
    """
    d = q.shape[2]
    if q.device.type != "cpu" or dropout_p == 0.0 and not torch.is_grad_enabled():
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2),
                                             dropout_p=dropout_p)  # (B, heads, n, d)
        return out.transpose(-1, -2)
    heads, n = q.shape[1], q.shape[3]
    chunk = max(1, _CHUNK_ELEMENTS // (heads * n * n))
    seed = int(torch.randint(0, 1 << 62, ())) if dropout_p > 0 else 0  # from the global generator: resumable
    if q.dtype == torch.float32 and native_library() is not None:  # the C kernel, the same masks
        return NativeDropoutAttention.apply(
            q, k, v, 1.0 / math.sqrt(d), float(dropout_p), seed)
    return _ChunkedDropoutAttention.apply(q * (1.0 / math.sqrt(d)), k, v, float(dropout_p), seed, chunk, store)


def map_conv_matrix(size: tuple[int, int], kernel: tuple[int, int], padding: tuple[int, int, int, int]) -> torch.Tensor:
    """Index matrix (hw, hw) that turns a one-channel h x w convolution into ``x.flatten(1) @ weight_ext[index]``.

    ``padding`` is F.pad's (left, right, top, bottom). Entry (a*w + b, i*w + j) holds the flat kernel index of the
    weight that links input (a, b) to output (i, j), or kh*kw (a zero appended to the weight) where none does.
    """
    h, w = size
    kh, kw = kernel
    top, left = padding[2], padding[0]
    a = torch.arange(h)[:, None, None, None]
    b = torch.arange(w)[None, :, None, None]
    i = torch.arange(h)[None, None, :, None]
    j = torch.arange(w)[None, None, None, :]
    u, v = a + top - i, b + left - j  # kernel row / column linking input (a, b) to output (i, j)
    valid = (u >= 0) & (u < kh) & (v >= 0) & (v < kw)
    return torch.where(valid, u * kw + v, kh * kw).reshape(h * w, h * w)


class _GatherWeights(torch.autograd.Function):
    """``w[index]`` whose backward sums the gradient per weight with ``bincount``, in a fixed order.

    Autograd's own backward of indexing (``index_put_`` with accumulation) adds in whatever order its threads run
    on the CPU, so two identical training runs on two threads would drift apart; ``bincount`` sums sequentially.
    """

    @staticmethod
    def forward(ctx, w: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(index)
        ctx.n = w.numel()
        return w[index]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (index,) = ctx.saved_tensors
        summed = torch.bincount(index.flatten(), weights=grad.flatten().double(), minlength=ctx.n)
        return summed.to(grad.dtype), None


def map_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, index: torch.Tensor) -> torch.Tensor:
    """The one-channel convolution of :func:`map_conv_matrix`: (B, 1, h, w) -> (B, 1, h, w)."""
    w_ext = torch.cat([weight.flatten(), weight.new_zeros(1)])  # (kh*kw + 1,): the last entry is the zero
    flat = _GatherWeights.apply(w_ext, index) if w_ext.device.type == "cpu" else w_ext[index]  # (hw, hw)
    out = x.flatten(1) @ flat  # (B, hw)
    if bias is not None:
        out = out + bias
    return out.view_as(x)
