"""valstudy: a reproducible study of VAL (Chen, Gong and Bazzani, CVPR 2020).

The public API, what the notebooks use (each name is imported from its module on first use, so ``import valstudy``
stays light and no layer imports the package above it):

>>> from valstudy import get_config, load_dataset, build_model, train, eval_run   # doctest: +SKIP

See docs/architecture.md for the layers and where each name lives.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    # configuration
    "get_config": "config", "apply_overrides": "config", "load_config": "config", "CONFIGS": "config",
    "PROFILES": "config", "ABLATIONS": "config", "DATASETS": "config", "METHODS": "config",
    "TrainConfig": "config", "DataConfig": "config", "ModelConfig": "config",
    "ValstudyError": "errors", "read_json": "io",
    # data, text, models
    "load_dataset": "data", "DatasetLoader": "data.base", "DATASET_LOADERS": "data:DATASETS", "tokenize": "text",
    "build_model": "models",
    # training, evaluation, results
    "train": "training", "load_run": "evaluation", "eval_run": "evaluation", "evaluate_model": "evaluation",
    "rank_splits": "evaluation", "recall_at_k": "metrics", "topk": "retrieval", "gather_results": "results",
    "flops_report": "flops", "format_flops": "flops",
    # the study and the notebooks
    "prepare": "study", "REPO": "study", "absolute": "study", "profile_paths": "study",
    "SearchEngine": "search", "simulate_run": "simulate", "SearchWidget": "widget",
}
_MODULES = ("analysis", "plotting")

__all__ = ["__version__", *_API, *_MODULES]


def __getattr__(name: str):
    if name in _API:
        module, _, attr = _API[name].partition(":")
        value = getattr(importlib.import_module(f".{module}", __name__), attr or name)
    elif name in _MODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'valstudy' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
