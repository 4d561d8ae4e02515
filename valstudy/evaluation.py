"""Evaluation under each paper protocol (VAL.md section 4), from a run folder's EMA weights.

Features: the composite feature of a query is the concatenation of its per-level pooled, L2-normalised composite
outputs; a gallery image's test feature is the concatenation of its per-level pooled, L2-normalised backbone features
(seed, "Testing"). Ranking by squared L2 distance with each query's reference image excluded (``valstudy.retrieval``);
scoring in ``valstudy.metrics``. Results land in ``<run>/results.json``, written atomically.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch.utils.data import DataLoader

from .data import load_dataset
from .data.base import EvalSplit
from .data.torchdata import ImageDataset, QueryDataset, collate_queries
from .errors import ValstudyError
from .io import read_json, write_json
from .metrics import evaluate_split
from .models import build_model
from .text import Vocabulary
from .training.checkpoint import load_checkpoint
from .config import TrainConfig, config_from_dict
from .training.loop import pick_device
from .training.sides import make_transform

# Bump when evaluation changes what a run's results.json holds (protocols, features, scoring): the study then
# re-evaluates finished runs (their weights are unchanged) instead of reusing their results.
EVALUATION_VERSION = 1
KS = {"fashion200k": (1, 10, 50), "shoes": (1, 10, 50), "fashioniq": (10, 50)}


@torch.no_grad()
def extract_features(model, dataset, split: EvalSplit, vocab: Vocabulary, cfg: TrainConfig,
                     device: torch.device, batch_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """(composite features (Q, D), test image features (N, D)) of one evaluation split."""
    model.eval()
    transform = make_transform(cfg.data, train=False)
    kw = {"batch_size": batch_size, "num_workers": cfg.num_workers, "pin_memory": device.type == "cuda"}
    gallery = [torch.cat(model.encode_target(imgs.to(device)), dim=1)  # (b, sum_l c_l)
               for imgs in DataLoader(ImageDataset(dataset, split.gallery, transform), **kw)]
    queries = [torch.cat(model.encode_query(imgs.to(device), texts.to(device)), dim=1)  # (b, sum_l c_l)
               for imgs, texts in DataLoader(QueryDataset(dataset, split.queries, vocab, transform,
                                                          min_count=cfg.data.test_min_count),
                                             collate_fn=collate_queries, **kw)]
    return torch.cat(queries), torch.cat(gallery)


def evaluate_model(model, dataset, vocab: Vocabulary, cfg: TrainConfig, device: torch.device | None = None,
                   protocols: Sequence[str] | None = None) -> list[dict]:
    """One result row per evaluation split (protocol x category), with R@K, counts, drops and first-hit ranks."""
    device = device or next(model.parameters()).device
    protocols = list(protocols or cfg.data.protocols or dataset.protocols)
    rows = []
    for protocol in protocols:
        if protocol not in dataset.protocols:
            raise ValstudyError(f"protocol {protocol!r} unknown for {dataset.name}; choose from "
                                f"{', '.join(dataset.protocols)}")
        for split in dataset.eval_splits(protocol):
            qf, gf = extract_features(model, dataset, split, vocab, cfg, device)
            rows.append(evaluate_split(qf, gf, split, ks=KS[dataset.name], device=device))
    return rows


def summarize(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per protocol, the mean of each R@K over categories (FashionIQ's 'average' column) and their overall mean."""
    out: dict[str, dict[str, float]] = {}
    for protocol in sorted({r["protocol"] for r in rows}):
        sel = [r for r in rows if r["protocol"] == protocol]
        keys = [k for k in sel[0] if k.startswith("R@")]
        means = {k: sum(r[k] for r in sel) / len(sel) for k in keys}
        means["mean"] = sum(means.values()) / len(keys)
        out[protocol] = means
    return out


def load_run(run_dir: str | Path, weights: str = "ema", device: str = "auto"):
    """(model in eval mode, dataset, vocabulary, config) of a finished run, for evaluation and notebooks."""
    run_dir = Path(run_dir)
    cfg = config_from_dict(read_json(run_dir / "config.json", "run configuration",
                                     "pass the folder given to 'valstudy train --run-dir'"))
    vocab = Vocabulary.from_state_dict(read_json(run_dir / "vocab.json", "run vocabulary", "re-run training"))
    dev = pick_device(device if device != "auto" else cfg.device if cfg.device != "auto" else "auto")
    model = build_model(cfg.model, len(vocab))
    state = load_checkpoint(run_dir / "final.pt", map_location="cpu")
    model.load_state_dict(state["ema" if weights == "ema" else "model"], strict=True)
    dataset = load_dataset(cfg.data.dataset, cfg.data.root, check_images=cfg.data.check_images)
    return model.to(dev).eval(), dataset, vocab, cfg


def eval_run(run_dir: str | Path, protocols: Sequence[str] | None = None, weights: str = "ema",
             device: str = "auto") -> dict:
    """Evaluate a finished run and write ``results.json``; returns what it wrote."""
    run_dir = Path(run_dir)
    model, dataset, vocab, cfg = load_run(run_dir, weights, device)
    rows = evaluate_model(model, dataset, vocab, cfg, next(model.parameters()).device, protocols)
    meta = read_json(run_dir / "meta.json") if (run_dir / "meta.json").is_file() else {}
    result = {
        "run": cfg.name, "run_dir": str(run_dir), "dataset": cfg.data.dataset, "method": cfg.model.method,
        "seed": cfg.seed, "weights": weights, "git_sha": meta.get("git_sha", "unknown"),
        "evaluation_version": EVALUATION_VERSION, "splits": rows, "summary": summarize(rows),
    }
    write_json(run_dir / "results.json", result, indent=1)
    return result
