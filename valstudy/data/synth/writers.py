"""One writer per dataset format (docs/protocols.md), plus the extras every synthetic dataset carries.

Every writer draws from one ``numpy.random.Generator`` in a fixed order and writes files whose bytes depend only on
the seed: JPEGs at a fixed quality, JSON with insertion-ordered keys, a zip for ``regions.npz`` with fixed
timestamps.
"""
from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...io import atomic_write, write_json, write_text
from .captions import caption_pair, describe, relative_caption, replace_text, shoe_tags, sibling_captions, tirg_caption
from .render import render
from .world import (ATTRIBUTE_PART, GARMENT_PARTS, GLOBAL, SHOE_PARTS, changed_attributes, family_sizes, sample_family,
                    shoe_type)

JPEG_QUALITY = 90
F200K_FOLDERS = {"dress": "dresses", "jacket": "jackets", "pants": "pants", "skirt": "skirts", "top": "tops"}
F200K_SUBCATEGORIES = {
    "dress": ("casual_and_day_dresses", "cocktail_dresses", "day_dresses"),
    "jacket": ("blazers", "casual_jackets", "denim_jackets"),
    "pants": ("casual_pants", "skinny_pants", "wide-leg_and_palazzo_pants"),
    "skirt": ("a-line_skirts", "pencil_skirts", "full_skirts"),
    "top": ("blouses", "t-shirts", "tank_tops"),
}
FIQ_CATEGORIES = ("dress", "shirt", "toptee")
_ASIN_CHARS = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))


@dataclass
class Extras:
    """What is written under ``<root>/extras/``: attributes, part masks and relative-caption pairs per image key."""

    attributes: dict = field(default_factory=dict)
    regions: dict = field(default_factory=dict)
    pairs: list = field(default_factory=list)


def _save_image(root: Path, rel: str, key: str, rng: np.random.Generator, attrs: dict, size: int, extras: Extras):
    image, regions = render(rng, attrs, size)
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, "JPEG", quality=JPEG_QUALITY)
    extras.attributes[key] = attrs
    extras.regions[key.replace("/", "__")] = regions


def _dump(path: Path, obj, indent: int) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(obj, indent=indent) + "\n"))


def _pairs_in_family(rng: np.random.Generator, members: list[dict], per_member: float) -> list[tuple[int, int]]:
    """Ordered (reference, target) index pairs whose attributes differ in one or two attributes."""
    eligible = [(i, j) for i in range(len(members)) for j in range(len(members))
                if i != j and 1 <= len(changed_attributes(members[i], members[j])) <= 2]
    k = min(len(eligible), max(1, int(round(per_member * len(members)))))
    return [eligible[int(t)] for t in sorted(rng.choice(len(eligible), size=k, replace=False))] if eligible else []


# ------------------------------------------------------------------------------------------ Fashion200k
def write_fashion200k(root: Path, rng: np.random.Generator, cfg: dict, image_size: int, extras: Extras) -> dict:
    """``labels/<cat>_<split>_detect_all.txt``, ``women/...jpeg`` images and TIRG's ``test_queries.txt``.

    Each category gets training families totalling ``f200k_products[0] / 5`` products and test families totalling
    ``f200k_products[1] / 5``, of sizes drawn from ``f200k_family[split]``.
    """
    n_products = sum(cfg["f200k_products"])
    ids = iter(10_000_000 + int(x) for x in rng.choice(90_000_000, size=n_products * 2, replace=False))
    test_images: list[tuple[str, str]] = []  # (path, tirg caption), in label-file order
    counts = {"products": 0, "images": 0, "train_images": 0, "test_images": 0}
    for cat, folder in F200K_FOLDERS.items():
        lines = {"train": [], "test": []}
        for s, split in enumerate(("train", "test")):
            low, high = cfg["f200k_family"][s]
            per_cat = cfg["f200k_products"][s] // len(F200K_FOLDERS)
            for n in family_sizes(rng, per_cat, low, high):
                for attrs in sample_family(rng, cat, n, p_copy=0.25, p_two=0.0):
                    pid = next(ids)
                    sub = F200K_SUBCATEGORIES[cat][int(rng.integers(3))]
                    desc = describe(attrs)
                    for k in range(int(rng.integers(cfg["views"][0], cfg["views"][1] + 1))):
                        rel = f"women/{folder}/{sub}/{pid}/{pid}_{k}.jpeg"
                        _save_image(root, rel, rel, rng, attrs, image_size, extras)
                        lines[split].append(f"{rel}\t{rng.uniform(0.5, 1.0):.6f}\t{desc}\n")
                        if split == "test":
                            test_images.append((rel, tirg_caption(desc)))
                        counts[f"{split}_images"] += 1
                    counts["products"] += 1
        for split, ls in lines.items():
            write_text(root / "labels" / f"{cat}_{split}_detect_all.txt", "".join(ls))
    counts["images"] = counts["train_images"] + counts["test_images"]

    # TIRG's rule: a test image whose caption has one-word siblings queries one image of one sibling caption.
    siblings = sibling_captions([c for _, c in test_images])
    by_caption: dict[str, list[str]] = {}
    for path, c in test_images:
        by_caption.setdefault(c, []).append(path)
    queries = []
    for path, c in test_images:
        if siblings[c]:
            sc = siblings[c][int(rng.integers(len(siblings[c])))]
            target = by_caption[sc][int(rng.integers(len(by_caption[sc])))]
            queries.append(f"{path} {target}\n")
            extras.pairs.append({"reference": path, "target": target, "text": replace_text(c, sc),
                                 "changed": changed_attributes(extras.attributes[path], extras.attributes[target]),
                                 "split": "test"})
    write_text(root / "test_queries.txt", "".join(queries))
    counts["test_queries"] = len(queries)
    counts["unique_test_captions"] = len(by_caption)
    return counts


