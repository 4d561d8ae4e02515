"""A validation split of its own for each synthetic dataset, beside the real formats' train and test parts.

The real datasets have no validation split (FashionIQ's "val" is the test split of VAL's protocol), so the study
carved one out of the training references, which left validation queries in the low hundreds: a validation recall
then carries a sampling error of 3-4 points, as large as the differences a step budget is judged by. The synthetic
world draws separate validation families instead, after everything else (so the train and test files are those the
same seed wrote before), renders their images into the dataset's image folders under names no annotation file
lists, and writes ``extras/validation.json``:

    {"queries": [{"reference", "text", "target", "category"}, ...], "gallery": [image keys], "counts": {...}}

Queries follow the dataset's test rule (Fashion200k: a sibling caption's "replace X with Y"; Shoes and FashionIQ: the
relative captions of pairs within a family, FashionIQ's two captions as two queries). The gallery is every validation
image. ``valstudy.data.validation`` reads it when present; training then keeps every training triplet.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...io import write_json
from .captions import caption_pair, describe, relative_caption, replace_text, sibling_captions, tirg_caption
from .world import changed_attributes, family_sizes, sample_family, shoe_type

_ASIN = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


def write_validation(dataset: str, root: Path, rng: np.random.Generator, cfg: dict, image_size: int, extras,
                     save_image, pairs_in_family) -> dict:
    """Render ``cfg["validation"][dataset]`` images in families, write ``extras/validation.json``; the counts."""
    n = cfg["validation"][dataset]
    queries, gallery = [], []
    if dataset == "fashion200k":
        from .writers import F200K_FOLDERS, F200K_SUBCATEGORIES
        images = []  # (key, tirg caption)
        pid = 900_000_000  # above every id of the train and test products
        for cat, folder in F200K_FOLDERS.items():
            for size in family_sizes(rng, n // len(F200K_FOLDERS), 2, 5):
                for attrs in sample_family(rng, cat, size, p_copy=0.25, p_two=0.0):
                    pid += 1
                    sub = F200K_SUBCATEGORIES[cat][int(rng.integers(3))]
                    for k in range(int(rng.integers(cfg["views"][0], cfg["views"][1] + 1))):
                        key = f"women/{folder}/{sub}/{pid}/{pid}_{k}.jpeg"
                        save_image(root, key, key, rng, attrs, image_size, extras)
                        images.append((key, tirg_caption(describe(attrs))))
        siblings = sibling_captions([c for _, c in images])
        by_caption: dict[str, list[str]] = {}
        for key, c in images:
            by_caption.setdefault(c, []).append(key)
        for key, c in images:
            if siblings[c]:
                sc = siblings[c][int(rng.integers(len(siblings[c])))]
                target = by_caption[sc][int(rng.integers(len(by_caption[sc])))]
                queries.append({"reference": key, "text": replace_text(c, sc), "target": target, "category": ""})
        gallery = [key for key, _ in images]
    elif dataset == "shoes":
        counter = 90_000  # image numbers above every training and eval image's
        for size in family_sizes(rng, n, 3, 7):
            members, names = sample_family(rng, "shoe", size), []
            for attrs in members:
                counter += 1
                name = f"img_womens_{shoe_type(attrs)}_{counter}.jpg"
                save_image(root, f"attributedata/womens_{shoe_type(attrs)}/{int(rng.integers(2))}/{name}", name, rng,
                           attrs, image_size, extras)
                names.append(name)
            for i, j in pairs_in_family(rng, members, 0.75):
                changed = changed_attributes(members[i], members[j])
                queries.append({"reference": names[i], "target": names[j], "category": "",
                                "text": relative_caption(rng, members[i], members[j], changed, p_vague=0.2)})
            gallery += names
    else:  # fashioniq: per category, each caption of a pair its own query
        for cat in ("dress", "shirt", "toptee"):
            for size in family_sizes(rng, n, 3, 7):
                members = sample_family(rng, cat, size)
                ids = ["BV" + "".join(_ASIN[rng.integers(0, len(_ASIN), size=8)]) for _ in members]
                for asin, attrs in zip(ids, members):
                    save_image(root, f"images/{asin}.jpg", asin, rng, attrs, image_size, extras)
                for i, j in pairs_in_family(rng, members, 0.7):
                    changed = changed_attributes(members[i], members[j])
                    for text, _ in caption_pair(rng, members[i], members[j], changed):
                        queries.append({"reference": ids[i], "target": ids[j], "text": text, "category": cat})
                gallery += ids
    counts = {"validation_images": len(gallery), "validation_queries": len(queries)}
    write_json(root / "extras" / "validation.json", {"queries": queries, "gallery": gallery, "counts": counts},
               indent=None)
    return counts
