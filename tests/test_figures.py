"""Figures: every figure the README shows exists and comes from exactly one notebook; no two notebooks write one name.

Which figure names a notebook writes is read from its stored source: each ``save(fig, subset)`` call names a literal
subset, except the results notebook's ``save(..., protocol)``, which writes one figure per protocol of the dataset.
Names are ``<notebook>_<dataset>_<subset>.png`` (``costs`` is not per dataset: ``costs_all_<subset>.png``).
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from valstudy.data import DATASETS
from valstudy.study import NOTEBOOKS, PER_DATASET

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
LINK = re.compile(r"\(\s*(?:\./)?(figures/[^)\s]+\.png)\s*\)|src=[\"'](?:\./)?(figures/[^\"']+\.png)[\"']")


def notebook_code(name: str) -> str:
    nb = json.loads((NOTEBOOK_DIR / f"{name}.ipynb").read_text())
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


def saved_subsets(code: str) -> list[str | ast.expr]:
    """Second arguments of every ``save(...)`` call: literal subsets, or the expression used."""
    out = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "save":
            arg = node.args[1]
            out.append(arg.value if isinstance(arg, ast.Constant) else arg)
    return out


def figure_names(name: str) -> set[str]:
    """Every figure file name the notebook ``name`` can write, over every dataset."""
    names = set()
    for ds in (DATASETS if name in PER_DATASET else ("all",)):
        for subset in saved_subsets(notebook_code(name)):
            if isinstance(subset, str):
                names.add(f"{name}_{ds}_{subset}.png")
            elif isinstance(subset, ast.Name) and subset.id == "protocol" and name == "results":
                names.update(f"{name}_{ds}_{p}.png" for p in DATASETS[ds].protocols)
            else:
                pytest.fail(f"{name}.ipynb: save() with a subset the test cannot resolve: {ast.unparse(subset)}")
    return names


def readme_figures() -> list[str]:
    text = (REPO / "README.md").read_text()
    return sorted({a or b for a, b in LINK.findall(text)})


def test_saved_subsets_reads_literals_and_expressions():
    got = saved_subsets('save(f, "maps")\nif x:\n    save(g, protocol)\nprint("save")')
    assert got[0] == "maps" and isinstance(got[1], ast.Name) and len(got) == 2


def test_every_notebook_writes_figures_and_no_two_share_a_name():
    seen: dict[str, str] = {}
    for nb in NOTEBOOKS:
        names = figure_names(nb)
        assert names, f"{nb}.ipynb writes no figure"
        for n in names:
            assert re.fullmatch(rf"{nb}_[a-z0-9]+_[a-z0-9_]+\.png", n), n
            assert n not in seen, f"{n} is written by both {seen[n]} and {nb}"
            seen[n] = nb


def test_figure_names_follow_the_template_in_each_notebook():
    # the template lives in each notebook's source, so a renamed notebook cannot keep writing the old names
    for nb in NOTEBOOKS:
        code = notebook_code(nb)
        assert 'f"{NOTEBOOK}_{DATASET}_{subset}"' in code, nb
        assert re.search(rf'NOTEBOOK(, DATASET)? = "{nb}"', code), nb


@pytest.mark.parametrize("link", readme_figures() or [None])
def test_readme_figure_exists_and_has_exactly_one_notebook(link):
    if link is None:
        pytest.skip("README.md links no figures/...png yet")
    assert (REPO / link).is_file(), f"README shows {link}, which is not in the repository (run make study)"
    name = Path(link).name
    owners = [nb for nb in NOTEBOOKS if name in figure_names(nb)]
    assert len(owners) == 1, f"{name}: written by {owners or 'no notebook'}"


def test_stored_notebooks_have_no_outputs_and_match_their_generator():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_notebooks", NOTEBOOK_DIR / "build_notebooks.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert set(gen.NOTEBOOKS) == set(NOTEBOOKS)
    for nb in NOTEBOOKS:
        stored = json.loads((NOTEBOOK_DIR / f"{nb}.ipynb").read_text())
        for cell in stored["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, f"{nb}.ipynb has outputs"
        assert stored == json.loads(gen.nbformat.writes(gen.build(nb, gen.NOTEBOOKS[nb]))), \
            f"{nb}.ipynb differs from notebooks/build_notebooks.py; rerun it"


def test_parameters_cell_is_upper_case_annotated_and_commented():
    for nb in NOTEBOOKS:
        cells = json.loads((NOTEBOOK_DIR / f"{nb}.ipynb").read_text())["cells"]
        tagged = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
        assert len(tagged) == 1, nb
        lines = "".join(tagged[0]["source"]).splitlines()
        names = []
        for line in lines:
            m = re.fullmatch(r"([A-Z][A-Z0-9_]*): (str|int|float|bool) = (.+?)\s+# \S.*", line)
            assert m, f"{nb}.ipynb parameter line not 'NAME: type = value  # comment': {line!r}"
            value = ast.literal_eval(m.group(3))
            assert type(value).__name__ == m.group(2), line
            names.append(m.group(1))
        if nb in PER_DATASET:
            assert names[:5] == ["DATASET", "PROFILE", "DATA_ROOT", "RUNS_ROOT", "FIGURES_DIR"], nb
        else:
            assert "DATASET" not in names and {"PROFILE", "FIGURES_DIR"} <= set(names), nb
