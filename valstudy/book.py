"""The study as a static web site: every executed notebook as an HTML chapter, an index with a table of contents.

    python -m valstudy.book [--executed notebooks/executed] [--out build/book]      (make book)

Reads the executed copies ``<notebook>_<dataset>.ipynb`` that ``make study`` writes, converts each with nbconvert
(figures stay embedded in the page, so a chapter is one self-contained file) and writes ``index.html`` listing the
chapters in the study's order, one row per notebook, one link per dataset. The reference notes of ``docs/`` become
pages too, and the chapters' links to other notebooks and to ``docs/`` are pointed at them.

Why nbconvert and an index rather than Jupyter Book or myst-nb: the executed notebooks already hold their outputs, so
the site needs a converter, not a build system; nbconvert is already installed with Jupyter (no new dependency, no
Sphinx tree, no Node), converts every chapter in seconds, and needs no network.
"""
from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

from .errors import ValstudyError
from .io import write_text
from .study import DATASETS, NOTEBOOKS, REPO

TITLES = {"datasets": "The datasets", "training": "Training", "results": "Results: VAL against the baselines",
          "ablations": "Ablations", "qualitative": "Qualitative results", "attention": "Attention",
          "costs": "Computational costs", "beyond": "Beyond the paper: valid targets and a simulated user",
          "search": "Interactive search"}
STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.5}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}")


def chapters(executed: Path) -> list[tuple[str, str, Path]]:
    """(notebook, dataset, path) of every executed notebook, in the study's order (notebooks, then datasets)."""
    found = []
    for path in sorted(executed.glob("*.ipynb")):
        name, _, dataset = path.stem.rpartition("_")
        if name not in NOTEBOOKS or dataset not in (*DATASETS, "all"):
            raise ValstudyError(f"{path}: not an executed notebook '<notebook>_<dataset>.ipynb' of the study "
                                f"(notebooks: {', '.join(NOTEBOOKS)})")
        found.append((name, dataset, path))
    order = {d: i for i, d in enumerate((*DATASETS, "all"))}
    return sorted(found, key=lambda c: (NOTEBOOKS.index(c[0]), order[c[1]]))


def _links(page: str, dataset: str, have: set[str], docs_prefix: str, notes: set[str] = frozenset()) -> str:
    """Point a chapter's links to sibling notebooks and to docs/ at the site's pages; in a page of docs/ itself
    (``notes``: the names of its notes), links to a sibling note (``flops.md``) too."""
    def notebook(m):
        name = m.group(1)
        target = next((f"{name}_{d}.html" for d in (dataset, "all") if f"{name}_{d}" in have), None)
        return f'href="{target}"' if target else m.group(0)

    def sibling(m):
        return f'href="{m.group(1)}.html{m.group(2) or ""}"' if m.group(1) in notes else m.group(0)

    page = re.sub(r'href="(?:\./)?([a-z]+)\.ipynb"', notebook, page)
    page = re.sub(r'href="(?:\./)?([A-Za-z0-9_-]+)\.md(#[^"]*)?"', sibling, page)
    return re.sub(r'href="(?:\.\./)?docs/([A-Za-z0-9_-]+)\.md(?=["#])', rf'href="{docs_prefix}\1.html', page)


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def build(executed: str | Path, out: str | Path, docs: str | Path | None = REPO / "docs") -> Path:
    """Write the site into ``out``; return the index's path. Stops when ``executed`` holds no executed notebook."""
    from nbconvert import HTMLExporter
    from nbconvert.filters import markdown2html

    executed, out = Path(executed), Path(out)
    found = chapters(executed) if executed.is_dir() else []
    if not found:
        raise ValstudyError(f"{executed}: no executed notebooks; run `make study` (it writes notebooks/executed/)")
    out.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    have = {f"{n}_{d}" for n, d, _ in found}
    for name, dataset, path in found:
        page, _ = exporter.from_filename(str(path))
        write_text(out / f"{name}_{dataset}.html", _links(page, dataset, have, "docs/"))
    notes = []
    if docs and Path(docs).is_dir():
        mds = sorted(Path(docs).glob("*.md"))
        for md in mds:
            body = _links(markdown2html(md.read_text()), "", set(), "", {m.stem for m in mds})
            write_text(out / "docs" / f"{md.stem}.html", _page(md.stem, body))
            notes.append(md.stem)
    rows = []
    for name in dict.fromkeys(n for n, _, _ in found):
        links = " · ".join(f'<a href="{n}_{d}.html">{"all datasets" if d == "all" else d}</a>'
                           for n, d, _ in found if n == name)
        rows.append(f"<tr><td>{html.escape(TITLES.get(name, name))}</td><td>{links}</td></tr>")
    doc_links = "".join(f'<li><a href="docs/{n}.html">{n}</a></li>' for n in notes)
    body = ("<h1>valstudy: a study of VAL</h1>\n<p>Each chapter is a notebook of the study as <code>make study</code> "
            "executed it, with its figures and the findings written from its numbers. Chapters are listed in "
            "reading order, one link per dataset.</p>\n<h2>Contents</h2>\n<table id=\"contents\"><tr><th>chapter</th>"
            f"<th>datasets</th></tr>\n{chr(10).join(rows)}\n</table>\n"
            + (f"<h2>Reference notes</h2>\n<ul>{doc_links}</ul>\n" if notes else ""))
    return write_text(out / "index.html", _page("valstudy", body))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m valstudy.book", description=__doc__.splitlines()[0])
    p.add_argument("--executed", default=str(REPO / "notebooks" / "executed"), help="the executed notebooks")
    p.add_argument("--out", default=str(REPO / "build" / "book"), help="where the site goes")
    a = p.parse_args(argv)
    try:
        index = build(a.executed, a.out)
    except ValstudyError as e:
        print(f"valstudy.book: error: {e}", file=sys.stderr)
        return 2
    print(f"book: {index}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
