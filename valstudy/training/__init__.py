"""Training: the loop (checkpoints, resume, EMA, DDP) and its deterministic batches. Configurations live in
:mod:`valstudy.config`."""
from ..config import CONFIGS, DataConfig, TrainConfig, apply_overrides, get_config
from .loop import init_distributed, train

__all__ = ["CONFIGS", "DataConfig", "TrainConfig", "apply_overrides", "get_config", "init_distributed", "train"]
