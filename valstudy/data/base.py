"""What every dataset loader returns: triplets for training, evaluation splits for testing.

Data flows one way: files -> these records -> torch datasets (``valstudy.data.torchdata``) -> model.
Image keys are the names the real annotation files use (Fashion200k: the path ``women/...jpeg`` relative to the root;
Shoes: the basename ``img_womens_<type>_<n>.jpg``; FashionIQ: the ASIN). Each loader's ``image_path(key)`` resolves a
key to a file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable


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


@runtime_checkable
class DatasetLoader(Protocol):
    """What every dataset loader (Fashion200k, Shoes, FashionIQ) offers; the layers above use nothing else.

    Loaders are built by ``valstudy.data.load_dataset(name, root, check_images=..., strict=..., categories=...)``.
    """

    name: str                     # one of valstudy.config.DATASETS
    protocols: tuple[str, ...]    # evaluation protocols, the first being the paper's default
    root: Path
    report: DataReport            # counts, missing images and notes from loading

    def image_path(self, key: str) -> Path:
        """The file of an image key."""
        ...

    def train_triplets(self, epoch: int = 0, seed: int = 0) -> list[Triplet]:
        """The training triplets of one epoch (re-drawn per epoch where the protocol draws them)."""
        ...

    def eval_splits(self, protocol: str | None = None) -> list[EvalSplit]:
        """The test splits of a protocol (one per category where the dataset has categories)."""
        ...

    def side_information(self) -> list[tuple[str, str]]:
        """(image key, tagged description) of training images: the L_vs texts ([] when the dataset has none)."""
        ...

    def vocabulary_texts(self) -> list[str]:
        """The texts the vocabulary is built from."""
        ...

    def train_images(self) -> list[str]:
        """Keys of the training images."""
        ...

    def description(self, key: str) -> str:
        """An image's own description ("" when the dataset has none for it)."""
        ...
