"""Dataset loaders: real files (or the synthetic ones written in the same formats) -> triplets and eval splits.

>>> from valstudy.data import load_dataset          # doctest: +SKIP
>>> ds = load_dataset("fashioniq", "data/real/fashioniq", check_images=False)
>>> [len(s.gallery) for s in ds.eval_splits("val")]  # 2,628 / 3,089 / 2,902 on the real annotations
"""
from __future__ import annotations

from pathlib import Path

from ..config import DATASETS as DATASET_NAMES
from ..errors import ValstudyError
from .base import DataReport, DatasetLoader, EvalSplit, Query, Triplet
from .fashion200k import Fashion200k
from .fashioniq import FashionIQ
from .shoes import Shoes
from .marker import label_dataset

DATASETS = {"fashion200k": Fashion200k, "shoes": Shoes, "fashioniq": FashionIQ}
assert tuple(DATASETS) == DATASET_NAMES

__all__ = ["DATASETS", "load_dataset", "Fashion200k", "Shoes", "FashionIQ",
           "Triplet", "Query", "EvalSplit", "DataReport", "DatasetLoader"]


def load_dataset(name: str, root: str | Path, **kw) -> DatasetLoader:
    """Load dataset ``name`` from ``root``; keyword arguments go to the loader (check_images, strict, categories).

    An unknown name raises ValstudyError listing the known ones.
    """
    if name not in DATASETS:
        raise ValstudyError(f"unknown dataset '{name}'; choose one of: {', '.join(DATASETS)}")
    ds = DATASETS[name](root, **kw)
    label_dataset(ds)  # a folder of stand-in images says so in every report
    return ds
