"""Exponential moving average of the weights, evaluated instead of the raw weights (authors' code, decay 0.9999).

With ``warmup`` (the default), as TensorFlow's ``ExponentialMovingAverage(decay, num_updates=step)``, the decay
actually used is ``min(decay, (1 + step) / (10 + step))``, so short runs are not dominated by the initial weights.
Without it, as the authors' released scripts (``ExponentialMovingAverage(0.9999)``, no ``num_updates``), the decay is
constant and the shadow starts from the initial weights, as TensorFlow's does.
Buffers (BatchNorm statistics) are copied, not averaged.
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Shadow copy of a model whose parameters follow an exponential moving average."""

    def __init__(self, model: nn.Module, decay: float, warmup: bool = True):
        self.decay, self.warmup = decay, warmup
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1.0 + step) / (10.0 + step)) if self.warmup else self.decay
        for s, p in zip(self.model.parameters(), model.parameters()):
            s.lerp_(p.detach(), 1.0 - d)
        for s, b in zip(self.model.buffers(), model.buffers()):
            s.copy_(b)

    def state_dict(self) -> dict:
        return self.model.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state, strict=True)