# ------------------------------------------------------------------------------------------ Shoes
def write_shoes(root: Path, rng: np.random.Generator, cfg: dict, image_size: int, extras: Extras) -> dict:
    """``attributedata/womens_<type>/<0|1>/*.jpg``, relative and tagged captions, train/eval name lists.

    Training families total ``shoes_images[0]`` images and eval families ``shoes_images[1]``, of sizes drawn from
    ``shoes_family[split]``.
    """
    families, split_of = [], []
    for s in (0, 1):
        for n in family_sizes(rng, cfg["shoes_images"][s], *cfg["shoes_family"][s]):
            families.append(sample_family(rng, "shoe", n))
            split_of.append(s)
    next_n: dict[str, int] = {}
    names: list[list[str]] = []
    lists: dict[str, list[str]] = {"train": [], "eval": []}
    for members, s in zip(families, split_of):
        fam = []
        for attrs in members:
            t = shoe_type(attrs)
            next_n[t] = next_n.get(t, 0) + int(rng.integers(1, 4))
            name = f"img_womens_{t}_{next_n[t]}.jpg"
            _save_image(root, f"attributedata/womens_{t}/{int(rng.integers(2))}/{name}", name, rng, attrs,
                        image_size, extras)
            fam.append(name)
            lists[("train", "eval")[s]].append(name)
        names.append(fam)
    # Like the real lists, a few images (and the triplets touching them) are in neither list.
    all_names = [n for fam in names for n in fam]
    unlisted = {all_names[int(i)] for i in rng.choice(len(all_names), size=max(1, len(all_names) // 80),
                                                      replace=False)}
    split_name = {n: sp for sp, ns in lists.items() for n in ns}
    triplets = []
    for fam, members, s in zip(names, families, split_of):
        for i, j in _pairs_in_family(rng, members, 0.75):
            changed = changed_attributes(members[i], members[j])
            text = relative_caption(rng, members[i], members[j], changed, p_vague=0.2)
            triplets.append({"ImageName": fam[j], "ReferenceImageName": fam[i], "RelativeCaption": text})
    order = rng.permutation(len(triplets))
    triplets = [triplets[int(k)] for k in order]
    for t in triplets:
        ref, tgt = t["ReferenceImageName"], t["ImageName"]
        touched = [n for n in (ref, tgt) if n not in unlisted]
        extras.pairs.append({"reference": ref, "target": tgt, "text": t["RelativeCaption"],
                             "changed": changed_attributes(extras.attributes[ref], extras.attributes[tgt]),
                             "split": split_name[touched[0]] if touched else "none"})
    tagged = sorted(int(i) for i in rng.choice(len(all_names), size=max(1, len(all_names) // 4), replace=False))
    tags = [{"ImageName": all_names[i],
             "Caption": shoe_tags(rng, extras.attributes[all_names[i]], shoe_type(extras.attributes[all_names[i]]))}
            for i in tagged]
    _dump(root / "relative_captions_shoes.json", triplets, indent=None)
    _dump(root / "captions_shoes.json", tags, indent=None)
    for split, ns in lists.items():
        write_text(root / f"{split}_im_names.txt", "".join(f"{n}\n" for n in ns if n not in unlisted))
    return {"images": len(all_names), "train_images": sum(n not in unlisted for n in lists["train"]),
            "eval_images": sum(n not in unlisted for n in lists["eval"]), "unlisted_images": len(unlisted),
            "triplets": len(triplets), "tagged_images": len(tags)}


# ------------------------------------------------------------------------------------------ FashionIQ
def _asins(rng: np.random.Generator, n: int) -> list[str]:
    seen: dict[str, None] = {}
    while len(seen) < n:
        for row in rng.integers(0, len(_ASIN_CHARS), size=(n, 7)):
            seen.setdefault("B00" + "".join(_ASIN_CHARS[row]), None)
    return list(seen)[:n]


def write_fashioniq(root: Path, rng: np.random.Generator, cfg: dict, image_size: int, extras: Extras) -> dict:
    """``captions/cap.<cat>.<split>.json``, ``image_splits/split.<cat>.<split>.json`` and ``images/<ASIN>.jpg``.

    Per category, families total ``fiq_images[k]`` images for the train, val and test splits (``k`` = 0, 1, 2), of
    sizes drawn from ``fiq_family[k]``.
    """
    n = sum(cfg["fiq_images"])
    asins = iter(_asins(rng, n * len(FIQ_CATEGORIES)))
    counts: dict[str, int] = {"images": 0}
    splits = ("train", "val", "test")
    for cat in FIQ_CATEGORIES:
        images = {s: [] for s in splits}
        pairs = {s: [] for s in splits}
        for s, split in enumerate(splits):
            for m in family_sizes(rng, cfg["fiq_images"][s], *cfg["fiq_family"][s]):
                members = sample_family(rng, cat, m)
                ids = []
                for attrs in members:
                    asin = next(asins)
                    _save_image(root, f"images/{asin}.jpg", asin, rng, attrs, image_size, extras)
                    ids.append(asin)
                images[split].extend(ids)
                for i, j in _pairs_in_family(rng, members, 0.7):
                    changed = changed_attributes(members[i], members[j])
                    pairs[split].append((ids[i], ids[j], changed, caption_pair(rng, members[i], members[j], changed)))
        for split in splits:
            entries = pairs[split]
            # A handful of empty captions, as in the real files (loaders must drop and count them).
            n_caps = 2 * len(entries)
            blank = {int(k) for k in rng.choice(n_caps, size=min(n_caps, max(1, n_caps // 100)), replace=False)}
            out = []
            for e, (cand, tgt, changed, caps) in enumerate(entries):
                texts = ["" if 2 * e + k in blank else t for k, (t, _) in enumerate(caps)]
                out.append({"target": tgt, "candidate": cand, "captions": texts} if split != "test"
                           else {"candidate": cand, "captions": texts})
                for text, (_, mentioned) in zip(texts, caps):
                    if text:
                        extras.pairs.append({"reference": cand, "target": tgt, "text": text, "changed": changed,
                                             "mentioned": mentioned, "split": split, "category": cat})
            _dump(root / "captions" / f"cap.{cat}.{split}.json", out, indent=4)
            _dump(root / "image_splits" / f"split.{cat}.{split}.json", images[split], indent=None)
            counts[f"{cat}_{split}_pairs"] = len(entries)
            counts[f"{cat}_{split}_images"] = len(images[split])
            counts[f"{cat}_{split}_empty_captions"] = len(blank)
        counts["images"] += sum(len(v) for v in images.values())
    return counts


# ------------------------------------------------------------------------------------------ extras
def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez_compressed`` but byte-identical across runs (fixed member timestamps, sorted keys)."""
    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for key in sorted(arrays):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]), allow_pickle=False)
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                z.writestr(info, buf.getvalue())
    atomic_write(path, write, mode="wb")


def write_extras(root: Path, extras: Extras, dataset: str, meta: dict) -> None:
    """``extras/attributes.json``, ``regions.npz``, ``parts.json``, ``pairs.json`` and ``world.json``."""
    d = root / "extras"
    write_json(d / "attributes.json", extras.attributes)
    _write_npz(d / "regions.npz", extras.regions)
    parts = SHOE_PARTS if dataset == "shoes" else GARMENT_PARTS
    used = {a for attrs in extras.attributes.values() for a in attrs}
    write_json(d / "parts.json", {
        "parts": list(parts),
        "attribute_part": {a: p for a, p in ATTRIBUTE_PART.items() if a in used},
        "foreground": "global attributes (" + ", ".join(("category",) + GLOBAL) + ") cover every part index > 0",
    })
    write_json(d / "pairs.json", extras.pairs)
    write_json(d / "world.json", meta)
