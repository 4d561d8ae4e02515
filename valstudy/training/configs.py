"""Run configurations: the paper's settings per real dataset (VAL.md section 3) and CPU settings per synthetic one.

A configuration is a :class:`TrainConfig`; ``get_config(name, overrides)`` resolves a named one and applies
``key=value`` overrides with dotted keys (``model.method=tirg``, ``steps=200``). A run saves the resolved configuration.
"""
from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..config import ModelConfig
from ..errors import ValstudyError
from ..io import read_json


@dataclass
class DataConfig:
    """Which dataset, where, and how images are prepared."""

    dataset: str = "shoes"                 # fashion200k | shoes | fashioniq
    root: str = "data/synthetic/shoes"     # dataset root in its real layout
    image_size: int = 64                   # square input side (code: 224 for MobileNet, 256 for ResNet-50)
    random_resized_crop: bool = False      # FashionIQ (code): resize to a side in [size, size + size/10) then crop size
    hflip: bool = True                     # random horizontal flip in training (code: always)
    check_images: bool = True              # stat every image when loading; missing ones are dropped and counted
    test_min_count: int = 1                # words seen fewer times map to <UNK> at test time (code: 2 for Shoes, FashionIQ)
    protocols: tuple[str, ...] = ()        # evaluation protocols; () = every protocol the dataset offers
    val_fraction: float = 0.0              # share of training reference images held out as a validation split


@dataclass
class TrainConfig:
    """A whole training run. Field comments give the paper's value where it has one."""

    name: str = "shoes_synth"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: str = "triplet"                  # triplet (authors' code) | softmax (TIRG's batch classification)
    side_info: str = "none"                # L_vs: none | joint (Fashion200k: L_vv + L_vs) | pretrain (Shoes, FashionIQ)
    side_info_root: str = ""               # FashionIQ pre-trains L_vs on Fashion200k: that dataset's root
    pretrain_steps: int = 0                # L_vs pre-training steps before L_vv (side_info = pretrain)
    steps: int = 300                       # L_vv iterations (paper: 160k / 30k / 50k)
    batch_size: int = 32                   # paper: 32
    lr: float = 2e-4                       # Adam, paper: 2e-4
    weight_decay: float = 4e-5             # on conv and linear weights (code)
    lr_decay_at: float = 0.0               # fraction of steps after which lr x lr_decay (Fashion200k: 0.5); 0 = constant
    lr_decay: float = 0.1
    ema_decay: float = 0.9999              # EMA of the weights used at evaluation (code: 0.9999)
    eval_every: int = 0                    # steps between evaluations during training; 0 = only at the end
    checkpoint_every: int = 100            # steps between atomic checkpoints
    log_every: int = 10                    # steps between metric lines
    seed: int = 0
    num_workers: int = 0                   # data loader worker processes
    device: str = "auto"                   # auto | cpu | cuda | cuda:N
    deterministic: bool = False            # torch.use_deterministic_algorithms (slower on GPU)


def _synth(dataset: str, steps: int, **kw) -> TrainConfig:
    return TrainConfig(
        name=f"{dataset}_synth",
        data=DataConfig(dataset=dataset, root=f"data/synthetic/{dataset}", image_size=64),
        # A CPU miniature of the paper's model: the small backbone and a narrower text encoder (paper: 512-d words,
        # 1024-unit LSTM, 512-d text feature), so a run trains in about a minute on 2 cores.
        model=ModelConfig(backbone="small", image_size=64, small_width=16, word_dim=128, lstm_hidden=256,
                          text_dim=128),
        steps=steps, ema_decay=0.99, checkpoint_every=100, **kw)


def _paper() -> dict[str, TrainConfig]:
    f200k = TrainConfig(
        name="fashion200k_paper",
        data=DataConfig(dataset="fashion200k", root="data/real/fashion200k", image_size=224),
        model=ModelConfig(backbone="mobilenet_v1", pretrained=True, image_size=224),
        steps=160_000, lr_decay_at=0.5, side_info="joint", checkpoint_every=5000, log_every=100)
    shoes = TrainConfig(
        name="shoes_paper",
        data=DataConfig(dataset="shoes", root="data/real/shoes", image_size=256, test_min_count=2),
        model=ModelConfig(backbone="resnet50", pretrained=True, image_size=256),
        steps=30_000, checkpoint_every=5000, log_every=100)
    fiq = TrainConfig(
        name="fashioniq_paper",
        data=DataConfig(dataset="fashioniq", root="data/real/fashioniq", image_size=256,
                        random_resized_crop=True, test_min_count=2),
        model=ModelConfig(backbone="resnet50", pretrained=True, image_size=256),
        steps=50_000, checkpoint_every=5000, log_every=100)
    return {c.name: c for c in (f200k, shoes, fiq)}


