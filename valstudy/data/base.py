"""What every dataset loader returns: triplets for training, evaluation splits for testing.

Data flows one way: files -> these records -> torch datasets (``valstudy.data.torchdata``) -> model.
Image keys are the names the real annotation files use (Fashion200k: the path ``women/...jpeg`` relative to the root;
Shoes: the basename ``img_womens_<type>_<n>.jpg``; FashionIQ: the ASIN). Each loader's ``image_path(key)`` resolves a
key to a file.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Triplet:
    """One training example: reference image, user text, target image."""

    reference: str
    text: str
    target: str
    category: str = ""


@dataclass(frozen=True)
class Query:
    """One test query: the reference image and the user text; ``target`` is the annotated target image."""

    reference: str
    text: str
    target: str
    category: str = ""


@dataclass
class EvalSplit:
    """A test split under one protocol: queries, the gallery they rank, and what counts as correct.

    ``positives[i]`` holds the gallery indices that count as correct for query ``i`` (Fashion200k: every image whose
    caption equals the target's; elsewhere the target alone). ``exclude[i]`` is the gallery index of query ``i``'s
    reference image, removed from its ranking (-1 when the reference is not in the gallery). ``dropped`` counts what the
    protocol removed and why (missing images, empty captions, ...), so reports can say it.
    """

    name: str
    protocol: str
    queries: list[Query]
    gallery: list[str]
    positives: list[frozenset[int]]
    exclude: list[int]
    category: str = ""
    dropped: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.queries)
        if len(self.positives) != n or len(self.exclude) != n:
            raise ValueError(f"{self.name}: queries, positives and exclude differ in length")


@dataclass
class DataReport:
    """What a loader found: counts a user needs to trust a copy of a dataset."""

    dataset: str
    root: str
    counts: dict[str, int] = field(default_factory=dict)
    missing_images: list[str] = field(default_factory=list)
    unreadable_images: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
