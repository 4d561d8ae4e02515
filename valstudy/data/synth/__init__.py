"""A procedural garment world written in the real datasets' formats (VAL.md section 5).

``synthesize("fashion200k" | "shoes" | "fashioniq", root)`` writes a miniature dataset that the real loaders read
unchanged, plus ``<root>/extras/``: per-image attributes (``attributes.json``), part masks (``regions.npz``, one
uint8 (H, W) array per image key with "/" replaced by "__"), the part names and where each attribute lives
(``parts.json``), every relative caption or test query with the attributes that change (``pairs.json``) and the
generator's settings (``world.json``). The same seed gives byte-identical files.

``pairs.json`` entries: ``reference``, ``target``, ``text``, ``changed`` (attributes where target and reference
differ), ``split``; FashionIQ entries add ``category`` and ``mentioned`` (the attributes that caption names; a
pair's two captions may name different changes). Empty FashionIQ captions are not listed.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from ... import __version__
from ...config import DATASETS
from ...errors import ValstudyError
from ...io import read_json
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


def _prepare_root(root: Path, dataset: str) -> None:
    """Refuse a non-empty root that is not an earlier synthetic copy of ``dataset``; clear an earlier copy."""
    if not root.exists() or not any(root.iterdir()):
        return
    world = root / "extras" / "world.json"
    previous = read_json(world).get("dataset") if world.is_file() else None
    if previous != dataset:
        raise ValstudyError(f"{root}: directory is not empty and holds no synthetic {dataset} data "
                            f"(extras/world.json); choose an empty or new --root")
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
    seed : the same seed gives byte-identical files.
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
    root = Path(root)
    _prepare_root(root, dataset)
    root.mkdir(parents=True, exist_ok=True)
    # One generator per dataset: the same seed gives each dataset its own, reproducible stream.
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), DATASETS.index(dataset)]))
    extras = Extras()
    counts = _WRITERS[dataset](root, rng, SIZES[size], image_size, extras)
    meta = {"generator": "valstudy.data.synth", "version": SYNTH_VERSION, "valstudy_version": __version__,
            "dataset": dataset, "size": size, "seed": int(seed), "image_size": image_size, "counts": counts}
    write_extras(root, extras, dataset, meta)
    return counts
