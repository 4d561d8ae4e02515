"""Interactive search over a trained run: one reference image and one text in, the top K of a gallery out.

The simulated user (``valstudy.simulate``) and the search widget (``valstudy.widget``) both query a trained model turn
by turn, each turn's reference being a gallery image the previous turn returned. ``SearchEngine`` holds what that
needs: the model, the gallery of one evaluation split with its features computed once, and (on synthetic data) every
image's attributes. Ranking is the evaluation's (``valstudy.retrieval.topk``: squared L2, the reference excluded).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader

from .data.base import EvalSplit
from .data.images import load_image
from .data.torchdata import ImageDataset
from .errors import ValstudyError
from .evaluation import load_run
from .io import read_json
from .retrieval import topk
from .text import pad_tokens
from .data.transforms import make_transform

__all__ = ["SearchEngine"]


class SearchEngine:
    """A trained run ready to answer (reference image, text) queries over one evaluation split's gallery.

    Parameters
    ----------
    model, dataset, vocab, cfg
        As returned by ``valstudy.evaluation.load_run``.
    split : EvalSplit
        Its gallery is searched; its queries are the sessions a simulated user or a human can start from.
    batch_size : int
        Images per forward pass when encoding the gallery.
    """

    def __init__(self, model, dataset, vocab, cfg, split: EvalSplit, batch_size: int = 64):
        self.model, self.dataset, self.vocab, self.cfg, self.split = model.eval(), dataset, vocab, cfg, split
        self.device = next(model.parameters()).device
        self.transform = make_transform(cfg.data, train=False)
        self.gallery = list(split.gallery)
        self.index = {k: i for i, k in enumerate(self.gallery)}
        with torch.no_grad():
            feats = [torch.cat(model.encode_target(imgs.to(self.device)), dim=1)  # (b, D)
                     for imgs in DataLoader(ImageDataset(dataset, self.gallery, self.transform),
                                            batch_size=batch_size)]
        self.gallery_feats = torch.cat(feats) if feats else torch.zeros(0, 1)  # (N, D)
        extras = Path(cfg.data.root) / "extras" / "attributes.json"
        self.attributes: dict | None = read_json(extras) if extras.is_file() else None

    @classmethod
    def from_run(cls, run_dir: str | Path, protocol: str | None = None, category: str | None = None,
                 device: str = "auto", weights: str = "ema", config=None) -> "SearchEngine":
        """Load a finished run and encode the gallery of its ``protocol`` (default: the dataset's first) split
        for ``category`` (default: the first). ``config``: the run's configuration when already resolved
        (committed weights)."""
        model, dataset, vocab, cfg = load_run(run_dir, weights, device, config=config)
        return cls(model, dataset, vocab, cfg, pick_split(dataset, protocol, category))

    @property
    def has_attention(self) -> bool:
        """Whether the model returns attention maps (VAL does; the baselines do not)."""
        return hasattr(self.model, "transformers")

    def image(self, key: str) -> np.ndarray:
        """The RGB image (H, W, 3) uint8 of a gallery or query key, as stored."""
        return np.asarray(load_image(self.dataset.image_path(key)))

    @torch.no_grad()
    def encode(self, references: Sequence[str], texts: Sequence[str], attention: bool = False):
        """Composite features (B, D) of the queries; with ``attention`` also the per-level maps (VAL only)."""
        images = torch.stack([self.transform(load_image(self.dataset.image_path(k))) for k in references])
        tokens = pad_tokens([self.vocab.encode(t, self.cfg.data.test_min_count) for t in texts])
        out = self.model.encode_query(images.to(self.device), tokens.to(self.device),
                                      return_attention=attention)
        if attention:
            feats, attns = out
            return torch.cat(feats, dim=1), attns  # (B, D), per level dicts
        return torch.cat(out, dim=1)  # (B, D)

    def search(self, references: Sequence[str], texts: Sequence[str], k: int = 10, batch_size: int = 64
               ) -> torch.Tensor:
        """Gallery indices (B, k') of the top ``k`` for each (reference, text), best first; each query's reference
        is excluded when it is in the gallery."""
        if len(references) != len(texts):
            raise ValstudyError(f"search: {len(references)} references for {len(texts)} texts")
        out = []
        for s in range(0, len(references), batch_size):
            refs, txts = references[s:s + batch_size], texts[s:s + batch_size]
            q = self.encode(refs, txts)  # (b, D)
            exclude = torch.tensor([self.index.get(r, -1) for r in refs], dtype=torch.long)
            _, ranked = topk(q, self.gallery_feats, k, exclude=exclude, device=self.device)
            out.append(ranked.cpu())
        return torch.cat(out) if out else torch.zeros(0, k, dtype=torch.long)

    def query(self, reference: str, text: str, k: int = 10) -> tuple[list[int], dict[str, dict[str, np.ndarray]]]:
        """One query in one forward pass: (gallery indices of the top ``k``, the attention maps of ``attention``)."""
        if not self.has_attention:
            return self.search([reference], [text], k)[0].tolist(), {}
        q, attns = self.encode([reference], [text], attention=True)  # (1, D), per level
        exclude = torch.tensor([self.index.get(reference, -1)], dtype=torch.long)
        _, ranked = topk(q, self.gallery_feats, k, exclude=exclude, device=self.device)
        return ranked[0].cpu().tolist(), self._maps(attns)

    def attention(self, reference: str, text: str) -> dict[str, dict[str, np.ndarray]]:
        """Per level, the joint-attention spatial map (h, w) and the self-attention each position receives (h, w)
        of one query; empty for a model without attention."""
        if not self.has_attention:
            return {}
        return self._maps(self.encode([reference], [text], attention=True)[1])

    def _maps(self, attns) -> dict[str, dict[str, np.ndarray]]:
        out: dict[str, dict[str, np.ndarray]] = {}
        for lv, a in zip(self.model.levels, attns):
            if "spatial" in a:
                out.setdefault("spatial", {})[lv] = a["spatial"][0, 0].cpu().numpy()  # (h, w)
            if "self" in a:
                s = a["self"][0].mean(dim=(0, 1))  # (heads, hw, hw) -> (hw,)
                side = int(round(s.numel() ** 0.5))
                h, w = a["spatial"].shape[-2:] if "spatial" in a else (side, side)
                out.setdefault("self", {})[lv] = s.view(h, w).cpu().numpy()
        return out


def pick_split(dataset, protocol: str | None = None, category: str | None = None) -> EvalSplit:
    """The evaluation split of ``protocol`` (default: the dataset's first) and ``category`` (default: the first)."""
    protocol = protocol or dataset.protocols[0]
    if protocol not in dataset.protocols:
        raise ValstudyError(f"protocol {protocol!r} unknown for {dataset.name}; choose from "
                            f"{', '.join(dataset.protocols)}")
    splits = dataset.eval_splits(protocol)
    if category:
        splits = [s for s in splits if s.category == category]
        if not splits:
            raise ValstudyError(f"{dataset.name}: no {protocol} split for category {category!r}")
    return splits[0]
