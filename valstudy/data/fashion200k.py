"""Fashion200k (Han et al. 2017) under the TIRG protocol that VAL follows (docs/protocols.md).

Layout under ``root``::

    labels/{dress,jacket,pants,skirt,top}_{train,test}_detect_all.txt   image_path <TAB> detection_score <TAB> description
    women/<category>/<subcategory>/<id>/<id>_<k>.jpeg                   the images (keys are these relative paths)
    test_queries.txt                                                    source_path target_path (TIRG's release)

Captions are compared as whitespace-normalised raw strings: TIRG compares its punctuation-replaced strings, and that
replacement is one-to-one, so equality is the same. Words are whitespace-split as in TIRG's ``get_different_word``.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from ..errors import DataError
from .base import DataReport, EvalSplit, Query, Triplet
from .files import ImageFiles, check_protocol, read_lines, require_root, unique

CATEGORIES = ("dress", "jacket", "pants", "skirt", "top")


def different_word(source: str, target: str) -> tuple[str, str, str]:
    """TIRG's rule: the first source word absent from the target, the first target word absent from the source.

    Returns (w_s, w_t, "replace w_s with w_t"). As in TIRG's loop, when every word is shared the last word is used.

    >>> different_word("green linen a-line dress", "blue linen a-line dress")
    ('green', 'blue', 'replace green with blue')
    """
    s, t = source.split(), target.split()
    ws = next((w for w in s if w not in t), s[-1] if s else "")
    wt = next((w for w in t if w not in s), t[-1] if t else "")
    return ws, wt, f"replace {ws} with {wt}"


def parent_captions(caption: str) -> list[str]:
    """The captions one word shorter: ``caption`` without each of its distinct words.

    TIRG does ``c.replace(w, '')``, which also cuts ``w`` out of longer words that contain it ("red" in "reddish");
    here whole words are removed (every occurrence of the word), a deliberate, documented difference.
    """
    words = caption.split()
    return unique(" ".join(x for x in words if x != w) for w in words)


class Fashion200k:
    """Fashion200k: attribute-like product descriptions; text feedback "replace X with Y".

    Parameters
    ----------
    root : dataset folder (layout in the module docstring).
    check_images : look for every referenced image file; images that are absent are dropped with what needs them.
        False touches no image file (annotation-only mode).
    strict : raise DataError at the first missing image instead of dropping.
    categories : the label-file categories to read.
    """

    name = "fashion200k"
    protocols = ("default",)

    def __init__(self, root, check_images: bool = True, strict: bool = False, categories=CATEGORIES):
        self.root = require_root(self.name, root)
        self.categories = tuple(categories)
        self.files = ImageFiles(self.image_path, check_images, strict)
        self.report = DataReport(self.name, str(self.root))
        self._captions: dict[str, str] = {}                 # image key -> caption, train and test
        self._category: dict[str, str] = {}
        train = self._read_labels("train")
        test = self._read_labels("test")
        self._train = [k for k in train if self.files.available(k)]
        self._test = [k for k in test if self.files.available(k)]
        self._build_caption_index()
        self._split = self._build_eval_split(set(test))
        c = self.report.counts
        c.update(train_label_images=len(train), train_images=len(self._train),
                 train_unique_captions=len(self._caption2imgs), train_modifiable_images=len(self._modifiable),
                 test_label_images=len(test), test_images=len(self._test), test_queries=len(self._split.queries))
        for k, v in self._split.dropped.items():
            c[f"test_queries_dropped_{k}"] = v
        self.report.missing_images = list(self.files.missing)

    # ---------------------------------------------------------------- reading
    def image_path(self, key: str) -> Path:
        """The file of an image key (its path relative to the root, as the label files name it)."""
        return self.root / key

    def _read_labels(self, split: str) -> list[str]:
        keys: list[str] = []
        duplicates = 0
        for cat in self.categories:
            path = self.root / "labels" / f"{cat}_{split}_detect_all.txt"
            for n, line in read_lines(self.name, path, f"{split} label file"):
                fields = line.split("\t")
                if len(fields) != 3:
                    raise DataError(path, f"expected 3 tab-separated fields (image_path, detection_score, "
                                          f"description), got {len(fields)}", line=n)
                key, caption = fields[0].strip(), " ".join(fields[2].split())
                if not key or not caption:
                    raise DataError(path, "empty image path or description", line=n)
                if key in self._captions:
                    duplicates += 1     # the first line naming an image wins
                    continue
                self._captions[key], self._category[key] = caption, cat
                keys.append(key)
        if duplicates:
            self.report.counts[f"{split}_duplicate_label_lines"] = duplicates
            self.report.notes.append(f"{duplicates} {split} label lines repeat an image path; the first one is kept")
        return keys

    def _build_caption_index(self):
        # TIRG caption_index_init_: parent captions are one word shorter than their children; an image is
        # "modifiable" when one of its parents has >= 2 child captions (docs/protocols.md; supplementary, Sec. 2).
        self._caption2imgs: dict[str, list[str]] = defaultdict(list)
        for k in self._train:
            self._caption2imgs[self._captions[k]].append(k)
        children: dict[str, list[str]] = defaultdict(list)
        for c in self._caption2imgs:
            for p in parent_captions(c):
                children[p].append(c)
        self._children = children
        self._parents: dict[str, list[str]] = defaultdict(list)
        for p, cs in children.items():
            if len(cs) >= 2:
                for c in cs:
                    for k in self._caption2imgs[c]:
                        self._parents[k].append(p)
        self._modifiable = [k for k in self._train if k in self._parents]

    def _build_eval_split(self, test_keys: set[str]) -> EvalSplit:
        path = self.root / "test_queries.txt"
        gallery = list(self._test)
        index = {k: i for i, k in enumerate(gallery)}
        by_caption: dict[str, list[int]] = defaultdict(list)
        for i, k in enumerate(gallery):
            by_caption[self._captions[k]].append(i)
        queries, positives, exclude = [], [], []
        dropped = {"missing_image": 0}
        for n, line in read_lines(self.name, path, "test query file (TIRG's test_queries.txt)"):
            fields = line.split()
            if len(fields) != 2:
                raise DataError(path, f"expected 2 space-separated fields (source_path target_path), "
                                      f"got {len(fields)}", line=n)
            src, tgt = fields
            for k in (src, tgt):
                if k not in test_keys:
                    raise DataError(path, f"image {k} is not in the test label files", line=n)
            if not self.files.all_available(src, tgt):
                dropped["missing_image"] += 1
                continue
            _, _, text = different_word(self._captions[src], self._captions[tgt])
            ref = index[src]
            # TIRG: correct = any test image whose caption equals the target's; the reference never counts
            positives.append(frozenset(i for i in by_caption[self._captions[tgt]] if i != ref))
            exclude.append(ref)
            queries.append(Query(src, text, tgt, self._category[src]))
        if dropped["missing_image"]:
            self.report.notes.append(f"{dropped['missing_image']} test queries dropped: their source or target "
                                     f"image is missing")
        return EvalSplit("fashion200k/test", "default", queries, gallery, positives, exclude, dropped=dropped)

    # ---------------------------------------------------------------- public API
    def train_triplets(self, epoch: int = 0, seed: int = 0) -> list[Triplet]:
        """One triplet per modifiable training image; its target is re-sampled each epoch (TIRG's
        ``caption_index_sample_``): a random parent caption, a random sibling caption under it, a random image of
        that caption. Deterministic given (epoch, seed)."""
        rng = np.random.default_rng([seed, epoch])
        out = []
        for k in self._modifiable:
            own, parents = self._captions[k], self._parents[k]
            while True:
                p = parents[rng.integers(len(parents))]
                cs = self._children[p]
                c = cs[rng.integers(len(cs))]
                if c != own:
                    break
            imgs = self._caption2imgs[c]
            tgt = imgs[rng.integers(len(imgs))]
            _, _, text = different_word(own, c)
            out.append(Triplet(k, text, tgt, self._category[k]))
        return out

    def eval_splits(self, protocol: str | None = None) -> list[EvalSplit]:
        """The TIRG test protocol: one split, gallery = all test images."""
        check_protocol(self.name, self.protocols, protocol)
        return [self._split]

    def side_information(self) -> list[tuple[str, str]]:
        """(image key, product description) for every training image: the L_vs texts (the supplementary, Section 2)."""
        return [(k, self._captions[k]) for k in self._train]

    def vocabulary_texts(self) -> list[str]:
        """The training product descriptions (yanbeic/VAL). "replace" and "with" are not among them, as in
        TIRG, so they map to <UNK> unless a description uses them."""
        return [self._captions[k] for k in self._train]

    def train_images(self) -> list[str]:
        return list(self._train)

    def caption(self, key: str) -> str:
        """The product description of an image key."""
        return self._captions[key]

    def description(self, key: str) -> str:
        """An image's own description: its product description ("" for a key the copy does not hold)."""
        return self._captions.get(key, "")
