"""Figures: every figure the README shows exists and comes from exactly one notebook; no two notebooks write one name.

Which figure names a notebook writes is read from its stored source: each ``study.save(fig, subset)`` call (or
``save(...)``, bound to it) names a literal subset, except the results notebook's ``study.save(..., protocol)``, which
writes one figure per protocol of the dataset.
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
    """The code cells of a notebook's reviewed source, the percent-format ``notebooks/<name>.py`` (in sync with its
    ``.ipynb``: tests/test_notebook_pairs.py)."""
    import jupytext

    nb = jupytext.read(NOTEBOOK_DIR / f"{name}.py")
    return "\n\n".join(c["source"] for c in nb["cells"] if c["cell_type"] == "code")


def saved_subsets(code: str) -> list[str | ast.expr]:
    """Second arguments of every ``save(...)`` or ``study.save(...)`` call: literal subsets, or the expression used."""
    out = []
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (isinstance(func, ast.Name) and func.id == "save") or (
                isinstance(func, ast.Attribute) and func.attr == "save" and isinstance(func.value, ast.Name)
                and func.value.id == "study"):
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
    got = saved_subsets('save(f, "maps")\nif x:\n    study.save(g, protocol)\nprint("save")\nother.save(h, "no")')
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
    # a notebook names itself to prepare(), whose Study.save writes <notebook>_<dataset>_<subset>.png: a renamed
    # notebook cannot keep writing the old names
    from valstudy.study.notebooks import Study

    for nb in NOTEBOOKS:
        assert re.search(rf'prepare\("{nb}"', notebook_code(nb)), nb
    assert Study("costs", "all", None, None, []).name("flops") == "costs_all_flops"


@pytest.mark.parametrize("link", readme_figures() or [None])
def test_readme_figure_exists_and_has_exactly_one_notebook(link):
    if link is None:
        pytest.skip("README.md links no figures/...png yet")
    assert (REPO / link).is_file(), f"README shows {link}, which is not in the repository (run make study)"
    name = Path(link).name
    owners = [nb for nb in NOTEBOOKS if name in figure_names(nb)]
    assert len(owners) == 1, f"{name}: written by {owners or 'no notebook'}"


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
        # the profile and the figures folder are the environment's ($VALSTUDY_PROFILE, $VALSTUDY_FIGURES_DIR)
        assert not {"PROFILE", "FIGURES_DIR"} & set(names), nb
        if nb in PER_DATASET:
            assert names[0] == "DATASET" and "DATA_ROOT" in names, nb
            assert ("RETRAIN" in names) == (nb != "datasets"), nb  # every chapter that reads runs can retrain them
        else:
            assert "DATASET" not in names, nb


# ---------------------------------------------------------------- helpers behind the figures, on hand-made inputs
def test_save_figure_is_deterministic_and_refuses_bad_names(tmp_path):
    import pandas as pd

    from valstudy import plotting
    from valstudy.errors import ValstudyError

    table = pd.DataFrame({"R@1 mean": [10.0, 20.0], "R@1 std": [1.0, float("nan")]}, index=["VAL", "TIRG"])
    paths = [plotting.save_figure(plotting.recall_bars(table, ["R@1"], "t"), tmp_path / str(i), "results_x_y")
             for i in range(2)]
    assert paths[0].name == "results_x_y.png" and paths[0].read_bytes() == paths[1].read_bytes()
    for bad in ("a/b", "x.png", ""):
        with pytest.raises(ValstudyError):
            plotting.save_figure(None, tmp_path, bad)


def test_recall_and_summary_by_hand():
    import pandas as pd

    from valstudy import analysis

    from valstudy import recall_at_k

    assert recall_at_k([1, 3, 11, 2], [1, 10]) == {"R@1": 25.0, "R@10": 75.0}
    assert recall_at_k([1, 0, 11, 2], [1, 10]) == {"R@1": 25.0, "R@10": 50.0}  # 0: not ranked
    df = pd.DataFrame([  # two seeds, two categories
        {"method": "tirg", "seed": s, "protocol": "val", "category": c, "R@10": r10, "R@50": r50}
        for s, c, r10, r50 in [(0, "dress", 10, 30), (0, "shirt", 20, 50), (1, "dress", 30, 50), (1, "shirt", 40, 70)]]
        + [{"method": "val", "seed": 0, "protocol": "val", "category": "dress", "R@10": 50, "R@50": 90}])
    t = analysis.summary_table(df)
    assert list(t.index.get_level_values("method").unique()) == ["val", "tirg"]  # the paper's order
    avg = t.loc[("tirg", "val", "average")]
    # per seed: averages 15 / 40 and 35 / 60; over seeds: mean 25 and 50, std (ddof 1) of (15, 35) = 14.142
    assert avg["R@10 mean"] == 25 and avg["R@50 mean"] == 50 and avg["mean R@K mean"] == 37.5
    assert avg["R@10 std"] == pytest.approx(14.1421356) and avg["seeds"] == 2


def test_region_mass_and_loglog_fit_by_hand():
    import numpy as np
    import pandas as pd

    from valstudy import analysis

    mask = np.zeros((4, 4), bool)
    mask[:2, :2] = True  # a quarter of the image
    spatial = np.ones((2, 2))
    spatial[0, 0] = 3.0  # the top-left cell, i.e. the region, holds 3 / 6 of the mass
    t = analysis.region_mass([{"spatial": {"low": spatial}}, {"spatial": {"low": spatial}}], [mask, None], ["low"])
    # bilinear upsampling of a 2x2 map to 4x4 keeps each cell's quadrant mean near its value: check against a naive
    up = analysis.upsample(spatial, (4, 4))
    assert t.loc["low", "attention_mass"] == pytest.approx(up[:2, :2].sum() / up.sum())
    assert 0.5 - 0.1 < t.loc["low", "attention_mass"] < 0.5 + 0.1
    assert t.loc["low", "area_fraction"] == 0.25 and t.loc["low", "queries"] == 1
    n = np.array([1000, 2000, 4000, 8000])
    times = pd.DataFrame({"device": "cpu", "gallery": n, "seconds": 3e-6 * n})
    slope, icpt = analysis.loglog_fit(times)["cpu"]
    assert slope == pytest.approx(1.0) and 10 ** icpt == pytest.approx(3e-6)
    assert analysis.loglog_fit(times, min_gallery=4000)["cpu"][0] == pytest.approx(1.0)


def test_changed_regions_maps_attributes_to_part_masks(tmp_path):
    import json

    import numpy as np

    from valstudy import analysis

    assert analysis.ChangedRegions.load(tmp_path) is None  # real data: no extras, no regions
    extras = tmp_path / "extras"
    extras.mkdir()
    (extras / "parts.json").write_text(json.dumps({"parts": ["background", "body", "hem"], "attribute_part": {
        "colour": "foreground", "hem": "hem", "sleeve": "sleeve"}}))
    (extras / "pairs.json").write_text(json.dumps([
        {"reference": "women/a.jpeg", "target": "b", "text": "longer", "changed": ["hem"]},
        {"reference": "women/a.jpeg", "target": "c", "text": "red", "changed": ["colour"]},
        {"reference": "women/a.jpeg", "target": "d", "text": "no sleeves", "changed": ["sleeve"]}]))
    part_map = np.array([[0, 1], [1, 2]], dtype=np.uint8)
    np.savez(extras / "regions.npz", **{"women__a.jpeg": part_map})
    regions = analysis.ChangedRegions.load(tmp_path)
    assert regions.mask("women/a.jpeg", "b", "longer").tolist() == [[False, False], [False, True]]
    assert regions.mask("women/a.jpeg", "c", "red").tolist() == [[False, True], [True, True]]
    assert regions.mask("women/a.jpeg", "d", "no sleeves") is None  # the part is absent from this image
    assert regions.mask("women/a.jpeg", "zzz", "?") is None  # no such pair


def test_change_locality_counts_local_changes_and_part_areas(tmp_path):
    import json

    import numpy as np

    from valstudy import analysis

    assert analysis.change_locality(tmp_path) is None  # real data: no extras
    extras = tmp_path / "extras"
    extras.mkdir()
    (extras / "parts.json").write_text(json.dumps({"parts": ["background", "body", "hem"], "attribute_part": {
        "colour": "foreground", "hem": "hem"}}))
    (extras / "pairs.json").write_text(json.dumps([
        {"reference": "a", "target": "b", "text": "longer", "changed": ["hem"]},
        {"reference": "a", "target": "b", "text": "is longer", "changed": ["hem"]},  # the same pair, other text
        {"reference": "a", "target": "c", "text": "red", "changed": ["colour"]},
        {"reference": "b", "target": "c", "text": "red and short", "changed": ["colour", "hem"]},
        {"reference": "c", "target": "a", "text": "a dress", "changed": ["category"]}]))  # no attribute: left out
    np.savez(extras / "regions.npz", a=np.array([[0, 1], [1, 2]], dtype=np.uint8),
             b=np.array([[0, 1], [1, 1]], dtype=np.uint8))
    got = analysis.change_locality(tmp_path, feature_sizes=(2,))
    assert got["pairs"] == 3 and got["image_size"] == 2
    assert got["only_local"] == pytest.approx(1 / 3) and got["some_local"] == pytest.approx(2 / 3)
    hem = got["parts"].loc["hem"]
    assert hem["images showing it"] == 0.5 and hem["area share"] == 0.25 and hem["pixels"] == 1.0
    assert hem["cells of 2x2"] == 1.0
    assert "body" not in got["parts"].index  # no attribute lives on the body alone
