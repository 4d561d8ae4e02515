"""The notebooks are jupytext pairs: ``notebooks/<name>.py`` (percent format, the reviewed source) and
``notebooks/<name>.ipynb`` (for JupyterLab, stored without outputs), and the two say the same thing.

The check compares what a reader sees (cell kinds, sources, the ``parameters`` tag), not bytes: saving in
JupyterLab rewrites the JSON's layout and metadata, and must keep these tests green. After editing one side outside
JupyterLab, ``make notebooks`` (``jupytext --sync``, then outputs stripped) brings the other side along.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from valstudy.study import NOTEBOOKS

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
REMEDY = "run `make notebooks` (jupytext --sync, then strip outputs)"


def cells(nb) -> list[tuple[str, str, tuple[str, ...]]]:
    """What a reader sees of each cell: its kind, its source (trailing blanks ignored) and its tags."""
    out = []
    for c in nb["cells"]:
        source = c["source"] if isinstance(c["source"], str) else "".join(c["source"])
        out.append((c["cell_type"], source.rstrip(), tuple(c.get("metadata", {}).get("tags", ()))))
    return out


def test_every_study_notebook_is_a_pair_and_nothing_else_lies_in_notebooks():
    ipynb = {p.stem for p in NOTEBOOK_DIR.glob("*.ipynb")}
    py = {p.stem for p in NOTEBOOK_DIR.glob("*.py")}
    assert ipynb == py == set(NOTEBOOKS), f"unpaired: {sorted(ipynb ^ py)}; {REMEDY}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_pair_in_sync(name):
    import jupytext

    text = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    stored = json.loads((NOTEBOOK_DIR / f"{name}.ipynb").read_text())
    assert cells(text) == cells(stored), f"notebooks/{name}.py and .ipynb differ; {REMEDY}"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_stored_notebook_has_no_outputs(name):
    stored = json.loads((NOTEBOOK_DIR / f"{name}.ipynb").read_text())
    for c in stored["cells"]:
        if c["cell_type"] == "code":
            assert c["outputs"] == [] and c["execution_count"] is None, f"notebooks/{name}.ipynb has outputs; {REMEDY}"


def test_jupytext_pairs_the_sources_but_not_the_executed_copies():
    from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file

    def formats(folder: Path) -> str:
        config = load_jupytext_configuration_file(find_jupytext_configuration_file(folder))
        return config.default_formats(str(folder / "x.ipynb"))

    assert formats(NOTEBOOK_DIR) == "ipynb,py:percent"
    assert formats(NOTEBOOK_DIR / "executed") == "ipynb"  # documents written by make study, not sources


def test_the_sync_check_notices_an_edit(tmp_path):
    """Editing one side only is caught; syncing with jupytext (what JupyterLab does on save) repairs it."""
    import jupytext

    src = NOTEBOOK_DIR / "costs.py"
    nb = jupytext.read(src)
    nb.cells[0].source += "\n\nOne more sentence."
    edited = tmp_path / "costs.py"
    jupytext.write(nb, edited, fmt="py:percent")
    assert cells(jupytext.read(edited)) != cells(json.loads((NOTEBOOK_DIR / "costs.ipynb").read_text()))
    jupytext.write(jupytext.read(edited), tmp_path / "costs.ipynb")
    assert cells(jupytext.read(edited)) == cells(json.loads((tmp_path / "costs.ipynb").read_text()))


def test_stored_notebooks_leave_the_profile_to_the_environment_and_train_nothing_by_default():
    """No notebook stores a profile (``prepare`` reads ``$VALSTUDY_PROFILE``, else the study's profile); each stores
    RETRAIN = False, and its preamble is one call: ``prepare(<its name>, ...)``; none defines its own save()."""
    for name in NOTEBOOKS:
        stored = json.loads((NOTEBOOK_DIR / f"{name}.ipynb").read_text())
        params = next(c for c in stored["cells"] if "parameters" in c["metadata"].get("tags", []))
        source = "".join(params["source"])
        assert "PROFILE" not in source, name
        assert name in ("datasets", "costs") or "RETRAIN: bool = False" in source, name
        code = "".join("".join(c["source"]) for c in stored["cells"] if c["cell_type"] == "code")
        assert f'prepare("{name}"' in code and "def save(" not in code, name
        first = stored["cells"][0]
        assert first["cell_type"] == "markdown" and "".join(first["source"]).strip(), name  # no empty first cell
