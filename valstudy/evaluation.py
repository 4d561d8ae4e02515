"""Evaluation under each paper protocol (docs/protocols.md), from a run folder's EMA weights.

One path from a run to its ranks and recalls: :func:`load_run` (model, dataset, vocabulary, configuration) ->
``valstudy.features.extract_features`` -> ``valstudy.metrics.rank_split`` (squared L2 distance, each query's
reference image excluded) -> ``valstudy.metrics.recall_at_k``. :func:`rank_splits` walks it split by split for
evaluation and for the notebooks' retrieval examples alike. Results land in ``<run>/results.json``, written
atomically.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import torch

from .checkpoint import load_checkpoint
from .config import TrainConfig, load_config
from .data import load_dataset
from .data.base import EvalSplit
from .data.standin import NOTE, standin_info
from .device import pick_device
from .errors import MissingResourceError, ValstudyError
from .features import extract_features
from .io import read_json, write_json
from .locks import folder_lock
from .metrics import beyond_result, rank_split, split_result
from .models import build_model
from .reference_encoder import reference_features
from .text import Vocabulary
from .valid_targets import ValidTargets
from .versions import stamp, written_by

# Bump when evaluation changes what a run's results.json holds (protocols, features, scoring): the study then
# re-evaluates finished runs (their weights are unchanged) instead of reusing their results. What each version
# changed is in the commit log.
EVALUATION_VERSION = 3
KS = {"fashion200k": (1, 10, 50), "shoes": (1, 10, 50), "fashioniq": (10, 50)}


def protocols_of(dataset, cfg: TrainConfig, protocols: Sequence[str] | None = None) -> list[str]:
    """The protocols to evaluate: those asked for, else the configuration's, else every one the dataset offers."""
    protocols = list(protocols or cfg.data.protocols or dataset.protocols)
    for protocol in protocols:
        if protocol not in dataset.protocols:
            raise ValstudyError(f"protocol {protocol!r} unknown for {dataset.name}; choose from "
                                f"{', '.join(dataset.protocols)}")
    return protocols


@torch.no_grad()
def rank_splits(model, dataset, vocab: Vocabulary, cfg: TrainConfig, protocol: str, full: bool = False,
                device: torch.device | None = None, chunk: int | None = None
                ) -> Iterator[tuple[EvalSplit, torch.Tensor, torch.Tensor]]:
    """For each split of ``protocol``: (split, ranked gallery indices (Q, depth) best first, first-hit ranks (Q,)).

    The depth is the dataset's largest R@K, or the whole gallery with ``full`` (then ``chunk`` queries at a time
    bound the memory). ``device``: default the model's.
    """
    device = device or next(model.parameters()).device
    protocols_of(dataset, cfg, [protocol])
    for split in dataset.eval_splits(protocol):
        qf, gf = extract_features(model, dataset, split, vocab, cfg, device)
        depth = len(split.gallery) if full else max(KS[dataset.name])
        ranked, ranks = rank_split(qf, gf, split, depth, device=device, chunk=chunk)
        yield split, ranked, ranks


def evaluate_model(model, dataset, vocab: Vocabulary, cfg: TrainConfig, device: torch.device | None = None,
                   protocols: Sequence[str] | None = None) -> list[dict]:
    """One result row per evaluation split (protocol x category), with R@K, counts, drops and first-hit ranks.

    Every row also has ``refsim@K`` (``valstudy.reference_encoder``); on synthetic data (``<root>/extras``) it has
    ``valid@K``, ``precision@K``, ``by_style`` (R@K and valid@K per caption style) and ``validity`` (what the
    valid-target rule could not read), as ``docs/valid_targets.md`` defines them.
    """
    validity = ValidTargets.load(cfg.data.root)
    rows = []
    for protocol in protocols_of(dataset, cfg, protocols):
        for split, ranked, ranks in rank_splits(model, dataset, vocab, cfg, protocol, device=device):
            sv = validity.for_split(split) if validity is not None else None
            ref = reference_features(dataset, split.gallery, [q.target for q in split.queries])
            row = {**split_result(split, ranks, KS[dataset.name]),
                   **beyond_result(ranked, KS[dataset.name], sv.valid if sv else None, ref)}
            if sv is not None:
                row["validity"] = sv.report
                row["styles"] = sv.styles
                row["by_style"] = by_style(row, KS[dataset.name])
            rows.append(row)
    return rows


def by_style(row: dict, ks: Sequence[int]) -> dict[str, dict[str, float]]:
    """R@K and valid@K of one split's queries grouped by their caption's style (absolute, relative, vague)."""
    out = {}
    for style in dict.fromkeys(sorted(row["styles"])):
        idx = [i for i, s in enumerate(row["styles"]) if s == style]
        cell: dict[str, float] = {"queries": len(idx),
                                  "mean valid targets": sum(row["valid_counts"][i] for i in idx) / len(idx)}
        for k in ks:
            cell[f"R@{k}"] = 100.0 * sum(1 <= row["ranks"][i] <= k for i in idx) / len(idx)
            cell[f"valid@{k}"] = 100.0 * sum(1 <= row["valid_ranks"][i] <= k for i in idx) / len(idx)
        out[style] = cell
    return out


