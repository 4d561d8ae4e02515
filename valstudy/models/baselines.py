"""Baselines on the pooled high-level feature: TIRG, concatenation + MLP, image-only, text-only (the paper, Section 4).

All share VAL's backbone and text encoder; the pooled high-level image feature is projected to ``text_dim`` (as
TIRG's image model ends in an fc layer), so query and target live in one d-dimensional space. They return one level,
"high". The text encoder is kept in every baseline so ``encode_text`` exists for L_vs.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ValstudyError
from ..text import TextBatch
from .backbones import build_backbone
from .text_encoder import TextEncoder


class _PooledBaseline(nn.Module):
    levels = ("high",)

    def __init__(self, cfg, vocab_size: int, glove: torch.Tensor | None = None):
        super().__init__()
        self.backbone = build_backbone(cfg)
        self.text_encoder = TextEncoder(vocab_size, cfg.word_dim, cfg.lstm_hidden, cfg.text_dim,
                                        cfg.text_dropout, glove)
        d = cfg.text_dim
        self.image_proj = nn.Linear(self.backbone.channels[2], d)
        self.channels = (d,)

    def image_feature(self, images: torch.Tensor) -> torch.Tensor:
        high = self.backbone(images)[2]  # (B, c_high, h, w)
        return self.image_proj(high.mean(dim=(2, 3)))  # (B, d)

    def encode_text(self, texts: TextBatch) -> torch.Tensor:
        """Text feature t (B, text_dim)."""
        return self.text_encoder(texts)

    def encode_target(self, images: torch.Tensor) -> list[torch.Tensor]:
        """[projected pooled high-level feature, L2-normalised] (B, d)."""
        return [F.normalize(self.image_feature(images), dim=1)]

    def compose(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encode_query(self, images: torch.Tensor, texts: TextBatch, return_attention: bool = False):
        """[composed query feature, L2-normalised] (B, d). Baselines have no attention to return."""
        if return_attention:
            raise ValstudyError(f"{type(self).__name__} has no attention maps; return_attention is for VAL only")
        return [F.normalize(self.compose(self.image_feature(images), self.text_encoder(texts)), dim=1)]


class TIRG(_PooledBaseline):
    """TIRG (Vo et al., CVPR 2019), as its released code composes features:

    f = w_g * sigmoid(gate([x, t])) * x + w_r * res([x, t]), gate = BN-ReLU-Linear(2d -> d),
    res = BN-ReLU-Linear(2d -> 2d)-ReLU-Linear(2d -> d), learnable w_g, w_r initialised to 1 and 10 (TIRG's ``a``).
    """

    def __init__(self, cfg, vocab_size: int, glove: torch.Tensor | None = None):
        super().__init__(cfg, vocab_size, glove)
        d = cfg.text_dim
        self.gate = nn.Sequential(nn.BatchNorm1d(2 * d), nn.ReLU(), nn.Linear(2 * d, d))
        self.res = nn.Sequential(nn.BatchNorm1d(2 * d), nn.ReLU(), nn.Linear(2 * d, 2 * d), nn.ReLU(),
                                 nn.Linear(2 * d, d))
        self.w_g = nn.Parameter(torch.tensor(1.0))
        self.w_r = nn.Parameter(torch.tensor(10.0))

    def compose(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        xt = torch.cat([x, t], dim=1)  # (B, 2d)
        return self.w_g * torch.sigmoid(self.gate(xt)) * x + self.w_r * self.res(xt)  # (B, d)


class ConcatMLP(_PooledBaseline):
    """Plain composition: MLP([x, t]) = BN-ReLU-Linear(2d -> 2d)-ReLU-Linear(2d -> d) (TIRG's "concat" baseline)."""

    def __init__(self, cfg, vocab_size: int, glove: torch.Tensor | None = None):
        super().__init__(cfg, vocab_size, glove)
        d = cfg.text_dim
        self.mlp = nn.Sequential(nn.BatchNorm1d(2 * d), nn.ReLU(), nn.Linear(2 * d, 2 * d), nn.ReLU(),
                                 nn.Linear(2 * d, d))

    def compose(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([x, t], dim=1))  # (B, d)


class ImageOnly(_PooledBaseline):
    """Query = the reference image's feature; the text is ignored (a lower bound on what the text adds)."""

    def compose(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return x  # (B, d)

    def encode_query(self, images: torch.Tensor, texts: TextBatch, return_attention: bool = False):
        if return_attention:
            raise ValstudyError("ImageOnly has no attention maps; return_attention is for VAL only")
        return self.encode_target(images)


class TextOnly(_PooledBaseline):
    """Query = the projected text feature; the reference image is ignored."""

    def __init__(self, cfg, vocab_size: int, glove: torch.Tensor | None = None):
        super().__init__(cfg, vocab_size, glove)
        self.text_proj = nn.Linear(cfg.text_dim, cfg.text_dim)

    def encode_query(self, images: torch.Tensor, texts: TextBatch, return_attention: bool = False):
        if return_attention:
            raise ValstudyError("TextOnly has no attention maps; return_attention is for VAL only")
        return [F.normalize(self.text_proj(self.text_encoder(texts)), dim=1)]  # [(B, d)]
