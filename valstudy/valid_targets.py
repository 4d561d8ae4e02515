"""Valid targets of a query on synthetic data: every gallery image that does what the text asks.

The paper's Future Work asks for metrics that credit the several gallery images a vague text describes (its Figs. 5-6
explain many "failures" so). The synthetic world knows each image's attributes (``<root>/extras/attributes.json``)
and which attributes each caption changes and names (``pairs.json``: ``changed``, ``mentioned``), so validity can be
decided exactly; ``docs/valid_targets.md`` states the rule, summarised here. A gallery image ``v`` is a valid target
of a query with reference ``r``, annotated target ``t``, changed attributes ``C`` and mentioned attributes ``M``
(``M = C`` when the caption names every change) when

1. ``v`` has the reference's category;
2. for each mentioned attribute ``a``: ``v[a]`` is a value the caption's phrase allows. The phrase is recognised
   among the world's caption templates (``valstudy.data.synth.captions.phrase``): an *absolute* phrase ("is blue")
   allows the target's value only; a *relative* one ("longer sleeves") every value beyond the reference's in that
   direction; a *vague* one ("is a different color", "is more casual") every value it does not rule out;
3. for each changed but unmentioned attribute: the reference's or the target's value (the text is silent on it);
4. every other attribute equals the reference's (the text keeps it);
5. ``v`` is not the reference image.

The annotated target always meets the rule, and the protocol's positives are added to the set, so valid@K >= R@K.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .data.base import EvalSplit
from .data.synth.captions import _MORE, _VAGUE, phrase
from .data.synth.world import ATTRIBUTES
from .errors import ValstudyError
from .io import read_json

__all__ = ["ValidTargets", "allowed_values", "phrase_styles", "STYLES"]

STYLES = ("absolute", "relative", "vague")  # from the most to the least determined


class _Enumerate:
    """A stand-in for ``numpy.random.Generator`` whose ``integers(n)`` walks fixed choices (to list every phrase)."""

    def __init__(self, choices):
        self.choices = iter(choices)

    def integers(self, n):
        return min(next(self.choices, 0), n - 1)


def _vague_key(name: str, old: str, new: str) -> str:
    """The key of ``captions._VAGUE`` that a vague phrase for this change is drawn from (as ``phrase`` picks it)."""
    if name == "texture":
        return "texture+" if old == "solid" else ("texture-" if new == "solid" else "texture")
    if name in ("colour", "shade"):
        return name
    up = ATTRIBUTES[name].index(new) > ATTRIBUTES[name].index(old)
    return name + ("+" if up else "-")


def _effective_style(name: str, old: str, new: str, style: str) -> str:
    """The style ``phrase`` actually writes when asked for ``style`` (vague and relative fall back as it does)."""
    if style == "vague" and _vague_key(name, old, new) in _VAGUE:
        return "vague"
    if style in ("vague", "relative") and name in _MORE:
        return "relative"
    return "absolute"


def allowed_values(name: str, old: str, new: str, style: str) -> frozenset[str]:
    """Values of attribute ``name`` that a ``style`` phrase saying ``old -> new`` allows (always including ``new``)."""
    values = ATTRIBUTES[name]
    if style == "absolute":
        return frozenset({new})
    up = values.index(new) > values.index(old)
    beyond = frozenset(v for v in values if (values.index(v) > values.index(old)) == up and v != old)
    if style == "relative":
        return beyond
    if style != "vague":
        raise ValstudyError(f"allowed_values: unknown style {style!r}; choose one of {', '.join(STYLES)}")
    key = _vague_key(name, old, new)
    if key in ("colour", "shade"):
        return frozenset(v for v in values if v != old)
    if key == "texture+":
        return frozenset(v for v in values if v != "solid")
    if key == "texture-":
        return frozenset({"solid"})
    if key == "texture":
        return frozenset(v for v in values if v not in (old, "solid"))
    return beyond  # sleeve, hem, heel, shaft: "more modest", "more casual", ... say which way


@lru_cache(maxsize=None)
def _phrases(name: str, old: str, new: str, category: str) -> dict[str, frozenset[str]]:
    """Effective style -> every phrase the templates can write for this change (lower case)."""
    out: dict[str, set[str]] = {}
    for style in STYLES:
        eff = _effective_style(name, old, new, style)
        for i in range(6):
            for j in range(6):
                p = phrase(_Enumerate([i, j]), name, old, new, category, style).lower()
                out.setdefault(eff, set()).add(p)
                if p.startswith("has "):  # captions.join writes "<first> with <second minus 'has '>"
                    out[eff].add("with " + p[4:])
    return {k: frozenset(v) for k, v in out.items()}


def _contains(text: str, p: str) -> bool:
    return re.search(r"(?<![\w-])" + re.escape(p) + r"(?![\w-])", text) is not None


def _normalise(text: str) -> str:
    return " ".join(text.lower().strip().rstrip(".").split())


def phrase_styles(text: str, name: str, old: str, new: str, category: str) -> set[str]:
    """The styles of the template phrases for ``name: old -> new`` found in ``text`` (empty when none is found)."""
    text = _normalise(text)
    return {style for style, ps in _phrases(name, old, new, category).items() if any(_contains(text, p) for p in ps)}


@dataclass
class SplitValidity:
    """Valid targets of one split: per query the valid gallery indices and the caption's vaguest style."""

    valid: list[frozenset[int]]
    styles: list[str]
    report: dict[str, int]


