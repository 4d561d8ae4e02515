"""Composite transformer: kernel sizes and padding, attention ranges, stream weights, ablations, naive references."""
import math

import pytest
import torch
import torch.nn.functional as F

from valstudy.errors import ValstudyError
from valstudy.models.composite_transformer import CompositeTransformer, JointAttentionStream, SelfAttentionStream


def _n(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("hw", [(4, 4), (5, 3), (1, 1)])
def test_spatial_kernel_is_the_whole_map_and_keeps_size(hw):
    h, w = hw
    ja = JointAttentionStream(6, (h, w), gate_bn_relu=False)
    assert tuple(ja.f_sp.weight.shape) == (1, 1, h, w)
    x, v = torch.randn(2, 6, h, w), torch.randn(2, 6, h, w)
    _, ch, sp = ja(x, v, return_attention=True)
    assert sp.shape == (2, 1, h, w) and ch.shape == (2, 6)


def test_spatial_padding_is_tf_same():
    # TF "same" for a k x k kernel at stride 1 pads (k-1)//2 before and the rest after: output (i, j) sums the
    # window rows i-(kh-1)//2 .. i-(kh-1)//2+kh-1 (likewise columns). Naive reference with an all-ones kernel.
    h, w = 4, 5
    ja = JointAttentionStream(3, (h, w), gate_bn_relu=False)
    with torch.no_grad():
        ja.f_sp.weight.fill_(1.0)
        ja.f_sp.bias.zero_()
    m = torch.randn(1, 1, h, w)
    got = ja.f_sp(F.pad(m, ja.padding))[0, 0]
    ref = torch.zeros(h, w)
    for i in range(h):
        for j in range(w):
            for a in range(i - (h - 1) // 2, i - (h - 1) // 2 + h):
                for b in range(j - (w - 1) // 2, j - (w - 1) // 2 + w):
                    if 0 <= a < h and 0 <= b < w:
                        ref[i, j] += m[0, 0, a, b]
    assert torch.allclose(got, ref, atol=1e-5)


def test_attention_maps_in_unit_interval_with_shapes():
    ct = CompositeTransformer(8, 5, 2, (4, 3)).eval()
    x, t = torch.randn(2, 8, 4, 3) * 3, torch.randn(2, 5) * 3
    out, attn = ct(x, t, return_attention=True)
    assert out.shape == (2, 8, 4, 3)
    assert attn["spatial"].shape == (2, 1, 4, 3) and attn["channel"].shape == (2, 8)
    assert attn["self"].shape == (2, 2, 12, 12)
    for k in ("spatial", "channel", "self"):
        assert attn[k].min() >= 0 and attn[k].max() <= 1
    assert torch.allclose(attn["self"].sum(-1), torch.ones(2, 2, 12), atol=1e-5)  # softmax over the h*w positions


def test_stream_weights_start_at_authors_values():
    ct = CompositeTransformer(4, 3, 2, (2, 2))
    assert ct.w_ja.item() == 1.0 and ct.w_sa.item() == 0.0
    assert ct.w_ja.requires_grad and ct.w_sa.requires_grad
    ct2 = CompositeTransformer(4, 3, 2, (2, 2), init_w_ja=0.0, init_w_sa=1.0)
    assert ct2.w_ja.item() == 0.0 and ct2.w_sa.item() == 1.0


def test_joint_attention_gates_original_features():
    # with w_sa = 0 (the authors' init) the output is sigmoid(ch) * sigmoid(sp) * X, X the image map (not V)
    ct = CompositeTransformer(6, 4, 2, (3, 3)).eval()
    x, t = torch.randn(2, 6, 3, 3), torch.randn(2, 4)
    out, attn = ct(x, t, return_attention=True)
    ref = attn["channel"][:, :, None, None] * attn["spatial"] * x
    assert torch.allclose(out, ref, atol=1e-6)


def test_self_attention_matches_naive_per_head_reference():
    torch.manual_seed(0)
    c, heads, h, w = 6, 2, 2, 3
    sa = SelfAttentionStream(c, heads, attn_dropout=0.1).eval()
    v = torch.randn(2, c, h, w)
    d = c // heads
    wq, wk, wv = (m.weight[:, :, 0, 0] for m in (sa.f_q, sa.f_k, sa.f_v))  # (c, c/heads): row block per head
    outs = []
    for b in range(2):
        per_head = []
        for i in range(heads):
            chunk = v[b, i * d:(i + 1) * d].reshape(d, h * w).t()  # (hw, d): this head's own channels only
            q = chunk @ wq[i * d:(i + 1) * d].t()
            k = chunk @ wk[i * d:(i + 1) * d].t()
            val = chunk @ wv[i * d:(i + 1) * d].t()
            a = torch.softmax(q @ k.t() / math.sqrt(d), dim=-1)
            per_head.append((a @ val).t().reshape(d, h, w))
        outs.append(torch.cat(per_head, 0))
    ref = sa.f_sa(torch.stack(outs))
    assert torch.allclose(sa(v), ref, atol=1e-5)


def test_attention_dropout_only_in_training():
    torch.manual_seed(0)
    sa = SelfAttentionStream(4, 2, attn_dropout=0.5)
    v = torch.randn(1, 4, 3, 3)
    sa.eval()
    assert torch.equal(sa(v), sa(v))
    sa.train()
    sa.f_sa[1].eval()  # keep BN statistics fixed so only dropout differs
    assert not torch.allclose(sa(v), sa(v))


def test_ablation_without_sa_removes_exactly_its_stream():
    full = CompositeTransformer(8, 5, 2, (3, 3))
    no_sa = CompositeTransformer(8, 5, 2, (3, 3), use_sa=False)
    assert no_sa.sa is None and no_sa.w_sa is None and no_sa.ja is not None
    assert _n(full) - _n(no_sa) == _n(full.sa) + 1  # the SA stream and its weight w_sa
    _, attn = no_sa.eval()(torch.randn(2, 8, 3, 3), torch.randn(2, 5), return_attention=True)
    assert set(attn) == {"spatial", "channel", "w_ja"}


def test_ablation_without_ja_removes_exactly_its_stream():
    full = CompositeTransformer(8, 5, 2, (3, 3))
    no_ja = CompositeTransformer(8, 5, 2, (3, 3), use_ja=False)
    assert no_ja.ja is None and no_ja.w_ja is None and no_ja.sa is not None
    assert _n(full) - _n(no_ja) == _n(full.ja) + 1
    x, t = torch.randn(2, 8, 3, 3), torch.randn(2, 5)
    out, attn = no_ja.eval()(x, t, return_attention=True)
    assert set(attn) == {"self", "w_sa"}
    assert torch.allclose(out, no_ja.w_sa * no_ja.sa(no_ja.composite(x, t)))
    with pytest.raises(ValstudyError, match="at least one stream"):
        CompositeTransformer(8, 5, 2, (3, 3), use_sa=False, use_ja=False)


def test_gate_bn_relu_option_gives_gates_of_at_least_half():
    ct = CompositeTransformer(6, 4, 2, (3, 3), gate_bn_relu=True)
    _, attn = ct(torch.randn(4, 6, 3, 3), torch.randn(4, 4), return_attention=True)
    assert attn["spatial"].min() >= 0.5 and attn["channel"].min() >= 0.5
    assert attn["spatial"].max() < 1 and attn["channel"].max() < 1
