"""Text of the synthetic world: Fashion200k descriptions, Shoes tags, and relative captions.

- Fashion200k descriptions name every attribute of the category with one word each
  ("dark red striped long-sleeve v-neck mini dress"), so a one-attribute change is a one-word change and TIRG's
  parent-caption rule (docs/protocols.md) finds the pairs. No word is a substring of another (TIRG removes words with
  ``str.replace``).
- Relative captions (Shoes, FashionIQ) say what changes from the reference to the target, from several templates
  and synonyms per change: absolute ("is blue"), relative ("darker", "shorter sleeves") or vague ("is more casual",
  "is a different color") phrasings. Vague ones are satisfied by several targets, as in the supplementary's Figs. 5-6.
"""
from __future__ import annotations

import numpy as np

from .world import ATTRIBUTES, CATEGORY_ATTRIBUTES

# One word per attribute value in Fashion200k descriptions (the hem word depends on the category).
WORDS: dict[str, dict[str, str]] = {
    "shade": {"light": "light", "dark": "dark"},
    "colour": {c: c for c in ATTRIBUTES["colour"]},
    "texture": {"solid": "solid", "stripes": "striped", "dots": "polka-dot", "checks": "checked", "floral": "floral"},
    "sleeve": {"none": "sleeveless", "short": "short-sleeve", "long": "long-sleeve"},
    "neckline": {"round": "crew-neck", "v": "v-neck", "square": "square-neck"},
    "hem": {"mini": "mini", "knee": "knee-length", "maxi": "maxi"},
    "hem_pants": {"mini": "short", "knee": "cropped", "maxi": "full-length"},
}
F200K_ORDER = ("shade", "colour", "texture", "sleeve", "neckline", "hem")


def describe(attrs: dict) -> str:
    """The Fashion200k product description of a garment, e.g. ``dark red striped long-sleeve v-neck mini dress``."""
    cat = attrs["category"]
    words = []
    for name in F200K_ORDER:
        if name in CATEGORY_ATTRIBUTES[cat]:
            table = WORDS["hem_pants"] if name == "hem" and cat == "pants" else WORDS[name]
            words.append(table[attrs[name]])
    return " ".join(words + [cat])


def tirg_caption(s: str) -> str:
    """TIRG's caption post-processing (docs/protocols.md): strip, punctuation to word tokens."""
    return s.strip().replace(".", "dotmark").replace("?", "questionmark").replace("&", "andmark").replace(
        "*", "starmark")


def sibling_captions(captions: list[str]) -> dict[str, list[str]]:
    """Caption -> the captions that differ from it by one word, found by TIRG's parent-caption rule.

    TIRG (``caption_index_init_``) removes each word in turn to get a "parent"; captions sharing a parent are siblings.
    """
    parents: dict[str, list[str]] = {}
    for c in dict.fromkeys(captions):
        for w in c.split():
            p = c.replace(w, "").replace("  ", " ").strip()
            kids = parents.setdefault(p, [])
            if c not in kids:
                kids.append(c)
    out: dict[str, list[str]] = {c: [] for c in dict.fromkeys(captions)}
    for kids in parents.values():
        for c in kids:
            out[c].extend(k for k in kids if k != c and k not in out[c])
    return out


def replace_text(source: str, target: str) -> str:
    """TIRG's query text: ``replace <first source word not in target> with <first target word not in source>``."""
    sw, tw = source.split(), target.split()
    ws = next((w for w in sw if w not in tw), sw[-1])
    wt = next((w for w in tw if w not in sw), tw[-1])
    return f"replace {ws} with {wt}"


# ---------------------------------------------------------------- relative captions (Shoes and FashionIQ)
_NECK = {"round": ["round", "crew", "rounded"], "v": ["v", "v-shaped", "deep v"], "square": ["square", "squared"]}
_TEXTURE = {
    "solid": ["is solid", "is plain", "has no pattern", "is a solid color", "is one solid color"],
    "stripes": ["has stripes", "is striped", "has a striped pattern", "with stripes"],
    "dots": ["has polka dots", "is dotted", "has dots", "with white dots"],
    "checks": ["is checked", "has a plaid pattern", "is checkered", "has a check print"],
    "floral": ["has a floral print", "is floral", "has flowers on it", "has a flower pattern"],
}
_HEM_WORD = {"dress": "dress", "skirt": "skirt", "pants": "pants"}
_MORE = {"shade": ("lighter", "darker"), "sleeve": ("shorter", "longer"), "hem": ("shorter", "longer"),
         "heel": ("lower", "higher"), "shaft": ("lower", "taller")}
