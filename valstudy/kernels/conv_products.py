"""Convolutions as matrix products: the composite transformer's 1x1 convolutions, and its map-sized spatial one.

Each computes the same map as the convolution it replaces (tests/test_fast_paths.py compares them), as a cheaper
product:

* :func:`pointwise` is a bias-free 1x1 convolution as one ``einsum`` over the channels;
* :func:`map_conv_matrix` turns a one-channel convolution whose kernel covers the whole h x w map (the
  joint-attention stream's F_sp) into one (hw, hw) matrix, so :func:`map_conv` is a matrix product instead of an
  h x w convolution.
"""
from __future__ import annotations

import torch


def pointwise(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """A bias-free 1x1 convolution as one product: x (B, c_in, h, w), weight (c_out, c_in[, 1, 1]) -> (B, c_out, h, w).

    The same map as ``F.conv2d(x, weight)``, cheaper on the CPU at the composite transformer's few channels.
    """
    b, c, h, w = x.shape
    out = torch.einsum("oc,bcn->bon", weight.reshape(weight.shape[0], c), x.reshape(b, c, h * w))  # (B, c_out, hw)
    return out.view(b, -1, h, w)


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
