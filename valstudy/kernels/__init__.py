"""Speed kernels under the composite transformer: the models call them, and they compute what the paper's formulas do.

:func:`attention` is the one call the self-attention stream makes: softmax(Q^T K / sqrt(d)) with dropout on the
weights, applied to V. Which kernel runs it:

* on CUDA, and on the CPU outside training (no dropout, no gradients): torch's fused
  ``scaled_dot_product_attention``;
* on the CPU in training, float32: the C kernel (:mod:`.attention_native`, ``attention_native.c``), compiled on first
  use with the machine's C compiler;
* on the CPU in training otherwise (another dtype, no C compiler, ``VALSTUDY_NATIVE=0``): the torch-operations
  kernel (:mod:`.attention_torch`), the same function with the same dropout masks, slower.

Both CPU kernels draw the dropout mask from a counter-based hash (:mod:`.dropout_mask`) seeded from torch's global
generator, so a resumed run draws what an uninterrupted one would. :mod:`.conv_products` holds the convolutions the
composite transformer computes as matrix products. docs/kernels.md describes the kernels, what they were measured at,
and the toolchains they were built with.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .attention_native import NativeDropoutAttention, library as native_library, set_native
from .attention_torch import chunked_attention
from .conv_products import map_conv, map_conv_matrix, pointwise

__all__ = ["attention", "map_conv", "map_conv_matrix", "pointwise", "set_native"]


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """softmax(Q^T K / sqrt(d)) with dropout ``p`` on the weights in training, applied to V, in the channel layout.

    Parameters
    ----------
    q, k, v : torch.Tensor
        (B, heads, d, n): each head's d channels over the n = h*w positions (a (B, c, h, w) map viewed as heads).
    p : float
        Dropout probability on the attention weights.
    training : bool
        Draw dropout (the calling module's ``training``); outside training ``p`` is not used.

    Returns
    -------
    torch.Tensor
        (B, heads, d, n): per position, the weighted sum of the values.
    """
    dropout_p = float(p) if training else 0.0
    if q.device.type != "cpu" or dropout_p == 0.0 and not torch.is_grad_enabled():
        out = F.scaled_dot_product_attention(q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2),
                                             dropout_p=dropout_p)  # (B, heads, n, d)
        return out.transpose(-1, -2)  # (B, heads, d, n)
    seed = int(torch.randint(0, 1 << 62, ())) if dropout_p > 0 else 0  # from the global generator: resumable
    if q.dtype == torch.float32 and native_library() is not None:
        return NativeDropoutAttention.apply(q, k, v, 1.0 / math.sqrt(q.shape[2]), dropout_p, seed)  # (B, heads, d, n)
    return chunked_attention(q, k, v, dropout_p, seed)  # (B, heads, d, n)
