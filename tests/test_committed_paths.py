"""What the study commits travels: no executed chapter, figure, table or record quotes an absolute path of the
machine that made it (a reader's clone lives elsewhere, and the path says nothing about the study).
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMITTED = ("notebooks/executed", "figures", "records")
TEXT = {".ipynb", ".json", ".csv", ".md", ".txt", ".jsonl"}
# an absolute POSIX path under a usual root, or a Windows drive, starting after a quote, a blank, "(" or "="
# (so the "/" inside a base64 image never counts)
MACHINE_PATH = re.compile(r"""(?:(?<=["'\s(=])|^)(?:/(?:home|root|tmp|work|Users|mnt|var|srv|opt|private|scratch|media)/"""
                          r"""|[A-Za-z]:\\\\)""", re.MULTILINE)


def machine_paths(text: str) -> list[str]:
    """The absolute machine paths in ``text``: each match with what follows it, up to the next quote or blank."""
    return [re.split(r"""["'\s]""", text[m.start():m.start() + 120])[0] for m in MACHINE_PATH.finditer(text)]


def test_the_pattern_finds_machine_paths_and_not_base64_or_relative_ones():
    assert machine_paths('"PosixPath(\'/work/clone/figures/a.png\')"') == ["/work/clone/figures/a.png"]
    assert machine_paths('{"root": "/home/ana/data"}') == ["/home/ana/data"]
    assert machine_paths('"C:\\\\Users\\\\ana"') == ["C:\\\\Users\\\\ana"]
    assert machine_paths('"iVBORw0KGgo/work/AAA+/tmp/x" "figures/a.png" "{data}/shoes"') == []


def committed_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z", *COMMITTED], cwd=REPO, capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the committed files cannot be listed")
    return [REPO / p for p in out.stdout.decode().split("\0") if p and Path(p).suffix in TEXT]


def test_no_committed_output_quotes_a_machine_path():
    found = {}
    for path in committed_files():
        if path.is_file():
            hits = machine_paths(path.read_text(encoding="utf-8", errors="replace"))
            if hits:
                found[str(path.relative_to(REPO))] = hits[:2]
    assert not found, f"absolute machine paths in {len(found)} committed file(s), e.g. {dict(list(found.items())[:3])}"
