"""Text encoder: word embeddings -> uni-directional LSTM -> max over time -> dropout -> Linear -> BN (yanbeic/VAL).

Follows the authors' code (``nets/rnn.py``): an LSTM (1024 units there), whose text feature ``t`` (512-d there) feeds
all levels; :class:`~valstudy.config.ModelConfig` holds the sizes.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ValstudyError
from ..text import TextBatch


class TextEncoder(nn.Module):
    """Encodes a :class:`~valstudy.text.TextBatch` into ``t`` of shape (B, out_dim).

    Parameters
    ----------
    vocab_size : int
        Number of words including ``<UNK>`` = 0.
    word_dim : int
        Embedding size when ``glove`` is None (Xavier-initialised, as the code's plain runs).
    hidden : int
        LSTM hidden units.
    out_dim : int
        Size of ``t``.
    dropout : float
        Dropout after max-over-time.
    glove : torch.Tensor, optional
        (vocab_size, d) matrix from :func:`valstudy.text.load_glove`; initialises a trainable embedding of size d.

    Notes
    -----
    Max over time: padded steps contribute zeros, as in the code, where ``dynamic_rnn`` emits zeros after each
    sequence's length and the max runs over the padded batch. So a sequence shorter than the batch's longest has
    its max taken over its outputs and 0 (LSTM outputs lie in (-1, 1)).
    """

    def __init__(self, vocab_size: int, word_dim: int, hidden: int, out_dim: int, dropout: float,
                 glove: torch.Tensor | None = None):
        super().__init__()
        if glove is not None:
            if glove.dim() != 2 or glove.shape[0] != vocab_size:
                raise ValstudyError(f"GloVe matrix has shape {tuple(glove.shape)}, expected ({vocab_size}, d) "
                                    "for this vocabulary")
            self.embedding = nn.Embedding.from_pretrained(glove.float().clone(), freeze=False)
        else:
            self.embedding = nn.Embedding(vocab_size, word_dim)
            nn.init.xavier_uniform_(self.embedding.weight)
        self.lstm = nn.LSTM(self.embedding.embedding_dim, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.out_dim = out_dim

    def forward(self, texts: TextBatch) -> torch.Tensor:
        tokens, lengths = texts.tokens, texts.lengths.to(texts.tokens.device)
        x = self.embedding(tokens)  # (B, T, word_dim)
        # A uni-directional LSTM's outputs at valid steps do not depend on later padding, so no packing is needed.
        out, _ = self.lstm(x)  # (B, T, hidden)
        steps = torch.arange(tokens.shape[1], device=tokens.device)
        valid = (steps[None, :] < lengths[:, None]).unsqueeze(-1)  # (B, T, 1)
        out = out.masked_fill(~valid, 0.0)  # padded steps contribute zeros (code)
        h = out.max(dim=1).values  # (B, hidden)
        return self.bn(self.fc(self.dropout(h)))  # (B, out_dim), no activation (code)
