"""The synthetic garment world: attributes at several scales, and how products are sampled.

Attributes come at three scales, so attention maps can be compared with the region each one lives in:
global (``colour`` with a light/dark ``shade``), texture (``texture``), and local shape (``sleeve``, ``neckline``,
``hem`` for garments; ``heel``, ``shaft``, ``toe``, ``closure`` for shoes).

Products are sampled in *families*: a random base attribute vector and members that copy it or change one or two
attributes. Families give the datasets what composition needs: one-word-different Fashion200k descriptions, and
relative-caption pairs whose target differs from the reference in 1-2 attributes while the others are kept.
"""
from __future__ import annotations

import numpy as np

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "colour": ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown"),
    "shade": ("light", "dark"),
    "texture": ("solid", "stripes", "dots", "checks", "floral"),
    "sleeve": ("none", "short", "long"),
    "neckline": ("round", "v", "square"),
    "hem": ("mini", "knee", "maxi"),
    "heel": ("flat", "mid", "high"),
    "shaft": ("low", "ankle", "knee"),
    "toe": ("round", "pointed"),
    "closure": ("laces", "strap", "slip-on"),
}
GLOBAL = ("colour", "shade", "texture")
# Attributes whose values are ordered (so "longer", "higher", "darker" mean something).
ORDERED = ("shade", "sleeve", "hem", "heel", "shaft")

CATEGORY_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "dress": GLOBAL + ("sleeve", "neckline", "hem"),
    "jacket": GLOBAL + ("sleeve", "neckline"),
    "pants": GLOBAL + ("hem",),
    "skirt": GLOBAL + ("hem",),
    "top": GLOBAL + ("sleeve", "neckline"),
    "shirt": GLOBAL + ("sleeve", "neckline"),
    "toptee": GLOBAL + ("sleeve", "neckline"),
    "shoe": GLOBAL + ("heel", "shaft", "toe", "closure"),
}

# (light, dark) RGB per colour; chosen so the shades of one colour differ clearly at 64 px.
PALETTE: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "red": ((240, 120, 120), (150, 20, 28)),
    "orange": ((252, 185, 110), (195, 90, 10)),
    "yellow": ((250, 235, 130), (175, 145, 10)),
    "green": ((150, 215, 140), (25, 105, 45)),
    "blue": ((140, 180, 245), (20, 45, 140)),
    "purple": ((200, 160, 230), (85, 30, 120)),
    "pink": ((252, 185, 215), (190, 45, 120)),
    "brown": ((210, 170, 130), (95, 55, 25)),
}

# Garment parts (index 0 = background) and shoe parts, as written to extras/parts.json.
GARMENT_PARTS = ("background", "body", "sleeve", "neckline", "hem")
SHOE_PARTS = ("background", "upper", "toe", "heel", "shaft", "closure", "sole")
# Where each attribute lives; global attributes cover the whole garment ("foreground" = every index > 0).
ATTRIBUTE_PART = {
    "category": "foreground", "colour": "foreground", "shade": "foreground", "texture": "foreground",
    "sleeve": "sleeve", "neckline": "neckline", "hem": "hem",
    "heel": "heel", "shaft": "shaft", "toe": "toe", "closure": "closure",
}


def colour_rgb(attrs: dict) -> tuple[int, int, int]:
    """The garment's main RGB colour from its colour and shade."""
    light, dark = PALETTE[attrs["colour"]]
    return light if attrs["shade"] == "light" else dark


def shoe_type(attrs: dict) -> str:
    """The Shoes folder type (``womens_<type>``) that a shoe's attributes make it."""
    if attrs["shaft"] == "knee":
        plain = attrs["heel"] == "flat" and attrs["texture"] == "solid" and attrs["closure"] == "slip-on"
        return "rain_boots" if plain else "boots"
    if attrs["shaft"] == "ankle":
        return "boots"
    if attrs["heel"] == "high":
        return "pumps" if attrs["closure"] == "slip-on" else "high_heels"
    if attrs["closure"] == "laces":
        return "sneakers"
    if attrs["closure"] == "strap":
        return "sandals"
    return "clogs" if attrs["heel"] == "mid" else "flats"


def random_attributes(rng: np.random.Generator, category: str) -> dict:
    """A uniformly random attribute vector (``category`` included) in the category's attribute order."""
    attrs = {"category": category}
    for name in CATEGORY_ATTRIBUTES[category]:
        values = ATTRIBUTES[name]
        attrs[name] = values[int(rng.integers(len(values)))]
    return attrs


def mutate(rng: np.random.Generator, attrs: dict, n_changes: int) -> dict:
    """A copy of ``attrs`` with ``n_changes`` distinct attributes set to a different value."""
    names = list(CATEGORY_ATTRIBUTES[attrs["category"]])
    out = dict(attrs)
    for i in rng.choice(len(names), size=n_changes, replace=False):
        name = names[int(i)]
        others = [v for v in ATTRIBUTES[name] if v != attrs[name]]
        out[name] = others[int(rng.integers(len(others)))]
    return out


def sample_family(rng: np.random.Generator, category: str, n_members: int, p_copy: float = 0.2,
                  p_two: float = 0.3) -> list[dict]:
    """A family: a random base, then members that copy it (``p_copy``) or change 1 (or 2, ``p_two``) attributes.

    Copies give several gallery images that satisfy one query (supplementary Figs. 5-6); single changes give
    Fashion200k one-word-different descriptions and relative-caption pairs.
    """
    base = random_attributes(rng, category)
    members = [base]
    while len(members) < n_members:
        u = rng.random()
        if u < p_copy:
            members.append(dict(base))
        else:
            members.append(mutate(rng, base, 2 if u > 1.0 - p_two * (1.0 - p_copy) else 1))
    return members


def family_sizes(rng: np.random.Generator, total: int, low: int, high: int) -> list[int]:
    """Family sizes drawn from ``[low, high]`` that sum exactly to ``total``."""
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(int(rng.integers(low, high + 1)))
    sizes[-1] -= sum(sizes) - total
    if sizes[-1] < 2 and len(sizes) > 1:
        last = sizes.pop()
        sizes[-1] += last
    return sizes


def changed_attributes(ref: dict, target: dict) -> list[str]:
    """Names of the attributes (``category`` included) where ``target`` differs from ``ref``, in schema order."""
    keys = ["category"] + [k for k in ATTRIBUTES if k in ref or k in target]
    return [k for k in keys if ref.get(k) != target.get(k)]
