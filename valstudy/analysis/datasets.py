"""Dataset anatomy for the datasets notebook: counts, examples, text lengths, frequent words."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from ..errors import ValstudyError
from ..text import tokenize
from .common import PAPER_COUNTS, PAPER_LABEL, STOPWORDS


def dataset_counts(dataset, label: str = "this copy") -> pd.DataFrame:
    """The loader's counts (column ``label``) beside the paper's counts of the real dataset (NaN where it gives
    none)."""
    counts = dataset.report.counts
    paper = PAPER_COUNTS[dataset.name]
    rows = [{"count": k, label: v, PAPER_LABEL: paper.get(k, np.nan)} for k, v in counts.items()]
    rows += [{"count": k, label: np.nan, PAPER_LABEL: v} for k, v in paper.items() if k not in counts]
    return pd.DataFrame(rows).set_index("count")


def describe(dataset, key: str) -> str:
    """The image's own description where the dataset has one (Fashion200k product text, Shoes tagged caption)."""
    return dataset.description(key)


def anatomy_examples(dataset, n: int = 4, seed: int = 0) -> list[dict]:
    """``n`` training triplets (reference, text, target, descriptions), preferring ones whose images are described."""
    from ..data.images import load_image

    triplets = dataset.train_triplets(epoch=0, seed=seed)
    if not triplets:
        raise ValstudyError(f"{dataset.root}: no training triplets to show")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(triplets))
    described = lambda t: bool(describe(dataset, t.reference)) + bool(describe(dataset, t.target))  # noqa: E731
    chosen, refs = [], set()
    for i in sorted(order[: 50 * n], key=lambda i: -described(triplets[i])):
        t = triplets[i]
        if t.reference not in refs:
            chosen.append(t)
            refs.add(t.reference)
        if len(chosen) == n:
            break
    return [{"reference": t.reference, "target": t.target, "text": t.text,
             "reference_description": describe(dataset, t.reference),
             "target_description": describe(dataset, t.target),
             "reference_image": load_image(dataset.image_path(t.reference)),
             "target_image": load_image(dataset.image_path(t.target))} for t in chosen]


def texts_by_split(dataset) -> dict[str, list[str]]:
    """User texts of the training triplets and of the test queries (every split of the first protocol)."""
    test = [q.text for s in dataset.eval_splits(dataset.protocols[0]) for q in s.queries]
    return {"train": [t.text for t in dataset.train_triplets(epoch=0, seed=0)], "test": test}


def caption_lengths(texts: dict[str, list[str]]) -> dict[str, list[int]]:
    """Words per text (``valstudy.text.tokenize``), per split."""
    return {k: [len(tokenize(t)) for t in v] for k, v in texts.items()}


def top_words(texts: list[str], n: int = 25, stopwords=STOPWORDS) -> list[tuple[str, int]]:
    """The ``n`` most frequent tokens (ties broken alphabetically), function words left out."""
    c = Counter(w for t in texts for w in tokenize(t) if w not in stopwords)
    return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def change_locality(data_dir, feature_sizes=(16, 8, 4)) -> dict:
    """What the synthetic world asks of spatial attention: how often a pair's change is local, and how large parts are.

    From the world's extras (``pairs.json``, ``parts.json``, ``regions.npz``; synthetic data only, None on real
    data). Returns ``pairs`` (training and test pairs), ``only_local`` / ``some_local`` (the share of pairs whose
    changed attributes all / partly live on a part smaller than the garment) and a table ``parts`` with, per part,
    the share of images showing it and its mean area where shown: as a share of the image, in pixels and in cells of
    each feature map (``feature_sizes``: the small backbone's 16 x 16, 8 x 8 and 4 x 4 at 64 px).
    """
    from .attention import ChangedRegions

    world = ChangedRegions.load(data_dir)
    if world is None:
        return None
    local = {a for a, part in world.attribute_part.items() if part != "foreground"}
    changes = [[a for a in changed if a != "category"] for changed in _unique_changes(world)]
    changes = [c for c in changes if c]
    maps = [world.regions[k] for k in world.regions.files]
    rows = []
    for i, part in enumerate(world.parts):
        if part == "background" or part not in world.attribute_part.values():
            continue
        areas = np.array([(m == i).mean() for m in maps])
        shown = areas[areas > 0]
        row = {"part": part, "images showing it": len(shown) / len(maps),
               "area share": float(shown.mean()) if len(shown) else 0.0,
               "pixels": float(shown.mean() * maps[0].size) if len(shown) else 0.0}
        for s in feature_sizes:
            row[f"cells of {s}x{s}"] = row["area share"] * s * s
        rows.append(row)
    return {"pairs": len(changes),
            "only_local": sum(all(a in local for a in c) for c in changes) / max(len(changes), 1),
            "some_local": sum(any(a in local for a in c) for c in changes) / max(len(changes), 1),
            "image_size": int(maps[0].shape[0]), "parts": pd.DataFrame(rows).set_index("part")}


def _unique_changes(world) -> list[list[str]]:
    """Each (reference, target) pair's changed attributes once (``ChangedRegions`` also keys them by text)."""
    return [v for k, v in world.pairs.items() if len(k) == 2]
