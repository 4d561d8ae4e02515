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
