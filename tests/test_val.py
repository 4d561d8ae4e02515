"""VAL and the baselines through build_model: shapes, levels, attention, gradients, text encoder masking."""
import time

import pytest
import torch

from valstudy.config import ModelConfig
from valstudy.errors import ValstudyError
from valstudy.losses import build_loss
from valstudy.models import build_model
from valstudy.models.text_encoder import TextEncoder
from valstudy.text import TextBatch

V = 30


def _small(**kw):
    base = dict(backbone="small", small_width=8, lstm_hidden=16, word_dim=12, text_dim=16, image_size=64)
    base.update(kw)
    return ModelConfig(**base)


def _batch(b=4, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(b, 3, size, size, generator=g) * 2 - 1
    lengths = torch.tensor([5, 2, 3, 1, 4, 5, 2, 3][:b])
    tokens = torch.randint(1, V, (b, 5), generator=g) * (torch.arange(5)[None] < lengths[:, None])
    return images, TextBatch(tokens, lengths)


def test_val_shapes_and_normalisation():
    model = build_model(_small(), V)
    assert model.levels == ("low", "mid", "high")
    images, texts = _batch()
    q, t = model.encode_query(images, texts), model.encode_target(images)
    assert [x.shape for x in q] == [(4, 8), (4, 16), (4, 32)] == [x.shape for x in t]
    for x in q + t:
        assert torch.allclose(x.norm(dim=1), torch.ones(4), atol=1e-5)
    assert model.encode_text(texts).shape == (4, 16)
    # spatial kernels built for the 64 px maps: 16x16, 8x8, 4x4
    assert [tuple(model.transformers[lv].ja.f_sp.weight.shape[2:]) for lv in model.levels] == [(16, 16), (8, 8), (4, 4)]


def test_val_level_subsets_keep_low_to_high_order():
    model = build_model(_small(levels=("high", "low")), V)
    assert model.levels == ("low", "high") and set(model.transformers) == {"low", "high"}
    images, texts = _batch()
    assert [x.shape[1] for x in model.encode_query(images, texts)] == [8, 32]
    assert [x.shape[1] for x in model.encode_target(images)] == [8, 32]
    with pytest.raises(ValstudyError, match="levels"):
        build_model(_small(levels=("top",)), V)


def test_val_attention_output_and_ablation_keys():
    images, texts = _batch()
    model = build_model(_small(), V).eval()
    q, attn = model.encode_query(images, texts, return_attention=True)
    assert len(attn) == 3
    assert attn[0]["spatial"].shape == (4, 1, 16, 16) and attn[2]["channel"].shape == (4, 32)
    assert attn[1]["self"].shape == (4, 2, 64, 64) and attn[0]["w_ja"] == 1.0 and attn[0]["w_sa"] == 0.0
    no_sa = build_model(_small(use_sa=False), V).eval()
    _, attn = no_sa.encode_query(images, texts, return_attention=True)
    assert all(set(a) == {"spatial", "channel", "w_ja"} for a in attn)


def test_transformers_do_not_feed_back_into_the_backbone():
    # the target path (backbone taps) must be identical whatever the text: transformers only read the taps
    model = build_model(_small(), V).eval()
    images, texts = _batch()
    with torch.no_grad():
        maps = model.backbone(images)
        model.encode_query(images, texts)
        assert all(torch.equal(a, b) for a, b in zip(maps, model.backbone(images)))


def test_gradients_reach_every_trainable_parameter():
    torch.manual_seed(0)
    # w_sa = 0 (authors' init) gives the SA stream an exactly zero gradient at the first step; start it off 0
    model = build_model(_small(init_w_sa=0.5), V).train()
    images, texts = _batch(b=4)
    targets, _ = _batch(b=4, seed=1)
    loss = build_loss("softmax", 3)(model.encode_query(images, texts), model.encode_target(targets))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)]
    assert missing == []


def test_default_init_gives_sa_zero_gradient_but_w_sa_a_gradient():
    torch.manual_seed(0)
    model = build_model(_small(), V).train()
    images, texts = _batch()
    loss = build_loss("softmax", 3)(model.encode_query(images, texts), model.encode_target(_batch(seed=1)[0]))
    loss.backward()
    ct = model.transformers["low"]
    assert ct.w_sa.grad.abs() > 0
    assert ct.sa.f_q.weight.grad.abs().sum() == 0


