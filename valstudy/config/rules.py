"""What a configuration may hold: the registries (datasets, protocols, methods, backbones, levels, losses and the
triplet loss's rules, side-information modes) and every rule a value must satisfy, checked whenever a configuration
is built."""
from __future__ import annotations

from ..errors import ValstudyError

# ---------------------------------------------------------------------------------------------------- registries
DATASETS = ("fashion200k", "shoes", "fashioniq")
PROTOCOLS = {"fashion200k": ("default",), "shoes": ("default", "dedup"), "fashioniq": ("val", "official")}  # the loaders' own, first = default
METHODS = ("val", "tirg", "concat", "image_only", "text_only")
BACKBONES = ("resnet50", "mobilenet_v1", "small")
LEVELS = ("low", "mid", "high")
LOSSES = ("triplet", "softmax")
# The triplet loss's semi-hard rule: per_anchor (D[i, j] < D[i, i] ignored) | code (D[i, j] < D[j, j] ignored, the
# authors' broadcast); and what an anchor without a semi-hard negative uses: largest negative | zero (code).
TRIPLET_MINING = ("per_anchor", "code")
TRIPLET_FALLBACKS = ("largest", "zero")
SIDE_INFO = ("none", "joint", "pretrain")


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


def check_seed(seed) -> int:
    """``seed`` as an int for NumPy's random generators, which take non-negative integers only; anything else is a
    one-line ValstudyError naming ``--seed`` (the option of ``data synth`` and ``simulate``)."""
    import numbers

    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValstudyError(f"--seed {seed!r}: not allowed; expected a non-negative integer")
    return int(seed)


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
    _choice("triplet_mining", cfg.triplet_mining, TRIPLET_MINING)
    _choice("triplet_fallback", cfg.triplet_fallback, TRIPLET_FALLBACKS)
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
