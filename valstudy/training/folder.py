"""A training run's folder: which run it holds, its provenance, its metrics log, and whether the run finished.

Files: ``config.json`` (written last of the provenance: it marks the folder as this run's), ``meta.json`` (git SHA,
seed, versions), ``vocab.json``, ``metrics.jsonl`` (one JSON line per logged step or evaluation), ``checkpoint.pt``
(latest, atomic), ``final.pt`` (weights and EMA weights), ``results.json`` (written by evaluation).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from ..checkpoint import environment, git_sha
from ..config import TrainConfig, config_differences, config_to_dict, load_config
from ..errors import ValstudyError
from ..io import append_line, read_error, read_json, read_jsonl, write_json, write_text
from ..text import Vocabulary
from ..versions import stamp


def torn_final_line(path: Path) -> tuple[int, int, str] | None:
    """(line number, bytes, why) of the last line of a JSON-lines file when a writer stopped in the middle of it
    (the line has no newline, or is not JSON); None when the file ends in a whole line."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise read_error(path, e) from None
    lines = data.split(b"\n")
    last = max((i for i, line in enumerate(lines) if line.strip()), default=None)
    if last is None:
        return None
    try:
        json.loads(lines[last].decode("utf-8", errors="replace"))
        whole_json = True
    except json.JSONDecodeError:
        whole_json = False
    ends = last < len(lines) - 1  # a newline follows it
    why = ", ".join(w for w, torn in (("no newline", not ends), ("not JSON", not whole_json)) if torn)
    return (last + 1, len(lines[last]), why) if why else None


class RunFolder:
    """The folder of one training run; rank 0 writes it, the other ranks of a DDP run only read it.

    Parameters
    ----------
    path : str or Path
        The run folder (``--run-dir``).
    rank : int
        This process's rank.
    """

    def __init__(self, path: str | Path, rank: int = 0):
        self.path, self.rank = Path(path), rank
        self.checkpoint, self.final = self.path / "checkpoint.pt", self.path / "final.pt"
        self.metrics = self.path / "metrics.jsonl"

    @property
    def finished(self) -> bool:
        return self.final.is_file()

    def check(self, cfg: TrainConfig) -> None:
        """Refuse a path that is a file, and a folder that holds a run of another configuration (one line each)."""
        if self.path.exists() and not self.path.is_dir():
            raise ValstudyError(f"{self.path}: is a file, not a folder; give a folder path for --run-dir")
        if (self.path / "config.json").is_file():
            load_config(self.path / "config.json")  # a run of another version: a message naming the key and it
        diff = config_differences(cfg, self.path)
        if diff:
            raise ValstudyError(f"{self.path}: holds a run with another configuration (differs in "
                                f"{', '.join(diff)}); choose a new --run-dir or delete this one")

    def vocabulary(self) -> Vocabulary | None:
        """The run's saved vocabulary, or None before the run has written one."""
        path = self.path / "vocab.json"
        return Vocabulary.from_state_dict(read_json(path)) if path.is_file() else None

    def write_provenance(self, cfg: TrainConfig, vocab: Vocabulary, world: int, device: torch.device) -> None:
        """``meta.json``, ``config.json`` and ``vocab.json``, each once (rank 0)."""
        if self.rank != 0:
            return
        if not (self.path / "config.json").is_file():
            # meta.json first: config.json marks the folder as this run's, so it must come last
            write_json(self.path / "meta.json", {**stamp(), "git_sha": git_sha(), "seed": cfg.seed,
                                                 "world_size": world, "device": str(device), **environment()})
            write_json(self.path / "config.json", config_to_dict(cfg))
        if not (self.path / "vocab.json").is_file():
            write_json(self.path / "vocab.json", vocab.state_dict(), indent=None)

    def log(self, record: dict) -> None:
        """Append one record to ``metrics.jsonl`` (rank 0)."""
        if self.rank == 0:
            append_line(self.metrics, json.dumps(record))

    def keep_metrics_up_to(self, step: int) -> None:
        """Keep the metrics lines up to ``step`` (the checkpoint a resumed run starts from): the lines after it would
        be logged again.

        A run stopped while writing a line leaves it torn (no newline, or not JSON). Written after the last
        checkpoint, it goes with the others after it, and one line on stderr names it: the file, its line number,
        its size and why it is torn. A malformed line before the last raises DataError naming its line.
        """
        if self.rank != 0 or not self.metrics.is_file():
            return
        records = read_jsonl(self.metrics)  # leaves a final line out when it is not JSON
        torn = torn_final_line(self.metrics)
        if torn is not None:
            line, size, why = torn
            if "not JSON" not in why:
                records = records[:-1]  # JSON, but its newline was never written
            print(f"valstudy: {self.metrics}:{line}: dropped a torn final line ({size} bytes; {why}): the run "
                  f"stopped while writing it, after its last checkpoint (step {step})", file=sys.stderr, flush=True)
        keep = [r for r in records if r.get("step", 0) <= step]
        write_text(self.metrics, "".join(json.dumps(r) + "\n" for r in keep))
