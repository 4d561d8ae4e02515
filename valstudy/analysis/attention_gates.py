"""VAL's attention of many queries at once, reduced per batch to what the measures need, and the stream weights.

:func:`collect_gates` encodes queries with ``VAL.encode_query(..., return_attention=True)`` and keeps, per level,
the JA spatial gate (h, w) and channel gate (c,), and from the self-attention weights (heads, hw, hw) only three
(h, w) maps: the attention each position receives (all rows), and where the rows inside / outside the query's
changed region look. The full weights are never kept (a 16 x 16 level's are 256 x 256 per head and query).
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..checkpoint import load_checkpoint
from ..errors import ValstudyError
from .attention_measures import derangement, map_distance, pool_masks


@torch.no_grad()
def collect_gates(model, dataset, queries, vocab, cfg, masks: Sequence[np.ndarray | None] | None = None,
                  batch_size: int = 64) -> dict[str, dict[str, np.ndarray]]:
    """Per level the model has: ``spatial`` (N, h, w) and ``channel`` (N, c) gates in [0, 1] (where the JA stream
    exists) and ``sa_received``, ``sa_from_region``, ``sa_from_outside`` (N, h, w) (where the SA stream exists).

    ``sa_received`` is the attention each position receives, averaged over heads and attending rows (each map sums
    to 1). ``sa_from_region`` / ``sa_from_outside`` average only the rows inside / outside the query's changed
    region (each row weighted by its cell's share inside / outside ``masks[i]``, pooled to the level's grid; NaN
    rows where the query has no mask).
    """
    from ..features import query_loader

    dev = next(model.parameters()).device
    model.eval()
    out: dict[str, dict[str, list]] = {lv: {} for lv in model.levels}
    start = 0
    for imgs, texts in query_loader(dataset, queries, vocab, cfg, batch_size):
        _, attns = model.encode_query(imgs.to(dev), texts.to(dev), return_attention=True)
        b = imgs.shape[0]
        for lv, a in zip(model.levels, attns):
            keep = out[lv]
            if "spatial" in a:
                keep.setdefault("spatial", []).append(a["spatial"][:, 0].cpu().numpy())  # (B, h, w)
                keep.setdefault("channel", []).append(a["channel"].cpu().numpy())  # (B, c)
            if "self" in a:
                attn = a["self"].mean(dim=1).double().cpu()  # (B, hw, hw): rows attend, columns are attended
                n = attn.shape[-1]
                h = a["spatial"].shape[-2] if "spatial" in a else int(round(n ** 0.5))
                w = n // h
                keep.setdefault("sa_received", []).append(attn.mean(dim=1).view(b, h, w).numpy())
                inside = _cells(masks, start, b, (h, w)).reshape(b, n)  # (B, hw), NaN rows without a mask
                for name, weight in (("sa_from_region", inside), ("sa_from_outside", 1.0 - inside)):
                    wt = torch.as_tensor(weight)
                    looked = torch.einsum("bpq,bp->bq", attn, wt) / wt.sum(1, keepdim=True)  # (B, hw)
                    keep.setdefault(name, []).append(looked.view(b, h, w).numpy())
        start += b
    return {lv: {k: np.concatenate(v) for k, v in d.items()} for lv, d in out.items()}


def _cells(masks, start: int, b: int, size: tuple[int, int]) -> np.ndarray:
    """The pooled masks (b, h, w) of queries start .. start + b; NaN where a query has no mask."""
    out = np.full((b, *size), np.nan)
    for i in range(b):
        m = masks[start + i] if masks is not None else None
        if m is not None:
            out[i] = pool_masks(m[None], size)[0]
    return out


def swapped_sensitivity(model, dataset, queries, vocab, cfg, gates: dict, swaps: int = 2, seed: int = 0) -> dict:
    """How far each level's gates move when the caption changes (text sensitivity) against when the image does
    (image sensitivity).

    Each query i is paired with ``swaps`` other queries j (fixed-seed derangements): its reference image with j's
    caption, and j's reference image with its caption. Pairs where the two captions or the two images are the same
    are left out. ``gates``: :func:`collect_gates` of ``queries`` (the unmodified queries' gates).

    Returns per level: ``text_sensitivity`` / ``image_sensitivity`` (mean absolute difference of the spatial gate,
    on its [0, 1] scale), ``*_corr`` (1 - correlation), ``*_channel`` (mean absolute difference of the channel
    gate), ``sensitivity_pairs``.
    """
    own, by_text, by_image = [], [], []
    for s in range(swaps):
        perm = derangement(len(queries), seed + s) if len(queries) >= 2 else []
        for i, j in enumerate(perm):
            qi, qj = queries[i], queries[j]
            if qi.text != qj.text and qi.reference != qj.reference:
                own.append(i)
                by_text.append(replace(qi, text=qj.text))
                by_image.append(replace(qi, reference=qj.reference))
    out = {}
    moved = {"text": collect_gates(model, dataset, by_text, vocab, cfg) if own else None,
             "image": collect_gates(model, dataset, by_image, vocab, cfg) if own else None}
    for lv in model.levels:
        row = {"sensitivity_pairs": len(own)}
        for what in ("text", "image"):
            for gate, suffix in (("spatial", ""), ("channel", "_channel")):
                if gate not in gates[lv] or not own:
                    row[f"{what}_sensitivity{suffix}"] = None
                    if gate == "spatial":
                        row[f"{what}_sensitivity_corr"] = None
                    continue
                d = map_distance(gates[lv][gate][own], moved[what][lv][gate])
                row[f"{what}_sensitivity{suffix}"] = d["mad"]
                if gate == "spatial":
                    row[f"{what}_sensitivity_corr"] = d["one_minus_corr"]
        out[lv] = row
    return out


def snapshots(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every kept snapshot (``ckpt_<step>.pt``, EMA weights) before the final step, then
    ``final.pt``."""
    run_dir = Path(run_dir)
    if not (run_dir / "final.pt").is_file():
        raise ValstudyError(f"{run_dir / 'final.pt'}: missing; a finished run's folder holds final.pt "
                            f"(train the run to its end)")
    final = int(load_checkpoint(run_dir / "final.pt", map_location="cpu")["step"])
    kept = sorted((int(p.stem.split("_")[1]), p) for p in run_dir.glob("ckpt_*.pt") if p.stem.split("_")[1].isdigit())
    return [(s, p) for s, p in kept if s < final] + [(final, run_dir / "final.pt")]


def stream_weights(run_dir: str | Path, levels: Sequence[str]) -> dict[str, dict[str, list]]:
    """Per level: ``step`` and the learned ``w_ja``, ``w_sa`` (EMA weights; None where the stream is absent) at
    every kept snapshot and at the end."""
    out = {lv: {"step": [], "w_ja": [], "w_sa": []} for lv in levels}
    for step, path in snapshots(run_dir):
        state = load_checkpoint(path, map_location="cpu")["ema"]
        for lv in levels:
            out[lv]["step"].append(step)
            for w in ("w_ja", "w_sa"):
                value = state.get(f"transformers.{lv}.{w}")
                out[lv][w].append(None if value is None else float(value))
    return out
