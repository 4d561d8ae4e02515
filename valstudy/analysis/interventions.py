"""Interventions at test time: replace a part of VAL's attention and measure what retrieval loses.

Each intervention is a context manager that overrides one method of one composite transformer's stream *on that
instance* and restores it on exit, so the model's code and weights are untouched:

- :func:`mean_spatial_gate`: the JA spatial gate sigmoid(F_sp(.)) of one level replaced by a fixed map (the
  query-averaged gate): every query then gets the same spatial gate, and only its per-query part is removed.
- :func:`mean_channel_gate`: the JA channel gate likewise, by a fixed vector.
- :func:`zero_self_attention`: the SA stream's output A_sa replaced by zeros, so the level outputs w_ja * A_ja alone.

:class:`RecallProbe` gives R@10 of a protocol (the mean over its splits: FashionIQ's categories) with the gallery
features computed once; unmodified it is the run's results.json number exactly (the same loaders, batch size,
features and ranking as ``valstudy.evaluation.evaluate_model``). :func:`recall_under` applies an intervention.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import numpy as np
import torch

from ..evaluation import KS
from ..features import gallery_loader, query_loader
from ..metrics import rank_split, recall_at_k

BATCH = 64  # valstudy.features.extract_features' batch size: the same batches give the same floats


def _logit(p: np.ndarray | torch.Tensor) -> torch.Tensor:
    """The pre-sigmoid value whose sigmoid is p (clipped to (1e-6, 1 - 1e-6))."""
    p = torch.as_tensor(np.asarray(p), dtype=torch.float32).clamp(1e-6, 1 - 1e-6)
    return torch.log(p) - torch.log1p(-p)


@contextlib.contextmanager
def _override(obj, name: str, replacement: Callable) -> Iterator[None]:
    """``obj.<name>`` replaced by ``replacement`` on this instance only, restored on exit (even on an error)."""
    had = name in vars(obj)
    old = vars(obj).get(name)
    setattr(obj, name, replacement)
    try:
        yield
    finally:
        if had:
            setattr(obj, name, old)
        else:
            delattr(obj, name)


def mean_spatial_gate(model, level: str, gate: np.ndarray):
    """Context: level ``level``'s JA spatial gate is ``gate`` (h, w) in [0, 1] for every query.

    ``JointAttentionStream.spatial_conv`` returns the logits the stream passes through its sigmoid, so the
    override returns logit(gate), broadcast over the batch.
    """
    ja = model.transformers[level].ja
    logits = _logit(gate)[None, None]  # (1, 1, h, w)

    def spatial_conv(m: torch.Tensor) -> torch.Tensor:  # m: (B, 1, h, w)
        return logits.to(m.device, m.dtype).expand(m.shape[0], 1, *logits.shape[2:])

    return _override(ja, "spatial_conv", spatial_conv)


def mean_channel_gate(model, level: str, gate: np.ndarray):
    """Context: level ``level``'s JA channel gate is ``gate`` (c,) in [0, 1] for every query."""
    ja = model.transformers[level].ja
    logits = _logit(gate).reshape(1, -1, 1, 1)  # (1, c, 1, 1)

    def channel_conv(pooled: torch.Tensor) -> torch.Tensor:  # pooled: (B, c, 1, 1)
        return logits.to(pooled.device, pooled.dtype).expand(pooled.shape[0], -1, 1, 1)

    return _override(ja, "channel_conv", channel_conv)


def zero_self_attention(model, level: str):
    """Context: level ``level``'s SA stream outputs zeros (its attention weights are still returned when asked)."""
    sa = model.transformers[level].sa
    forward = sa.forward  # the bound method, called for the weights

    def zeroed(v: torch.Tensor, return_attention: bool = False):
        if return_attention:
            a_sa, attn = forward(v, return_attention=True)
            return torch.zeros_like(a_sa), attn
        return torch.zeros_like(v)  # A_sa has V's shape (B, c, h, w)

    return _override(sa, "forward", zeroed)


