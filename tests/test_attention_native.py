"""The C attention kernel (valstudy/kernels/attention_native.c) equals the torch-operations kernel and the formula,
alone and inside VAL; its build cache, its environment variables and its messages."""
import math
import os
import shutil

import pytest
import torch

from valstudy import kernels
from valstudy.config import ModelConfig
from valstudy.kernels import attention_native as an
from valstudy.kernels import attention_torch as at
from valstudy.kernels import dropout_mask as dm
from valstudy.models import VAL
from valstudy.text import TextBatch

needs_kernel = pytest.mark.skipif(an.library() is None, reason="no C compiler here: the C kernel is not built")

# (batch, heads, d, n): the synthetic levels (64 px), and sizes that leave tails (n not a multiple of 8 or of 4 rows)
SHAPES = [(32, 2, 8, 256), (32, 2, 16, 64), (32, 2, 32, 16), (3, 2, 5, 7), (2, 1, 3, 13), (1, 3, 4, 1)]


def _qkv(shape, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=dtype).requires_grad_() for _ in range(3)]


def _formula(q, k, v, p, seed):
    """softmax(Q^T K / sqrt(d)) * mask / keep, applied to V, in float64, with the mask of mask_bits."""
    b, heads, d, n = q.shape
    weights = torch.softmax(q.transpose(-1, -2) @ k / math.sqrt(d), dim=-1)  # (B, heads, n, n)
    mask = dm.dropout_keep_mask(seed, 0, (b * heads, n, n), p).view_as(weights).to(q.dtype)
    return v @ (weights * mask / dm.dropout_keep_probability(p)).transpose(-1, -2)  # (B, heads, d, n)


@needs_kernel
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("p", [0.0, 0.1, 0.5])
def test_native_equals_the_torch_kernel_and_the_formula(shape, p):
    q, k, v = _qkv(shape)
    d, n = shape[2], shape[3]
    seed = (1 << 61) + 4242
    got = an.NativeDropoutAttention.apply(q, k, v, 1.0 / math.sqrt(d), p, seed)
    chunk = max(1, (1 << 19) // (shape[1] * n * n))
    torch_kernel = at._ChunkedDropoutAttention.apply(q / math.sqrt(d), k, v, p, seed, chunk, None)
    q64, k64, v64 = (t.detach().double().requires_grad_() for t in (q, k, v))
    ref = _formula(q64, k64, v64, p, seed)
    assert torch.allclose(got, torch_kernel, atol=2e-6, rtol=1e-5)
    assert torch.allclose(got.double(), ref, atol=2e-6, rtol=1e-5)
    g = torch.randn(got.shape, generator=torch.Generator().manual_seed(1))
    for a, b in zip(torch.autograd.grad(got, (q, k, v), g), torch.autograd.grad(ref, (q64, k64, v64), g.double())):
        assert torch.allclose(a.double(), b, atol=1e-5, rtol=1e-4)


@needs_kernel
def test_dropout_changes_the_output_and_the_seed_picks_the_mask():
    q, k, v = _qkv((4, 2, 8, 32))
    a = an.NativeDropoutAttention.apply(q, k, v, 0.35, 0.3, 11)
    assert torch.equal(a, an.NativeDropoutAttention.apply(q, k, v, 0.35, 0.3, 11))
    assert not torch.allclose(a, an.NativeDropoutAttention.apply(q, k, v, 0.35, 0.3, 12))
    assert not torch.allclose(a, an.NativeDropoutAttention.apply(q, k, v, 0.35, 0.0, 11))


@needs_kernel
def test_results_do_not_depend_on_the_thread_count():
    q, k, v = _qkv((8, 2, 8, 64))
    g = torch.randn(8, 2, 8, 64)
    threads = torch.get_num_threads()
    results = []
    try:
        for t in (1, 2, 3):
            torch.set_num_threads(t)
            out = an.NativeDropoutAttention.apply(q, k, v, 0.35, 0.1, 5)
            results.append((out, *torch.autograd.grad(out, (q, k, v), g)))
    finally:
        torch.set_num_threads(threads)
    for other in results[1:]:
        assert all(torch.equal(a, b) for a, b in zip(results[0], other))


@needs_kernel
def test_val_trains_the_same_with_and_without_the_c_kernel(monkeypatch):
    # VAL in training, dropout on the attention weights: the C kernel and the torch-operations kernel (what runs
    # without a C compiler) draw the same masks from the same seed, so the composite features and every gradient
    # agree to rounding.
    cfg = ModelConfig(small_width=8, image_size=32, word_dim=8, lstm_hidden=16, text_dim=16, attn_dropout=0.3,
                      init_w_sa=0.7)
    torch.manual_seed(0)
    model = VAL(cfg, vocab_size=20).train()
    g = torch.Generator().manual_seed(1)
    images = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1
    texts = TextBatch(torch.randint(1, 20, (4, 5), generator=g), torch.tensor([5, 3, 1, 4]))
    names, params = zip(*[(n, p) for n, p in model.named_parameters() if p.requires_grad])
    torch_kernel_calls = []
    chunked = kernels.chunked_attention
    monkeypatch.setattr(kernels, "chunked_attention", lambda *a: torch_kernel_calls.append(1) or chunked(*a))

    def step(native: bool, seed: int = 3):
        an.set_native(native)
        try:
            torch.manual_seed(seed)  # the same dropout draws (text encoder, attention masks) for both kernels
            feats = model.encode_query(images, texts)  # [(B, c_l)] x 3
            loss = sum((f * torch.linspace(-1, 1, f.numel()).view_as(f)).sum() for f in feats)
            return [f.detach() for f in feats], torch.autograd.grad(loss, params)
        finally:
            an.set_native(True)

    native_feats, native_grads = step(True)
    assert not torch_kernel_calls  # every level's self-attention ran in C
    torch_feats, torch_grads = step(False)
    assert len(torch_kernel_calls) == len(model.levels)  # ... and here on torch operations
    for a, b in zip(native_feats, torch_feats):
        assert torch.allclose(a, b, atol=1e-5)
    for name, a, b in zip(names, native_grads, torch_grads):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-3), (name, (a - b).abs().max())
    assert all(a.abs().sum() > 0 for n, a in zip(names, native_grads) if n.endswith("sa.f_q.weight"))
    # the masks matter: another seed draws other ones, so the comparison above compares the same masks
    other_feats, _ = step(True, seed=4)
    assert not all(torch.allclose(a, b, atol=1e-5) for a, b in zip(native_feats, other_feats))


