"""A procedural garment world written in the real datasets' formats (docs/protocols.md).

``synthesize("fashion200k" | "shoes" | "fashioniq", root)`` writes a miniature dataset that the real loaders read
unchanged, plus ``<root>/extras/``: per-image attributes (``attributes.json``), part masks (``regions.npz``, one
uint8 (H, W) array per image key with "/" replaced by "__"), the part names and where each attribute lives
(``parts.json``), every relative caption or test query with the attributes that change (``pairs.json``) and the
generator's settings (``world.json``). The same seed gives byte-identical files.

``pairs.json`` entries: ``reference``, ``target``, ``text``, ``changed`` (attributes where target and reference
differ), ``split``; FashionIQ entries add ``category`` and ``mentioned`` (the attributes that caption names; a
pair's two captions may name different changes). Empty FashionIQ captions are not listed.

Generation marks the folder first (``.synth-in-progress.json``) and removes the mark last, holding the folder's lock
(``valstudy.locks``) meanwhile: a generation that was killed is redone from the start by the next one (the same
seed gives the same bytes), while a folder holding anything else is refused.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ... import __version__
from ...config import DATASETS, check_seed
from ...errors import ValstudyError
from ...io import read_json, write_json
from ...locks import LOCK_NAME, folder_lock
from .validation import write_validation
from .writers import (Extras, _pairs_in_family, _save_image, write_extras, write_fashion200k, write_fashioniq,
                      write_shoes)

__all__ = ["synthesize", "DATASETS", "SIZES", "SYNTH_VERSION"]

SYNTH_VERSION = 3
# Counts per split: Fashion200k products (train, test), Shoes images (train, eval), FashionIQ images per category
# (train, val, test), the family sizes (low, high) of each split, and the validation split of each dataset
# (``validation``: Fashion200k products, Shoes images, FashionIQ images per category; extras/validation.json).
# "tiny" is for tests (about a second); "small" is
# the study's world (data/README.md says why each count is what it is); "medium" has four times small's training
# data. ``train_scale`` in :func:`synthesize` multiplies the training counts.
_FAMILIES = {"f200k_family": ((2, 5), (2, 5)), "shoes_family": ((3, 7), (3, 7)), "fiq_family": ((3, 7),) * 3}
SIZES = {
    "tiny": {"f200k_products": (26, 14), "views": (2, 3), "shoes_images": (84, 36), "fiq_images": (23, 15, 7),
             "validation": {"fashion200k": 10, "shoes": 24, "fashioniq": 9}, **_FAMILIES},
    "small": {"f200k_products": (195, 525), "views": (2, 3), "shoes_images": (816, 1600),
              "fiq_images": (300, 850, 100), "validation": {"fashion200k": 400, "shoes": 1300, "fashioniq": 250},
              **_FAMILIES},
    "medium": {"f200k_products": (780, 525), "views": (2, 3), "shoes_images": (3264, 1500),
               "fiq_images": (1200, 850, 100), "validation": {"fashion200k": 400, "shoes": 1300, "fashioniq": 250},
               **_FAMILIES},
}
_WRITERS = {"fashion200k": write_fashion200k, "shoes": write_shoes, "fashioniq": write_fashioniq}
# Every path a writer may create directly under the root (cleared before regenerating into the same root).
_OUTPUTS = {
    "fashion200k": ("labels", "women", "test_queries.txt", "extras"),
    "shoes": ("attributedata", "relative_captions_shoes.json", "captions_shoes.json", "train_im_names.txt",
              "eval_im_names.txt", "extras"),
    "fashioniq": ("captions", "image_splits", "images", "extras"),
}


IN_PROGRESS = ".synth-in-progress.json"


def _scaled(size: dict, train_scale: int) -> dict:
    """``size`` with its training counts (the first of each count tuple) multiplied by ``train_scale``."""
    out = dict(size)
    for key in ("f200k_products", "shoes_images", "fiq_images"):
        out[key] = (size[key][0] * train_scale,) + tuple(size[key][1:])
    return out


def _previous(root: Path) -> str | None:
    """The synthetic dataset an earlier generation wrote (or began writing) in ``root``, if any."""
    for mark in (root / IN_PROGRESS, root / "extras" / "world.json"):
        if mark.is_file():
            try:
                found = read_json(mark)
            except ValstudyError:
                continue        # a mark torn by a kill: the other one (or none) decides
            if isinstance(found, dict):
                return found.get("dataset")
    return None


def _refuse_foreign(root: Path, dataset: str) -> None:
    if root.is_dir() and any(p.name != LOCK_NAME for p in root.iterdir()) and _previous(root) != dataset:
        raise ValstudyError(f"{root}: directory is not empty and holds no synthetic {dataset} data "
                            f"(extras/world.json); choose an empty or new --root")


def _prepare_root(root: Path, dataset: str, meta: dict) -> None:
    """Refuse a non-empty root that is not an earlier (finished or interrupted) synthetic copy of ``dataset``;
    mark it as in progress, then clear the earlier copy."""
    _refuse_foreign(root, dataset)
    write_json(root / IN_PROGRESS, meta)   # first: from here on the folder is recognisably ours
    for name in _OUTPUTS[dataset]:
        p = root / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()


def synthesize(dataset: str, root: str | Path, size: str = "small", seed: int = 0, image_size: int = 64,
               train_scale: int = 1) -> dict:
    """Write a synthetic ``dataset`` under ``root`` in the real dataset's layout and formats.

    Parameters
    ----------
    dataset : {"fashion200k", "shoes", "fashioniq"}
    root : directory to write; must be empty, absent, or an earlier synthetic copy of the same dataset (replaced).
    size : {"tiny", "small", "medium"}
        The counts of each split (``SIZES``). ``small``, the study's: Fashion200k 195 training and 525 test products
        of 2-3 views, Shoes 816 training and 1,600 eval images, FashionIQ 300 / 850 / 100 train / val / test images
        per category; ``medium``: four times small's training data.
    seed : a non-negative integer; the same seed gives byte-identical files.
    image_size : side of the square images and part masks, in pixels.
    train_scale : positive integer multiplying the training counts (test counts unchanged).

    Returns
    -------
    dict
        Counts of what was written (images, splits, triplets or queries, ...).
    """
    if dataset not in _WRITERS:
        raise ValstudyError(f"unknown synthetic dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if size not in SIZES:
        raise ValstudyError(f"unknown synthetic size {size!r}; choose one of {', '.join(SIZES)}")
    if not isinstance(train_scale, int) or isinstance(train_scale, bool) or train_scale < 1:
        raise ValstudyError(f"train_scale must be a positive integer, got {train_scale!r}")
    if not isinstance(image_size, int) or image_size < 16:
        raise ValstudyError(f"image size must be an integer of at least 16 pixels, got {image_size!r}")
    seed = check_seed(seed)   # before the folder is touched
    meta = {"generator": "valstudy.data.synth", "version": SYNTH_VERSION, "valstudy_version": __version__,
            "dataset": dataset, "size": size, "seed": seed, "image_size": image_size}
    if train_scale != 1:   # recorded only when used, so worlds written before it existed keep their world.json
        meta["train_scale"] = train_scale
    root = Path(root)
    _refuse_foreign(root, dataset)   # before the lock, which would leave its file in a folder that is not ours
    with folder_lock(root, "synthetic data folder") as root:
        _prepare_root(root, dataset, meta)
        # One generator per dataset: the same seed gives each dataset its own, reproducible stream.
        rng = np.random.default_rng(np.random.SeedSequence([seed, DATASETS.index(dataset)]))
        extras = Extras()
        try:
            counts = _WRITERS[dataset](root, rng, _scaled(SIZES[size], train_scale), image_size, extras)
            # drawn last, so the train and test files are those the same seed wrote before the split existed
            counts.update(write_validation(dataset, root, rng, SIZES[size], image_size, extras, _save_image,
                                           _pairs_in_family))
        except OSError as e:   # PIL's image writes; the folder stays marked, so the next run redoes it
            raise ValstudyError(f"{root}: cannot write the synthetic data ({e.strerror or e}); "
                                f"free space or fix permissions, then run the same command again") from None
        write_extras(root, extras, dataset, {**meta, "counts": counts})
        (root / IN_PROGRESS).unlink()   # last: the folder is complete
    return counts
