"""Compatibility name: every configuration now lives in :mod:`valstudy.config` (one home)."""
from ..config import (CONFIGS, DataConfig, ModelConfig, TrainConfig, apply_overrides, config_differences,
                      config_from_dict, config_to_dict, get_config, load_config)

__all__ = ["CONFIGS", "DataConfig", "ModelConfig", "TrainConfig", "apply_overrides", "config_differences",
           "config_from_dict", "config_to_dict", "get_config", "load_config"]
