"""``build_model``: the model named by ``ModelConfig.method`` (VAL or a baseline)."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..config import METHODS
from ..errors import ValstudyError
from .baselines import TIRG, ConcatMLP, ImageOnly, TextOnly
from .val import VAL

_MODELS = {"val": VAL, "tirg": TIRG, "concat": ConcatMLP, "image_only": ImageOnly, "text_only": TextOnly}
assert set(_MODELS) == set(METHODS)


def build_model(cfg, vocab_size: int, glove: torch.Tensor | None = None) -> nn.Module:
    """Build the model for ``cfg`` (a :class:`~valstudy.config.ModelConfig`).

    Parameters
    ----------
    cfg : ModelConfig
        ``method`` picks VAL or a baseline; the rest sets backbone, levels, streams and sizes.
    vocab_size : int
        Vocabulary size including ``<UNK>``.
    glove : torch.Tensor, optional
        (vocab_size, d) GloVe matrix (see :func:`valstudy.text.load_glove`); None = random embeddings.

    Returns
    -------
    nn.Module
        With ``levels``, ``encode_query(images, texts)``, ``encode_target(images)`` and ``encode_text(texts)``.
    """
    if cfg.method not in _MODELS:
        raise ValstudyError(f"ModelConfig.method: unknown method {cfg.method!r}; expected one of {METHODS}")
    if vocab_size < 1:
        raise ValstudyError(f"build_model: vocab_size must be at least 1 (<UNK>), got {vocab_size}")
    model = _MODELS[cfg.method](cfg, vocab_size, glove)
    for m in model.backbone.modules():  # the authors' batch-norm arg scopes (decay = 1 - momentum) when asked
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = m.momentum if getattr(cfg, "bn_momentum", None) is None else cfg.bn_momentum
            m.eps = m.eps if getattr(cfg, "bn_eps", None) is None else cfg.bn_eps
    return model
