"""Constants cited in docs/published-numbers.md (paper counts and results, labels) and the notebooks' metric record."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..data.standin import NOTE as STANDIN_NOTE, standins_loaded
from ..io import write_json

# docs/protocols.md: counts of the real datasets, keyed like the loaders' DataReport.counts.
PAPER_COUNTS = {
    "fashion200k": {"train_images": 172_049, "train_unique_captions": 53_099, "train_modifiable_images": 106_464,
                    "test_images": 29_789, "test_queries": 33_480},
    "shoes": {"triplets": 10_751, "train_list_images": 10_000, "eval_list_images": 4_621, "train_lines": 17_954,
              "default_queries": 3_492, "dedup_queries": 1_761, "default_gallery": 4_642,
              "tagged_descriptions": 3_600, "triplets_in_neither_list": 29},
    "fashioniq": {"dress_val_queries": 4_034, "shirt_val_queries": 4_075, "toptee_val_queries": 3_920,
                  "dress_val_gallery": 2_628, "shirt_val_gallery": 3_089, "toptee_val_gallery": 2_902,
                  "dress_official_gallery": 3_817, "shirt_official_gallery": 6_346, "toptee_official_gallery": 5_373},
}
PAPER_LABEL = "paper, real data, cited (docs/published-numbers.md)"
# docs/published-numbers.md (third-party citations of the paper's tables; not reproducible here).
# FashionIQ: VAL protocol.
PAPER_RESULTS = {
    "fashion200k": {"TIRG": {"R@1": 14.1, "R@10": 42.5, "R@50": 63.8},
                    "VAL (L_vv)": {"R@1": 21.2, "R@10": 49.0, "R@50": 68.8},
                    "VAL (L_vv+L_vs)": {"R@1": 21.5, "R@10": 53.8, "R@50": 72.7},
                    "VAL (GloVe)": {"R@1": 22.9, "R@10": 50.8, "R@50": 73.3}},
    "shoes": {"TIRG": {"R@1": 12.6, "R@10": 45.45, "R@50": 69.39},
              "VAL (L_vv)": {"R@1": 16.49, "R@10": 49.12, "R@50": 73.53},
              "VAL (L_vv+L_vs)": {"R@1": 16.98, "R@10": 49.83, "R@50": 73.91},
              "VAL (GloVe)": {"R@1": 17.18, "R@10": 51.52, "R@50": 75.83}},
    "fashioniq": {"TIRG": {"dress R@10": 14.87, "dress R@50": 34.66, "shirt R@10": 18.26, "shirt R@50": 37.89,
                           "toptee R@10": 19.08, "toptee R@50": 39.62, "average": 27.40},
                  "VAL (L_vv)": {"dress R@10": 21.12, "dress R@50": 42.19, "shirt R@10": 21.03, "shirt R@50": 43.44,
                                 "toptee R@10": 25.64, "toptee R@50": 49.49, "average": 33.82},
                  "VAL (L_vv+L_vs)": {"average": 34.60},
                  "VAL (GloVe)": {"dress R@10": 22.53, "dress R@50": 44.00, "shirt R@10": 22.38, "shirt R@50": 44.15,
                                  "toptee R@10": 27.53, "toptee R@50": 51.68, "average": 35.38}},
}
VARIANT_LABELS = {"val": "VAL", "tirg": "TIRG", "concat": "concat", "image_only": "image only",
                  "text_only": "text only", "no_sa": "w/o SA", "no_ja": "w/o JA", "low": "low level only",
                  "mid": "mid level only", "high": "high level only", "lvs": "L_vv + L_vs", "softmax": "softmax loss",
                  "val_x2": "VAL, twice the steps", "val_x3": "VAL, three times the steps"}
ABLATION_GROUPS = {"no_sa": "streams", "no_ja": "streams", "low": "levels", "mid": "levels", "high": "levels",
                   "lvs": "side information", "softmax": "loss"}
# Function words and the punctuation tokens of valstudy.text (dotmark, ...), left out of the top-word counts.
STOPWORDS = frozenset("a an the is are and also with of to in it its has have be more less than that this dotmark "
                      "questionmark andmark starmark".split())


def _plain(x):
    """JSON-able copy: numpy scalars to Python, NaN to None, tuples to lists."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def record(figures_dir: str | Path, notebook: str, dataset: str, metrics: dict) -> Path:
    """Write what a notebook computed to ``<figures_dir>/<notebook>_<dataset>.json`` (the tests assert on it)."""
    if standins_loaded():  # computed on stand-in images: the numbers are meaningless, and the record says so
        metrics = {"stand_in_images": STANDIN_NOTE, **metrics}
    return write_json(Path(figures_dir) / f"{notebook}_{dataset}.json", _plain(metrics), indent=1)


def markdown(lines) -> object:
    """Sentences (a string or a list: one bullet each) as Markdown a notebook renders, not monospace text that wraps
    mid-word."""
    from IPython.display import Markdown

    items = [lines] if isinstance(lines, str) else list(lines)
    return Markdown("\n".join(item if item.startswith("- ") else f"- {item}" for item in items) if len(items) > 1
                    else (items[0] if items else ""))
