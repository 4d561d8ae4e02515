"""valstudy.book (``make book``): a small study's executed notebooks, made here with nbformat, built into a site.

The site is read as files: its pages and their navigation, the search index, MathJax copied into it, no raw ``$$``
outside the math elements, an alt text on every image, every local link landing on a file, the parameter cells and
their machine paths gone. The same site in a real browser, offline, is tests/browser/ (``make test-browser``).
Needs the ``book`` extra (``make book`` installs it); skipped, saying so, without it.
"""
from __future__ import annotations

import base64
import io
import json
import re
import urllib.parse
from pathlib import Path

import nbformat
import pytest

from valstudy.book import build, chapters
from valstudy.cli import main as cli_main
from valstudy.errors import ValstudyError
from valstudy.study.notebooks import travel


def main(argv):
    return cli_main(["book", *argv])


pytest.importorskip("sphinx", reason="the book extra is not installed: `make book` installs it")
pytest.importorskip("myst_nb", reason="the book extra is not installed: `make book` installs it")
from bs4 import BeautifulSoup  # noqa: E402  (installed with the book's theme)

MACHINE = "/srv/machine-that-ran-it"  # an absolute path the injected parameters quote; the site must not
CAPTION = "VAL against four baselines: mean R@K over three seeds"
new_md, new_code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell


def png(colour: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], color=colour)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def image(data: bytes, **metadata):
    return nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(data).decode(),
                                                        "text/plain": "<IPython.core.display.Image object>"},
                                  metadata={"image/png": metadata} if metadata else {})


