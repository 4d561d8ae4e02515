"""The stand-in marker: whether a dataset folder holds stand-in images (``valstudy.data.standin`` writes them), and
the labels every report, result and figure carries then. Kept apart from the writer so the loaders can read it."""
from __future__ import annotations

from pathlib import Path

from ..io import read_json

MARKER = "STAND-IN-IMAGES.json"
NOTE = "stand-in images: numbers meaningless"
_loaded: set[str] = set()   # roots of stand-in datasets loaded in this process (figures say so)


def standin_info(root: str | Path) -> dict | None:
    """The marker's content when ``root`` holds stand-in images, else None."""
    path = Path(root) / MARKER
    return read_json(path, "stand-in marker") if path.is_file() else None


def label_dataset(ds) -> None:
    """Label a loaded dataset as holding stand-ins when its root has the marker (called by ``load_dataset``)."""
    info = standin_info(ds.root)
    if info is None:
        return
    ds.report.counts["stand_in_images"] = int(info.get("written", 0))
    ds.report.notes.insert(0, f"{NOTE} ({info.get('written', 0):,} images written by `valstudy data stand-in`)")
    _loaded.add(str(ds.root))


def standins_loaded() -> bool:
    """Whether this process has loaded a dataset holding stand-in images."""
    return bool(_loaded)
