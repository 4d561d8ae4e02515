"""Tokenisation, vocabulary and GloVe vectors, as in the authors' code (docs/shapes.md; yanbeic/VAL).

- Captions are lower-cased; punctuation becomes word tokens as TIRG and VAL do
  (``.`` -> ``dotmark``, ``?`` -> ``questionmark``, ``&`` -> ``andmark``, ``*`` -> ``starmark``);
  other punctuation separates words.
- ``<UNK>`` has index 0. Padded positions also hold 0; a :class:`TextBatch` carries the true lengths, and the text
  encoder's max-over-time counts each padded step as a zero output (the authors' code), so a text's feature depends
  on the padded length of its batch: DDP ranks pad their slices to the global batch's longest text.
- ``min_count`` maps rare words to ``<UNK>`` (the code uses 2 at test time for Shoes and FashionIQ).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import torch

from .errors import DataError, MissingResourceError

UNK = "<UNK>"
_PUNCT_WORDS = {".": " dotmark ", "?": " questionmark ", "&": " andmark ", "*": " starmark "}
_SPLIT = re.compile(r"[^a-z0-9'\-]+")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens with the TIRG/VAL punctuation words.

    >>> tokenize("Is red & has long sleeves.")
    ['is', 'red', 'andmark', 'has', 'long', 'sleeves', 'dotmark']
    """
    text = text.lower()
    for p, w in _PUNCT_WORDS.items():
        text = text.replace(p, w)
    return [t for t in _SPLIT.split(text) if t]


class TextBatch(NamedTuple):
    """A padded batch of token ids: ``tokens`` (B, T) long, ``lengths`` (B,) long (each >= 1)."""

    tokens: torch.Tensor
    lengths: torch.Tensor

    def to(self, device) -> "TextBatch":
        return TextBatch(self.tokens.to(device), self.lengths.to(device))


def pad_tokens(seqs: Sequence[Sequence[int]], length: int | None = None) -> TextBatch:
    """Token id lists -> TextBatch(tokens (B, T) padded with 0, lengths (B,)).

    T is the longest list's length, or ``length`` when given (at least the longest: a DDP rank pads its slice to
    the global batch's longest text, as one process holding the whole batch would).
    """
    lengths = torch.tensor([max(len(s), 1) for s in seqs], dtype=torch.long)
    longest = int(lengths.max()) if len(seqs) else 1
    if length is not None and length < longest:
        raise ValueError(f"pad_tokens: length={length} is shorter than the longest text ({longest} tokens)")
    tokens = torch.zeros(len(seqs), longest if length is None else length, dtype=torch.long)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return TextBatch(tokens, lengths)


@dataclass
class Vocabulary:
    """Word -> index map with ``<UNK>`` = 0."""

    words: list[str] = field(default_factory=lambda: [UNK])
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> "Vocabulary":
        """Vocabulary of every token seen at least ``min_count`` times, in first-seen order."""
        counts: Counter[str] = Counter()
        order: list[str] = []
        for t in texts:
            for w in tokenize(t):
                if w not in counts:
                    order.append(w)
                counts[w] += 1
        words = [UNK] + [w for w in order if counts[w] >= min_count]
        return cls(words=words, counts=dict(counts))

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, text: str, min_count: int = 1) -> list[int]:
        """Token ids of ``text``; unknown words, and words seen fewer than ``min_count`` times, map to 0."""
        ids = []
        for w in tokenize(text):
            i = self.index.get(w, 0)
            if min_count > 1 and self.counts.get(w, 0) < min_count:
                i = 0
            ids.append(i)
        return ids or [0]

    def batch(self, texts: Sequence[str], min_count: int = 1, length: int | None = None) -> TextBatch:
        """Encode and pad a list of strings into a :class:`TextBatch` (padded to ``length`` if given)."""
        return pad_tokens([self.encode(t, min_count) for t in texts], length)

    def state_dict(self) -> dict:
        return {"words": list(self.words), "counts": dict(self.counts)}

    @classmethod
    def from_state_dict(cls, state: dict) -> "Vocabulary":
        return cls(words=list(state["words"]), counts=dict(state["counts"]))


def load_glove(path: str | Path, vocab: Vocabulary, seed: int = 0) -> torch.Tensor:
    """Embedding matrix (len(vocab), d) from a GloVe file in the standard text format.

    Words absent from the file get small random vectors (normal, std 0.1), as the authors' code does.
    A missing file stops with a message saying where GloVe comes from; a malformed line names its number.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingResourceError(
            "GloVe vectors", path,
            "download glove.42B.300d.zip or glove.6B.zip from the Stanford NLP GloVe page, unzip it, "
            "and pass the .txt file (the study trains with random embeddings without it)")
    found: dict[int, torch.Tensor] = {}
    dim = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split(" ")
            if len(parts) < 2:
                raise DataError(path, "expected a word followed by its vector", line=n)
            if dim is None:
                dim = len(parts) - 1
            elif len(parts) - 1 != dim:
                raise DataError(path, f"expected {dim} numbers, got {len(parts) - 1}", line=n)
            i = vocab.index.get(parts[0])
            if i is not None:
                try:
                    found[i] = torch.tensor([float(x) for x in parts[1:]])
                except ValueError:
                    raise DataError(path, "vector holds a value that is not a number", line=n) from None
    if dim is None:
        raise DataError(path, "file is empty")
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(len(vocab), dim, generator=g) * 0.1
    for i, v in found.items():
        weight[i] = v
    return weight
