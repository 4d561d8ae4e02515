"""Training: configurations, the loop (checkpoints, resume, EMA, DDP) and its deterministic batches."""
from .configs import CONFIGS, DataConfig, TrainConfig, apply_overrides, get_config
from .loop import train

__all__ = ["CONFIGS", "DataConfig", "TrainConfig", "apply_overrides", "get_config", "train"]
