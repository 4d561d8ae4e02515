"""The computations behind the study notebooks: dataset anatomy, result tables, retrieval examples, attention, costs.

Notebooks call these and ``valstudy.plotting``; they hold no computation themselves. Each notebook ends with
:func:`record`, which writes the numbers it computed to ``<figures_dir>/<notebook>_<dataset>.json`` for the tests.
Numbers from the paper are constants here, cited from VAL.md and always labelled "paper, real data, cited".
"""
from __future__ import annotations

import json
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .errors import ValstudyError
from .io import read_json, write_json
from .text import tokenize

# VAL.md sections 4-5: counts of the real datasets, keyed like the loaders' DataReport.counts.
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
PAPER_LABEL = "paper, real data, cited (VAL.md)"
# VAL.md section 6 (third-party citations of the paper's tables; not reproducible here). FashionIQ: VAL protocol.
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
                  "mid": "mid level only", "high": "high level only", "lvs": "L_vv + L_vs", "softmax": "softmax loss"}
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
    return write_json(Path(figures_dir) / f"{notebook}_{dataset}.json", _plain(metrics), indent=1)


# ---------------------------------------------------------------------------------------------------- datasets
def dataset_counts(dataset, label: str = "this copy") -> pd.DataFrame:
    """The loader's counts (column ``label``) beside the paper's counts of the real dataset (NaN where it gives
    none)."""
    counts = dataset.report.counts
    paper = PAPER_COUNTS[dataset.name]
    rows = [{"count": k, label: v, PAPER_LABEL: paper.get(k, np.nan)} for k, v in counts.items()]
    rows += [{"count": k, label: np.nan, PAPER_LABEL: v} for k, v in paper.items() if k not in counts]
    return pd.DataFrame(rows).set_index("count")


def describe(dataset, key: str) -> str:
    """The image's own description where the dataset has one (Fashion200k product text, Shoes tagged caption)."""
    if hasattr(dataset, "caption"):
        return dataset.caption(key)
    if not hasattr(dataset, "_descriptions"):
        dataset._descriptions = dict(dataset.side_information())
    return dataset._descriptions.get(key, "")


def anatomy_examples(dataset, n: int = 4, seed: int = 0) -> list[dict]:
    """``n`` training triplets (reference, text, target, descriptions), preferring ones whose images are described."""
    from .data.images import load_image

    triplets = dataset.train_triplets(epoch=0, seed=seed)
    if not triplets:
        raise ValstudyError(f"{dataset.root}: no training triplets to show")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(triplets))
    described = lambda t: bool(describe(dataset, t.reference)) + bool(describe(dataset, t.target))  # noqa: E731
    chosen, refs = [], set()
    for i in sorted(order[: 50 * n], key=lambda i: -described(triplets[i])):
        t = triplets[i]
        if t.reference not in refs:
            chosen.append(t)
            refs.add(t.reference)
        if len(chosen) == n:
            break
    return [{"reference": t.reference, "target": t.target, "text": t.text,
             "reference_description": describe(dataset, t.reference),
             "target_description": describe(dataset, t.target),
             "reference_image": load_image(dataset.image_path(t.reference)),
             "target_image": load_image(dataset.image_path(t.target))} for t in chosen]


def texts_by_split(dataset) -> dict[str, list[str]]:
    """User texts of the training triplets and of the test queries (every split of the first protocol)."""
    test = [q.text for s in dataset.eval_splits(dataset.protocols[0]) for q in s.queries]
    return {"train": [t.text for t in dataset.train_triplets(epoch=0, seed=0)], "test": test}


def caption_lengths(texts: dict[str, list[str]]) -> dict[str, list[int]]:
    """Words per text (``valstudy.text.tokenize``), per split."""
    return {k: [len(tokenize(t)) for t in v] for k, v in texts.items()}


def top_words(texts: list[str], n: int = 25, stopwords=STOPWORDS) -> list[tuple[str, int]]:
    """The ``n`` most frequent tokens (ties broken alphabetically), function words left out."""
    c = Counter(w for t in texts for w in tokenize(t) if w not in stopwords)
    return sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