# Vague phrasings: (attribute, condition on (old, new) value ranks) -> phrases that under-determine the target.
_VAGUE = {
    "colour": ["is a different color", "has a different color", "another color"],
    "shade": ["is a different shade", "has a different tone"],
    "texture+": ["is more colorful", "is busier", "has a pattern"],
    "texture-": ["is plainer", "is simpler", "is less busy"],
    "texture": ["has a different pattern", "has another print"],
    "sleeve+": ["is more modest", "covers more of the arms"],
    "sleeve-": ["is more casual", "shows more skin"],
    "hem+": ["is more modest", "is more formal"],
    "hem-": ["is more casual", "is more revealing"],
    "heel+": ["is more formal", "is dressier", "is more elegant"],
    "heel-": ["is more casual", "is more comfortable", "is sportier"],
    "shaft+": ["covers more of the leg", "is more wintery"],
    "shaft-": ["is more summery", "is more open"],
}


def _rank(name: str, value: str) -> int:
    return ATTRIBUTES[name].index(value)


def phrase(rng: np.random.Generator, name: str, old: str, new: str, category: str, style: str) -> str:
    """One phrase saying that attribute ``name`` changes from ``old`` to ``new``.

    ``style`` is ``"absolute"`` (names the new value), ``"relative"`` (compares: "darker", "longer"; falls back to
    absolute for unordered attributes) or ``"vague"`` (under-determines the change).
    """
    def pick(options):
        return options[int(rng.integers(len(options)))]

    up = name in _MORE and _rank(name, new) > _rank(name, old)
    if style == "vague":
        if name == "texture":
            key = "texture+" if old == "solid" else ("texture-" if new == "solid" else "texture")
        else:
            key = name if name in ("colour", "shade") else name + ("+" if up else "-")
        if key in _VAGUE:
            return pick(_VAGUE[key])
        style = "relative"
    if style == "relative" and name in _MORE:
        w = _MORE[name][int(up)]
        return pick({"shade": [f"is {w}", f"{w} color", f"is a {w} shade", f"a bit {w}"],
                     "sleeve": [f"has {w} sleeves", f"{w} sleeves", f"sleeves are {w}"],
                     "hem": [f"is {w}", f"has a {w} hem", f"{w} length", f"a bit {w}"],
                     "heel": [f"has a {w} heel", f"{w} heels", f"is {w}"],
                     "shaft": [f"has a {w} shaft", f"is {w}", f"{w} boot shaft"]}[name])
    if name == "colour":
        return pick([f"is {new}", f"{new} instead of {old}", f"is {new} colored", f"in {new}", f"has a {new} color"])
    if name == "shade":
        return pick([f"is {new}er", f"is a {new}er color", f"{new}er shade"]) if new == "dark" else pick(
            ["is lighter", "is paler", "is a lighter color", "brighter color"])
    if name == "texture":
        return pick(_TEXTURE[new])
    if name == "sleeve":
        return pick({"none": ["is sleeveless", "has no sleeves", "without sleeves"],
                     "short": ["has short sleeves", "is short sleeved"],
                     "long": ["has long sleeves", "is long sleeved"]}[new])
    if name == "neckline":
        w = pick(_NECK[new])
        return pick([f"has a {w} neckline", f"has a {w} neck", f"{w} neck"])
    if name == "hem":
        noun = _HEM_WORD.get(category, "dress")
        return pick({"mini": [f"is a mini {noun}", "is very short", "is short"] if noun != "pants" else
                     ["is shorts", "is very short"],
                     "knee": ["is knee length", f"is a midi {noun}"] if noun != "pants" else ["is cropped",
                                                                                             "is knee length"],
                     "maxi": [f"is a maxi {noun}", "is floor length", "is full length"]}[new])
    if name == "heel":
        return pick({"flat": ["is flat", "has no heel", "is a flat shoe"],
                     "mid": ["has a medium heel", "has a small heel", "has a mid heel"],
                     "high": ["has a high heel", "is high heeled", "has stiletto heels"]}[new])
    if name == "shaft":
        return pick({"low": ["is not a boot", "is a low shoe", "is not ankle high"],
                     "ankle": ["is an ankle boot", "is ankle high", "is a bootie"],
                     "knee": ["is a knee high boot", "is a tall boot", "goes up to the knee"]}[new])
    if name == "toe":
        return pick(["has a pointed toe", "is pointier", "has a pointy toe"] if new == "pointed" else
                    ["has a round toe", "is more rounded at the toe", "has a rounded toe"])
    if name == "closure":
        return pick({"laces": ["has laces", "is lace up", "has shoelaces"],
                     "strap": ["has a strap", "is strappy", "has an ankle strap"],
                     "slip-on": ["is a slip on", "has no laces", "has no straps or laces"]}[new])
    raise ValueError(f"phrase: unknown attribute {name!r}")


