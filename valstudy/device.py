"""The one device helper: which torch device a run, an evaluation or a retrieval uses."""
from __future__ import annotations

import os

import torch

from .errors import ValstudyError


def pick_device(name: str | torch.device | None = "auto", like: torch.Tensor | None = None) -> torch.device:
    """The device for ``name``.

    ``None`` -> ``like``'s device (the CPU without ``like``); ``"auto"`` -> the local CUDA device when there is one
    (``LOCAL_RANK`` under torchrun), else the CPU; anything else as given. A CUDA device asked for on a machine
    without one raises ValstudyError.
    """
    if name is None:
        return like.device if like is not None else torch.device("cpu")
    if isinstance(name, str) and name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError) as e:
        raise ValstudyError(f"device {name!r}: not a torch device ({e})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValstudyError(f"device {name!r} asked for, but torch sees no CUDA device")
    return dev