# ---------------------------------------------------------------------------------------------------- training
def training_curves(run_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(loss per logged step: step, phase, loss; recall per evaluation: step and one column per protocol x R@K).

    The evaluations logged during training (``eval_every``) are followed by the final one from ``results.json``.
    With categories (FashionIQ), each R@K is the mean over the categories, as the paper reports it.
    """
    run_dir = Path(run_dir)
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise ValstudyError(f"{path}: no metrics.jsonl; train the run first (valstudy train --run-dir {run_dir})")
    lines = [json.loads(l) for l in path.read_text().splitlines() if l.strip()]
    loss = pd.DataFrame([l for l in lines if "loss" in l], columns=["step", "phase", "loss"])
    evals = [(l["step"], l["eval"]) for l in lines if "eval" in l]
    results = read_json(run_dir / "results.json", "run results", "evaluate the run (valstudy eval)")
    evals.append((int(loss["step"].max()) if len(loss) else 0, results["splits"]))
    rows = []
    for step, splits in evals:
        multi = len({s["protocol"] for s in splits}) > 1
        row = {"step": step}
        for protocol in dict.fromkeys(s["protocol"] for s in splits):
            sel = [s for s in splits if s["protocol"] == protocol]
            avg = " (mean over categories)" if len(sel) > 1 else ""
            for k in [k for k in sel[0] if k.startswith("R@")]:
                row[f"{protocol + avg if multi else avg.strip()} {k}".strip()] = sum(s[k] for s in sel) / len(sel)
        rows.append(row)
    return loss, pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------- results
def recall_columns(df: pd.DataFrame) -> list[str]:
    return sorted([c for c in df.columns if c.startswith("R@")], key=lambda c: int(c[2:]))


def summary_table(df: pd.DataFrame, by: str = "method") -> pd.DataFrame:
    """Mean, std and seed count of each R@K per (``by``, protocol, category) over the seeds.

    Datasets with categories also get an ``average`` category (the mean over categories, per seed), and every row a
    ``mean R@K`` (the mean of its R@K values: FashionIQ's headline number on the ``average`` row).
    """
    if df.empty:
        raise ValstudyError("no results.json found for this dataset; train the runs first (python -m valstudy.study)")
    ks = recall_columns(df)
    df = df.assign(category=df["category"].fillna(""))
    if (df["category"] != "").any():
        avg = df.groupby([by, "seed", "protocol"], as_index=False)[ks].mean().assign(category="average")
        df = pd.concat([df, avg], ignore_index=True)
    df = df.assign(**{"mean R@K": df[ks].mean(axis=1)})
    cols = ks + ["mean R@K"]
    g = df.groupby([by, "protocol", "category"], sort=False)
    out = g[cols].mean().add_suffix(" mean").join(g[cols].std(ddof=1).add_suffix(" std"))
    out["seeds"] = g["seed"].nunique()
    out = out[[f"{c} {s}" for c in cols for s in ("mean", "std")] + ["seeds"]].reset_index()
    # rows: methods in the paper's order (VAL first), protocols as found, categories with their average last
    method_order, protocol_order = list(VARIANT_LABELS), list(dict.fromkeys(df["protocol"]))
    key = list(zip(out[by].map(lambda v: method_order.index(v) if v in method_order else len(method_order)),
                   out["protocol"].map(protocol_order.index), out["category"] == "average", out["category"]))
    out = out.iloc[sorted(range(len(out)), key=key.__getitem__)]
    return out.set_index([by, "protocol", "category"])


def protocol_bars(summary: pd.DataFrame, protocol: str, by: str = "method") -> tuple[pd.DataFrame, list[str]]:
    """One row per ``by`` value, columns ``<category R@K> mean|std`` for one protocol: the input of recall_bars."""
    part = summary.xs(protocol, level="protocol")
    ks = [c[:-5] for c in part.columns if c.startswith("R@") and c.endswith(" mean")]
    wide, metrics = {}, []
    for (name, cat), row in part.iterrows():
        for k in ks:
            label = f"{cat} {k}".strip()
            if not np.isnan(row[f"{k} mean"]):
                wide.setdefault(name, {})[f"{label} mean"] = row[f"{k} mean"]
                wide[name][f"{label} std"] = row[f"{k} std"]
                if label not in metrics:
                    metrics.append(label)
    table = pd.DataFrame.from_dict(wide, orient="index")
    table.index = [VARIANT_LABELS.get(v, v) for v in table.index]
    return table, metrics


def paper_table(dataset: str) -> pd.DataFrame:
    """The paper's published numbers for ``dataset`` (VAL.md section 6), labelled as cited real-data results."""
    t = pd.DataFrame.from_dict(PAPER_RESULTS[dataset], orient="index")
    t.index.name = "method (paper)"
    return t.assign(source=PAPER_LABEL)


def ablation_table(df: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Full VAL (methods, seed 0) and each ablation run, R@K averaged over categories, under one protocol."""
    full = df[(df["experiment"] == "methods") & (df["method"] == "val") & (df["seed"] == 0)].assign(variant="val")
    abl = df[df["experiment"] == "ablations"]
    sel = pd.concat([full, abl], ignore_index=True)
    sel = sel[sel["protocol"] == protocol]
    if sel.empty:
        raise ValstudyError(f"no VAL or ablation results under protocol {protocol!r}; train the runs first")
    ks = recall_columns(sel)
    t = sel.groupby("variant", sort=False)[ks].mean()
    order = list(VARIANT_LABELS)  # full VAL, then the ablations in the paper's order
    t = t.iloc[sorted(range(len(t)), key=lambda i: order.index(t.index[i]) if t.index[i] in order else len(order))]
    t["mean R@K"] = t[ks].mean(axis=1)
    t.insert(0, "group", [ABLATION_GROUPS.get(v, "full model") for v in t.index])
    t.index = [VARIANT_LABELS.get(v, v) for v in t.index]
    t.index.name = "variant"
    return t


# ---------------------------------------------------------------------------------------------------- qualitative
@torch.no_grad()
def rank_queries(run_dir: str | Path, protocol: str | None = None, k: int = 5, device: str = "auto",
                 chunk: int = 256) -> dict:
    """Rank the whole gallery for every test query of a run's dataset under one protocol.

    Returns a dict: ``dataset`` (the loader), ``protocol``, ``ks`` (the dataset's R@K), ``splits`` (split names) and
    ``rows``, one per query: split, reference, text, target, ``rank`` (1-based rank of the first correct image in the
    full ranking, as ``valstudy.retrieval.topk`` orders it), the top-``k`` keys and which of them are correct.
    """
    from .evaluation import KS, extract_features, load_run
    from .retrieval import topk

    model, dataset, vocab, cfg = load_run(run_dir, device=device)
    dev = next(model.parameters()).device
    protocol = protocol or dataset.protocols[0]
    rows, names = [], []
    for split in dataset.eval_splits(protocol):
        qf, gf = extract_features(model, dataset, split, vocab, cfg, dev)
        exclude = torch.tensor(split.exclude, dtype=torch.long)
        for i0 in range(0, len(split.queries), chunk):  # full rankings, ``chunk`` queries at a time
            _, idx = topk(qf[i0:i0 + chunk], gf, len(split.gallery), exclude=exclude[i0:i0 + chunk])
            for i, ranking in enumerate(idx.tolist(), start=i0):
                q, pos = split.queries[i], split.positives[i]
                rank = next((r + 1 for r, j in enumerate(ranking) if j in pos), len(ranking) + 1)
                rows.append({"split": split.name, "reference": q.reference, "text": q.text, "target": q.target,
                             "rank": rank, "retrieved": [split.gallery[j] for j in ranking[:k]],
                             "is_target": [j in pos for j in ranking[:k]]})
        names.append(split.name)
    return {"dataset": dataset, "protocol": protocol, "ks": KS[dataset.name], "splits": names, "rows": rows}


def recall_from_ranks(ranks, ks) -> dict[str, float]:
    """R@K (%) = share of queries whose first correct image is ranked within K."""
    r = np.asarray(ranks)
    return {f"R@{k}": float(100.0 * np.mean(r <= k)) if len(r) else float("nan") for k in ks}


def pick_examples(rows: list[dict], n: int = 4) -> tuple[list[dict], list[dict]]:
    """(successes: the best-ranked queries, failures: the worst-ranked), one per reference image, deterministic."""
    def distinct(candidates):
        out, seen = [], set()
        for r in candidates:
            if r["reference"] not in seen:
                out.append(r)
                seen.add(r["reference"])
            if len(out) == n:
                break
        return out

    ordered = sorted(rows, key=lambda r: (r["rank"], r["split"], r["reference"], r["text"]))
    return distinct(ordered), distinct(reversed(ordered))


def with_images(dataset, rows: list[dict]) -> list[dict]:
    """``rows`` with ``reference_image``, ``target_image`` and ``retrieved_images`` (PIL) added, for
    ``plotting.retrieval_grid``."""
    from .data.images import load_image

    return [{**r, "reference_image": load_image(dataset.image_path(r["reference"])),
             "target_image": load_image(dataset.image_path(r["target"])),
             "retrieved_images": [load_image(dataset.image_path(k)) for k in r["retrieved"]]} for r in rows]


# ---------------------------------------------------------------------------------------------------- attention
@torch.no_grad()
def attention_maps(model, dataset, queries, vocab, cfg, batch_size: int = 32) -> list[dict]:
    """Per query, per level: the JA spatial map (h, w) and the self-attention each position receives (h, w),
    averaged over heads and over the attending positions. A stream the model lacks gives no entry."""
    from torch.utils.data import DataLoader

    from .data.torchdata import QueryDataset, collate_queries
    from .training.sides import make_transform

    dev = next(model.parameters()).device
    loader = DataLoader(QueryDataset(dataset, queries, vocab, make_transform(cfg.data, train=False),
                                     min_count=cfg.data.test_min_count), batch_size=batch_size,
                        collate_fn=collate_queries)
    out = []
    for imgs, texts in loader:
        _, attns = model.encode_query(imgs.to(dev), texts.to(dev), return_attention=True)
        per = [dict() for _ in range(imgs.shape[0])]
        for lv, a in zip(model.levels, attns):
            if "spatial" in a:
                for d, m in zip(per, a["spatial"][:, 0].cpu().numpy()):  # (B, h, w)
                    d.setdefault("spatial", {})[lv] = m
            if "self" in a:
                s = a["self"].mean(dim=(1, 2))  # (B, heads, hw, hw) -> (B, hw): attention received per position
                h, w = a["spatial"].shape[-2:] if "spatial" in a else (int(s.shape[1] ** 0.5),) * 2
                for d, m in zip(per, s.view(-1, h, w).cpu().numpy()):
                    d.setdefault("self", {})[lv] = m
        out += per
    return out


def unique_queries(dataset, protocol: str) -> list:
    """The test queries of every split of ``protocol``, each (reference, text, target) once."""
    seen, out = set(), []
    for split in dataset.eval_splits(protocol):
        for q in split.queries:
            if (q.reference, q.text, q.target) not in seen:
                seen.add((q.reference, q.text, q.target))
                out.append(q)
    return out


def pick_attention_examples(queries, masks, n: int = 4) -> list[int]:
    """Indices of ``n`` queries to draw, one per reference image: with a known changed region, spread from the
    smallest region (a local attribute) to the largest (a global one); without regions, the first ones."""
    known = sorted((i for i, m in enumerate(masks) if m is not None), key=lambda i: (float(masks[i].mean()), i))
    pool, seen = [], set()
    for i in known or range(len(queries)):
        if queries[i].reference not in seen:
            seen.add(queries[i].reference)
            pool.append(i)
    if not known or len(pool) <= n:
        return pool[:n]
    return [pool[j] for j in np.linspace(0, len(pool) - 1, n).round().astype(int)]


def attention_rows(dataset, queries, maps, masks, size: int) -> list[dict]:
    """Rows for ``plotting.attention_grid``: the reference image at the model's input size (or the mask's), the maps
    upsampled to it."""
    from .data.images import load_image

    rows = []
    for q, m, mask in zip(queries, maps, masks):
        hw = mask.shape if mask is not None else (size, size)
        image = np.asarray(load_image(dataset.image_path(q.reference)).resize(hw[::-1]))
        rows.append({"image": image, "text": q.text, "region": mask,
                     **{kind: {lv: upsample(a, hw) for lv, a in m.get(kind, {}).items()}
                        for kind in ("spatial", "self")}})
    return rows


def upsample(m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of an (h, w) map to ``size`` (H, W)."""
    t = torch.nn.functional.interpolate(torch.as_tensor(m, dtype=torch.float32)[None, None], size=size,
                                        mode="bilinear", align_corners=False)
    return t[0, 0].numpy()


class ChangedRegions:
    """Where, in the reference image, the attributes a query's text changes live (synthetic extras only).

    ``pairs.json`` gives each query's changed attributes, ``parts.json`` the part each attribute lives on, and
    ``regions.npz`` each image's part mask. ``ChangedRegions.load(data_dir)`` returns None when the extras are absent
    (real data).
    """

    def __init__(self, extras: Path):
        parts = read_json(extras / "parts.json")
        self.parts, self.attribute_part = parts["parts"], parts["attribute_part"]
        self.pairs: dict = {}
        for p in read_json(extras / "pairs.json"):
            self.pairs.setdefault((p["reference"], p["target"], p["text"]), p["changed"])
            self.pairs.setdefault((p["reference"], p["target"]), p["changed"])
        self.regions = np.load(extras / "regions.npz")

    @classmethod
    def load(cls, data_dir: str | Path) -> "ChangedRegions | None":
        extras = Path(data_dir) / "extras"
        names = ("parts.json", "pairs.json", "regions.npz")
        return cls(extras) if all((extras / n).is_file() for n in names) else None

    def mask(self, reference: str, target: str, text: str) -> np.ndarray | None:
        """(H, W) bool mask of the changed attributes' parts in the reference image; None when unknown or empty."""
        changed = self.pairs.get((reference, target, text), self.pairs.get((reference, target)))
        key = reference.replace("/", "__")
        if not changed or key not in self.regions:
            return None
        part_map = self.regions[key]
        mask = np.zeros(part_map.shape, dtype=bool)
        for attr in changed:
            part = self.attribute_part.get(attr)
            if part == "foreground":
                mask |= part_map > 0
            elif part in self.parts:  # an attribute without a part of its own marks nothing
                mask |= part_map == self.parts.index(part)
        return mask if mask.any() else None


def region_mass(maps: list[dict], masks: list[np.ndarray | None], levels) -> pd.DataFrame:
    """Per level: mean share of spatial-attention mass inside the changed region, mean area fraction of the region,
    and the number of queries with a non-empty region (the others are skipped)."""
    rows = {}
    for lv in levels:
        mass, area = [], []
        for m, mask in zip(maps, masks):
            if mask is None or lv not in m.get("spatial", {}):
                continue
            up = upsample(m["spatial"][lv], mask.shape)
            mass.append(float((up * mask).sum() / max(up.sum(), 1e-12)))
            area.append(float(mask.mean()))
        rows[lv] = {"attention_mass": np.mean(mass) if mass else np.nan,
                    "area_fraction": np.mean(area) if area else np.nan, "queries": len(mass)}
    return pd.DataFrame.from_dict(rows, orient="index")


# ---------------------------------------------------------------------------------------------------- costs
def flops_summary() -> tuple[dict, pd.DataFrame]:
    """(``valstudy.flops.flops_report()``, its rows as a table with the seed's claims beside the matching rows)."""
    from .flops import flops_report

    report = flops_report()
    t = pd.DataFrame([{k: r[k] for k in ("name", "input", "macs")} for r in report["rows"]])
    claim = {"composite transformers, 3 levels (paper shapes)": report["paper"]["composite_transformers"],
             "ResNet-50 (torchvision)": report["paper"]["resnet50"]}
    t["seed (paper's claim)"] = [claim.get(n, np.nan) if (n != "ResNet-50 (torchvision)" or i.startswith("224"))
                                 else np.nan for n, i in zip(t["name"], t["input"])]
    return report, t


def flops_bars_data(report: dict) -> tuple[dict[str, float], dict[str, float]]:
    """(measured, claimed) MACs for the bars: the three composite transformers and ResNet-50 at 224 px."""
    by = {(r["name"], r["input"]): r["macs"] for r in report["rows"]}
    measured = {"composite transformers (3 levels, paper shapes)":
                by[("composite transformers, 3 levels (paper shapes)", "sum of the above")],
                "ResNet-50 (torchvision, 224 px)": by[("ResNet-50 (torchvision)", "224x224x3")]}
    paper = {"composite transformers (3 levels, paper shapes)": report["paper"]["composite_transformers"],
             "ResNet-50 (torchvision, 224 px)": report["paper"]["resnet50"]}
    return measured, paper


def time_retrieval(sizes=(1_000, 2_000, 4_000, 8_000, 16_000, 32_000), queries: int = 256, dim: int = 512,
                   k: int = 50, device: str = "cpu", repeats: int = 3, seed: int = 0) -> pd.DataFrame:
    """Seconds for ``retrieval.topk`` of a fixed query set against galleries of each size (best of ``repeats``)."""
    from .retrieval import topk

    dev = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    q = torch.nn.functional.normalize(torch.randn(queries, dim, generator=g), dim=1).to(dev)
    gallery = torch.nn.functional.normalize(torch.randn(max(sizes), dim, generator=g), dim=1).to(dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    topk(q, gallery[: min(sizes)], k)  # warm-up
    rows = []
    for n in sizes:
        best = math.inf
        for _ in range(repeats):
            sync()
            t0 = time.perf_counter()
            topk(q, gallery[:n], k)
            sync()
            best = min(best, time.perf_counter() - t0)
        rows.append({"device": dev.type, "gallery": n, "queries": queries, "dim": dim, "seconds": best})
    return pd.DataFrame(rows)


def loglog_fit(times: pd.DataFrame, min_gallery: int = 0) -> dict[str, tuple[float, float]]:
    """Per device, (slope, intercept) of the least-squares line log10(seconds) = slope * log10(N) + intercept, over
    the galleries of at least ``min_gallery`` items (small ones are dominated by per-query work independent of N)."""
    fits = {}
    for dev, part in times[times["gallery"] >= min_gallery].groupby("device"):
        slope, icpt = np.polyfit(np.log10(part["gallery"].to_numpy(float)), np.log10(part["seconds"]), 1)
        fits[dev] = (float(slope), float(icpt))
    return fits
