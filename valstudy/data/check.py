"""``data check``: what a copy of a dataset holds, next to the counts the paper's protocol expects.

``check_dataset`` returns a JSON-able dict; ``format_report`` renders it as a table. Expected counts are those of the
real datasets (docs/protocols.md); a synthetic dataset will not match them, and is not meant to.
"""
from __future__ import annotations

from . import load_dataset
from .images import verify_image
from ..errors import DataError

SHOW_FIRST = 5   # how many missing / unreadable paths the report lists

# (protocol, category) -> expected counts on the real data; "" = no category. docs/protocols.md and
# XiaoxiaoGuo/fashion-iq `README.md` (official query count = val pairs, one query per pair).
EXPECTED_SPLITS: dict[str, dict[tuple[str, str], dict[str, int]]] = {
    "fashion200k": {("default", ""): {"queries": 33480, "gallery": 29789}},
    "shoes": {("default", ""): {"queries": 3492, "gallery": 4642},
              ("dedup", ""): {"queries": 1761, "gallery": 4642}},
    "fashioniq": {
        ("val", "dress"): {"queries": 4034, "gallery": 2628},
        ("val", "shirt"): {"queries": 4075, "gallery": 3089},
        ("val", "toptee"): {"queries": 3920, "gallery": 2902},
        ("official", "dress"): {"queries": 2017, "gallery": 3817},
        ("official", "shirt"): {"queries": 2038, "gallery": 6346},
        ("official", "toptee"): {"queries": 1961, "gallery": 5373},
    },
}
EXPECTED_TRAIN: dict[str, dict[str, int]] = {
    "fashion200k": {"train_images": 172049, "train_unique_captions": 53099, "train_modifiable_images": 106464},
    "shoes": {"triplets": 10751, "train_list_images": 10000, "eval_list_images": 4621, "train_lines": 17954,
              "tagged_descriptions": 3600},
    "fashioniq": {},
}


def check_dataset(name: str, root, images: bool = True) -> dict:
    """Load ``name`` from ``root`` and report what it holds.

    Parameters
    ----------
    name : fashion200k, shoes or fashioniq.
    root : the dataset folder; an absent one raises MissingResourceError pointing to data/README.md.
    images : check that every referenced image exists and decodes (slow on the real data); False reads the
        annotation files only.

    Returns
    -------
    dict with ``dataset``, ``root``, ``images_checked``, ``train`` (triplets, images, side information, vocabulary
    texts), ``splits`` (one entry per protocol and category: queries, gallery, dropped, expected), ``counts``
    (loader counts with the expected ones beside them), ``missing_images`` / ``unreadable_images`` (count + first
    paths) and ``notes``.
    """
    ds = load_dataset(name, root, check_images=images)
    unreadable: list[str] = []
    if images:
        keys = set(ds.train_images())
        for t in ds.train_triplets(epoch=0, seed=0):
            keys.update((t.reference, t.target))
        for p in ds.protocols:
            for s in ds.eval_splits(p):
                keys.update(s.gallery)
                keys.update(q.reference for q in s.queries)
        for k in sorted(keys):
            path = ds.image_path(k)
            if path.is_file():
                try:
                    verify_image(path)
                except DataError:
                    unreadable.append(str(path))
        ds.report.unreadable_images = unreadable
    splits = []
    for p in ds.protocols:
        for s in ds.eval_splits(p):
            splits.append({"protocol": p, "category": s.category, "queries": len(s.queries),
                           "unique_queries": len(set(s.queries)), "gallery": len(s.gallery),
                           "dropped": dict(s.dropped),
                           "expected": EXPECTED_SPLITS[name].get((p, s.category), {})})
    expected_train = EXPECTED_TRAIN[name]
    counts = {k: {"found": v, "expected": expected_train.get(k)} for k, v in ds.report.counts.items()}
    notes = list(ds.report.notes)
    if unreadable:
        notes.append(f"{len(unreadable)} image files do not decode; the torch datasets will stop on them")
    return {
        "dataset": name, "root": str(root), "images_checked": images,
        "train": {"triplets_epoch0": len(ds.train_triplets(epoch=0, seed=0)), "images": len(ds.train_images()),
                  "side_information": len(ds.side_information()), "vocabulary_texts": len(ds.vocabulary_texts())},
        "splits": splits, "counts": counts,
        "missing_images": {"count": len(ds.report.missing_images), "first": ds.report.missing_images[:SHOW_FIRST]},
        "unreadable_images": {"count": len(unreadable), "first": unreadable[:SHOW_FIRST]},
        "notes": notes,
    }


def _fmt(found, expected) -> str:
    if expected is None:
        return f"{found:,}"
    mark = "" if found == expected else " *"
    return f"{found:,} ({expected:,}){mark}"


def format_report(d: dict) -> str:
    """A readable table of a :func:`check_dataset` result; ``found (expected on the real data)``, ``*`` = differs."""
    lines = [f"{d['dataset']} at {d['root']}  (images {'checked' if d['images_checked'] else 'not checked'})", ""]
    t = d["train"]
    lines.append(f"training: {t['triplets_epoch0']:,} triplets (epoch 0), {t['images']:,} images, "
                 f"{t['side_information']:,} side-information texts, {t['vocabulary_texts']:,} vocabulary texts")
    lines.append("")
    header = f"{'protocol':<10} {'category':<9} {'queries (expected)':>24} {'unique':>8} {'gallery (expected)':>24}  dropped"
    lines += [header, "-" * len(header)]
    for s in d["splits"]:
        e = s["expected"]
        dropped = ", ".join(f"{k}={v}" for k, v in s["dropped"].items() if v) or "-"
        lines.append(f"{s['protocol']:<10} {s['category'] or '-':<9} {_fmt(s['queries'], e.get('queries')):>24} "
                     f"{s['unique_queries']:>8,} {_fmt(s['gallery'], e.get('gallery')):>24}  {dropped}")
    lines += ["", "counts:"]
    width = max((len(k) for k in d["counts"]), default=0)
    for k, v in d["counts"].items():
        lines.append(f"  {k:<{width}}  {_fmt(v['found'], v['expected'])}")
    for what in ("missing_images", "unreadable_images"):
        m = d[what]
        lines.append(f"{what.replace('_', ' ')}: {m['count']:,}" +
                     (f"  e.g. {', '.join(m['first'])}" if m["first"] else ""))
    lines += [f"note: {n}" for n in d["notes"]]
    lines.append("(expected = the real dataset's counts, docs/protocols.md; * = differs)")
    return "\n".join(lines)
