"""The composite transformer of one level: composite function, self-attention and joint-attention streams.

The supplementary's Table 1; the authors' code is ``nets/attention.py``.
Inputs: image map X (B, c, h, w) and text feature t (B, text_dim). Output: w_ja * A_ja + w_sa * A_sa (B, c, h, w).
The modules compute their formulas with :mod:`valstudy.kernels` (docs/kernels.md); :func:`set_fast_paths` (False)
switches them to the formulas step by step, the same function (tests/test_fast_paths.py).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..errors import ValstudyError
from ..kernels import attention, map_conv, map_conv_matrix, pointwise


def _conv1x1_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


def _conv1x1_bn_relu_fast(block: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``block(x)`` for a :func:`_conv1x1_bn_relu` block, its convolution as :func:`pointwise`."""
    return block[2](block[1](pointwise(x, block[0].weight)))


class CompositeFunction(nn.Module):
    """F_c: tile t over h x w, concatenate to X, 1x1 conv to c, BN, ReLU -> V.

    The 1x1 conv's weight W = [W_x, W_t] acts on [X; tile(t)] as W_x X + W_t t at every position, so ``forward``
    computes a c -> c conv of X plus one (text_dim -> c) product per image, broadcast over h x w: the same map
    without building the tiled tensor. :meth:`explicit` is the tile-and-concatenate formula.
    """

    def __init__(self, c: int, text_dim: int):
        super().__init__()
        self.fuse = _conv1x1_bn_relu(c + text_dim, c)

    def explicit(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        tiled = t[:, :, None, None].expand(b, t.shape[1], h, w)  # (B, text_dim, h, w)
        return self.fuse(torch.cat([x, tiled], dim=1))  # (B, c, h, w)

    fast = True  # False: the explicit formula (set_fast_paths)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not self.fast:
            return self.explicit(x, t)
        c = x.shape[1]
        weight = self.fuse[0].weight  # (c, c + text_dim, 1, 1)
        y = pointwise(x, weight[:, :c]) + F.linear(t, weight[:, c:, 0, 0])[:, :, None, None]  # (B, c, h, w)
        return self.fuse[2](self.fuse[1](y))  # BN, ReLU: (B, c, h, w)


class SelfAttentionStream(nn.Module):
    """SA stream: multi-head self-attention over the h*w positions of V, then F_sa (1x1 conv, BN, ReLU).

    V's channels are split into ``num_heads`` chunks of c-bar = c / num_heads; each head projects only its own chunk
    with bias-free 1x1 F_Q, F_K, F_V to c-bar (the code's ``tf.split`` then per-head dense layers). The per-head
    projections are stored as one grouped 1x1 conv (groups = num_heads), which is the same map.
    """

    fast = True  # False: the explicit formula (set_fast_paths)

    def __init__(self, c: int, num_heads: int, attn_dropout: float):
        super().__init__()
        if c % num_heads:
            raise ValstudyError(f"self-attention: {c} channels do not split into {num_heads} heads")
        self.num_heads, self.head_dim = num_heads, c // num_heads
        self.f_q = nn.Conv2d(c, c, 1, groups=num_heads, bias=False)
        self.f_k = nn.Conv2d(c, c, 1, groups=num_heads, bias=False)
        self.f_v = nn.Conv2d(c, c, 1, groups=num_heads, bias=False)
        self.attn_dropout = nn.Dropout(attn_dropout)
        self.f_sa = _conv1x1_bn_relu(c, c)

    def forward(self, v: torch.Tensor, return_attention: bool = False):
        """A_sa (B, c, h, w); with ``return_attention`` also the weights (B, heads, hw, hw) by :meth:`explicit`."""
        if return_attention or not self.fast:
            return self.explicit(v, return_attention=return_attention)
        b, c, h, w = v.shape
        heads, d = self.num_heads, self.head_dim
        # F_Q, F_K, F_V as one batched product: head g's (3d, d) matrix maps its d channels to its [q; k; v]
        # (the grouped 1x1 conv's map, computed as a matrix product).
        weight = torch.stack([f.weight.view(heads, d, d) for f in (self.f_q, self.f_k, self.f_v)], dim=1)
        qkv = torch.matmul(weight.view(heads, 3 * d, d), v.view(b, heads, d, h * w))  # (B, heads, 3d, hw)
        qkv = qkv.view(b, heads, 3, d, h * w)  # (B, heads, [q k v], c-bar, hw): channel layout, no transposes
        q, k, val = qkv.unbind(2)  # each (B, heads, c-bar, hw)
        out = attention(q, k, val, self.attn_dropout.p, self.training)  # (B, heads, c-bar, hw)
        return _conv1x1_bn_relu_fast(self.f_sa, out.reshape(b, c, h, w))  # concatenate the heads, F_sa: (B, c, h, w)

    def explicit(self, v: torch.Tensor, return_attention: bool = False):
        """The formula step by step, materialising the weights (and nn.Dropout's mask in training)."""
        b, c, h, w = v.shape
        n, d = h * w, self.head_dim

        def heads(z):  # (B, c, h, w) -> (B, heads, hw, c-bar)
            return z.reshape(b, self.num_heads, d, n).transpose(2, 3)

        q, k, val = heads(self.f_q(v)), heads(self.f_k(v)), heads(self.f_v(v))
        attn = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(d), dim=-1)  # (B, heads, hw, hw)
        out = self.attn_dropout(attn) @ val  # (B, heads, hw, c-bar)
        out = out.transpose(2, 3).reshape(b, c, h, w)  # concatenate the heads: (B, c, h, w)
        a_sa = self.f_sa(out)  # (B, c, h, w)
        return (a_sa, attn) if return_attention else a_sa


