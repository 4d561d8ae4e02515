"""Records: what a finished run leaves in the repository, so figures and findings need no retraining.

A record (``<records>/<dataset>/<variant>/seed<k>.json``, the run's name) holds the run's resolved configuration,
its metrics along training (losses and validation recalls), its results under every protocol, the measures the
chapters draw on (``measures.json``, written by ``python -m valstudy measure``), and where it ran (git SHA, library
versions, machine, the Dask worker). Paths in it are *portable*: the profile's data root is written ``{data}``, so a
record made on one machine describes the same run on another, and no absolute path of the machine that made it is
committed.

A run of the plan is *recorded* when its record holds the plan's configuration and the current evaluation and
measures versions: the study does not retrain it, whichever machine made the record. A few weight files the chapters
load (VAL's first seed on each dataset, ``<records>/<dataset>/val/seed0.model/``) are kept beside the records as a
minimal run folder (``config.json``, ``vocab.json``, ``final.pt`` holding the EMA weights only).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..config import config_from_dict, config_to_dict, saved_differences
from ..errors import ValstudyError
from ..io import read_json, write_json
from .plan import RunSpec

RECORD_VERSION = 1
DATA = "{data}"  # the profile's data root in a portable path
# What a record keeps of each evaluated split: its numbers, not its per-query lists (``ranks`` are kept: paired
# per-query analyses and sampling errors need them).
_DROP_SPLIT_KEYS = ("valid_ranks", "valid_counts", "styles", "validity")


def record_path(records_root: str | Path, spec_or_name) -> Path:
    """The record of a run: ``<records>/<name>.json``."""
    name = spec_or_name.name if isinstance(spec_or_name, RunSpec) else str(spec_or_name)
    return Path(records_root) / f"{name}.json"


def model_path(records_root: str | Path, name: str) -> Path:
    """The folder of a run's committed weights (a minimal run folder): ``<records>/<name>.model``."""
    return Path(records_root) / f"{name}.model"


