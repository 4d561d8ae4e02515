"""Every configuration of valstudy in one place: the bottom layer, imported by everything, importing nothing above.

- Registries: the datasets, methods, backbones, levels, losses and side-information modes.
- :class:`DataConfig`, :class:`ModelConfig`, :class:`TrainConfig`: each setting has one default, here.
- The named configurations (``CONFIGS``): the paper's settings per real dataset (``*_paper``) and CPU settings per
  synthetic one (``*_synth``); ``get_config(name, overrides)`` resolves one, with dotted ``key=value`` strings (the
  CLI's ``--set``) or a dict.
- The study's profiles (``PROFILES``) and ablations (``ABLATIONS``): how much of the study to run and which variants
  of VAL it compares.

A run saves its resolved configuration as ``config.json`` (:func:`config_to_dict`); :func:`config_from_dict` reads it
back and :func:`config_differences` compares a configuration with a saved one.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .errors import ValstudyError
from .io import read_json

# ---------------------------------------------------------------------------------------------------- registries
DATASETS = ("fashion200k", "shoes", "fashioniq")
PROTOCOLS = {"fashion200k": ("default",), "shoes": ("default", "dedup"), "fashioniq": ("val", "official")}  # the loaders' own, first = default
METHODS = ("val", "tirg", "concat", "image_only", "text_only")
BACKBONES = ("resnet50", "mobilenet_v1", "small")
LEVELS = ("low", "mid", "high")
LOSSES = ("triplet", "softmax")
SIDE_INFO = ("none", "joint", "pretrain")


# ---------------------------------------------------------------------------------------------------- types
@dataclass
class ModelConfig:
    """Everything that defines a model; one configuration covers VAL, its ablations and the baselines."""

    method: str = "val"                   # one of METHODS; "val" is the paper's model, the rest are baselines
    backbone: str = "small"               # one of BACKBONES: resnet50 (Shoes, FashionIQ), mobilenet_v1 (Fashion200k), small (CPU study)
    pretrained: bool = False              # ImageNet weights through torchvision's weights API (resnet50); never random in their place
    weights_path: str | None = None       # local weight file (e.g. MobileNet-v1 from timm) instead of the weights API
    paper_shapes: bool = False            # resnet50: strides as TF-slim ResNet-v2 so 256 px gives 16x16 / 8x8 / 8x8 maps
    levels: tuple[str, ...] = LEVELS      # which composite transformers VAL uses (hierarchical matching over these)
    use_sa: bool = True                   # self-attention stream (ablation "w/o SA" sets False)
    use_ja: bool = True                   # joint-attention stream (ablation "w/o JA" sets False)
    num_heads: int = 2                    # the supplementary's Table 1: num_heads = 2, c-bar = c / num_heads
    attn_dropout: float = 0.1             # dropout on self-attention weights during training (code)
    init_w_ja: float = 1.0                # learnable stream weight of A_ja, initial value from the authors' code
    init_w_sa: float = 0.0                # learnable stream weight of A_sa, initial value from the authors' code
    text_dim: int = 512                   # dimension of the text feature t fed to every level
    word_dim: int = 512                   # word embedding size (300 with GloVe)
    lstm_hidden: int = 1024               # LSTM hidden units (code)
    text_dropout: float = 0.1             # dropout after max-over-time (code)
    glove_path: str | None = None         # GloVe text file to initialise embeddings; None = random (Xavier)
    small_width: int = 32                 # channel width of the first stage of the small CPU backbone
    # Square input side the model is built for: it fixes each level's h x w, which the spatial-attention kernel
    # covers. Always equal to DataConfig.image_size (TrainConfig.validate checks; an override of one sets both).
    image_size: int = 64
    mobilenet_taps: tuple[int, int, int] = (6, 11, 13)  # MobileNet-v1 blocks tapped as low/mid/high (supplementary; code: 6/10/13)
    gate_bn_relu: bool = False            # authors' code quirk: BN+ReLU before the joint-attention sigmoids (off = paper)
    bn_momentum: float | None = None      # backbone BatchNorm momentum; None = PyTorch's 0.1 (code: decay 0.997 ResNet, 0.9997 MobileNet)
    bn_eps: float | None = None           # backbone BatchNorm eps; None = PyTorch's 1e-5 (code: 1e-5 ResNet, 1e-3 MobileNet)
    extra: dict = field(default_factory=dict)  # free-form options for experiments, saved with the run


@dataclass
class DataConfig:
    """Which dataset, where, and how images are prepared."""

    dataset: str = "shoes"                 # one of DATASETS
    root: str = "data/synthetic/shoes"     # dataset root in its real layout
    image_size: int = 64                   # square input side (code: 224 for MobileNet, 256 for ResNet-50); equals ModelConfig.image_size
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
    loss: str = "triplet"                  # one of LOSSES: triplet (authors' code) | softmax (TIRG's batch classification)
    side_info: str = "none"                # L_vs, one of SIDE_INFO: none | joint (Fashion200k) | pretrain (Shoes, FashionIQ)
    side_info_root: str = ""               # FashionIQ pre-trains L_vs on Fashion200k: that dataset's root
    pretrain_steps: int = 0                # L_vs pre-training steps before L_vv (side_info = pretrain)
    steps: int = 300                       # L_vv iterations (paper: 160k / 30k / 50k; the named configurations set it)
    batch_size: int = 32                   # paper: 32
    lr: float = 2e-4                       # Adam, paper: 2e-4
    weight_decay: float = 4e-5             # on conv and linear weights (code)
    weight_decay_scope: str = "all"        # all conv and linear weights | code: not Q/K/V, not depthwise convs
    lr_decay_at: float = 0.0               # fraction of steps after which lr x lr_decay (Fashion200k: 0.5); 0 = constant
    lr_decay: float = 0.1
    ema_decay: float = 0.9999              # EMA of the weights used at evaluation (code: 0.9999)
    ema_warmup: bool = True                # decay min(d, (1+s)/(10+s)); the released scripts have none (False)
    triplet_fallback: str = "largest"      # anchor without a semi-hard negative: largest negative | zero (code)
    sync_batchnorm: bool = False           # DDP: BatchNorm statistics over the global batch, as one GPU sees it
    eval_every: int = 0                    # steps between evaluations during training; 0 = only at the end
    checkpoint_every: int = 100            # steps between atomic checkpoints
    keep_checkpoints: tuple[int, ...] = () # steps at which to keep the EMA weights as ckpt_<step>.pt (snapshots)
    log_every: int = 10                    # steps between metric lines
    seed: int = 0
    num_workers: int = 0                   # data loader worker processes
    device: str = "auto"                   # auto | cpu | cuda | cuda:N
    deterministic: bool = False            # torch.use_deterministic_algorithms (slower on GPU)

    def __post_init__(self):
        self.validate()

    def validate(self) -> "TrainConfig":
        """Check every value (:func:`validate_values`) and the image size both sections share; returns ``self``.
        Raises ValstudyError naming the key, the value and what is allowed."""
        validate_values(self)
        if self.data.image_size != self.model.image_size:
            # The model's spatial-attention kernels are sized for model.image_size; images of another size would
            # give maps the kernels do not cover.
            raise ValstudyError(f"{self.name}: data.image_size {self.data.image_size} differs from model.image_size "
                                f"{self.model.image_size}; set one (the other follows) or both to the same value")
        return self


# ------------------------------------------------------------------------------------------ validation
# Every rule a configuration must satisfy, checked in this one place whenever a configuration is built (named,
# overridden or read back from a run's config.json). Each error names the key, the value and what is allowed.
MIN_IMAGE_SIZE = {"small": 16, "resnet50": 32, "mobilenet_v1": 32}
_NUMBER = (int, float)


def _bad(key: str, value, allowed: str) -> ValstudyError:
    return ValstudyError(f"configuration key {key}={value!r}: not allowed; expected {allowed}")


def _check_type(key: str, value, hint: str) -> None:
    """``hint`` is the dataclass annotation as written (``from __future__ import annotations``)."""
    base = hint.replace(" ", "")
    optional = base.endswith("|None")
    base = base[:-len("|None")] if optional else base
    if value is None:
        if not optional:
            raise _bad(key, value, f"a value of type {base}")
        return
    ok = {"bool": lambda v: isinstance(v, bool),
          "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
          "float": lambda v: isinstance(v, _NUMBER) and not isinstance(v, bool),
          "str": lambda v: isinstance(v, str),
          "dict": lambda v: isinstance(v, dict)}.get(base.split("[")[0])
    if base.startswith("tuple"):
        ok = lambda v: isinstance(v, tuple)  # noqa: E731
    if ok is not None and not ok(value):
        raise _bad(key, value, f"a value of type {base}" + (" or none" if optional else ""))


def _check_types(obj, prefix: str = "") -> None:
    import dataclasses

    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            _check_types(value, f"{prefix}{f.name}.")
        else:
            _check_type(prefix + f.name, value, f.type if isinstance(f.type, str) else getattr(f.type, "__name__", ""))


def _range(key: str, value, low=None, high=None, low_open=False, high_open=False) -> None:
    import math

    if isinstance(value, float) and not math.isfinite(value):
        raise _bad(key, value, "a finite number" + _describe(low, high, low_open, high_open))
    if (low is not None and (value <= low if low_open else value < low)) or \
            (high is not None and (value >= high if high_open else value > high)):
        raise _bad(key, value, "a number" + _describe(low, high, low_open, high_open))


def _describe(low, high, low_open, high_open) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""


def _choice(key: str, value, choices) -> None:
    if value not in choices:
        raise _bad(key, value, "one of " + ", ".join(map(str, choices)))


def validate_model(m, prefix: str = "model.") -> None:
    """Ranges, choices and cross-field rules of a :class:`ModelConfig` (types are checked by :func:`validate`)."""
    _choice(prefix + "method", m.method, METHODS)
    _choice(prefix + "backbone", m.backbone, BACKBONES)
    if not m.levels or len(set(m.levels)) != len(m.levels) or any(lv not in LEVELS for lv in m.levels):
        raise _bad(prefix + "levels", ",".join(map(str, m.levels)), "one or more distinct levels of "
                   + ", ".join(LEVELS))
    if m.method == "val" and not (m.use_sa or m.use_ja):
        raise _bad(prefix + "use_ja", m.use_ja, f"true when {prefix}use_sa is false (VAL needs one stream)")
    for key in ("num_heads", "text_dim", "word_dim", "lstm_hidden", "small_width"):
        _range(prefix + key, getattr(m, key), 1)
    for key in ("attn_dropout", "text_dropout"):
        _range(prefix + key, getattr(m, key), 0.0, 1.0, high_open=True)
    for key in ("init_w_ja", "init_w_sa"):
        _range(prefix + key, getattr(m, key))
    _range(prefix + "image_size", m.image_size, MIN_IMAGE_SIZE[m.backbone])
    taps = m.mobilenet_taps
    if len(taps) != 3 or not all(isinstance(t, int) for t in taps) or not 1 <= taps[0] < taps[1] < taps[2] <= 13:
        raise _bad(prefix + "mobilenet_taps", ",".join(map(str, taps)),
                   "three increasing MobileNet-v1 block numbers in 1..13")


def validate_values(cfg) -> None:
    """Types, ranges and cross-field rules of a whole run configuration (``TrainConfig.validate`` calls it after
    its own checks); a one-line ValstudyError names the first offending key, its value and what is allowed."""
    import re

    _check_types(cfg)
    d = cfg.data
    _choice("data.dataset", d.dataset, DATASETS)
    if not d.root:
        raise _bad("data.root", d.root, "the dataset folder")
    _range("data.image_size", d.image_size, MIN_IMAGE_SIZE.get(cfg.model.backbone, 16))
    _range("data.test_min_count", d.test_min_count, 1)
    if d.protocols:
        for p in d.protocols:
            _choice("data.protocols", p, PROTOCOLS[d.dataset])
    _range("data.val_fraction", d.val_fraction, 0.0, 1.0, high_open=True)
    validate_model(cfg.model)
    _choice("loss", cfg.loss, LOSSES)
    _choice("side_info", cfg.side_info, SIDE_INFO)
    _range("steps", cfg.steps, 1)
    _range("pretrain_steps", cfg.pretrain_steps, 0)
    if cfg.side_info == "pretrain" and cfg.pretrain_steps < 1:
        raise _bad("pretrain_steps", cfg.pretrain_steps, ">= 1 when side_info=pretrain")
    if cfg.side_info != "pretrain" and cfg.pretrain_steps:
        raise _bad("pretrain_steps", cfg.pretrain_steps, f"0 when side_info={cfg.side_info} (only pretrain uses it)")
    _range("batch_size", cfg.batch_size, 2)    # the triplet loss needs another item of the batch as a negative
    _range("lr", cfg.lr, 0.0, low_open=True)
    _range("weight_decay", cfg.weight_decay, 0.0)
    _range("lr_decay_at", cfg.lr_decay_at, 0.0, 1.0, high_open=True)
    _range("lr_decay", cfg.lr_decay, 0.0, 1.0, low_open=True)
    _range("ema_decay", cfg.ema_decay, 0.0, 1.0, high_open=True)
    _range("eval_every", cfg.eval_every, 0)
    _range("checkpoint_every", cfg.checkpoint_every, 1)
    if any(not isinstance(k, int) or isinstance(k, bool) or k < 1 for k in cfg.keep_checkpoints):
        raise _bad("keep_checkpoints", ",".join(map(str, cfg.keep_checkpoints)), "positive step numbers")
    _range("log_every", cfg.log_every, 1)
    _range("seed", cfg.seed, 0, 2 ** 32 - 1)
    _range("num_workers", cfg.num_workers, 0)
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", cfg.device):
        raise _bad("device", cfg.device, "auto, cpu, cuda, cuda:N or mps")


# ---------------------------------------------------------------------------------------------------- named configurations
def _synth(dataset: str, steps: int, **kw) -> TrainConfig:
    return TrainConfig(
        name=f"{dataset}_synth",
        # A quarter of the training references is held out as a validation split: its curves chose the step budgets.
        data=DataConfig(dataset=dataset, root=f"data/synthetic/{dataset}", image_size=64, val_fraction=0.25),
        # A CPU miniature of the paper's model: the small backbone and a narrower text encoder (paper: 512-d words,
        # 1024-unit LSTM, 512-d text feature), so a run trains in about a minute on 2 cores.
        model=ModelConfig(backbone="small", image_size=64, small_width=16, word_dim=128, lstm_hidden=256,
                          text_dim=128),
        # Adam at 1e-3 (the paper's 2e-4 needs several times the steps on CPU), x0.1 after 75% of the steps, so
        # every method ends on a plateau within the budget (docs/convergence.md).
        steps=steps, lr=1e-3, lr_decay_at=0.75, ema_decay=0.99, checkpoint_every=100, **kw)


def _paper() -> dict[str, TrainConfig]:
    # As the authors' released scripts: EMA without warm-up, zero loss for an anchor without a semi-hard negative,
    # BatchNorm statistics over the whole batch under DDP, no weight decay on Q/K/V and depthwise convs, the
    # backbones' batch-norm decay and eps (README, deviations).
    code = {"ema_warmup": False, "triplet_fallback": "zero", "sync_batchnorm": True, "weight_decay_scope": "code"}
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


# The synthetic step budgets are the study's (the synthetic profile trains each run for its dataset's budget).
CONFIGS: dict[str, TrainConfig] = {
    **_paper(),
    "fashion200k_synth": _synth("fashion200k", 1200),
    "shoes_synth": _synth("shoes", 1200),
    "fashioniq_synth": _synth("fashioniq", 1200),
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
        from .versions import written_by

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
    defaults = _flat(_DEFAULTS)
    have = {**defaults, **_flat(read_json(path, "run configuration"))}
    want = _flat(config_to_dict(cfg))
    missing = object()
    return sorted(k for k in set(have) | set(want) if have.get(k, missing) != want.get(k, missing))


def config_hash(cfg: TrainConfig, length: int = 8) -> str:
    """A short hash of the settings that differ from the defaults (so a new option at its default keeps it)."""
    defaults = _flat(_DEFAULTS)
    changed = {k: v for k, v in sorted(_flat(config_to_dict(cfg)).items()) if defaults.get(k, object()) != v}
    return hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:length]


# ---------------------------------------------------------------------------------------------------- the study
@dataclass(frozen=True)
class Profile:
    """How much of the study to run. Step budgets come from each dataset's named configuration (``*_synth`` or
    ``*_paper``); only ``smoke`` shortens them."""

    name: str
    data_size: str                       # synthetic dataset size (tiny | small | medium); "real" for real data
    seeds: tuple[int, ...]               # random seeds of every run (method comparison and ablations)
    methods: tuple[str, ...]
    ablations: tuple[str, ...]
    evaluations: int = 0                 # evaluations during training of every run (validation curves); 0 = none
    steps: int | None = None             # None = the named configuration's steps (smoke: a few)
    snapshots: tuple[float, ...] = ()    # fractions of the steps at which VAL's method runs keep ckpt_<step>.pt
    overrides: dict = field(default_factory=dict)  # further settings for every run

    @property
    def real_data(self) -> bool:
        """Whether the profile reads real data (``<data root>/<dataset>``, checked, never generated)."""
        return self.data_size == "real"

    @property
    def config_kind(self) -> str:
        """Which named configurations the profile trains: ``paper`` (real data) or ``synth``."""
        return "paper" if self.real_data else "synth"


ABLATIONS: dict[str, dict] = {  # name -> overrides on top of VAL; the paper's ablations (its Tables 5-6)
    "no_sa": {"model.use_sa": False},
    # Without JA the authors' start (w_ja = 1, w_sa = 0) would make the output exactly zero, so the remaining SA
    # stream starts at weight 1, as in the authors' first release (w_ja = 0, w_sa = 1).
    "no_ja": {"model.use_ja": False, "model.init_w_sa": 1.0},
    "low": {"model.levels": ("low",)},
    "mid": {"model.levels": ("mid",)},
    "high": {"model.levels": ("high",)},
    "lvs": {},                # L_vv + L_vs: per dataset, see lvs_overrides
    "softmax": {"loss": "softmax"},
}


# The ablations the synthetic study trains (over every random seed): the paper's (w/o SA, w/o JA, one level at a
# time, L_vv + L_vs). TIRG's softmax loss ("softmax") stays available as a configuration but is not trained by default.
STUDY_ABLATIONS = ("no_sa", "no_ja", "low", "mid", "high", "lvs")

# Ablations that learn more slowly than VAL train for this many times their dataset's L_vv steps in the synthetic
# study (their L_vs pre-training keeps its length), so that they too end on a plateau: at the dataset budgets, w/o JA
# (Shoes; FashionIQ in an earlier regeneration) and L_vv + L_vs (all three datasets) still gained 2.1-4.7 points of
# validation R@10 over the last 20% of their steps (docs/convergence.md). The real-data configurations keep the
# paper's iteration counts for every variant.
SLOW_ABLATIONS: dict[str, int] = {"no_ja": 2, "lvs": 2}


def lvs_overrides(dataset: str, steps: int, side_info_root: str, paper: bool) -> dict:
    """The L_vv + L_vs ablation per dataset (the supplementary, Section 2): Fashion200k trains L_vv and L_vs
    jointly with its product descriptions; Shoes pre-trains L_vs on tagged images, FashionIQ on Fashion200k, then
    L_vv. The pre-training lasts a third of the L_vv steps (10k iterations with the paper's configurations)."""
    if dataset == "fashion200k":
        return {"side_info": "joint"}
    out = {"side_info": "pretrain", "pretrain_steps": 10_000 if paper else max(steps // 3, 1)}
    return out if dataset == "shoes" else {**out, "side_info_root": side_info_root}


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", "tiny", (0,), ("val", "tirg", "image_only"), ("no_sa", "high"), evaluations=2,
                     steps=12, overrides={"batch_size": 8, "checkpoint_every": 6, "log_every": 2,
                                          "model.small_width": 8, "model.lstm_hidden": 64, "model.text_dim": 64,
                                          "model.word_dim": 32}),
    "synthetic": Profile("synthetic", "small", (0, 1, 2), METHODS, STUDY_ABLATIONS, evaluations=10,
                         snapshots=(0.1, 0.25, 0.5),
                         overrides={"log_every": 10}),
    # A first look (make study-quick): the synthetic study's data and step budgets, one random seed, no ablations;
    # its figures go to build/quick/figures, never figures/. One seed gives no interval: its tables claim nothing.
    "quick": Profile("quick", "small", (0,), METHODS, (), evaluations=10, overrides={"log_every": 10}),
    "real": Profile("real", "real", (0,), ("val", "tirg"), ("no_sa", "no_ja", "lvs"), evaluations=32),
    # The real route end to end on a CPU (real annotation files, stand-in images allowed): the paper's configurations
    # with a tiny model and a few steps, evaluated at the real gallery sizes. Its numbers mean nothing.
    "rehearsal": Profile("rehearsal", "real", (0,), ("val", "tirg"), ("no_sa",), steps=2,
                         overrides={"model.backbone": "small", "model.pretrained": False, "data.image_size": 64,
                                    "model.small_width": 8, "model.word_dim": 32, "model.lstm_hidden": 64,
                                    "model.text_dim": 64, "batch_size": 8, "checkpoint_every": 2, "log_every": 1}),
}
