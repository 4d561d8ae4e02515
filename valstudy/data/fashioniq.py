"""FashionIQ (Wu et al. 2021) under VAL's protocol and the official one (docs/protocols.md).

Layout under ``root``::

    captions/cap.<cat>.<split>.json        [{"target", "candidate", "captions": [two strings]}]
    image_splits/split.<cat>.<split>.json  [ASIN, ...]
    images/<ASIN>.jpg                      (images in sub-folders of ``root`` are found by a one-time scan)

Image keys are the ASINs. The test split has no targets, so the official ``val`` split is the test set. Protocols:

- ``val`` (VAL's): each non-empty caption of a val pair is its own query; gallery = the union of the candidate and
  target images of that category's (kept) val pairs; correct = the target.
- ``official``: as FashionIQ's start kit (XiaoxiaoGuo/fashion-iq ``start_kit/eval.py``, ``utils.py``,
  ``data_loader.py``): gallery = every image of ``split.<cat>.val.json``, nothing excluded (the candidate stays in
  the gallery and may be retrieved); one query per pair, its two captions joined with the kit's separator token
  ``<and>`` (:data:`CAPTION_JOINER`) even when one of them is empty; correct = the target. valstudy's tokeniser reads
  ``<and>`` as the word ``and`` (the vocabulary is built from single captions, which never hold ``<and>``).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .base import DataReport, EvalSplit, Query, Triplet
from .files import ImageFiles, check_protocol, read_json_list, read_records, require_root, unique

CATEGORIES = ("dress", "shirt", "toptee")
CAPTION_JOINER = " <and> "  # the start kit's separator token between the two captions (data_loader.py)


class FashionIQ:
    """FashionIQ: pairs with two relative captions each; one model for all categories, evaluated per category.

    Parameters
    ----------
    root : dataset folder (layout in the module docstring).
    check_images : look for every referenced image; pairs needing an absent image are dropped from queries and
        gallery and counted. False touches no image file (the real annotations in this repository have no images).
    strict : raise DataError at the first missing image instead.
    categories : which of dress, shirt, toptee to read.
    """

    name = "fashioniq"
    protocols = ("val", "official")

    def __init__(self, root, check_images: bool = True, strict: bool = False, categories=CATEGORIES):
        self.root = require_root(self.name, root)
        self.categories = tuple(categories)
        self.files = ImageFiles(self.image_path, check_images, strict)
        self.report = DataReport(self.name, str(self.root))
        self._index: dict[str, Path] | None = None
        c = self.report.counts
        self._train: list[Triplet] = []
        self._train_images: list[str] = []
        self._splits: dict[str, list[EvalSplit]] = {p: [] for p in self.protocols}
        for cat in self.categories:
            pairs = self._pairs(cat, "train")
            kept = [p for p in pairs if self.files.all_available(p["candidate"], p["target"])]
            triplets = [Triplet(p["candidate"], t, p["target"], cat) for p in kept for t in p["captions"]
                        if t.strip()]
            self._train += triplets
            c[f"{cat}_train_pairs"] = len(pairs)
            c[f"{cat}_train_pairs_dropped_missing_image"] = len(pairs) - len(kept)
            c[f"{cat}_train_empty_captions"] = sum(1 for p in kept for t in p["captions"] if not t.strip())
            c[f"{cat}_train_triplets"] = len(triplets)
            split_train = read_json_list(self.name, self._split_file(cat, "train"), "image split file")
            self._train_images += [k for k in split_train if self.files.available(k)]

            val = self._pairs(cat, "val")
            gallery = read_json_list(self.name, self._split_file(cat, "val"), "image split file")
            c[f"{cat}_val_pairs"] = len(val)
            for split in (self._val_protocol(cat, val), self._official_protocol(cat, val, gallery)):
                self._splits[split.protocol].append(split)
                c[f"{cat}_{split.protocol}_queries"] = len(split.queries)
                c[f"{cat}_{split.protocol}_gallery"] = len(split.gallery)
                for k, v in split.dropped.items():
                    c[f"{cat}_{split.protocol}_dropped_{k}"] = v
        self._train_images = unique(self._train_images)
        c["train_triplets"] = len(self._train)
        dropped = sum(v for k, v in c.items() if "missing_image" in k)
        if dropped:
            self.report.notes.append(f"{dropped} pairs or gallery images dropped for missing image files "
                                     f"(per-category counts above)")
        empties = sum(v for k, v in c.items() if "empty_caption" in k)
        if empties:
            self.report.notes.append(f"{empties} empty captions dropped")
        self.report.missing_images = list(self.files.missing)

    # ---------------------------------------------------------------- reading
    def _pairs(self, cat: str, split: str) -> list[dict]:
        path = self.root / "captions" / f"cap.{cat}.{split}.json"
        pairs = read_records(self.name, path, ("target", "candidate", "captions"), "caption file",
                             strings=("target", "candidate"))
        for i, p in enumerate(pairs):
            if not isinstance(p["captions"], list) or not all(isinstance(t, str) for t in p["captions"]):
                raise DataError(path, f"entry {i}: 'captions' must be a list of strings", key="captions")
        return pairs

    def _split_file(self, cat: str, split: str) -> Path:
        return self.root / "image_splits" / f"split.{cat}.{split}.json"

    def image_path(self, key: str) -> Path:
        """``images/<ASIN>.jpg``; elsewhere under the root (e.g. per-category folders) by a one-time scan."""
        path = self.root / "images" / f"{key}.jpg"
        if path.is_file():
            return path
        if self._index is None:
            self._index = {p.stem: p for p in self.root.rglob("*.jpg")}
        return self._index.get(key, path)

    def _val_protocol(self, cat: str, pairs: list[dict]) -> EvalSplit:
        kept = [p for p in pairs if self.files.all_available(p["candidate"], p["target"])]
        gallery = unique(k for p in kept for k in (p["candidate"], p["target"]))
        index = {k: i for i, k in enumerate(gallery)}
        queries = [Query(p["candidate"], t, p["target"], cat) for p in kept for t in p["captions"] if t.strip()]
        dropped = {"missing_image_pairs": len(pairs) - len(kept),
                   "empty_captions": sum(1 for p in kept for t in p["captions"] if not t.strip())}
        return EvalSplit(f"fashioniq/{cat}/val", "val", queries, gallery,
                         positives=[frozenset({index[q.target]}) for q in queries],
                         exclude=[index[q.reference] for q in queries], category=cat, dropped=dropped)

    def _official_protocol(self, cat: str, pairs: list[dict], split_val: list[str]) -> EvalSplit:
        gallery = [k for k in unique(split_val) if self.files.available(k)]
        index = {k: i for i, k in enumerate(gallery)}
        dropped = {"missing_image_pairs": 0, "missing_gallery_images": len(unique(split_val)) - len(gallery),
                   "target_not_in_split": 0}
        queries, blank = [], 0
        for p in pairs:
            if not self.files.all_available(p["candidate"], p["target"]):
                dropped["missing_image_pairs"] += 1
            elif p["target"] not in index:  # the kit's ``data_asin.index(target)`` would fail on it
                dropped["target_not_in_split"] += 1
            else:  # every pair is a query, empty captions included: "a <and> " when the second one is empty
                text = CAPTION_JOINER.join(t.strip() for t in p["captions"])
                queries.append(Query(p["candidate"], text, p["target"], cat))
                blank += any(not t.strip() for t in p["captions"])
        self.report.counts[f"{cat}_official_queries_with_a_blank_caption"] = blank  # kept, as the kit keeps them
        return EvalSplit(f"fashioniq/{cat}/official", "official", queries, gallery,
                         positives=[frozenset({index[q.target]}) for q in queries],
                         exclude=[-1] * len(queries), category=cat, dropped=dropped)

    # ---------------------------------------------------------------- public API
    def train_triplets(self, epoch: int = 0, seed: int = 0) -> list[Triplet]:
        """Every non-empty caption of every training pair, all categories in one list; the same every epoch."""
        return list(self._train)

    def eval_splits(self, protocol: str | None = None) -> list[EvalSplit]:
        """One split per category under ``val`` (default) or ``official``."""
        return list(self._splits[check_protocol(self.name, self.protocols, protocol)])

    def side_information(self) -> list[tuple[str, str]]:
        """FashionIQ has no tagged descriptions; VAL pre-trains L_vs on Fashion200k instead (supplementary, Sec. 2)."""
        return []

    def vocabulary_texts(self) -> list[str]:
        """The training relative captions (docs/shapes.md; yanbeic/VAL)."""
        return [t.text for t in self._train]

    def train_images(self) -> list[str]:
        """The images of ``split.<cat>.train.json`` over the categories read, present on disk."""
        return list(self._train_images)

    def description(self, key: str) -> str:
        """FashionIQ images carry no description of their own."""
        return ""
