"""Shoes (Berg et al. 2010 images, Guo et al. 2018 relative captions) with VAL's split (docs/protocols.md).

Layout under ``root``::

    relative_captions_shoes.json   [{"ImageName": target, "ReferenceImageName": reference, "RelativeCaption": text}]
    captions_shoes.json            [{"ImageName", "Caption"}]   tagged descriptions (side information)
    train_im_names.txt             one image basename per line (10,000 in the real split)
    eval_im_names.txt              one image basename per line (4,621)
    attributedata/womens_<type>/<0|1>/img_womens_<type>_<n>.jpg

Image keys are the basenames. The authors' pair files list each triplet once per listed image it touches, so a triplet
whose reference and target are both listed appears twice (docs/protocols.md); protocol ``default`` keeps that,
``dedup`` keeps each triplet once.
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

from ..errors import DataError
from .base import DataReport, EvalSplit, Query, Triplet
from .files import ImageFiles, check_protocol, read_lines, read_records, require_root, unique

TRIPLET_KEYS = ("ImageName", "ReferenceImageName", "RelativeCaption")


def listed_lines(triplets: list[dict], listed: set[str]) -> list[int]:
    """Indices into ``triplets``, one per listed image each triplet touches (target first, then reference).

    >>> listed_lines([{"ImageName": "a", "ReferenceImageName": "b"}, {"ImageName": "c", "ReferenceImageName": "a"}],
    ...              {"a", "b"})
    [0, 0, 1]
    """
    out = []
    for i, t in enumerate(triplets):
        for k in unique((t["ImageName"], t["ReferenceImageName"])):
            if k in listed:
                out.append(i)
    return out


class Shoes:
    """Shoes with relative captions.

    Parameters
    ----------
    root : dataset folder (layout in the module docstring).
    check_images : look for every referenced image; triplets needing an absent image are dropped and counted.
        False touches no image file.
    strict : raise DataError at the first missing image instead.
    categories : unused (Shoes has no categories); accepted so every loader takes the same arguments.
    """

    name = "shoes"
    protocols = ("default", "dedup")

    def __init__(self, root, check_images: bool = True, strict: bool = False, categories=None):
        self.root = require_root(self.name, root)
        self.files = ImageFiles(self.image_path, check_images, strict)
        self.report = DataReport(self.name, str(self.root))
        self._index: dict[str, Path] | None = None
        r = self.root
        self._triplets = read_records(self.name, r / "relative_captions_shoes.json", TRIPLET_KEYS,
                                      "relative caption file")
        self._tagged = read_records(self.name, r / "captions_shoes.json", ("ImageName", "Caption"),
                                    "tagged description file")
        self._train_list = self._read_names(r / "train_im_names.txt", "training image list")
        self._eval_list = self._read_names(r / "eval_im_names.txt", "evaluation image list")
        train_set, eval_set = set(self._train_list), set(self._eval_list)

        c = self.report.counts
        c.update(triplets=len(self._triplets), train_list_images=len(self._train_list),
                 eval_list_images=len(self._eval_list), tagged_descriptions=len(self._tagged))
        train_lines = listed_lines(self._triplets, train_set)
        eval_lines = listed_lines(self._triplets, eval_set)
        listed = train_set | eval_set
        c["triplets_in_neither_list"] = sum(
            1 for t in self._triplets if t["ImageName"] not in listed and t["ReferenceImageName"] not in listed)
        c["triplets_in_train_and_eval"] = len(set(train_lines) & set(eval_lines))

        self._train = [Triplet(*self._ref_text_target(i)) for i in train_lines if self._usable(i)]
        c.update(train_lines=len(train_lines), train_triplets=len(self._train),
                 train_lines_dropped_missing_image=len(train_lines) - len(self._train))
        self._train_images = [k for k in self._train_list if self.files.available(k)]
        self._splits = {p: self._build_eval_split(eval_lines, p) for p in self.protocols}
        for p, s in self._splits.items():
            c[f"{p}_queries"], c[f"{p}_gallery"] = len(s.queries), len(s.gallery)
        for k, v in self._splits["default"].dropped.items():
            c[f"eval_{k}"] = v
        if c["train_lines_dropped_missing_image"] or self._splits["default"].dropped["missing_image"]:
            self.report.notes.append(
                f"dropped for missing images: {c['train_lines_dropped_missing_image']} training lines, "
                f"{self._splits['default'].dropped['missing_image']} evaluation query lines")
        self.report.missing_images = list(self.files.missing)

    # ---------------------------------------------------------------- reading
    def _read_names(self, path: Path, what: str) -> list[str]:
        names = []
        for n, line in read_lines(self.name, path, what):
            fields = line.split()
            if len(fields) != 1:
                raise DataError(path, f"expected one image name per line, got {len(fields)} fields", line=n)
            names.append(fields[0])
        return unique(names)

    def _ref_text_target(self, i: int) -> tuple[str, str, str]:
        t = self._triplets[i]
        return t["ReferenceImageName"], t["RelativeCaption"], t["ImageName"]

    def _usable(self, i: int) -> bool:
        ref, _, tgt = self._ref_text_target(i)
        return self.files.all_available(ref, tgt)

    def image_path(self, key: str) -> Path:
        """``attributedata/womens_<type>/<0|1>/<key>``; names outside that pattern are found by a one-time scan."""
        if key.startswith("img_womens_") and "_" in key[len("img_womens_"):]:
            kind = key[len("img_womens_"):key.rfind("_")]
            folder = self.root / "attributedata" / f"womens_{kind}"
            for sub in ("0", "1"):
                if (folder / sub / key).is_file():
                    return folder / sub / key
            default = folder / "0" / key
        else:
            default = self.root / "attributedata" / key
        if self._index is None:
            base = self.root / "attributedata"
            self._index = {p.name: p for p in base.rglob("*.jpg")} if base.is_dir() else {}
        return self._index.get(key, default)

    def _build_eval_split(self, eval_lines: list[int], protocol: str) -> EvalSplit:
        lines = unique(eval_lines) if protocol == "dedup" else eval_lines
        dropped = {"missing_image": 0, "duplicate_lines_removed": len(eval_lines) - len(lines)}
        kept = []
        for i in lines:
            if self._usable(i):
                kept.append(i)
            else:
                dropped["missing_image"] += 1
        # gallery = eval list + every query image (docs/protocols.md: 4,621 + 21 = 4,642 on the real split)
        keys = [k for k in self._eval_list if self.files.available(k)]
        for i in kept:
            ref, _, tgt = self._ref_text_target(i)
            keys += [ref, tgt]
        gallery = unique(keys)
        index = {k: j for j, k in enumerate(gallery)}
        queries = [Query(*self._ref_text_target(i)) for i in kept]
        return EvalSplit(f"shoes/eval/{protocol}", protocol, queries, gallery,
                         positives=[frozenset({index[q.target]}) for q in queries],
                         exclude=[index[q.reference] for q in queries], dropped=dropped)

    # ---------------------------------------------------------------- public API
    def train_triplets(self, epoch: int = 0, seed: int = 0) -> list[Triplet]:
        """The training lines (17,954 on the real split: triplets listed once per training image they touch);
        the same every epoch."""
        return list(self._train)

    def eval_splits(self, protocol: str | None = None) -> list[EvalSplit]:
        """``default``: the authors' query lines (duplicates kept); ``dedup``: each triplet once."""
        return [self._splits[check_protocol(self.name, self.protocols, protocol)]]

    def side_information(self) -> list[tuple[str, str]]:
        """Tagged descriptions of training-list images (the L_vs pre-training data, the supplementary, Section 2)."""
        train = set(self._train_images)
        return [(t["ImageName"], t["Caption"]) for t in self._tagged if t["ImageName"] in train]

    def vocabulary_texts(self) -> list[str]:
        """Training tagged descriptions + training relative captions, one per training line (yanbeic/VAL)."""
        return [c for _, c in self.side_information()] + [t.text for t in self._train]

    def train_images(self) -> list[str]:
        return list(self._train_images)

    def description(self, key: str) -> str:
        """An image's own description: its tagged caption (training-list images; "" for the others)."""
        return self._descriptions.get(key, "")

    @cached_property
    def _descriptions(self) -> dict[str, str]:
        return dict(self.side_information())
