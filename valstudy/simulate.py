"""A simulated user for multi-turn search on synthetic data (the paper's Future Work: "interactive image retrieval
performance in practical use").

Each session starts from a test query's reference image and aims at its target. At every turn the user, who knows
the target's attributes (``<root>/extras/attributes.json``), looks at the current image (the reference at turn 1,
then the top result of the previous turn), picks one attribute where it differs from the target at random and writes
a relative caption about it with the world's templates (``valstudy.data.synth.captions.relative_caption``: absolute,
relative and, with probability ``p_vague``, vague phrasings; Fashion200k gets TIRG's "replace X with Y"). The model
ranks the gallery for (current image, caption); the session succeeds at that turn when one of the top ``k`` has all of
the target's attributes (the target or a copy the user cannot tell from it), otherwise the top result becomes the
next reference. ``success[T - 1]`` is the percentage of sessions that succeeded at a turn <= T: non-decreasing in T by
construction.

    python -m valstudy simulate --run DIR --turns 5 [--k 1] [--seed 0] [--json]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import check_seed
from .data.synth.captions import describe, relative_caption, replace_text
from .data.synth.world import CATEGORY_ATTRIBUTES
from .errors import ValstudyError
from .evaluation import load_run
from .io import write_json
from .search import SearchEngine

__all__ = ["user_caption", "simulate", "simulate_run"]


def user_caption(rng: np.random.Generator, current: dict, target: dict, dataset: str = "shoes",
                 p_vague: float = 0.2) -> tuple[str, str] | None:
    """(caption, attribute) the user writes about one attribute where ``current`` differs from ``target``;
    None when they agree on every attribute."""
    names = [a for a in CATEGORY_ATTRIBUTES.get(current["category"], ()) if a in target and current[a] != target[a]]
    if not names:
        if current["category"] != target["category"]:
            return f"replace {current['category']} with {target['category']}", "category"
        return None
    a = names[int(rng.integers(len(names)))]
    if dataset == "fashion200k":
        return replace_text(describe(current), describe({**current, a: target[a]})), a
    return relative_caption(rng, current, target, [a], p_vague=p_vague), a


def simulate(engine: SearchEngine, turns: int = 5, k: int = 1, seed: int = 0, p_vague: float = 0.2,
             max_sessions: int | None = None) -> dict:
    """Run one session per distinct (reference, target) of the engine's split; see the module docstring.

    ``max_sessions`` keeps that many sessions, a sample drawn with the user's ``seed`` (the same for every run).

    Returns
    -------
    dict with ``sessions``, ``turns``, ``k``, ``seed``, ``p_vague``, ``success`` (T = 1..turns, percent,
    non-decreasing) and ``succeeded_at`` (per session the turn of success, 0 = never).
    """
    if engine.attributes is None:
        raise ValstudyError(f"{engine.cfg.data.root}/extras/attributes.json: not found; the simulated user needs "
                            f"the synthetic world's attributes (generate data with 'valstudy data synth')")
    if turns < 1 or k < 1:
        raise ValstudyError(f"simulate: turns and k must be >= 1, got turns={turns}, k={k}")
    check_seed(seed)
    attrs = engine.attributes
    for key in engine.gallery:
        if key not in attrs:
            raise ValstudyError(f"attributes.json: no attributes for gallery image {key!r}")
    rng = np.random.default_rng(seed)
    sessions = list(dict.fromkeys((q.reference, q.target) for q in engine.split.queries))
    if max_sessions is not None and len(sessions) > max_sessions:
        keep = np.random.default_rng([seed, 1]).choice(len(sessions), size=max_sessions, replace=False)
        sessions = [sessions[int(i)] for i in sorted(keep)]
    current = [ref for ref, _ in sessions]
    succeeded_at = [0] * len(sessions)
    for turn in range(1, turns + 1):
        active, texts = [], []
        for i, (_, target) in enumerate(sessions):
            if succeeded_at[i]:
                continue
            said = user_caption(rng, attrs[current[i]], attrs[target], engine.dataset.name, p_vague)
            if said is None:  # the current image already has every target attribute (cannot happen after turn 1)
                succeeded_at[i] = turn
                continue
            active.append(i)
            texts.append(said[0])
        if not active:
            break
        ranked = engine.search([current[i] for i in active], texts, k=k).tolist()
        for i, row in zip(active, ranked):
            target = attrs[sessions[i][1]]
            if any(attrs[engine.gallery[j]] == target for j in row):
                succeeded_at[i] = turn
            else:
                current[i] = engine.gallery[row[0]]
    n = len(sessions)
    success = [100.0 * sum(1 for t in succeeded_at if 1 <= t <= T) / n if n else 0.0 for T in range(1, turns + 1)]
    return {"sessions": n, "turns": turns, "k": k, "seed": seed, "p_vague": p_vague, "success": success,
            "succeeded_at": succeeded_at}


def simulate_run(run_dir: str | Path, turns: int = 5, k: int = 1, seed: int = 0, protocol: str | None = None,
                 p_vague: float = 0.2, device: str = "auto", write: bool = True,
                 max_sessions: int | None = None) -> dict:
    """Simulate sessions on every split of ``protocol`` (default: the dataset's first) of a finished run.

    With several splits (FashionIQ's categories) ``success`` is over all their sessions together and ``splits``
    holds each one's. ``max_sessions`` samples that many sessions per split (:func:`simulate`). Writes
    ``<run>/simulation.json`` when ``write``.
    """
    model, dataset, vocab, cfg = load_run(run_dir, "ema", device)
    protocol = protocol or dataset.protocols[0]
    if protocol not in dataset.protocols:
        raise ValstudyError(f"protocol {protocol!r} unknown for {dataset.name}; choose from "
                            f"{', '.join(dataset.protocols)}")
    parts = []
    for split in dataset.eval_splits(protocol):
        res = simulate(SearchEngine(model, dataset, vocab, cfg, split), turns, k, seed, p_vague, max_sessions)
        parts.append({"name": split.name, "category": split.category, **res})
    n = sum(p["sessions"] for p in parts)
    success = [sum(p["success"][t] * p["sessions"] for p in parts) / n if n else 0.0 for t in range(turns)]
    result = {"run": cfg.name, "dataset": cfg.data.dataset, "method": cfg.model.method,
              "seed": cfg.seed, "protocol": protocol, "sessions": n, "turns": turns, "k": k, "user_seed": seed,
              "p_vague": p_vague, "success": success,
              "splits": [{k2: v for k2, v in p.items() if k2 != "succeeded_at"} for p in parts]}
    if write:
        write_json(Path(run_dir) / "simulation.json", result, indent=1)
    return result
