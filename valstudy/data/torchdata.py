"""Torch datasets over a loader's records, and the collate functions that pad texts into a TextBatch."""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch.utils.data import Dataset

from ..text import TextBatch, Vocabulary, pad_tokens
from .base import Query
from .images import load_image_cached


class ImageDataset(Dataset):
    """Images by key: item = image tensor (3, H, W)."""

    def __init__(self, dataset, keys: Sequence[str], transform: Callable):
        self.dataset, self.keys, self.transform = dataset, list(keys), transform

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.transform(load_image_cached(self.dataset.image_path(self.keys[i])))


class QueryDataset(Dataset):
    """Test queries: item = (reference image (3, H, W), token ids).

    ``min_count`` maps words seen fewer times in training to <UNK> (the code uses 2 for Shoes and FashionIQ).
    """

    def __init__(self, dataset, queries: Sequence[Query], vocab: Vocabulary, transform: Callable, min_count: int = 1):
        self.dataset, self.queries, self.vocab, self.transform = dataset, list(queries), vocab, transform
        self.min_count = min_count

    def __len__(self) -> int:
        return len(self.queries)

    def __getitem__(self, i: int):
        q = self.queries[i]
        image = self.transform(load_image_cached(self.dataset.image_path(q.reference)))
        return image, self.vocab.encode(q.text, self.min_count)


def collate_queries(batch) -> tuple[torch.Tensor, TextBatch]:
    """-> (reference images (B, 3, H, W), TextBatch)."""
    refs, texts = zip(*batch)
    return torch.stack(refs), pad_tokens(texts)
