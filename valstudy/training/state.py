"""What a training checkpoint holds: the model, the loss's parameters, Adam and its schedule, the EMA weights, the step
and the random generators' states; saved atomically, and loaded back for an exact resume."""
from __future__ import annotations

from pathlib import Path

import torch

from ..checkpoint import load_checkpoint, save_checkpoint
from ..config import TrainConfig
from ..errors import ValstudyError
from ..losses import build_loss
from .ema import EMA


def param_groups(model: torch.nn.Module, weight_decay: float, scope: str = "all") -> list[dict]:
    """Weight decay on conv and linear weights only (authors' code), not on biases, BN, embeddings or scalars.

    ``scope="code"`` also spares what the authors' code leaves unregularised: the self-attention's Q/K/V
    projections (dense layers without a regulariser) and MobileNet's depthwise convs (``regularize_depthwise=False``).
    """
    if scope not in ("all", "code"):
        raise ValstudyError(f"weight_decay_scope: expected 'all' or 'code', got {scope!r}")
    decay, rest = [], []
    for mod_name, module in model.named_modules():
        spared = scope == "code" and mod_name.rsplit(".", 1)[-1] in ("f_q", "f_k", "f_v", "conv_dw")
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            is_weight = name == "weight" and isinstance(module, (torch.nn.Conv2d, torch.nn.Linear))
            (decay if is_weight and not spared else rest).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


class TrainingState:
    """The model and everything training updates beside it, built for ``cfg``.

    Parameters
    ----------
    cfg : TrainConfig
        Loss, optimiser, learning-rate schedule and EMA settings.
    model : torch.nn.Module
        The model to train, already on ``device``.
    device : torch.device
        Where the loss's parameters go.
    """

    def __init__(self, cfg: TrainConfig, model: torch.nn.Module, device: torch.device):
        self.model = model
        self.criterion = build_loss(cfg.loss, len(model.levels), fallback=cfg.triplet_fallback,
                                    mining=cfg.triplet_mining).to(device)
        params = param_groups(model, cfg.weight_decay, cfg.weight_decay_scope)
        params.append({"params": list(self.criterion.parameters()), "weight_decay": 0.0})
        self.optimizer = torch.optim.Adam([g for g in params if g["params"]], lr=cfg.lr)
        self.total_steps = cfg.pretrain_steps + cfg.steps
        decay_step = cfg.pretrain_steps + int(cfg.lr_decay_at * cfg.steps) if cfg.lr_decay_at > 0 else None
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: cfg.lr_decay if decay_step is not None and s >= decay_step else 1.0)
        self.ema = EMA(model, cfg.ema_decay, warmup=cfg.ema_warmup)
        self.step = 0

    def state_dict(self) -> dict:
        """Everything a resumed run needs to continue exactly as an uninterrupted one."""
        return {
            "step": self.step,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "criterion": self.criterion.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def save(self, path: Path) -> None:
        save_checkpoint(path, self.state_dict())

    def resume(self, path: Path, device: torch.device) -> bool:
        """Load the checkpoint at ``path`` (random generators included); False, and nothing changed, without one."""
        if not path.is_file():
            return False
        state = load_checkpoint(path, map_location=device)
        self.model.load_state_dict(state["model"], strict=True)
        self.ema.load_state_dict(state["ema"])
        self.criterion.load_state_dict(state["criterion"], strict=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng_cpu"].cpu())
        if state["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])
        self.step = int(state["step"])
        return True

    def save_final(self, path: Path) -> None:
        """``final.pt``: the step, the weights and the EMA weights (what evaluation loads)."""
        save_checkpoint(path, {"step": self.step, "model": self.model.state_dict(), "ema": self.ema.state_dict()})

    def save_snapshot(self, path: Path) -> None:
        """``ckpt_<step>.pt``: the EMA weights at this step (``TrainConfig.keep_checkpoints``)."""
        save_checkpoint(path, {"step": self.step, "ema": self.ema.state_dict()})
