"""The named configurations (``CONFIGS``: ``*_paper`` per real dataset, ``*_synth`` per synthetic one), dotted
overrides (the CLI's ``--set``), the saved form of a run's configuration (``config.json``) and comparisons with it."""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from ..errors import ValstudyError
from ..io import read_json
from .types import DataConfig, ModelConfig, TrainConfig

# ---------------------------------------------------------------------------------------------------- named configurations
def _synth(dataset: str, steps: int, **kw) -> TrainConfig:
    return TrainConfig(
        name=f"{dataset}_synth",
        # Validation curves choose the step budgets: the world's own validation split (extras/validation.json), or,
        # for data without one, a quarter of the training references held out.
        data=DataConfig(dataset=dataset, root=f"data/synthetic/{dataset}", image_size=64, val_fraction=0.25),
        # A CPU miniature of the paper's model: the small backbone and a narrower text encoder (paper: 512-d words,
        # 1024-unit LSTM, 512-d text feature), so a run trains in about a minute on 2 cores.
        model=ModelConfig(backbone="small", image_size=64, small_width=16, word_dim=128, lstm_hidden=256,
                          text_dim=128),
        # Adam at 1e-3 (the paper's 2e-4 needs several times the steps on CPU), x0.1 after 75% of the steps; whether
        # each variant ends on a plateau within its budget is checked, not assumed (docs/convergence.md).
        steps=steps, lr=1e-3, lr_decay_at=0.75, ema_decay=0.99, checkpoint_every=100, **kw)


def _paper() -> dict[str, TrainConfig]:
    # As the authors' released scripts: EMA without warm-up, semi-hard negatives by the code's broadcast rule, zero
    # loss for an anchor without a semi-hard negative, BatchNorm statistics over the whole batch under DDP, no weight
    # decay on Q/K/V and depthwise convs, the backbones' batch-norm decay and eps (README, deviations).
    code = {"ema_warmup": False, "triplet_mining": "code", "triplet_fallback": "zero", "sync_batchnorm": True,
            "weight_decay_scope": "code"}
    f200k = TrainConfig(
        name="fashion200k_paper",
        data=DataConfig(dataset="fashion200k", root="data/real/fashion200k", image_size=224),
        model=ModelConfig(backbone="mobilenet_v1", pretrained=True, image_size=224, bn_momentum=3e-4, bn_eps=1e-3),
        # L_vv alone: the paper's L_vv + L_vs row is the study's "lvs" ablation; TIRG never has side information.
        steps=160_000, lr_decay_at=0.5, checkpoint_every=5000, log_every=100, **code)
    shoes = TrainConfig(
        name="shoes_paper",
        data=DataConfig(dataset="shoes", root="data/real/shoes", image_size=256, test_min_count=2),
        model=ModelConfig(backbone="resnet50", pretrained=True, image_size=256, paper_shapes=True, bn_momentum=3e-3,
                          bn_eps=1e-5),
        steps=30_000, checkpoint_every=5000, log_every=100, **code)
    fiq = TrainConfig(
        name="fashioniq_paper",
        data=DataConfig(dataset="fashioniq", root="data/real/fashioniq", image_size=256,
                        random_resized_crop=True, test_min_count=2),
        model=ModelConfig(backbone="resnet50", pretrained=True, image_size=256, paper_shapes=True, bn_momentum=3e-3,
                          bn_eps=1e-5),
        steps=50_000, checkpoint_every=5000, log_every=100, **code)
    return {c.name: c for c in (f200k, shoes, fiq)}


# The synthetic step budgets are the study's: every variant of a dataset trains its dataset's budget (equal budgets,
# as the paper's ablations), set by the rule in docs/convergence.md from validation curves only (the doubling
# check's numbers: bench/convergence.py, docs/convergence.json): Shoes and FashionIQ on a plateau, Fashion200k at the
# rule's cap.
CONFIGS: dict[str, TrainConfig] = {
    **_paper(),
    "fashion200k_synth": _synth("fashion200k", 4800),
    "shoes_synth": _synth("shoes", 2400),
    "fashioniq_synth": _synth("fashioniq", 4800),
}


# ---------------------------------------------------------------------------------------------------- overrides
def _parse_value(text: str, annotation: str) -> Any:
    """A ``--set`` string as the field's declared type (``annotation`` as written in the dataclass)."""
    t = str(annotation).replace(" ", "")
    if t in ("float|None", "int|None"):  # optional numbers: "none" or a number
        return None if text.lower() in ("none", "") else _parse_value(text, t.split("|")[0])
    if t == "bool":
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if t.startswith("tuple["):
        items = [x.strip() for x in text.split(",") if x.strip()]
        return tuple(int(x) for x in items) if t.startswith("tuple[int") else tuple(items)
    if t == "int":
        return int(text)
    if t == "float":
        return float(text)
    if t == "dict":
        value = json.loads(text)
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object, got {text!r}")
        return value
    if "None" in t:
        return None if text.lower() in ("none", "") else text
    return text


def _field(obj, name: str, key: str):
    known = {f.name: f for f in fields(obj)} if dataclasses.is_dataclass(obj) else {}
    if name not in known:
        raise ValstudyError(f"--set {key}: unknown configuration key {name!r} (known: {', '.join(known)})")
    return known[name]


