"""A study notebook opened in JupyterLab and saved there leaves its jupytext pair as committed (git stays clean)."""
from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

from lab_page import open_in_lab

REPO = Path(__file__).resolve().parents[2]
PAIR = ("ablations.ipynb", "ablations.py")


def _modified(url: str, token: str, name: str) -> str:
    with urllib.request.urlopen(f"{url}/api/contents/{name}?content=0&token={token}", timeout=30) as r:
        return json.load(r)["last_modified"]


def test_opening_and_saving_a_notebook_in_jupyterlab_changes_no_byte_of_the_pair(browser, jupyter_lab,
                                                                                 browser_timeout):
    """Open notebooks/ablations.ipynb in JupyterLab (its kernel started, as a reader would), save it with Ctrl+S,
    and compare both files of the pair with the committed ones byte for byte (JupyterLab writes both through
    jupytext when jupytext is installed, as it is in the dev extras)."""
    url, token, root = jupyter_lab
    for name in (*PAIR, "jupytext.toml"):
        shutil.copy(REPO / "notebooks" / name, root / name)
    before = {name: (root / name).read_bytes() for name in PAIR}
    stamp = _modified(url, token, PAIR[0])
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        open_in_lab(page, url, token, PAIR[0], browser_timeout)
        page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
        page.wait_for_function("""() => { const w = window.jupyterapp.shell.currentWidget;
            return w && w.context && !w.context.model.dirty; }""", timeout=60_000)
        deadline = 60
        while _modified(url, token, PAIR[0]) == stamp and deadline > 0:  # the save reached the disk
            page.wait_for_timeout(1000)
            deadline -= 1
        assert _modified(url, token, PAIR[0]) != stamp, "JupyterLab did not save the notebook"
    finally:
        page.close()
    after = {name: (root / name).read_bytes() for name in PAIR}
    changed = {name: _diff(before[name], after[name]) for name in PAIR if after[name] != before[name]}
    assert not changed, f"saving in JupyterLab rewrote {changed}"


def _diff(a: bytes, b: bytes) -> str:
    """The first lines of a unified diff, enough to say what JupyterLab changed."""
    import difflib
    lines = difflib.unified_diff(a.decode().splitlines(), b.decode().splitlines(), lineterm="", n=0)
    return "\n".join(list(lines)[2:14])