@pytest.fixture
def fresh_library(monkeypatch, tmp_path):
    """library() as on a machine that has not built the kernel yet, building into tmp_path."""
    monkeypatch.setenv("VALSTUDY_KERNEL_DIR", str(tmp_path))
    monkeypatch.delenv("VALSTUDY_NATIVE", raising=False)
    saved = an._state.pop("lib", "absent")
    yield tmp_path
    an._state.pop("lib", None)
    if saved != "absent":
        an._state["lib"] = saved


def test_without_a_compiler_the_torch_kernel_runs_and_says_so(fresh_library, monkeypatch):
    monkeypatch.setenv("CC", "no-such-compiler-here")
    with pytest.warns(RuntimeWarning, match="no C compiler .no-such-compiler-here."):
        assert an.library() is None
    q, k, v = _qkv((2, 2, 4, 9), dtype=torch.float32)
    torch.manual_seed(0)
    out = kernels.attention(q, k, v, 0.2, True)  # the torch-operations kernel
    torch.manual_seed(0)
    seed = int(torch.randint(0, 1 << 62, ()))
    ref = _formula(q.double(), k.double(), v.double(), 0.2, seed)
    assert torch.allclose(out.double(), ref, atol=1e-5)


def test_a_failing_build_is_reported_not_hidden(fresh_library, monkeypatch):
    monkeypatch.setenv("CC", shutil.which("false") or "/bin/false")
    with pytest.warns(RuntimeWarning, match="building attention_native.c failed"):
        assert an.library() is None
    assert not list(fresh_library.glob("*.so")) and not list(fresh_library.glob("tmp*"))  # nothing half-written


@pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc")) is None, reason="no C compiler here")
def test_the_kernel_is_built_once_per_source_compiler_and_cpu(fresh_library):
    real = shutil.which(os.environ.get("CC", "cc"))
    path = an._compile(real)
    assert path.parent == fresh_library and path.name.startswith("attention_native-")
    mtime = path.stat().st_mtime_ns
    assert an._compile(real) == path and path.stat().st_mtime_ns == mtime  # reused, not rebuilt
    other = fresh_library / "another-cc"  # another compiler builds its own library beside the first
    other.write_text(f'#!/bin/sh\nexec {real} "$@"\n')
    other.chmod(0o755)
    built = an._compile(str(other))
    assert built != path and built.exists() and path.stat().st_mtime_ns == mtime
    assert an.library() is not None


def test_disabling_the_kernel_by_environment(fresh_library, monkeypatch):
    monkeypatch.setenv("VALSTUDY_NATIVE", "0")
    assert an.library() is None


@pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc")) is None, reason="no C compiler here")
def test_a_compiler_without_openmp_still_builds_the_kernel(fresh_library, monkeypatch):
    real = shutil.which(os.environ.get("CC", "cc"))
    fake = fresh_library / "cc-without-openmp"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = "-fopenmp" ] && { echo "unsupported: -fopenmp" >&2; '
                    f'exit 1; }}; done\nexec {real} "$@"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("CC", str(fake))
    lib = an.library()
    assert lib is not None and len(list(fresh_library.glob("*.so"))) == 1
    q, k, v = _qkv((3, 2, 5, 7))
    out = an.NativeDropoutAttention.apply(q, k, v, 1.0 / math.sqrt(5), 0.2, 9)
    assert torch.allclose(out.double(), _formula(q.double(), k.double(), v.double(), 0.2, 9), atol=2e-6)