def executed(folder: Path, name: str, figures: Path | None = None, travelled: bool = True) -> Path:
    """An executed notebook as the study keeps one: an empty cell, the parameter cells, math, links, figures; its
    links written for notebooks/executed/ by ``travel`` (``travelled=False``: as papermill wrote them, the form of
    copies executed before links were rewritten)."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"},
                                             "language_info": {"name": "python"}})
    extra = image(png("red"))
    if figures is not None:  # a figure shown before show() recorded names: only figures/ names it
        figures.mkdir(exist_ok=True)
        data = png("green")
        (figures / f"{name}_recall.png").write_bytes(data)
        extra = image(data)
    nb.cells = [
        new_code(""),
        new_md(f"# Title of {name}\n\nZebrafish appear. See [the ablations](ablations.ipynb), "
               "[protocols](../docs/protocols.md), [a section](../docs/shapes.md#levels) and [gone](../docs/gone.md)."
               "\n\n$$\\mathrm{R@}K = \\frac{100}{|Q|} \\sum_q \\mathbb{1}[r_q \\le K]$$\n\nInline $d_s$ too."),
        new_code('DATASET: str = "shoes"  # the dataset\nFIGURES_DIR: str = ""', metadata={"tags": ["parameters"]}),
        new_code(f'# Parameters\nDATASET = "shoes"\nFIGURES_DIR = "{MACHINE}/figures"\n',
                 metadata={"tags": ["injected-parameters"]}),
        new_code("study = prepare(DATASET)", outputs=[nbformat.v4.new_output("stream", text="profile 'synthetic'\n")]),
        new_md("## 1. The figure"),
        new_code("save(fig)", outputs=[image(png("blue"), alt=CAPTION, filename=f"{name}_default.png"),
                                       image(png("black"), filename=f"{name}_dedup.png"), extra]),
        new_code("record()", outputs=[nbformat.v4.new_output(
            "execute_result", data={"text/plain": f"PosixPath('{MACHINE}/figures/{name}.json')"},
            execution_count=5)]),
        new_code("app", outputs=[nbformat.v4.new_output("display_data", data={
            "application/vnd.jupyter.widget-view+json": {"model_id": "abc", "version_major": 2, "version_minor": 0},
            "text/plain": "VBox(children=...)"})]),
        new_md(""),
    ]
    path = folder / f"{name}.ipynb"
    nbformat.write(travel(nb, name.rsplit("_", 1)[1]) if travelled else nb, path)
    return path


def notes(docs: Path) -> Path:
    (docs / "images").mkdir(parents=True)
    (docs / "images" / "plot.png").write_bytes(png("purple"))
    (docs / "README.md").write_text("# Reference notes\n\n| note |\n|---|\n| [protocols.md](protocols.md) |\n")
    (docs / "protocols.md").write_text("# Protocols\n\nR@K, see [shapes](shapes.md#levels), [results](../notebooks/"
                                       "results.ipynb) and [code](../valstudy/metrics.py).\n\n"
                                       "![Recall at K on a toy gallery](images/plot.png)\n")
    (docs / "shapes.md").write_text("# Shapes\n\n## Levels\n\nLow, mid, high. See [protocols](./protocols.md).\n")
    return docs


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study")
    ex = root / "executed"
    ex.mkdir()
    for name in ("results_shoes", "results_fashion200k", "ablations_shoes"):  # one copy with links as papermill wrote
        executed(ex, name, root / "figures" if name == "results_shoes" else None, name != "results_fashion200k")
    executed(ex, "costs_all")
    warnings: list[str] = []
    index = build(ex, root / "site", notes(root / "docs"), root / "figures", warnings=warnings)
    assert index == root / "site" / "index.html" and warnings == []
    return index.parent


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def pages(site: Path) -> list[Path]:
    """The site's pages (not the themes' template macros, which they copy into _static/)."""
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)


def local_targets(site: Path) -> dict[str, list[str]]:
    """Every local href/src of every page whose file does not exist, by page."""
    broken = {}
    for page in pages(site):
        for tag in soup(page).find_all(["a", "img", "script", "link"]):
            ref = tag.get("href") or tag.get("src")
            if not ref or re.match(r"[a-z][a-z0-9+.-]*:", ref) or ref.startswith("#"):
                continue
            path = urllib.parse.unquote(ref.split("#")[0].split("?")[0])
            if path and not (page.parent / path).exists():
                broken.setdefault(page.relative_to(site).as_posix(), []).append(ref)
    return broken


def test_chapters_come_in_the_study_order(tmp_path):
    for name in ("costs_all", "results_shoes", "ablations_shoes", "results_fashion200k"):
        executed(tmp_path, name)
    assert [f"{n}_{d}" for n, d, _ in chapters(tmp_path)] == ["results_fashion200k", "results_shoes",
                                                               "ablations_shoes", "costs_all"]


def test_every_chapter_and_note_is_a_page_with_the_sidebar_and_previous_next(site):
    chapter = soup(site / "notebooks" / "results_shoes.html")
    sidebar = {a["href"] for a in chapter.select("nav.bd-docs-nav a")}
    assert {"results.html", "results_fashion200k.html", "ablations_shoes.html", "costs_all.html",
            "../docs/README.html", "../docs/protocols.html", "../index.html"} <= sidebar
    assert [a.get_text(" ", strip=True) for a in chapter.select("nav.bd-docs-nav li.current li a")] == \
        ["Fashion200k", "Shoes"]  # each dataset a page under its notebook
    assert chapter.select_one("a.left-prev")["href"] == "results_fashion200k.html"
    assert chapter.select_one("a.right-next")["href"] == "ablations.html"
    assert chapter.find("h1").get_text(strip=True).startswith("Title of results_shoes (Shoes)")
    index = soup(site / "index.html")
    assert [a["href"] for a in index.select("table a")][:3] == ["notebooks/results.html",
                                                                "notebooks/results_fashion200k.html",
                                                                "notebooks/results_shoes.html"]
    assert (site / "docs" / "shapes.html").is_file() and (site / "search.html").is_file()


def test_the_search_index_holds_the_chapters_words(site):
    text = (site / "searchindex.js").read_text()
    index = json.loads(text[text.index("(") + 1:text.rindex(")")])
    docs = [index["docnames"][i] for i in index["terms"]["zebrafish"]]
    assert "notebooks/results_shoes" in docs and "notebooks/costs_all" in docs


def test_math_is_rendered_by_the_mathjax_copied_into_the_site_and_no_raw_dollars_remain(site):
    assert (site / "_static" / "mathjax" / "tex-svg-full.js").stat().st_size > 1_000_000
    page = soup(site / "notebooks" / "results_shoes.html")
    scripts = [s.get("src", "") for s in page.find_all("script")]
    assert "../_static/mathjax/tex-svg-full.js" in scripts
    display, inline = page.select("div.math"), page.select("span.math")
    assert display and "\\frac{100}{|Q|}" in display[0].get_text() and inline
    for path in pages(site):
        tree = soup(path)
        for math in tree.select(".math"):
            math.decompose()
        assert "$$" not in tree.get_text(), f"{path.name}: raw $$ outside the math elements"
        external = [t.get("src") or t.get("href") for t in tree.find_all(["script", "link", "img"])
                    if re.match(r"(https?:)?//", t.get("src") or t.get("href") or "")]
        assert external == [], f"{path.name}: loads from the network"


def test_every_image_has_a_real_alt_text(site):
    alts = [img.get("alt") for img in soup(site / "notebooks" / "results_shoes.html").find_all("img")
            if "_images/" in img["src"]]
    assert alts == [CAPTION, "Figure: results, shoes, dedup", "Figure: results, shoes, recall"]
    assert [img.get("alt") for img in soup(site / "notebooks" / "ablations_shoes.html").find_all("img")
            if "_images/" in img["src"]][2] == "Figure 3 of Title of ablations_shoes"
    assert soup(site / "docs" / "protocols.html").find("img")["alt"] == "Recall at K on a toy gallery"
    for path in pages(site):
        for img in soup(path).find_all("img"):
            alt = img.get("alt", "")
            assert alt and "No description" not in alt and "/" not in alt, f"{path.name}: {img}"


def test_links_land_on_the_books_pages_and_missing_targets_lose_their_link(site):
    assert local_targets(site) == {}
    chapter = soup(site / "notebooks" / "results_shoes.html")
    links = {a.get_text(strip=True): a.get("href") for a in chapter.select("article a")}
    assert links["the ablations"] == "ablations_shoes.html"  # the same dataset's chapter
    assert links["protocols"] == "../docs/protocols.html"
    assert links["a section"] == "../docs/shapes.html#levels"
    assert "gone" not in links and "and gone." in chapter.get_text(" ", strip=True)
    # no ablations chapter on Fashion200k: the link opens the notebook's own page, which lists its datasets
    others = {a.get_text(strip=True): a.get("href") for a in
              soup(site / "notebooks" / "results_fashion200k.html").select("article a")}
    assert others["the ablations"] == "ablations.html"
    note = {a.get_text(strip=True): a.get("href") for a in soup(site / "docs" / "protocols.html").select("article a")}
    assert note["shapes"] == "shapes.html#levels" and note["results"] == "../notebooks/results.html"
    assert "code" not in note


def test_parameter_cells_empty_cells_prompts_path_echoes_and_widgets_do_not_show(site):
    for path in pages(site):
        text = path.read_text(encoding="utf-8")
        assert MACHINE not in text and "In [" not in text, path.name
    page = soup(site / "notebooks" / "results_shoes.html")
    code = [c.get_text() for c in page.select("div.cell_input")]
    assert not any("DATASET: str" in c or "# Parameters" in c or not c.strip() for c in code)
    assert "profile 'synthetic'" in page.get_text()
    assert all(d.find_parent("details") or d.find_parent(class_="hide") for d in page.select("div.cell_input"))
    assert "PosixPath" not in page.get_text() and "VBox" not in page.get_text()
    assert "interactive app appears here when the notebook runs in JupyterLab" in page.get_text()


def test_a_new_build_replaces_the_site_and_refuses_a_folder_it_did_not_build(site, tmp_path):
    ex = tmp_path / "executed"
    ex.mkdir()
    executed(ex, "costs_all")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValstudyError, match="out: holds files that are not a book built by valstudy"):
        build(ex, out, None, None)
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    build(ex, out, None, None)
    (out / "stale.html").write_text("from an older build")
    assert main(["--executed", str(ex), "--out", str(out), "--docs", "", "--figures", ""]) == 0
    assert not (out / "stale.html").exists() and (out / "notebooks" / "costs_all.html").is_file()


def test_build_refuses_an_empty_folder_and_foreign_names(tmp_path, capsys):
    with pytest.raises(ValstudyError, match="no executed notebooks; run `make study`"):
        build(tmp_path / "nothing", tmp_path / "site")
    assert main(["--executed", str(tmp_path / "nothing"), "--out", str(tmp_path / "site")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    executed(tmp_path, "notes_shoes")
    with pytest.raises(ValstudyError, match="notes_shoes.ipynb: not an executed notebook"):
        build(tmp_path, tmp_path / "site")


def test_show_records_the_caption_and_the_file_name_for_the_alt_text(tmp_path):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from valstudy.plotting import show

    InteractiveShell.instance()
    path = tmp_path / "results_shoes_default.png"
    path.write_bytes(png("red"))
    with capture_output() as cap:
        show(path, caption=CAPTION)
        show(path)
    assert [o.metadata["image/png"] for o in cap.outputs] == [
        {"filename": "results_shoes_default.png", "alt": CAPTION}, {"filename": "results_shoes_default.png"}]
    assert base64.b64decode(cap.outputs[0].data["image/png"]) == path.read_bytes()


@pytest.mark.slow
def test_the_committed_study_builds_with_every_link_resolving_and_no_machine_path(tmp_path):
    from valstudy.study import REPO

    executed_dir = REPO / "notebooks" / "executed"
    if not any(executed_dir.glob("*.ipynb")):
        pytest.skip("no executed notebooks yet (make study writes notebooks/executed/)")
    warnings: list[str] = []
    site = build(executed_dir, tmp_path / "site", warnings=warnings).parent
    assert warnings == []
    assert local_targets(site) == {}
    for path in pages(site):
        text = path.read_text(encoding="utf-8")
        assert "/work/" not in text and "No description has been provided" not in text, path.name
    assert len(list((site / "notebooks").glob("*_*.html"))) == len(list(executed_dir.glob("*.ipynb")))


def test_without_injected_parameters_the_cell_after_the_parameters_shows_its_outputs_only():
    from valstudy.book.cells import make_chapter

    nb = nbformat.v4.new_notebook()
    nb.cells = [new_md("# Costs"), new_code("X = 1", metadata={"tags": ["parameters"]}), new_md("Then:"),
                new_code("prepare(X)"), new_code("plot()"), new_code("  \n")]
    chapter = make_chapter(nb, "costs", None, lambda target: target, {})
    assert chapter.title == "Costs" and len(nb.cells) == 5
    assert [c.metadata.get("tags") for c in nb.cells if c.cell_type == "code"] == [
        ["parameters", "remove-cell"], ["remove-input"], ["hide-input"]]
