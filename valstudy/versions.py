"""Which valstudy wrote a run: the version stamp saved with it, for messages about runs from another version.

``meta.json`` and ``results.json`` carry ``valstudy_version`` (and ``git_sha``); runs written before the stamp
existed are described by their git commit alone.
"""
from __future__ import annotations

import json
from pathlib import Path

from . import __version__

__all__ = ["__version__", "written_by", "stamp"]


def stamp() -> dict:
    """The fields every run file written by this version carries."""
    return {"valstudy_version": __version__}


def written_by(folder: str | Path, record: dict | None = None) -> str:
    """``valstudy 0.2.0 (git 1a2b3c4)``, from ``record`` or the folder's ``meta.json``; never raises."""
    sources = [record or {}]
    try:
        sources.append(json.loads((Path(folder) / "meta.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        pass
    version = next((s["valstudy_version"] for s in sources if isinstance(s, dict) and s.get("valstudy_version")),
                   None)
    sha = next((s["git_sha"] for s in sources if isinstance(s, dict) and s.get("git_sha")), None)
    who = f"valstudy {version}" if version else "a valstudy without version stamps (before 0.1.0's)"
    if sha and sha != "unknown":
        who += f" (git {sha[:12]})"
    return who + f"; this is valstudy {__version__}"
