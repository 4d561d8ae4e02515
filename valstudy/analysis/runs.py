"""Training curves, result tables and retrieval examples from run folders
(the training, results, ablations and qualitative notebooks)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from ..errors import ValstudyError
from .common import PAPER_LABEL, PAPER_RESULTS, VARIANT_LABELS


def training_curves(record: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(loss per logged step: step, phase, loss; recall per evaluation: step and one column per protocol x R@K) of
    a run's record (``valstudy.study.records``).

    The evaluations logged during training (``eval_every``) are followed by the final one on the test split. With
    categories (FashionIQ), each R@K is the mean over the categories, as the paper reports it.
    """
    log = record["metrics"]["loss"]
    loss = pd.DataFrame({k: log[k] for k in ("step", "phase", "loss")})
    evals = [(ev["step"], ev["eval"]) for ev in record["metrics"]["evaluations"]]
    evals.append((int(loss["step"].max()) if len(loss) else 0, record["results"]["splits"]))
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
    """The paper's published numbers for ``dataset`` (docs/published-numbers.md), labelled as cited."""
    t = pd.DataFrame.from_dict(PAPER_RESULTS[dataset], orient="index")
    t.index.name = "method (paper)"
    return t.assign(source=PAPER_LABEL)


# ---------------------------------------------------------------------------------------------------- qualitative
def rank_queries(run_dir: str | Path, protocol: str | None = None, k: int = 5, device: str = "auto",
                 chunk: int = 256, config=None) -> dict:
    """Rank the whole gallery for every test query of a run's dataset under one protocol (the evaluation's own path,
    ``valstudy.evaluation.rank_splits``, at full depth).

    Returns a dict: ``dataset`` (the loader), ``protocol``, ``ks`` (the dataset's R@K), ``splits`` (split names) and
    ``rows``, one per query: split, reference, text, target, ``rank`` (1-based rank of the first correct image in the
    full ranking, as ``valstudy.retrieval.topk`` orders it), the top-``k`` keys and which of them are correct.
    """
    from ..evaluation import KS, load_run, rank_splits

    model, dataset, vocab, cfg = load_run(run_dir, device=device, config=config)
    protocol = protocol or dataset.protocols[0]
    rows, names = [], []
    for split, ranked, ranks in rank_splits(model, dataset, vocab, cfg, protocol, full=True, chunk=chunk):
        for i, (top, rank) in enumerate(zip(ranked[:, :k].tolist(), ranks.tolist())):
            q, pos = split.queries[i], split.positives[i]
            rows.append({"split": split.name, "reference": q.reference, "text": q.text, "target": q.target,
                         "rank": rank or ranked.shape[1] + 1, "retrieved": [split.gallery[j] for j in top],
                         "is_target": [j in pos for j in top]})
        names.append(split.name)
    return {"dataset": dataset, "protocol": protocol, "ks": KS[dataset.name], "splits": names, "rows": rows}


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
    from ..data.images import load_image

    return [{**r, "reference_image": load_image(dataset.image_path(r["reference"])),
             "target_image": load_image(dataset.image_path(r["target"])),
             "retrieved_images": [load_image(dataset.image_path(k)) for k in r["retrieved"]]} for r in rows]