class JointAttentionStream(nn.Module):
    """JA stream: channel gate x spatial gate, both computed from V, applied to the ORIGINAL image features X.

    Channel attention: F_ch = 1x1 conv c -> c on the globally pooled V, sigmoid -> (B, c, 1, 1).
    Spatial attention: F_sp = conv with an h x w kernel (the whole map), one filter, on the channel-mean of V, with
    TF "same" padding ((k-1)//2 before, the rest after) so the output stays h x w; sigmoid -> (B, 1, h, w).
    A_ja = sigmoid(ch) * sigmoid(sp) * X (yanbeic/VAL `nets/attention.py`: the gate multiplies X, not V).

    ``gate_bn_relu=True`` reproduces the authors' code, whose slim convs put BN + ReLU before each sigmoid (so the
    gates lie in [0.5, 1)); False follows the paper (conv with bias, then sigmoid).
    """

    fast = True  # False: the h x w convolution itself (set_fast_paths)

    def __init__(self, c: int, spatial_size: tuple[int, int], gate_bn_relu: bool):
        super().__init__()
        self.kernel = tuple(int(s) for s in spatial_size)
        kh, kw = self.kernel
        # TF "same" padding for any kernel: (k - 1) // 2 before, the rest after (TensorFlow's rule).
        self.padding = ((kw - 1) // 2, kw - 1 - (kw - 1) // 2, (kh - 1) // 2, kh - 1 - (kh - 1) // 2)
        if gate_bn_relu:
            self.f_ch = nn.Sequential(nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
            self.f_sp = nn.Sequential(nn.Conv2d(1, 1, self.kernel, bias=False), nn.BatchNorm2d(1), nn.ReLU())
        else:
            self.f_ch = nn.Conv2d(c, c, 1)
            self.f_sp = nn.Conv2d(1, 1, self.kernel)
        # F_sp on an h x w map as one (hw, hw) matrix product (the same map; valstudy.kernels.map_conv_matrix).
        self.register_buffer("sp_index", map_conv_matrix(self.kernel, self.kernel, self.padding), persistent=False)

    def spatial_conv(self, m: torch.Tensor) -> torch.Tensor:
        """F_sp on the channel-mean map m (B, 1, h, w) -> (B, 1, h, w), before the sigmoid."""
        conv = self.f_sp[0] if isinstance(self.f_sp, nn.Sequential) else self.f_sp
        if self.fast and tuple(m.shape[2:]) == self.kernel:
            out = map_conv(m, conv.weight, conv.bias, self.sp_index)
        else:  # another input size: the convolution itself
            out = F.conv2d(F.pad(m, self.padding), conv.weight, conv.bias)
        return self.f_sp[2](self.f_sp[1](out)) if isinstance(self.f_sp, nn.Sequential) else out

    def channel_conv(self, pooled: torch.Tensor) -> torch.Tensor:
        """F_ch on the pooled V (B, c, 1, 1) -> (B, c, 1, 1), before the sigmoid (fast: one linear map)."""
        if not self.fast or isinstance(self.f_ch, nn.Sequential):
            return self.f_ch(pooled)
        out = F.linear(pooled.flatten(1), self.f_ch.weight.flatten(1), self.f_ch.bias)  # (B, c)
        return out[:, :, None, None]

    def forward(self, x: torch.Tensor, v: torch.Tensor, return_attention: bool = False):
        ch = torch.sigmoid(self.channel_conv(v.mean(dim=(2, 3), keepdim=True)))  # (B, c, 1, 1)
        sp = torch.sigmoid(self.spatial_conv(v.mean(dim=1, keepdim=True)))  # (B, 1, h, w)
        a_ja = ch * sp * x  # (B, c, h, w)
        return (a_ja, ch.flatten(1), sp) if return_attention else a_ja


class CompositeTransformer(nn.Module):
    """One level's composite transformer (the supplementary's Table 1): returns w_ja * A_ja + w_sa * A_sa.

    Parameters
    ----------
    c : int
        Channels of the image map X at this level.
    text_dim : int
        Size of the text feature t.
    num_heads : int
        Self-attention heads (the supplementary: 2).
    spatial_size : (int, int)
        (h, w) of this level's map: the spatial-attention kernel covers the whole map. Another input size still
        runs (the "same" padding keeps the output h x w), but the kernel then no longer covers exactly the map.
    use_sa, use_ja : bool
        Keep the self-attention / joint-attention stream. The ablations "w/o SA" and "w/o JA" remove exactly that
        stream, its parameters and its weight.
    attn_dropout : float
        Dropout on the self-attention weights during training.
    init_w_ja, init_w_sa : float
        Initial values of the learnable stream weights (authors' code: 1 and 0).
    gate_bn_relu : bool
        The code's BN + ReLU before the JA sigmoids (off: follow the paper).

    The keyword arguments default to :class:`~valstudy.config.ModelConfig`'s values.
    """

    def __init__(self, c: int, text_dim: int, num_heads: int, spatial_size: tuple[int, int], *,
                 use_sa: bool = ModelConfig.use_sa, use_ja: bool = ModelConfig.use_ja,
                 attn_dropout: float = ModelConfig.attn_dropout, init_w_ja: float = ModelConfig.init_w_ja,
                 init_w_sa: float = ModelConfig.init_w_sa, gate_bn_relu: bool = ModelConfig.gate_bn_relu):
        super().__init__()
        if not (use_sa or use_ja):
            raise ValstudyError("CompositeTransformer: use_sa and use_ja are both False; keep at least one stream")
        self.composite = CompositeFunction(c, text_dim)
        self.sa = SelfAttentionStream(c, num_heads, attn_dropout) if use_sa else None
        self.ja = JointAttentionStream(c, spatial_size, gate_bn_relu) if use_ja else None
        self.w_sa = nn.Parameter(torch.tensor(float(init_w_sa))) if use_sa else None
        self.w_ja = nn.Parameter(torch.tensor(float(init_w_ja))) if use_ja else None

    def forward(self, x: torch.Tensor, t: torch.Tensor, return_attention: bool = False):
        v = self.composite(x, t)  # (B, c, h, w)
        out, attn = 0.0, {}
        if self.ja is not None:
            a_ja, ch, sp = self.ja(x, v, return_attention=True)  # (B, c, h, w), (B, c), (B, 1, h, w)
            out = out + self.w_ja * a_ja
            if return_attention:
                attn.update(spatial=sp, channel=ch, w_ja=float(self.w_ja.detach()))
        if self.sa is not None:
            if return_attention:  # the explicit formula, which materialises the weights
                a_sa, self_attn = self.sa(v, return_attention=True)  # (B, c, h, w), (B, heads, hw, hw)
                attn.update(self=self_attn, w_sa=float(self.w_sa.detach()))
            else:  # the fused path (valstudy.kernels.attention)
                a_sa = self.sa(v)  # (B, c, h, w)
            out = out + self.w_sa * a_sa
        return (out, attn) if return_attention else out  # (B, c, h, w)


def set_fast_paths(model: nn.Module, on: bool = True) -> nn.Module:
    """Switch every composite transformer in ``model`` between its fast paths (default) and the explicit formulas.

    Both compute the same function (tests/test_fast_paths.py); the explicit formulas are slower and are kept for
    reference and for timing the difference (bench/train_step.py).
    """
    for m in model.modules():
        if isinstance(m, (CompositeFunction, SelfAttentionStream, JointAttentionStream)):
            m.fast = on
    return model