def summarize(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per protocol, the mean of each R@K over categories (FashionIQ's 'average' column) and their overall mean."""
    out: dict[str, dict[str, float]] = {}
    for protocol in sorted({r["protocol"] for r in rows}):
        sel = [r for r in rows if r["protocol"] == protocol]
        keys = [k for k in sel[0] if k.startswith("R@")]
        means = {k: sum(r[k] for r in sel) / len(sel) for k in keys}
        means["mean"] = sum(means.values()) / len(keys)
        # the metrics every split of the protocol has (a split whose gallery is shorter than k has no precision@k)
        extra = [k for k in sel[0] if k.startswith(("valid@", "precision@", "refsim@")) and all(k in r for r in sel)]
        means.update({k: sum(r[k] for r in sel) / len(sel) for k in extra})
        out[protocol] = means
    return out


def load_run(run_dir: str | Path, weights: str = "ema", device: str = "auto", config: TrainConfig | None = None):
    """(model in eval mode, dataset, vocabulary, config) of a finished run, for evaluation and notebooks.

    ``config``: the run's configuration when the caller has resolved it already (committed weights, whose saved
    configuration names the data root portably).
    """
    run_dir = Path(run_dir)
    cfg = config or load_config(run_dir / "config.json")
    vocab = Vocabulary.from_state_dict(read_json(run_dir / "vocab.json", "run vocabulary", "re-run training"))
    dev = pick_device(device if device != "auto" else cfg.device if cfg.device != "auto" else "auto")
    model = build_model(cfg.model, len(vocab))
    state = load_checkpoint(run_dir / "final.pt", map_location="cpu")
    model.load_state_dict(state["ema" if weights == "ema" else "model"], strict=True)
    dataset = load_dataset(cfg.data.dataset, cfg.data.root, check_images=cfg.data.check_images)
    return model.to(dev).eval(), dataset, vocab, cfg


RESULT_KEYS = ("run", "dataset", "method", "seed", "weights", "splits", "summary")
SPLIT_KEYS = ("protocol", "queries", "gallery")


def check_results(res, path: str | Path) -> dict:
    """``res`` (read from ``path``) as written by :func:`eval_run`; otherwise a one-line error naming what is
    missing and which version wrote it."""
    path = Path(path)
    if not isinstance(res, dict):
        raise ValstudyError(f"{path}: not a results object (a {type(res).__name__}); written by "
                            f"{written_by(path.parent)}")
    missing = [k for k in RESULT_KEYS if k not in res]
    splits = res.get("splits")
    if not missing and (not isinstance(splits, list) or not all(isinstance(r, dict) for r in splits)):
        missing = ["splits (a list of objects)"]
    if not missing:
        missing = sorted({f"splits[].{k}" for r in splits for k in SPLIT_KEYS if k not in r})
    if missing:
        raise ValstudyError(f"{path}: lacks {', '.join(missing)}; written by {written_by(path.parent, res)}; "
                            f"evaluate the run again (valstudy eval --run {path.parent})")
    return res


def _merge(path: Path, result: dict, protocols: list[str], every: tuple[str, ...]) -> dict:
    """``result`` with the splits of protocols it did not evaluate kept from the results.json at ``path``."""
    if not path.is_file() or set(every) <= set(protocols):
        return result        # nothing to keep: every protocol of the dataset was evaluated now
    old = check_results(read_json(path), path)
    if old["weights"] != result["weights"]:
        raise ValstudyError(f"{path}: holds {old['weights']}-weight results; evaluating {result['weights']} weights "
                            f"for {', '.join(protocols)} alone would mix the two; evaluate every protocol "
                            f"(omit --protocol) to replace the file")
    order = {p: i for i, p in enumerate(every)}
    kept = [r for r in old["splits"] if r["protocol"] not in protocols]
    rows = sorted(kept + result["splits"], key=lambda r: order.get(r["protocol"], len(order)))
    return {**result, "splits": rows, "summary": summarize(rows)}


def eval_run(run_dir: str | Path, protocols: Sequence[str] | None = None, weights: str = "ema",
             device: str = "auto") -> dict:
    """Evaluate a finished run and write ``results.json``; returns what it wrote.

    Evaluating some protocols updates theirs and keeps the other protocols' results already in the file. The run
    folder's lock is held throughout (a run still training, or another evaluation, is refused).
    """
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise MissingResourceError("run configuration", run_dir / "config.json",
                                   "pass the folder given to 'valstudy train --run-dir'")
    with folder_lock(run_dir, "run folder"):
        model, dataset, vocab, cfg = load_run(run_dir, weights, device)
        chosen = list(protocols or cfg.data.protocols or dataset.protocols)
        rows = evaluate_model(model, dataset, vocab, cfg, next(model.parameters()).device, chosen)
        meta = read_json(run_dir / "meta.json") if (run_dir / "meta.json").is_file() else {}
        result = {
            "run": cfg.name, "run_dir": str(run_dir), "dataset": cfg.data.dataset, "method": cfg.model.method,
            "seed": cfg.seed, "weights": weights, "git_sha": meta.get("git_sha", "unknown"), **stamp(),
            "evaluation_version": EVALUATION_VERSION, "splits": rows, "summary": summarize(rows),
        }
        if standin_info(dataset.root) is not None:  # numbers on stand-in images measure the route only
            result.update(stand_in_images=True, note=NOTE)
        result = _merge(run_dir / "results.json", result, chosen, tuple(dataset.protocols))
        write_json(run_dir / "results.json", result, indent=1)
    return result
