"""VAL: a backbone with one composite transformer per level and hierarchical matching (docs/shapes.md; yanbeic/VAL).

Query path: the backbone runs on the reference image; each configured level's composite transformer reads that
level's tap and the text feature t; each output is global-average-pooled and L2-normalised. The transformers do
*not* feed their outputs back into the backbone: in the authors' code the backbone's ``end_points`` (low_level,
mid_level, global_pool) are computed first and ``attention_layer`` is applied to each afterwards (``model.py``,
``train_val.py``), and the supplementary (Section 1, "Training") pools "the composite map and the target image's map
at the same level". Target path: the same backbone taps, pooled and L2-normalised.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import LEVELS
from ..errors import ValstudyError
from ..text import TextBatch
from .backbones import build_backbone, feature_shapes
from .composite_transformer import CompositeTransformer
from .text_encoder import TextEncoder


def pool_normalise(x: torch.Tensor) -> torch.Tensor:
    """Global average pool and L2-normalise: (B, C, H, W) -> (B, C)."""
    return F.normalize(x.mean(dim=(2, 3)), dim=1)


def check_levels(levels) -> tuple[str, ...]:
    levels = tuple(levels)
    if not levels or any(lv not in LEVELS for lv in levels) or len(set(levels)) != len(levels):
        raise ValstudyError(f"ModelConfig.levels: expected a non-empty subset of {LEVELS}, got {levels}")
    return tuple(lv for lv in LEVELS if lv in levels)  # always low -> high, whatever order was given


class VAL(nn.Module):
    """The VAL model (and its w/o SA, w/o JA and single-level ablations, through ``cfg``).

    Parameters
    ----------
    cfg : valstudy.config.ModelConfig
        Backbone, levels, streams, heads, text encoder sizes. ``cfg.image_size`` fixes the map sizes the spatial
        attention kernels are built for.
    vocab_size : int
        Vocabulary size (``<UNK>`` included).
    glove : torch.Tensor, optional
        GloVe embedding matrix (vocab_size, 300); None = random embeddings of ``cfg.word_dim``.
    """

    def __init__(self, cfg, vocab_size: int, glove: torch.Tensor | None = None):
        super().__init__()
        self.levels = check_levels(cfg.levels)
        self._index = [LEVELS.index(lv) for lv in self.levels]
        self.backbone = build_backbone(cfg)
        self.text_encoder = TextEncoder(vocab_size, cfg.word_dim, cfg.lstm_hidden, cfg.text_dim,
                                        cfg.text_dropout, glove)
        shapes = feature_shapes(self.backbone, cfg.image_size)
        self.transformers = nn.ModuleDict({
            lv: CompositeTransformer(
                shapes[i][0], cfg.text_dim, cfg.num_heads, shapes[i][1:], use_sa=cfg.use_sa, use_ja=cfg.use_ja,
                attn_dropout=cfg.attn_dropout, init_w_ja=cfg.init_w_ja, init_w_sa=cfg.init_w_sa,
                gate_bn_relu=cfg.gate_bn_relu)
            for lv, i in zip(self.levels, self._index)})
        self.channels = tuple(shapes[i][0] for i in self._index)

    def encode_text(self, texts: TextBatch) -> torch.Tensor:
        """Text feature t (B, text_dim)."""
        return self.text_encoder(texts)

    def encode_query(self, images: torch.Tensor, texts: TextBatch, return_attention: bool = False):
        """Composite features, one L2-normalised (B, c_l) tensor per level.

        With ``return_attention`` also a list (per level) of dicts: ``spatial`` (B, 1, h, w), ``channel`` (B, c),
        ``self`` (B, heads, hw, hw), ``w_ja``, ``w_sa``; a removed stream's entries are absent.
        """
        maps = self.backbone(images)  # [(B, c_l, h_l, w_l)] x 3
        t = self.text_encoder(texts)  # (B, text_dim)
        feats, attns = [], []
        for lv, i in zip(self.levels, self._index):
            out = self.transformers[lv](maps[i], t, return_attention=return_attention)  # (B, c_l, h_l, w_l)
            if return_attention:
                out, attn = out
                attns.append(attn)
            feats.append(pool_normalise(out))  # (B, c_l)
        return (feats, attns) if return_attention else feats

    def encode_target(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Image features at the same levels, pooled and L2-normalised: list of (B, c_l)."""
        maps = self.backbone(images)
        return [pool_normalise(maps[i]) for i in self._index]