def _style(rng: np.random.Generator, p_vague: float) -> str:
    u = rng.random()
    return "vague" if u < p_vague else ("relative" if u < p_vague + (1 - p_vague) / 2 else "absolute")


def join(rng: np.random.Generator, phrases: list[str]) -> str:
    """Join phrases into one caption, with the casual variety of crowd-sourced text."""
    if len(phrases) == 1:
        text = phrases[0]
    else:
        second = phrases[1]
        if second.startswith("has ") and rng.random() < 0.3:
            text = phrases[0] + " with " + second[4:]
        else:
            text = phrases[0] + [" and ", ", ", " and also "][int(rng.integers(3))] + second
    if rng.random() < 0.15:
        text = text[0].upper() + text[1:]
    if rng.random() < 0.1:
        text += "."
    return text


def relative_caption(rng: np.random.Generator, ref: dict, target: dict, names: list[str],
                     p_vague: float = 0.2) -> str:
    """A caption naming the changes of attributes ``names`` from ``ref`` to ``target``."""
    if "colour" in names and "shade" in names and rng.random() < 0.7:  # "is dark blue" covers both
        rest = [n for n in names if n not in ("colour", "shade")]
        first = [f"is {target['shade']} {target['colour']}"]
        return join(rng, first + [phrase(rng, n, ref[n], target[n], ref["category"], _style(rng, p_vague))
                                  for n in rest])
    return join(rng, [phrase(rng, n, ref[n], target[n], ref["category"], _style(rng, p_vague)) for n in names])


def caption_pair(rng: np.random.Generator, ref: dict, target: dict, changed: list[str]) -> list[tuple[str, list[str]]]:
    """FashionIQ's two captions of a pair, each with the attributes it names.

    With two changes, half the time each caption names a different one (each alone under-determines the target);
    otherwise the first names all changes and the second rephrases one of them, often vaguely.
    """
    if len(changed) == 2 and rng.random() < 0.5:
        order = list(changed) if rng.random() < 0.5 else list(reversed(changed))
        return [(relative_caption(rng, ref, target, [n]), [n]) for n in order]
    one = [changed[int(rng.integers(len(changed)))]]
    return [(relative_caption(rng, ref, target, list(changed)), list(changed)),
            (relative_caption(rng, ref, target, one, p_vague=0.4), one)]


def shoe_tags(rng: np.random.Generator, attrs: dict, shoe_type: str) -> str:
    """A tagged description of a shoe as in ``captions_shoes.json``, e.g. ``dark red strappy high heels``."""
    words = []
    if rng.random() < 0.8:
        words += ([attrs["shade"]] if rng.random() < 0.6 else []) + [attrs["colour"]]
    if attrs["texture"] != "solid" and rng.random() < 0.7:
        words.append(WORDS["texture"][attrs["texture"]])
    if rng.random() < 0.6:
        words.append({"laces": "lace-up", "strap": "strappy", "slip-on": "slip-on"}[attrs["closure"]])
    if attrs["toe"] == "pointed" and rng.random() < 0.4:
        words.append("pointed")
    noun = {"high_heels": "high heels", "rain_boots": "rain boots"}.get(shoe_type, shoe_type)
    if attrs["heel"] != "high" or shoe_type != "high_heels":
        if rng.random() < 0.5:
            words.append({"flat": "flat", "mid": "mid-heel", "high": "high-heel"}[attrs["heel"]])
    return " ".join(words + [noun])