CONFIGS: dict[str, TrainConfig] = {
    **_paper(),
    "fashion200k_synth": _synth("fashion200k", 400),
    "shoes_synth": _synth("shoes", 400),
    "fashioniq_synth": _synth("fashioniq", 400),
}


def _parse_value(text: str, current: Any) -> Any:
    if isinstance(current, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if isinstance(current, tuple):
        return tuple(x for x in text.split(",") if x)
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float):
        return float(text)
    if current is None:
        return None if text.lower() in ("none", "") else text
    return text


def apply_overrides(cfg: TrainConfig, overrides: list[str] | dict[str, Any]) -> TrainConfig:
    """Return a copy of ``cfg`` with dotted ``key=value`` overrides applied; an unknown key is an error."""
    cfg = copy.deepcopy(cfg)
    items = list(overrides.items()) if isinstance(overrides, dict) else [_split(o) for o in overrides]
    for key, value in items:
        obj, parts = cfg, key.split(".")
        for p in parts[:-1]:
            if not dataclasses.is_dataclass(obj) or p not in {f.name for f in fields(obj)}:
                raise ValstudyError(f"--set {key}: unknown configuration key {p!r}")
            obj = getattr(obj, p)
        last = parts[-1]
        if not dataclasses.is_dataclass(obj) or last not in {f.name for f in fields(obj)}:
            known = ", ".join(f.name for f in fields(obj)) if dataclasses.is_dataclass(obj) else ""
            raise ValstudyError(f"--set {key}: unknown configuration key {last!r} (known: {known})")
        current = getattr(obj, last)
        if isinstance(value, str) and not isinstance(current, str):
            try:
                value = _parse_value(value, current)
            except ValueError as e:
                raise ValstudyError(f"--set {key}={value}: {e}") from None
        setattr(obj, last, value)
    # The image size lives in both sections (data: what the loader produces; model: what the spatial-attention
    # kernels are built for); an override of one sets the other.
    keys = {k for k, _ in items}
    if "data.image_size" in keys and "model.image_size" not in keys:
        cfg.model.image_size = cfg.data.image_size
    elif "model.image_size" in keys and "data.image_size" not in keys:
        cfg.data.image_size = cfg.model.image_size
    return cfg


def _split(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise ValstudyError(f"--set {item}: expected key=value")
    k, v = item.split("=", 1)
    return k.strip(), v.strip()


def get_config(name: str, overrides: list[str] | dict[str, Any] | None = None) -> TrainConfig:
    """The named configuration with overrides applied."""
    if name not in CONFIGS:
        raise ValstudyError(f"unknown configuration {name!r}; choose from {', '.join(sorted(CONFIGS))}")
    return apply_overrides(CONFIGS[name], overrides or [])


def config_to_dict(cfg: TrainConfig) -> dict:
    """JSON-able dictionary of a configuration."""
    return asdict(cfg)


def config_differences(cfg: TrainConfig, run_dir: str | Path) -> list[str] | None:
    """Top-level keys in which ``cfg`` differs from the ``config.json`` saved in ``run_dir`` ([] = the same run);
    None when the folder holds no configuration yet."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        return None
    have, want = read_json(path), json.loads(json.dumps(config_to_dict(cfg)))  # tuples compare as saved lists
    return sorted(k for k in set(have) | set(want) if have.get(k) != want.get(k))


def config_from_dict(d: dict) -> TrainConfig:
    """Inverse of :func:`config_to_dict` (tuples restored)."""
    d = copy.deepcopy(d)
    raw_data = d.pop("data")
    raw_data["protocols"] = tuple(raw_data.get("protocols", ()))
    raw_model = d.pop("model")
    raw_model["levels"] = tuple(raw_model.get("levels", ()))
    return TrainConfig(data=DataConfig(**raw_data), model=ModelConfig(**raw_model), **d)
