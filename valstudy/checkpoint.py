"""Checkpoint I/O in one place: atomic saves, loads with ``weights_only=True``, and a run's provenance facts."""
from __future__ import annotations

import io
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from .errors import MissingResourceError, ValstudyError
from .io import atomic_write


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` with ``torch.save`` to a temporary file, then rename it into place."""
    buf = io.BytesIO()
    torch.save(state, buf)
    return atomic_write(path, lambda f: f.write(buf.getvalue()), mode="wb")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint saved by :func:`save_checkpoint`; never unpickles arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise MissingResourceError("checkpoint", path, "train the run first (python -m valstudy train ...)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # a truncated or foreign file
        raise ValstudyError(f"{path}: not a readable valstudy checkpoint ({type(e).__name__}: {e})") from None


def git_sha(cwd: str | Path | None = None) -> str:
    """The current commit (with ``-dirty`` when the tree has changes), or ``unknown`` outside git."""
    cwd = cwd or Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        if not sha:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment() -> dict[str, str]:
    """Library versions and machine facts saved beside every run."""
    import numpy
    import torchvision

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "numpy": numpy.__version__,
        "platform": platform.platform(),
        "cuda": torch.version.cuda or "none",
        "device_name": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }


def machine() -> dict:
    """The machine a run trained on, in words a record may hold (no host name, no path)."""
    cpu = platform.processor() or ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cores": os.cpu_count(), "system": platform.system(), "machine": platform.machine(),
            "gpu": gpu}
