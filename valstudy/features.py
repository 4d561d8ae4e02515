"""Features of an evaluation split: the composite feature of every query and the test feature of every gallery image.

The composite feature of a query is the concatenation of its per-level pooled, L2-normalised composite outputs; a
gallery image's test feature is the concatenation of its per-level pooled, L2-normalised backbone features (the
supplementary, Section 1, "Testing"). The query loader is built here only, for evaluation and for the attention maps
alike.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch.utils.data import DataLoader

from .data.base import EvalSplit, Query
from .data.torchdata import ImageDataset, QueryDataset, collate_queries
from .data.transforms import make_transform
from .text import Vocabulary


def query_loader(dataset, queries: Sequence[Query], vocab: Vocabulary, cfg, batch_size: int = 64,
                 device: torch.device | None = None) -> DataLoader:
    """Batches (reference images (B, 3, H, W), TextBatch) of ``queries`` in order, prepared as ``cfg`` (a
    TrainConfig) evaluates them: test transform, words seen fewer than ``data.test_min_count`` times as <UNK>."""
    ds = QueryDataset(dataset, queries, vocab, make_transform(cfg.data, train=False), min_count=cfg.data.test_min_count)
    return DataLoader(ds, batch_size=batch_size, num_workers=cfg.num_workers, collate_fn=collate_queries,
                      pin_memory=device is not None and device.type == "cuda")


def gallery_loader(dataset, keys: Sequence[str], cfg, batch_size: int = 64,
                   device: torch.device | None = None) -> DataLoader:
    """Batches of images (B, 3, H, W) of ``keys`` in order, with the test transform of ``cfg``."""
    return DataLoader(ImageDataset(dataset, keys, make_transform(cfg.data, train=False)), batch_size=batch_size,
                      num_workers=cfg.num_workers, pin_memory=device is not None and device.type == "cuda")


@torch.no_grad()
def extract_features(model, dataset, split: EvalSplit, vocab: Vocabulary, cfg, device: torch.device,
                     batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """(composite features (Q, D), test image features (N, D)) of one evaluation split; ``model`` is put in eval
    mode."""
    model.eval()
    gallery = [torch.cat(model.encode_target(imgs.to(device)), dim=1)  # (b, sum_l c_l)
               for imgs in gallery_loader(dataset, split.gallery, cfg, batch_size, device)]
    queries = [torch.cat(model.encode_query(imgs.to(device), texts.to(device)), dim=1)  # (b, sum_l c_l)
               for imgs, texts in query_loader(dataset, split.queries, vocab, cfg, batch_size, device)]
    return torch.cat(queries), torch.cat(gallery)
