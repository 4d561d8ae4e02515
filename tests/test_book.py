"""valstudy.book (``make book``) on hand-made executed notebooks: chapters in the study's order, links rewritten,
figures embedded, bad names refused. The browser check of the built site is tests/browser/ (``make test-browser``)."""
from __future__ import annotations

import base64
import io
import re
import urllib.parse

import nbformat
import pytest

from valstudy.book import build, chapters
from valstudy.errors import ValstudyError


def png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def executed(folder, name):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}\n\nSee [the ablations](ablations.ipynb) and "
                                              "[protocols](../docs/protocols.md)."),
                nbformat.v4.new_code_cell("show()", outputs=[nbformat.v4.new_output(
                    "display_data", data={"image/png": png(), "text/plain": "<Figure>"})])]
    nbformat.write(nb, folder / f"{name}.ipynb")


def test_build_writes_chapters_in_order_with_embedded_figures_and_site_links(tmp_path):
    ex, docs = tmp_path / "executed", tmp_path / "docs"
    ex.mkdir()
    docs.mkdir()
    (docs / "protocols.md").write_text("# Protocols\n\nR@K.\n")
    for name in ("costs_all", "results_shoes", "ablations_shoes", "results_fashion200k"):
        executed(ex, name)
    assert [f"{n}_{d}" for n, d, _ in chapters(ex)] == ["results_fashion200k", "results_shoes", "ablations_shoes",
                                                          "costs_all"]
    index = build(ex, tmp_path / "site", docs)
    text = index.read_text()
    hrefs = [h for h in ("results_fashion200k.html", "results_shoes.html", "ablations_shoes.html", "costs_all.html")]
    assert [text.index(h) for h in hrefs] == sorted(text.index(h) for h in hrefs)
    page = (tmp_path / "site" / "results_shoes.html").read_text()
    assert "data:image/png;base64," in page
    assert 'href="ablations_shoes.html"' in page and 'href="docs/protocols.html"' in page
    assert (tmp_path / "site" / "docs" / "protocols.html").is_file()


def local_links(site) -> dict[str, list[str]]:
    """Every page's links and sources that point at a file of the site which does not exist."""
    broken = {}
    for page in site.rglob("*.html"):
        for ref in re.findall(r'(?:href|src)="([^"#]+)', page.read_text()):
            if not re.match(r"[a-z]+:", ref) and not (page.parent / urllib.parse.unquote(ref)).exists():
                broken.setdefault(page.relative_to(site).as_posix(), []).append(ref)
    return broken


def test_every_local_link_of_the_site_resolves_docs_linking_each_other_included(tmp_path):
    ex, docs = tmp_path / "executed", tmp_path / "docs"
    ex.mkdir()
    docs.mkdir()
    (docs / "protocols.md").write_text("# Protocols\n\nShapes: [shapes](shapes.md), [a part](shapes.md#levels).\n")
    (docs / "shapes.md").write_text("# Shapes\n\nSee [protocols](./protocols.md) and [elsewhere](other.md).\n")
    executed(ex, "results_shoes")
    build(ex, tmp_path / "site", docs)
    protocols = (tmp_path / "site" / "docs" / "protocols.html").read_text()
    assert 'href="shapes.html"' in protocols and 'href="shapes.html#levels"' in protocols
    assert 'href="protocols.html"' in (tmp_path / "site" / "docs" / "shapes.html").read_text()
    # the chapter's link to the ablations notebook has no page to point at (not executed): it stays as written
    assert local_links(tmp_path / "site") == {"docs/shapes.html": ["other.md"],
                                               "results_shoes.html": ["ablations.ipynb"]}


def test_the_committed_site_has_no_broken_local_link(tmp_path):
    from valstudy.book import REPO

    executed_dir = REPO / "notebooks" / "executed"
    if not any(executed_dir.glob("*.ipynb")):
        pytest.skip("no executed notebooks yet (make study writes notebooks/executed/)")
    build(executed_dir, tmp_path / "site")
    assert local_links(tmp_path / "site") == {}


def test_build_refuses_an_empty_folder_and_foreign_names(tmp_path):
    with pytest.raises(ValstudyError, match="no executed notebooks; run `make study`"):
        build(tmp_path / "nothing", tmp_path / "site")
    executed(tmp_path, "notes_shoes")
    with pytest.raises(ValstudyError, match="notes_shoes.ipynb: not an executed notebook"):
        build(tmp_path, tmp_path / "site")