class ValidTargets:
    """Valid targets from a synthetic dataset's extras (``attributes.json``, ``pairs.json``).

    ``ValidTargets.load(root)`` returns None for a dataset without them (real data): valid@K is not defined there.
    """

    def __init__(self, attributes: dict[str, dict], pairs: list[dict], source: str = "pairs.json"):
        self.attributes = attributes
        self.by_pair: dict[tuple[str, str], list[dict]] = {}
        for n, p in enumerate(pairs):
            missing = [k for k in ("reference", "target", "text", "changed") if k not in p]
            if missing:
                raise ValstudyError(f"{source}: entry {n} lacks {', '.join(missing)}")
            self.by_pair.setdefault((p["reference"], p["target"]), []).append(p)

    @classmethod
    def load(cls, root: str | Path) -> "ValidTargets | None":
        extras = Path(root) / "extras"
        if not (extras / "attributes.json").is_file() or not (extras / "pairs.json").is_file():
            return None
        return cls(read_json(extras / "attributes.json"), read_json(extras / "pairs.json"),
                   source=str(extras / "pairs.json"))

    def _attrs(self, key: str) -> dict:
        try:
            return self.attributes[key]
        except KeyError:
            raise ValstudyError(f"attributes.json: no attributes for image {key!r}") from None

    def _constraints(self, reference: str, target: str, text: str, counts: dict) -> tuple[dict, str] | None:
        """(attribute -> allowed values, vaguest style) for one query; None when no caption entry matches."""
        entries = self.by_pair.get((reference, target), [])
        norm = _normalise(text)
        matched = [e for e in entries if _normalise(e["text"]) and _normalise(e["text"]) in norm]
        if not matched:
            return None
        r, t = self._attrs(reference), self._attrs(target)
        said: dict[str, frozenset[str]] = {}  # what the captions ask of the attributes they name
        style_rank = 0
        for e in matched:
            mentioned = [a for a in e.get("mentioned", e["changed"]) if a != "category"]
            etext = _normalise(e["text"])
            both = {"colour", "shade"} <= set(mentioned) and _contains(etext, f"is {t['shade']} {t['colour']}")
            for a in mentioned:
                if both and a in ("colour", "shade"):
                    styles = {"absolute"}
                elif etext.startswith("replace "):  # Fashion200k: "replace <word> with <target's word>"
                    styles = {"absolute"}
                else:
                    styles = phrase_styles(etext, a, r[a], t[a], r["category"])
                if not styles:
                    counts["unparsed_phrases"] += 1
                    styles = {"absolute"}  # the strictest reading
                values = frozenset().union(*(allowed_values(a, r[a], t[a], s) for s in styles))
                said[a] = said[a] & values if a in said else values
                style_rank = max(style_rank, max(STYLES.index(s) for s in styles))
        # changed but unnamed: the reference's or the target's value
        allowed = {a: frozenset({r[a], t[a]}) for a in matched[0]["changed"] if a != "category"}
        allowed.update(said)
        return allowed, STYLES[style_rank]

    def for_split(self, split: EvalSplit) -> SplitValidity:
        """Valid gallery indices (the protocol's positives included) and the caption style of each query."""
        gallery = [self._attrs(k) for k in split.gallery]
        counts = {"queries": len(split.queries), "unmatched_queries": 0, "unparsed_phrases": 0,
                  "positives_outside_rule": 0}
        valid, styles = [], []
        for q, pos, excl in zip(split.queries, split.positives, split.exclude):
            rule = self._constraints(q.reference, q.target, q.text, counts)
            if rule is None:
                counts["unmatched_queries"] += 1
                valid.append(frozenset(pos))
                styles.append("unknown")
                continue
            allowed, style = rule
            r = self._attrs(q.reference)
            ok = set()
            for j, (key, v) in enumerate(zip(split.gallery, gallery)):
                if j == excl or key == q.reference or v.get("category") != r["category"]:
                    continue
                if all(v.get(a) in allowed[a] if a in allowed else v.get(a) == r[a] for a in r if a != "category"):
                    ok.add(j)
            counts["positives_outside_rule"] += len(set(pos) - ok)
            valid.append(frozenset(ok | set(pos)))
            styles.append(style)
        return SplitValidity(valid, styles, counts)
