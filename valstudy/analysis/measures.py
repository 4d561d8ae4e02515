"""What the chapters draw from a trained model, measured once per run and kept in its record.

``python -m valstudy measure --run RUN_DIR --what simulation [attention]`` computes each measure on a finished run and
writes ``<run>/measures.json`` (atomically, keeping measures already there); the study's records copy it, so the
chapters read these numbers without the weights. Bump ``MEASURES_VERSION`` when a measure changes what it writes:
the study then measures finished runs again (their weights are unchanged) instead of reusing their records.

- ``simulation``: the simulated user of the beyond chapter (``valstudy.simulate``): success within T turns, on a
  fixed sample of ``SIMULATION["max_sessions"]`` sessions per split (the same for every run).
- ``attention``: the attention chapter's calibrated measures, text sensitivity and interventions
  (``analysis.attention_run.measure_run``) and the region measures at each kept snapshot (``along_training``); VAL's
  method runs only.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..errors import MissingResourceError, ValstudyError
from ..io import read_json, write_json

MEASURES_VERSION = 1
SIMULATION = {"turns": 5, "k": 1, "seed": 0, "max_sessions": 200}  # the beyond chapter's simulated user


def _simulation(run_dir: Path, device: str) -> dict:
    from ..simulate import simulate_run

    res = simulate_run(run_dir, device=device, write=False, **SIMULATION)
    return {k: v for k, v in res.items() if k != "run"}


def _attention(run_dir: Path, device: str) -> dict:
    from .attention_run import measure_run, measures_along_training

    return {**measure_run(run_dir, device=device), "along_training": measures_along_training(run_dir, device=device)}


MEASURES: dict[str, Callable[[Path, str], dict]] = {"simulation": _simulation, "attention": _attention}


def measure(run_dir: str | Path, what: tuple[str, ...], device: str = "cpu") -> dict:
    """Compute the measures ``what`` of a finished run and write ``<run>/measures.json``; returns its content.

    Measures already there with the current ``MEASURES_VERSION`` are kept, not recomputed.
    """
    run_dir = Path(run_dir)
    unknown = [w for w in what if w not in MEASURES]
    if unknown:
        raise ValstudyError(f"measure: unknown measure(s) {', '.join(unknown)}; choose from {', '.join(MEASURES)}")
    if not (run_dir / "final.pt").is_file():
        raise MissingResourceError("trained weights", run_dir / "final.pt", "train the run first (valstudy train)")
    path = run_dir / "measures.json"
    out = read_json(path) if path.is_file() else {}
    if out.get("measures_version") != MEASURES_VERSION:
        out = {"measures_version": MEASURES_VERSION}
    for name in what:
        if name not in out:
            out[name] = MEASURES[name](run_dir, device)
            write_json(path, out, indent=None)
    write_json(path, out, indent=None)
    return out
