"""Evaluation during training: the points of a run's validation curves (``TrainConfig.eval_every``)."""
from __future__ import annotations

import torch

from ..config import TrainConfig
from ..data.validation import HeldOut
from ..evaluation import KS, evaluate_model, extract_features
from ..metrics import evaluate_split
from ..text import Vocabulary


def evaluate_during_training(model: torch.nn.Module, dataset, holdout: HeldOut | None, vocab: Vocabulary,
                             cfg: TrainConfig, device: torch.device) -> list[dict]:
    """Result rows of ``model`` (the EMA weights) on the held-out validation split, or on the test protocols when
    the run holds none out; each row without its ranks.

    Training's random generators are left as they were (a data loader's iterator draws its base seed from the
    global one): a run with evaluations during training ends with the same weights as one without.
    """
    rng_cpu = torch.get_rng_state()
    rng_cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    if holdout is not None:
        split = holdout.eval_split()
        qf, gf = extract_features(model, dataset, split, vocab, cfg, device)
        rows = [evaluate_split(qf, gf, split, ks=KS[dataset.name], device=device)]
    else:
        rows = evaluate_model(model, dataset, vocab, cfg, device=device)
    torch.set_rng_state(rng_cpu)
    if rng_cuda:
        torch.cuda.set_rng_state_all(rng_cuda)
    return [{k: r[k] for k in r if k != "ranks"} for r in rows]
