"""Every configuration of valstudy in one place: the bottom layer, imported by everything, importing nothing above.

- ``rules``: the registries (datasets, methods, backbones, levels, losses, side-information modes) and every rule a
  value must satisfy, checked whenever a configuration is built.
- ``types``: :class:`DataConfig`, :class:`ModelConfig`, :class:`TrainConfig`: each setting has one default, there.
- ``named``: the named configurations (``CONFIGS``): the paper's settings per real dataset (``*_paper``) and CPU
  settings per synthetic one (``*_synth``); ``get_config(name, overrides)`` resolves one, with dotted ``key=value``
  strings (the CLI's ``--set``) or a dict. A run saves its resolved configuration as ``config.json``
  (:func:`config_to_dict`); :func:`config_from_dict` reads it back and :func:`config_differences` compares a
  configuration with a saved one.
- ``study``: the study's profiles (``PROFILES``) and ablations (``ABLATIONS``): how much of the study to run and which
  variants of VAL it compares.

Import from ``valstudy.config`` itself; the split into modules only keeps each one short.
"""
from .rules import (  # noqa: F401
    DATASETS, PROTOCOLS, METHODS, BACKBONES, LEVELS, LOSSES, TRIPLET_MINING, TRIPLET_FALLBACKS, SIDE_INFO,
    MIN_IMAGE_SIZE, check_seed, validate_model, validate_values)
from .types import (  # noqa: F401
    ModelConfig, DataConfig, TrainConfig)
from .named import (  # noqa: F401
    CONFIGS, apply_overrides, get_config, config_to_dict, config_from_dict, load_config, config_differences, saved_differences, config_hash)
from .study import (  # noqa: F401
    Profile, ABLATIONS, STUDY_ABLATIONS, SLOW_ABLATIONS, slow_factor, long_vals, lvs_overrides, PROFILES, PROFILE_ENV,
    FIGURES_ENV, DEFAULT_PROFILE, SYNTH_SEED, SEED_PLAN, resolve_profile)
