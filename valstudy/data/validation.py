"""A validation split, to choose step budgets without looking at the test split.

Synthetic data carry a validation split of their own (``extras/validation.json``, written by
``valstudy.data.synth.validation``): separate families whose images no annotation file lists. :class:`HeldOut` reads
it when it is there; training then keeps every training triplet, and a query counts as answered by any gallery image
whose attributes equal the target's (an image the world cannot tell from it). Otherwise (real data) the split is
carved out of the training set as follows.

The paper's training scripts evaluate fixed checkpoints on the test split; valstudy chooses how long to train from
validation curves instead. :class:`HeldOut` wraps any loader: a fixed share of the *training reference images* is held
out (chosen by a hash of the image key, so the choice is the same for every run, method and random seed); training
uses only the triplets whose reference is kept, and validation queries are the held-out references' triplets.

Validation protocol (target-only, like Shoes and FashionIQ's VAL protocol): gallery = every training image (and every
image a validation query names), so that R@K ranks among as many images as the test split does; the query's own
reference is excluded from its ranking; the annotated target is the one correct image. A held-out reference may still appear as the *target* of a training triplet: what is held out is the
composition (reference, text), which is what a converged model must generalise to.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .base import EvalSplit, Query, Triplet

VALIDATION_SEED = 0  # the same held-out images for every run, whatever its random seed


def held_out(key: str, fraction: float, salt: int = VALIDATION_SEED) -> bool:
    """Whether image ``key`` is held out: a hash of the key, uniform in [0, 1), below ``fraction``."""
    digest = hashlib.sha1(f"{salt}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64 < fraction


class HeldOut:
    """A dataset's training set split into training and validation.

    Parameters
    ----------
    dataset : a valstudy dataset loader (``train_triplets(epoch, seed)``, ``name``)
    fraction : float in (0, 1)
        Share of training reference images held out for validation.

    ``train_triplets(epoch, seed)`` is the dataset's, without the held-out references' triplets; ``eval_split()`` is
    the validation split (protocol ``"validation"``, built from epoch 0's triplets, each (reference, text, target)
    once). ``counts`` says how many triplets each side has.
    """

    def __init__(self, dataset, fraction: float):
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"validation fraction must lie in (0, 1), got {fraction}")
        self.dataset, self.fraction = dataset, fraction
        self.name = dataset.name
        self._held: dict[str, bool] = {}
        self._split: EvalSplit | None = None
        extras = Path(dataset.root) / "extras"
        self.own = extras / "validation.json" if (extras / "validation.json").is_file() else None

    def _is_held(self, key: str) -> bool:
        if self.own is not None:
            return False  # the world's own validation split: nothing is taken from training
        if key not in self._held:
            self._held[key] = held_out(key, self.fraction)
        return self._held[key]

    def train_triplets(self, epoch: int = 0, seed: int = 0) -> list[Triplet]:
        """The dataset's training triplets whose reference image is not held out."""
        return [t for t in self.dataset.train_triplets(epoch=epoch, seed=seed) if not self._is_held(t.reference)]

    def eval_split(self) -> EvalSplit:
        """The validation split (see the module docstring)."""
        if self._split is None and self.own is not None:
            self._split = _own_split(self.name, self.own)
        if self._split is None:
            seen, queries = set(), []
            for t in self.dataset.train_triplets(epoch=0, seed=VALIDATION_SEED):
                item = (t.reference, t.text, t.target)
                if self._is_held(t.reference) and t.reference != t.target and item not in seen:
                    seen.add(item)
                    queries.append(Query(t.reference, t.text, t.target, t.category))
            gallery = sorted(set(self.dataset.train_images()) | {k for q in queries for k in (q.reference, q.target)})
            index = {k: i for i, k in enumerate(gallery)}
            self._split = EvalSplit(f"{self.name}/validation", "validation", queries, gallery,
                                    positives=[frozenset({index[q.target]}) for q in queries],
                                    exclude=[index[q.reference] for q in queries])
        return self._split

    @property
    def counts(self) -> dict[str, int]:
        split = self.eval_split()
        return {"train_triplets": len(self.train_triplets(0)), "validation_queries": len(split.queries),
                "validation_gallery": len(split.gallery)}


def _own_split(name: str, path: Path) -> EvalSplit:
    """The synthetic world's validation split: its queries, its gallery, and as positives every gallery image whose
    attributes equal the query target's."""
    spec = json.loads(path.read_text())
    attrs = json.loads((path.parent / "attributes.json").read_text())
    gallery = list(spec["gallery"])
    index = {k: i for i, k in enumerate(gallery)}
    same: dict[str, list[int]] = {}
    for k in gallery:
        same.setdefault(json.dumps(attrs[k], sort_keys=True), []).append(index[k])
    queries = [Query(q["reference"], q["text"], q["target"], q.get("category", "")) for q in spec["queries"]]
    positives = [frozenset(same[json.dumps(attrs[q.target], sort_keys=True)]) for q in queries]
    return EvalSplit(f"{name}/validation", "validation", queries, gallery, positives=positives,
                     exclude=[index[q.reference] for q in queries])