@pytest.mark.parametrize("method", ["tirg", "concat", "image_only", "text_only"])
def test_baselines_return_one_high_level(method):
    model = build_model(_small(method=method), V).eval()
    assert model.levels == ("high",)
    images, texts = _batch()
    q, t = model.encode_query(images, texts), model.encode_target(images)
    assert len(q) == len(t) == 1 and q[0].shape == t[0].shape == (4, 16)
    assert torch.allclose(q[0].norm(dim=1), torch.ones(4), atol=1e-5)
    with pytest.raises(ValstudyError, match="VAL only"):
        model.encode_query(images, texts, return_attention=True)


def test_baseline_semantics():
    images, texts = _batch()
    other_images, other_texts = _batch(seed=3)
    img = build_model(_small(method="image_only"), V).eval()
    assert torch.allclose(img.encode_query(images, texts)[0], img.encode_query(images, other_texts)[0])
    assert torch.allclose(img.encode_query(images, texts)[0], img.encode_target(images)[0])
    txt = build_model(_small(method="text_only"), V).eval()
    assert torch.allclose(txt.encode_query(images, texts)[0], txt.encode_query(other_images, texts)[0])
    tirg = build_model(_small(method="tirg"), V)
    assert tirg.w_g.item() == 1.0 and tirg.w_r.item() == 10.0
    with pytest.raises(ValstudyError, match="unknown method"):
        build_model(_small(method="film"), V)


def test_text_encoder_max_over_time_with_padding_zeros():
    torch.manual_seed(0)
    enc = TextEncoder(V, word_dim=6, hidden=5, out_dim=4, dropout=0.1).eval()
    tokens = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]])
    texts = TextBatch(tokens, torch.tensor([4, 2]))
    out = enc(texts)
    with torch.no_grad():
        h_short, _ = enc.lstm(enc.embedding(torch.tensor([[7, 8]])))
        h = torch.maximum(h_short[0].max(0).values, torch.zeros(5))  # padded steps contribute zeros
        ref = enc.bn(enc.fc(h[None]))[0]
    assert torch.allclose(out[1], ref, atol=1e-5)
    noisy = TextBatch(torch.tensor([[3, 4, 5, 6], [7, 8, 21, 13]]), torch.tensor([4, 2]))  # padding ids ignored
    assert torch.allclose(enc(noisy), out, atol=1e-6)


def test_text_encoder_glove_embedding_is_trainable_copy():
    glove = torch.randn(V, 300)
    model = build_model(_small(), V, glove=glove)
    emb = model.text_encoder.embedding
    assert emb.weight.shape == (V, 300) and emb.weight.requires_grad and torch.equal(emb.weight.data, glove)
    with pytest.raises(ValstudyError, match="GloVe"):
        TextEncoder(V, 6, 5, 4, 0.1, glove=torch.randn(V + 1, 300))


def test_val_resnet50_256px_forward_backward_cpu():
    torch.manual_seed(0)
    cfg = ModelConfig(backbone="resnet50", paper_shapes=True, image_size=256)
    model = build_model(cfg, V).train()
    images, texts = _batch(b=2, size=256)
    start = time.perf_counter()
    q = model.encode_query(images, texts)
    assert [x.shape for x in q] == [(2, 512), (2, 1024), (2, 2048)]
    assert [tuple(model.transformers[lv].ja.f_sp.weight.shape[2:]) for lv in model.levels] == [(16, 16), (8, 8), (8, 8)]
    loss = build_loss("triplet", 3)(q, model.encode_target(_batch(b=2, size=256, seed=1)[0]))
    loss.backward()
    assert model.transformers["high"].w_ja.grad is not None
    print(f"VAL ResNet-50 256 px batch 2 forward+backward: {time.perf_counter() - start:.1f} s")  # ~1.5-3 s on CPU


def test_model_constructors_take_their_sizes_from_the_configuration():
    # Every default once: a model constructor's numeric argument is required, or defaults to ModelConfig's field;
    # never a second literal beside valstudy/config/types.py.
    import ast
    from pathlib import Path

    import valstudy.models

    found = []
    for path in sorted(Path(valstudy.models.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                defaults = node.args.defaults + [d for d in node.args.kw_defaults if d is not None]
                found += [f"{path.name}:{d.lineno}" for d in defaults if isinstance(d, ast.Constant)
                          and isinstance(d.value, (int, float)) and not isinstance(d.value, bool)]
    assert not found, f"numeric literal defaults in model constructors: {found}"
