"""The composite transformer's fast paths equal its explicit formulas (forward and gradients), dropout included."""
import math

import pytest
import torch
import torch.nn.functional as F

from valstudy.kernels import attention_native as an
from valstudy.kernels import attention_torch as at
from valstudy.kernels import conv_products as cp
from valstudy.kernels import dropout_mask as dm
from valstudy.models.composite_transformer import CompositeTransformer

# Level shapes of the synthetic configurations (small backbone, width 16, 64 px), and odd ones.
SHAPES = [(16, 16, 16), (32, 8, 8), (64, 4, 4), (6, 5, 3), (4, 1, 1)]
STREAMS = [(True, True), (True, False), (False, True)]


def explicit_forward(ct: CompositeTransformer, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The paper's formula step by step: tile + concatenate, the h x w convolution, materialised attention."""
    v = ct.composite.explicit(x, t)  # tile t, concatenate, 1x1 conv, BN, ReLU
    out = 0.0
    if ct.ja is not None:
        ch = torch.sigmoid(ct.ja.f_ch(v.mean(dim=(2, 3), keepdim=True)))
        sp = torch.sigmoid(ct.ja.f_sp(F.pad(v.mean(dim=1, keepdim=True), ct.ja.padding)))
        out = out + ct.w_ja * (ch * sp * x)
    if ct.sa is not None:
        out = out + ct.w_sa * ct.sa.explicit(v)
    return out


def _model(c, h, w, use_sa, use_ja, **kw):
    torch.manual_seed(0)
    kw = {"attn_dropout": 0.1, **kw}
    ct = CompositeTransformer(c, 7, 2, (h, w), use_sa=use_sa, use_ja=use_ja, init_w_sa=0.7, **kw)
    with torch.no_grad():  # non-trivial BN statistics for eval mode
        for m in ct.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return ct


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("streams", STREAMS)
def test_fast_path_equals_explicit_formula_in_eval(shape, streams):
    c, h, w = shape
    ct = _model(c, h, w, *streams).eval()
    x, t = torch.randn(3, c, h, w), torch.randn(3, 7)
    with torch.no_grad():
        fast, ref = ct(x, t), explicit_forward(ct, x, t)
    assert torch.allclose(fast, ref, atol=1e-5, rtol=1e-4)
    fast_grad = ct(x, t)  # with autograd on, the CPU path is the chunked kernel rather than SDPA
    assert torch.allclose(fast_grad, ref, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("streams", STREAMS)
@pytest.mark.parametrize("gate_bn_relu", [False, True])
def test_fast_path_equals_explicit_formula_in_training_without_dropout(shape, streams, gate_bn_relu):
    c, h, w = shape
    ct = _model(c, h, w, *streams, attn_dropout=0.0, gate_bn_relu=gate_bn_relu).train()
    x = torch.randn(4, c, h, w, requires_grad=True)
    t = torch.randn(4, 7, requires_grad=True)
    fast, ref = ct(x, t), explicit_forward(ct, x, t)
    assert torch.allclose(fast, ref, atol=1e-5, rtol=1e-4)
    g = torch.randn_like(fast)
    wrt = [x, t] + [p for p in ct.parameters()]
    grads_fast = torch.autograd.grad(fast, wrt, g, allow_unused=True)
    grads_ref = torch.autograd.grad(ref, wrt, g, allow_unused=True)
    for a, b in zip(grads_fast, grads_ref):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, atol=1e-4, rtol=1e-3), (a - b).abs().max()


def test_return_attention_gives_the_explicit_weights():
    ct = _model(16, 8, 8, True, True).eval()
    x, t = torch.randn(2, 16, 8, 8), torch.randn(2, 7)
    out, attn = ct(x, t, return_attention=True)
    assert attn["self"].shape == (2, 2, 64, 64)
    assert torch.allclose(attn["self"].sum(-1), torch.ones(2, 2, 64), atol=1e-5)
    assert torch.allclose(out, ct(x, t), atol=1e-5)
    _, weights = ct.sa.explicit(ct.composite.explicit(x, t), return_attention=True)
    assert torch.allclose(attn["self"], weights, atol=1e-6)


def _explicit_dropout_attention(q, k, v, p, seed):
    """softmax(Q^T K / sqrt(d)) * mask / keep, applied to V, with the mask the kernel draws for this seed."""
    b, heads, d, n = q.shape
    weights = torch.softmax(q.transpose(-1, -2) @ k / math.sqrt(d), dim=-1)  # (B, heads, n, n)
    mask = dm.dropout_keep_mask(seed, 0, (b * heads, n, n), p).view_as(weights).to(q.dtype)
    return v @ (weights * mask / dm.dropout_keep_probability(p)).transpose(-1, -2)  # (B, heads, d, n)


@pytest.mark.parametrize("chunk", [1, 2, 5])
@pytest.mark.parametrize("store", [None, at.AttentionStore])
def test_chunked_dropout_attention_equals_formula_with_its_mask(chunk, store):
    torch.manual_seed(1)
    q, k, v = (torch.randn(5, 2, 3, 6, dtype=torch.double, requires_grad=True) for _ in range(3))
    got = at._ChunkedDropoutAttention.apply(q / math.sqrt(3), k, v, 0.3, 1234, chunk, store and store())
    ref = _explicit_dropout_attention(q, k, v, 0.3, 1234)
    assert torch.allclose(got, ref, atol=1e-12)
    g = torch.randn_like(got)
    for a, b in zip(torch.autograd.grad(got, (q, k, v), g), torch.autograd.grad(ref, (q, k, v), g)):
        assert torch.allclose(a, b, atol=1e-10)


@pytest.mark.parametrize("store", [None, at.AttentionStore])
def test_chunked_dropout_attention_gradcheck(store):
    torch.manual_seed(2)
    q, k, v = (torch.randn(3, 1, 2, 4, dtype=torch.double, requires_grad=True) for _ in range(3))
    assert torch.autograd.gradcheck(
        lambda a, b, c: at._ChunkedDropoutAttention.apply(a, b, c, 0.3, 99, 2, store and store()), (q, k, v))


@pytest.fixture
def torch_kernel():
    """The torch-operations kernel for training attention on the CPU, as on a machine without a C compiler."""
    an.set_native(False)
    yield
    an.set_native(True)


@pytest.mark.parametrize("second", ["same module", "another module of the same size"])
def test_backward_after_a_later_forward_recomputes_what_the_store_lost(torch_kernel, second):
    # Two forwards, then the first one's backward: its stored weights were overwritten by the second forward, which
    # shares the store (the same module, or another with maps of the same size).
    ct = _model(16, 8, 8, True, False).train()
    other = ct if second == "same module" else _model(16, 8, 8, True, False).train()
    x1, x2 = (torch.randn(4, 16, 8, 8, requires_grad=True) for _ in range(2))
    t = torch.randn(4, 7)
    torch.manual_seed(3)
    out1 = ct(x1, t)
    (g_alone,) = torch.autograd.grad(out1.sum(), x1)
    torch.manual_seed(3)
    out1 = ct(x1, t)
    out2 = other(x2, t)
    store = at.store_for(2, 64, torch.float32)
    assert store.version >= 2 and store.weights is not None  # the torch kernel ran, and stored its weights
    (g_after,) = torch.autograd.grad(out1.sum(), x1)
    assert torch.equal(g_alone, g_after)
    (g2,) = torch.autograd.grad(out2.sum(), x2)  # the second one's backward reads its stored weights
    torch.manual_seed(3)
    with torch.no_grad():
        ct(x1, t)  # the first forward's draws, without its autograd: the second forward then draws as above
    (g2_alone,) = torch.autograd.grad(other(x2, t).sum(), x2)
    assert torch.equal(g2, g2_alone)


def test_dropout_mask_keeps_at_the_configured_rate_and_follows_the_seed():
    m = dm.dropout_keep_mask(7, 0, (10, 100, 1000), 0.1)
    assert set(m.unique().tolist()) == {0.0, 1.0}
    keep = dm.dropout_keep_probability(0.1)
    assert keep == 1 - 6554 / 65536  # p = 0.1 rounded to 6554 / 2^16: keep 0.8999939
    assert abs(m.mean().item() - keep) < 5 * math.sqrt(keep * (1 - keep) / m.numel())  # 5 standard errors
    assert torch.equal(m, dm.dropout_keep_mask(7, 0, (10, 100, 1000), 0.1))
    assert not torch.equal(m, dm.dropout_keep_mask(8, 0, (10, 100, 1000), 0.1))
    assert dm.dropout_keep_mask(0, 0, (1, 5, 50), 0.0).min() == 1.0


def test_mask_bits_are_uniform_and_counter_based():
    # Uniform over the 2^16 values (every 4096-wide bin within 5 standard errors), and row r's bits are the same
    # whether drawn alone or among others: backward and any chunking redraw the same mask.
    seed = (1 << 61) + 987654321
    bits = dm.mask_bits(seed, 0, 4096, 256)
    assert bits.dtype == torch.int32 and bits.min() >= -(1 << 15) and bits.max() < 1 << 15
    counts = torch.bincount((bits + (1 << 15)).flatten() // 4096, minlength=16).double()
    expected = bits.numel() / 16
    assert ((counts - expected).abs() < 5 * math.sqrt(expected)).all()
    assert torch.equal(dm.mask_bits(seed, 1000, 3, 256), bits[1000:1003])
    assert not torch.equal(dm.mask_bits(seed + 1, 0, 4096, 256), bits)
    # neighbouring entries are not correlated
    b = bits.double()
    assert abs(torch.corrcoef(torch.stack([b[:, :-1].flatten(), b[:, 1:].flatten()]))[0, 1]) < 0.01


def test_training_dropout_is_drawn_from_torchs_generator():
    ct = _model(16, 8, 8, True, False).train()
    x, t = torch.randn(4, 16, 8, 8), torch.randn(4, 7)
    torch.manual_seed(5)
    a = ct(x, t)
    torch.manual_seed(5)
    b = ct(x, t)
    c = ct(x, t)
    assert torch.equal(a, b) and not torch.allclose(b, c)  # resumable (seeded) and random from step to step


@pytest.mark.parametrize("hw", [(16, 16), (8, 8), (5, 3), (1, 1), (2, 7)])
def test_map_conv_equals_the_padded_convolution(hw):
    h, w = hw
    kernel = (h, w)
    padding = ((w - 1) // 2, w - 1 - (w - 1) // 2, (h - 1) // 2, h - 1 - (h - 1) // 2)
    weight = torch.randn(1, 1, h, w, dtype=torch.double, requires_grad=True)
    bias = torch.randn(1, dtype=torch.double, requires_grad=True)
    x = torch.randn(3, 1, h, w, dtype=torch.double, requires_grad=True)
    index = cp.map_conv_matrix((h, w), kernel, padding)
    got = cp.map_conv(x, weight, bias, index)
    ref = F.conv2d(F.pad(x, padding), weight, bias)
    assert torch.allclose(got, ref, atol=1e-12)
    g = torch.randn_like(got)
    for a, b in zip(torch.autograd.grad(got, (x, weight, bias), g), torch.autograd.grad(ref, (x, weight, bias), g)):
        assert torch.allclose(a, b, atol=1e-12)


def test_state_dict_keys_are_unchanged():
    ct = CompositeTransformer(8, 5, 2, (3, 3))
    keys = set(ct.state_dict())
    assert {"composite.fuse.0.weight", "sa.f_q.weight", "sa.f_k.weight", "sa.f_v.weight", "ja.f_sp.weight"} <= keys
    assert not any("sp_index" in k for k in keys)


def test_map_conv_weight_gradient_is_the_same_on_every_call():
    # autograd's indexing backward adds in thread order on the CPU; training must be repeatable (and resumable)
    index = cp.map_conv_matrix((16, 16), (16, 16), (7, 8, 7, 8))
    torch.manual_seed(0)
    x, w = torch.randn(32, 1, 16, 16), torch.randn(1, 1, 16, 16, requires_grad=True)
    grads = []
    for _ in range(4):
        w.grad = None
        cp.map_conv(x, w, None, index).sin().sum().backward()
        grads.append(w.grad.clone())
    assert all(torch.equal(g, grads[0]) for g in grads)
    ref = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (7, 8, 7, 8)), w.detach().requires_grad_())
    assert torch.allclose(cp.map_conv(x, w, None, index), ref, atol=1e-5)
