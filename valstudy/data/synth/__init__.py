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
from .writers import Extras, write_extras, write_fashion200k, write_fashioniq, write_shoes

__all__ = ["synthesize", "DATASETS", "SIZES", "SYNTH_VERSION"]

SYNTH_VERSION = 1
# "tiny" is for tests (about a second); "small" trains for a few minutes on CPU; "medium" is four times "small".
SIZES = {
    "tiny": {"f200k_products": 40, "views": (2, 3), "shoes_images": 100, "fiq_images": 45},
    "small": {"f200k_products": 300, "views": (2, 3), "shoes_images": 1200, "fiq_images": 600},
    "medium": {"f200k_products": 1200, "views": (2, 3), "shoes_images": 4800, "fiq_images": 2400},
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


def synthesize(dataset: str, root: str | Path, size: str = "small", seed: int = 0, image_size: int = 64) -> dict:
    """Write a synthetic ``dataset`` under ``root`` in the real dataset's layout and formats.

    Parameters
    ----------
    dataset : {"fashion200k", "shoes", "fashioniq"}
    root : directory to write; must be empty, absent, or an earlier synthetic copy of the same dataset (replaced).
    size : {"small", "medium"}
        ``small``: Fashion200k 300 products x 2-3 views, Shoes 1,200 images, FashionIQ 600 images per category;
        ``medium``: four times as many.
    seed : a non-negative integer; the same seed gives byte-identical files.
    image_size : side of the square images and part masks, in pixels.

    Returns
    -------
    dict
        Counts of what was written (images, splits, triplets or queries, ...).
    """
    if dataset not in _WRITERS:
        raise ValstudyError(f"unknown synthetic dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    if size not in SIZES:
        raise ValstudyError(f"unknown synthetic size {size!r}; choose one of small, medium")
    if not isinstance(image_size, int) or image_size < 16:
        raise ValstudyError(f"image size must be an integer of at least 16 pixels, got {image_size!r}")
    seed = check_seed(seed)   # before the folder is touched
    meta = {"generator": "valstudy.data.synth", "version": SYNTH_VERSION, "valstudy_version": __version__,
            "dataset": dataset, "size": size, "seed": seed, "image_size": image_size}
    root = Path(root)
    _refuse_foreign(root, dataset)   # before the lock, which would leave its file in a folder that is not ours
    with folder_lock(root, "synthetic data folder") as root:
        _prepare_root(root, dataset, meta)
        # One generator per dataset: the same seed gives each dataset its own, reproducible stream.
        rng = np.random.default_rng(np.random.SeedSequence([seed, DATASETS.index(dataset)]))
        extras = Extras()
        try:
            counts = _WRITERS[dataset](root, rng, SIZES[size], image_size, extras)
        except OSError as e:   # PIL's image writes; the folder stays marked, so the next run redoes it
            raise ValstudyError(f"{root}: cannot write the synthetic data ({e.strerror or e}); "
                                f"free space or fix permissions, then run the same command again") from None
        write_extras(root, extras, dataset, {**meta, "counts": counts})
        (root / IN_PROGRESS).unlink()   # last: the folder is complete
    return counts