def portable(value, data_root: str | Path):
    """``value`` (a configuration dict, a string, nested lists and dicts) with the data root written ``{data}``."""
    root = str(Path(data_root))
    if isinstance(value, str):
        return DATA + value[len(root):] if value == root or value.startswith(root + os.sep) else value
    if isinstance(value, dict):
        return {k: portable(v, data_root) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [portable(v, data_root) for v in value]
    return value


def localise(value, data_root: str | Path):
    """The inverse of :func:`portable`: ``{data}`` back to this machine's data root."""
    if isinstance(value, str):
        return str(Path(data_root)) + value[len(DATA):] if value.startswith(DATA) else value
    if isinstance(value, dict):
        return {k: localise(v, data_root) for k, v in value.items()}
    if isinstance(value, list):
        return [localise(v, data_root) for v in value]
    return value


def portable_config(spec: RunSpec, data_root: str | Path) -> dict:
    """The run's configuration as a record holds it (JSON types, portable paths)."""
    return json.loads(json.dumps(portable(config_to_dict(spec.config), data_root)))


def record_state(spec: RunSpec, records_root: str | Path, data_root: str | Path, versions: dict) -> str:
    """``recorded`` (the record holds this configuration and the current ``versions``; a version given as None is
    not required), ``stale`` (the same configuration, an older evaluation or measures version) or ``missing`` (no
    record, or one of another configuration)."""
    path = record_path(records_root, spec)
    if not path.is_file():
        return "missing"
    rec = read_json(path)
    if saved_differences(rec.get("config") or {}, portable_config(spec, data_root)):
        return "missing"
    have = {"evaluation_version": rec.get("results", {}).get("evaluation_version"),
            "measures_version": rec.get("measures", {}).get("measures_version")}
    return "recorded" if all(have.get(k) == v for k, v in versions.items() if v is not None) else "stale"


def machine() -> dict:
    """The machine this process runs on (``valstudy.checkpoint.machine``; imported when asked, it loads torch)."""
    from ..checkpoint import machine as here
    return here()


def _metrics(run_dir: Path) -> dict:
    """metrics.jsonl as columns: ``loss`` (step, phase, loss, lr, steps_per_s) and ``evaluations`` (step, rows)."""
    loss, evals = {"step": [], "phase": [], "loss": [], "lr": [], "steps_per_s": []}, []
    path = run_dir / "metrics.jsonl"
    for line in path.read_text().splitlines() if path.is_file() else []:
        r = json.loads(line)
        if "eval" in r:
            evals.append({"step": r["step"], "eval": [{k: v for k, v in row.items() if k != "ranks"}
                                                      for row in r["eval"]]})
        elif "loss" in r:
            for k in loss:
                loss[k].append(r.get(k))
    return {"loss": loss, "evaluations": evals}


def _results(run_dir: Path) -> dict:
    res = read_json(run_dir / "results.json")
    splits = [{k: v for k, v in s.items() if k not in _DROP_SPLIT_KEYS} for s in res["splits"]]
    keep = ("dataset", "method", "seed", "weights", "evaluation_version", "summary", "stand_in_images", "note")
    return {**{k: res[k] for k in keep if k in res}, "splits": splits}


def build_record(spec: RunSpec, run_dir: str | Path, data_root: str | Path, extra_meta: dict | None = None) -> dict:
    """The record of a finished, evaluated (and measured) run folder."""
    run_dir = Path(run_dir)
    meta = read_json(run_dir / "meta.json") if (run_dir / "meta.json").is_file() else {}
    measures = read_json(run_dir / "measures.json") if (run_dir / "measures.json").is_file() else {}
    return {"record_version": RECORD_VERSION, "name": spec.name, "labels": spec.labels,
            "config": portable_config(spec, data_root),
            "meta": portable({**{k: v for k, v in meta.items() if k != "run_dir"}, **(extra_meta or {})}, data_root),
            "metrics": _metrics(run_dir), "results": portable(_results(run_dir), data_root),
            "measures": portable(measures, data_root)}


def write_record(record: dict, records_root: str | Path) -> Path:
    """Write ``record`` atomically to its place under ``records_root``; refuses one holding an absolute path."""
    text = json.dumps(record, separators=(",", ":"))
    for root in ("/" + p for p in ("home/", "root/", "tmp/", "work/", "Users/")):
        if f'"{root}' in text:
            raise ValstudyError(f"record of {record['name']}: holds an absolute path ({root}...); records are "
                                f"committed and must stay portable")
    return write_json(record_path(records_root, record["name"]), record, indent=None)


def read_records(records_root: str | Path, specs: list[RunSpec]) -> list[dict]:
    """The records of ``specs`` that exist (in the plan's order)."""
    out = []
    for spec in specs:
        path = record_path(records_root, spec)
        if path.is_file():
            out.append(read_json(path))
    return out


def export_model(run_dir: str | Path, records_root: str | Path, name: str, data_root: str | Path) -> Path:
    """Copy a finished run's EMA weights, configuration and vocabulary to ``<records>/<name>.model`` (committed)."""
    import torch

    run_dir, target = Path(run_dir), model_path(records_root, name)
    state = torch.load(run_dir / "final.pt", map_location="cpu", weights_only=True)
    target.mkdir(parents=True, exist_ok=True)
    from ..checkpoint import save_checkpoint
    save_checkpoint(target / "final.pt", {"step": state["step"], "ema": state["ema"]})
    write_json(target / "config.json", portable(read_json(run_dir / "config.json"), data_root))
    write_json(target / "vocab.json", read_json(run_dir / "vocab.json"), indent=None)
    return target


def model_config(model_dir: str | Path, data_root: str | Path):
    """The configuration of committed weights with ``{data}`` resolved to this machine's data root."""
    model_dir = Path(model_dir)
    if not (model_dir / "final.pt").is_file():
        raise ValstudyError(f"{model_dir}: no committed weights here; run `make study` to train them")
    return config_from_dict(localise(read_json(model_dir / "config.json"), data_root), str(model_dir / "config.json"))