def apply_overrides(cfg: TrainConfig, overrides: list[str] | dict[str, Any]) -> TrainConfig:
    """A copy of ``cfg`` with dotted overrides applied (``["model.method=tirg"]`` or ``{"steps": 200}``).

    Strings are parsed as the field's type; an unknown key is an error. ``data.image_size`` and
    ``model.image_size`` are one setting: overriding one sets the other.
    """
    cfg = copy.deepcopy(cfg)
    items = list(overrides.items()) if isinstance(overrides, dict) else [_split(o) for o in overrides]
    for key, value in items:
        obj, parts = cfg, key.split(".")
        for p in parts[:-1]:
            _field(obj, p, key)
            obj = getattr(obj, p)
        f = _field(obj, parts[-1], key)
        if isinstance(value, str) and str(f.type).replace(" ", "") != "str":
            try:
                value = _parse_value(value, f.type)
            except ValueError as e:
                raise ValstudyError(f"--set {key}={value}: {e}") from None
        elif isinstance(value, list):
            value = tuple(value)
        setattr(obj, parts[-1], value)
    keys = {k for k, _ in items}
    if "data.image_size" in keys and "model.image_size" not in keys:
        cfg.model.image_size = cfg.data.image_size
    elif "model.image_size" in keys and "data.image_size" not in keys:
        cfg.data.image_size = cfg.model.image_size
    return cfg.validate()


def _split(item: str) -> tuple[str, str]:
    if "=" not in item:
        raise ValstudyError(f"--set {item}: expected key=value")
    k, v = item.split("=", 1)
    return k.strip(), v.strip()


def get_config(name: str, overrides: list[str] | dict[str, Any] | None = None) -> TrainConfig:
    """The named configuration with overrides applied.

    >>> get_config("shoes_synth", ["model.method=tirg", "data.image_size=96"]).model.image_size
    96
    """
    if name not in CONFIGS:
        raise ValstudyError(f"unknown configuration {name!r}; choose from {', '.join(sorted(CONFIGS))}")
    return apply_overrides(CONFIGS[name], overrides or [])


# ---------------------------------------------------------------------------------------------------- saved form
def config_to_dict(cfg: TrainConfig) -> dict:
    """JSON-able dictionary of a configuration (the layout of a run's ``config.json``)."""
    return json.loads(json.dumps(asdict(cfg)))  # tuples as lists, as saved


def _build(cls, raw: dict, where: str):
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ValstudyError(f"{where}: unknown configuration key(s) {', '.join(unknown)}")
    kw = {k: tuple(v) if str(known[k].type).startswith("tuple") and isinstance(v, list) else v
          for k, v in raw.items()}
    return kw


def config_from_dict(d: dict, where: str = "configuration") -> TrainConfig:
    """Inverse of :func:`config_to_dict` (tuples restored; keys absent take their defaults)."""
    d = copy.deepcopy(d)
    data = DataConfig(**_build(DataConfig, d.pop("data", {}), f"{where} [data]"))
    model = ModelConfig(**_build(ModelConfig, d.pop("model", {}), f"{where} [model]"))
    return TrainConfig(data=data, model=model, **_build(TrainConfig, d, where))


def load_config(path: str | Path) -> TrainConfig:
    """A configuration saved as JSON (a run's ``config.json``, or one the study writes for a run).

    A key this version does not know, or a value it does not accept, is an error that also names the valstudy
    version that wrote the run (from its ``meta.json``).
    """
    raw = read_json(path, "configuration file", "pass a config.json written by valstudy")
    if not isinstance(raw, dict):
        raise ValstudyError(f"{path}: expected a JSON object holding a configuration, got {type(raw).__name__}")
    try:
        return config_from_dict(raw, str(path))
    except ValstudyError as e:
        from ..versions import written_by

        message = str(e) if str(path) in str(e) else f"{path}: {e}"
        raise ValstudyError(f"{message}; written by {written_by(Path(path).parent)}") from None
    except TypeError as e:   # a section that is not an object
        raise ValstudyError(f"{path}: not a valstudy configuration ({e})") from None


_DEFAULTS = config_to_dict(TrainConfig())


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k in ("data", "model") and not prefix:
            out.update(_flat(v, f"{k}."))
        else:
            out[prefix + k] = v
    return out


def config_differences(cfg: TrainConfig, run_dir: str | Path) -> list[str] | None:
    """Dotted keys in which ``cfg`` differs from the ``config.json`` saved in ``run_dir`` ([] = the same run);
    None when the folder holds no configuration yet.

    A key the saved configuration lacks counts as its default, so adding an option with a default to the code
    leaves finished runs valid; any other difference is reported.
    """
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        return None
    return saved_differences(read_json(path, "run configuration"), config_to_dict(cfg))


def saved_differences(saved: dict, wanted: dict) -> list[str]:
    """Dotted keys in which two saved configurations (``config_to_dict`` form) differ, a missing key counting as its
    default (see :func:`config_differences`)."""
    defaults = _flat(_DEFAULTS)
    have, want = {**defaults, **_flat(saved)}, {**defaults, **_flat(wanted)}
    missing = object()
    return sorted(k for k in set(have) | set(want) if have.get(k, missing) != want.get(k, missing))


def config_hash(cfg: TrainConfig, length: int = 8) -> str:
    """A short hash of the settings that differ from the defaults (so a new option at its default keeps it)."""
    defaults = _flat(_DEFAULTS)
    changed = {k: v for k, v in sorted(_flat(config_to_dict(cfg)).items()) if defaults.get(k, object()) != v}
    return hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:length]