class RecallProbe:
    """R@10 of one protocol under interventions, computing only what an intervention can change.

    On construction it ranks every split once with the model as it is (:attr:`baseline`: R@10 as results.json
    has it) and keeps, per query batch, what the forward-hook observers saw: the backbone's maps, the text feature
    and each level's composite-transformer output. :meth:`r10` then recomputes only the ``levels`` it is given
    (from the kept backbone maps and text feature) and reuses every other level's kept output: an intervention on
    one level changes that level alone. The gallery's features never change. When the kept tensors would pass
    ``max_cache_bytes`` (real data at full size) nothing is kept and every call runs the whole model.

    Parameters
    ----------
    model, dataset, vocab, cfg
        As :func:`valstudy.evaluation.load_run` returns them.
    protocol : str
        The protocol whose splits are ranked; R@10 is the mean over its splits (FashionIQ's categories).
    device : torch.device, optional
        Default: the model's.
    """

    def __init__(self, model, dataset, vocab, cfg, protocol: str, device: torch.device | None = None,
                 max_cache_bytes: int = 1 << 30):
        self.model, self.dataset, self.vocab, self.cfg = model, dataset, vocab, cfg
        self.device = device or next(model.parameters()).device
        self.splits = dataset.eval_splits(protocol)
        self.depth = max(KS[dataset.name])
        self.max_cache_bytes = max_cache_bytes
        model.eval()
        with torch.no_grad():
            self.gallery = [torch.cat([torch.cat(model.encode_target(imgs.to(self.device)), dim=1)  # (b, D)
                                       for imgs in gallery_loader(dataset, s.gallery, cfg, BATCH, self.device)])
                            for s in self.splits]
        self.cache: list[list[dict]] | None = None
        self.baseline = self._record()

    def _rank(self, features: list[torch.Tensor]) -> float:
        """R@10 of the protocol from each split's query features (Q, D)."""
        values = []
        for split, qf, gf in zip(self.splits, features, self.gallery):
            _, ranks = rank_split(qf, gf, split, self.depth, device=self.device)
            values.append(recall_at_k(ranks, (10,))["R@10"])
        return sum(values) / len(values)  # evaluation.summarize's mean over the protocol's splits

    def _batches(self, split):
        return query_loader(self.dataset, split.queries, self.vocab, self.cfg, BATCH, self.device)

    @torch.no_grad()
    def _record(self) -> float:
        """The unmodified pass, keeping each batch's backbone maps, text feature and transformer outputs."""
        model, kept, size = self.model, [], 0
        seen: dict = {}
        hooks = [model.backbone.register_forward_hook(lambda m, i, o: seen.__setitem__("maps", o)),
                 model.text_encoder.register_forward_hook(lambda m, i, o: seen.__setitem__("text", o))]
        for lv in model.levels:
            hooks.append(model.transformers[lv].register_forward_hook(
                lambda m, i, o, lv=lv: seen.setdefault("out", {}).__setitem__(lv, o)))
        features = []
        try:
            for split in self.splits:
                feats, batches = [], []
                for imgs, texts in self._batches(split):
                    seen.clear()
                    feats.append(torch.cat(model.encode_query(imgs.to(self.device), texts.to(self.device)), dim=1))
                    entry = {"maps": seen["maps"], "text": seen["text"], "out": dict(seen["out"]), "n": len(imgs)}
                    size += sum(t.numel() * t.element_size() for t in [*entry["maps"], entry["text"],
                                                                        *entry["out"].values()])
                    batches.append(entry)
                features.append(torch.cat(feats))  # (Q, D)
                kept.append(batches)
        finally:
            for h in hooks:
                h.remove()
        self.cache = kept if size <= self.max_cache_bytes else None
        return self._rank(features)

    @torch.no_grad()
    def r10(self, levels=None) -> float:
        """R@10 (percent) of the model as it is now (inside an intervention's context: under it).

        ``levels``: the levels an intervention changes (their transformers are run again); None: every level.
        Without a cache the whole model runs on every query.
        """
        model = self.model
        if self.cache is None:
            return self._rank([torch.cat([torch.cat(model.encode_query(imgs.to(self.device), texts.to(self.device)),
                                                    dim=1) for imgs, texts in self._batches(s)])
                               for s in self.splits])
        levels = list(model.levels) if levels is None else list(levels)
        features = []
        for batches in self.cache:
            feats = []
            for entry in batches:
                with contextlib.ExitStack() as stack:  # the kept inputs, and the kept outputs of unchanged levels
                    stack.enter_context(_override(model.backbone, "forward", lambda *a, e=entry: e["maps"]))
                    stack.enter_context(_override(model.text_encoder, "forward", lambda *a, e=entry: e["text"]))
                    for lv in model.levels:
                        if lv not in levels:
                            stack.enter_context(_override(model.transformers[lv], "forward",
                                                          lambda *a, e=entry, lv=lv, **k: e["out"][lv]))
                    feats.append(torch.cat(model.encode_query(None, None), dim=1))  # (b, D)
            features.append(torch.cat(feats))
        return self._rank(features)


def recall_under(probe: RecallProbe, intervention=None, levels=None) -> float:
    """R@10 of ``probe``'s model under ``intervention`` (a context manager; None: unmodified), recomputing the
    ``levels`` it changes (None: every level)."""
    with intervention if intervention is not None else contextlib.nullcontext():
        return probe.r10(levels)
