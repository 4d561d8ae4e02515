"""Deterministic, resumable training batches.

The batch of step ``s`` depends only on ``(seed, s)``: the epoch ``s // steps_per_epoch`` fixes the triplet list
(Fashion200k re-samples its targets each epoch) and a seeded permutation of it; the augmentation of each image uses a
generator seeded from ``(seed, s)``. So an interrupted run that resumes at step ``s`` sees exactly the batches an
uninterrupted run would, whatever the number of loader workers.

Under ``torchrun`` rank r takes rows ``r * B / world`` to ``(r + 1) * B / world`` of the same global batch, so the
features gathered rank 0 first (``distributed.gather_batch``) are the global batch's rows in order, and its texts are
padded to the global batch's longest text: the text encoder's max over time counts padded steps as zeros (the
authors' code), so a rank padding only to its own longest text would encode its longest texts differently from one
process holding the whole batch. Random augmentation is drawn per rank (seeded from ``(seed, s, rank)``),
so with flips or random crops on, the ranks' draws are not the single process's draws.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch.utils.data import Dataset

from ..data.base import Triplet
from ..data.images import load_image_cached
from ..text import TextBatch, Vocabulary, pad_tokens


def _mix(*xs: int) -> int:
    h = 1469598103934665603
    for x in xs:
        h = ((h ^ (x & 0xFFFFFFFFFFFF)) * 1099511628211) & 0x7FFFFFFFFFFFFFFF
    return h


class StepBatches(Dataset):
    """``dataset[step]`` is the (rank's slice of the) training batch of that step.

    Parameters
    ----------
    triplets_for_epoch : callable epoch -> list of Triplet (the same length every epoch)
    image_path : callable image key -> path
    vocab : the run's vocabulary
    batch_size : the global batch size (all ranks together)
    transform : callable PIL image -> (3, H, W) tensor, drawing its randomness from torch's global generator
    """

    def __init__(self, triplets_for_epoch: Callable[[int], Sequence[Triplet]], image_path: Callable[[str], object],
                 vocab: Vocabulary, batch_size: int, transform, seed: int, rank: int = 0, world_size: int = 1):
        self.triplets_for_epoch = triplets_for_epoch
        self.image_path, self.vocab, self.transform = image_path, vocab, transform
        self.batch_size, self.seed, self.rank, self.world_size = batch_size, seed, rank, world_size
        n = len(triplets_for_epoch(0))
        if n < batch_size:
            raise ValueError(f"only {n} training triplets for a batch of {batch_size}")
        self.steps_per_epoch = n // batch_size  # drop the last partial batch, as the code does
        self._epoch, self._triplets, self._order = None, None, None

    def __len__(self) -> int:  # unbounded in principle; the sampler chooses the steps
        return 1 << 62

    def _select(self, step: int) -> list[Triplet]:
        epoch, offset = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._triplets = self.triplets_for_epoch(epoch)
            g = torch.Generator().manual_seed(_mix(self.seed, epoch, 17))
            self._order = torch.randperm(len(self._triplets), generator=g).tolist()
            self._epoch = epoch
        idx = self._order[offset * self.batch_size:(offset + 1) * self.batch_size]
        return [self._triplets[i] for i in idx]  # the global batch, all ranks' rows

    def __getitem__(self, step: int) -> tuple[torch.Tensor, TextBatch, torch.Tensor]:
        everyone = self._select(step)
        rows = self.batch_size // self.world_size  # the trainer checks that the global batch divides evenly
        batch = everyone[self.rank * rows:(self.rank + 1) * rows]  # this rank's contiguous slice
        # The augmentation draws from the global generator, seeded here from (seed, step, rank) inside fork_rng so the
        # training loop's own random state (dropout) is untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(_mix(self.seed, step, self.rank, 29))
            refs = torch.stack([self.transform(load_image_cached(self.image_path(t.reference))) for t in batch])
            tgts = torch.stack([self.transform(load_image_cached(self.image_path(t.target))) for t in batch])
        # Padded to the global batch's longest text, as one process holding every rank's rows pads them.
        ids = [self.vocab.encode(t.text) for t in everyone]  # each text encoded once
        texts = pad_tokens(ids[self.rank * rows:(self.rank + 1) * rows], length=max(len(i) for i in ids))
        return refs, texts, tgts  # (B, 3, H, W), TextBatch, (B, 3, H, W)
