"""Every run's results in one pandas table: from ``results.json`` files (:func:`gather_results`) or from the study's
records (:func:`results_table`)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import pandas as pd

from .io import read_json


def gather_results(root: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """One row per (run, protocol, category): run, dataset, method, seed, protocol, category, R@K, counts, and
    ``valid@K``, ``precision@K``, ``refsim@K`` where evaluation computed them (``docs/valid_targets.md``).

    ``root``: a folder searched for ``results.json`` files, or a list of such folders (e.g. the run folders of the
    study's plan). Extra configuration labels saved by the study (``label.json`` beside ``results.json``) become
    columns too.
    """
    from .evaluation import check_results

    roots = [root] if isinstance(root, (str, Path)) else list(root)
    rows = []
    for path in sorted({p for r in roots for p in Path(r).rglob("results.json")}):
        res = check_results(read_json(path), path)
        label_file = path.parent / "label.json"
        labels = read_json(label_file) if label_file.is_file() else {}
        for split in res["splits"]:
            row = {"run": res["run"], "run_dir": res["run_dir"], "dataset": res["dataset"], "method": res["method"],
                   "seed": res["seed"], "protocol": split["protocol"], "category": split.get("category", ""),
                   "queries": split["queries"], "gallery": split["gallery"], **labels}
            if res.get("stand_in_images"):  # numbers on stand-in images measure the route, not the method
                row["stand_in_images"] = True
            row.update({k: v for k, v in split.items() if k.startswith(("R@", "valid@", "precision@", "refsim@"))})
            rows.append(row)
    return pd.DataFrame(rows)


def _rows(res: dict, labels: dict, run: str) -> list[dict]:
    rows = []
    for split in res["splits"]:
        row = {"run": run, "dataset": res["dataset"], "method": res["method"], "seed": res["seed"],
               "protocol": split["protocol"], "category": split.get("category", ""), "queries": split["queries"],
               "gallery": split["gallery"], **labels}
        if res.get("stand_in_images"):  # numbers on stand-in images measure the route, not the method
            row["stand_in_images"] = True
        row.update({k: v for k, v in split.items() if k.startswith(("R@", "valid@", "precision@", "refsim@"))})
        rows.append(row)
    return rows


def results_table(records: Iterable[dict]) -> pd.DataFrame:
    """One row per (run, protocol, category) from the study's records (``valstudy.study.records``): the run's name,
    dataset, method, seed, its labels (experiment, variant) and every recall."""
    return pd.DataFrame([row for rec in records for row in _rows(rec["results"], rec["labels"], rec["name"])])
