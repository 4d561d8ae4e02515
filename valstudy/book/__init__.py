"""The study as a book: the executed notebooks and the notes of docs/ as a static site that works offline.

    python -m valstudy.book [--executed notebooks/executed] [--out build/book] [--docs docs] [--figures figures]
                                                                                                   (make book)

Every executed notebook ``<notebook>_<dataset>.ipynb`` of ``make study`` is a chapter, grouped under its notebook in
the contents sidebar, with the notes of ``docs/`` after them; pages have previous/next links and full-text search;
code cells are folded and the parameter cells hidden; equations are rendered by a MathJax copied into the site; every
figure has an alt text; every link lands on a page of the site. Open ``<out>/index.html`` from disk (no server, no
network) or serve the folder as it is.

**Why Jupyter Book 1's stack (Sphinx with myst-nb and sphinx-book-theme), driven from Python, and not Jupyter
Book 2 (mystmd).** Both give readers the same book: a sidebar, previous/next, search, folded cells, MathJax.

- Installing: the three packages and a MathJax come from PyPI into the study's venv (the ``book`` extra); mystmd is
  a Node program whose themes are fetched when a site is first built, which fails with no network.
- Offline use: Sphinx writes plain HTML pages, and its search loads its index with a ``<script>`` tag, which
  browsers allow from ``file://``; mystmd's site is a JavaScript application built to be served from a web root (it
  fetches each page's data as the reader moves on), not opened from disk.
- Build time: the study's 25 chapters and 8 notes take about 18 s of CPU (39 s of wall clock measured on this
  2-core machine with training jobs beside it).
- Sphinx is called directly (:mod:`valstudy.book.render`) rather than through Jupyter Book 1's command line: that
  is a configuration layer (``_config.yml``, ``_toc.yml``) over the same packages, and ``jupyter-book`` on PyPI is
  now Jupyter Book 2. Here the whole configuration is one dict, and the table of contents is written from the
  executed notebooks found.

Modules: :mod:`~valstudy.book.pages` (the source tree), :mod:`~valstudy.book.cells` (a notebook made a chapter),
:mod:`~valstudy.book.links` (links pointed at the book's pages), :mod:`~valstudy.book.render` (Sphinx),
:mod:`~valstudy.book.extension` (alt texts, MathJax copied into the site).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ..errors import ValstudyError

TITLE = "valstudy: a study of VAL"
MARKER = ".valstudy-book"  # written into every site this module builds: a later build may replace the folder


def chapters(executed: str | Path) -> list[tuple[str, str, Path]]:
    """(notebook, dataset, path) of every executed notebook in ``executed``, in the study's order (notebooks, then
    datasets); see :func:`valstudy.book.pages.chapters`."""
    from .pages import chapters as found

    return found(Path(executed))


def _clear(out: Path) -> None:
    """Refuse to replace a folder that is neither empty nor a book (this module's, or the one before it)."""
    if not out.exists():
        return
    entries = list(out.iterdir()) if out.is_dir() else None
    if entries is None:
        raise ValstudyError(f"{out}: not a folder; choose another --out")
    ours = (out / MARKER).is_file() or (out / ".buildinfo").is_file() or (
        (out / "index.html").is_file() and all(p.suffix == ".html" or p.name == "docs" for p in entries))
    if entries and not ours:
        raise ValstudyError(f"{out}: holds files that are not a book built by valstudy; remove it or choose another "
                            "--out")


def build(executed: str | Path, out: str | Path, docs: str | Path | None = "repository",
          figures: str | Path | None = "repository", *, title: str = TITLE, warnings: list | None = None) -> Path:
    """Build the book into ``out``; return the path of its home page, ``out/index.html``.

    Parameters
    ----------
    executed : str or Path
        The executed notebooks (``notebooks/executed``, written by ``make study``).
    out : str or Path
        The site's folder, replaced as a whole once the new site is built (a failed build leaves the old one).
    docs : str, Path or None
        The notes made pages of the book; the default is the repository's ``docs/``; None: no notes.
    figures : str, Path or None
        The figure files, which name the figures of notebooks whose outputs do not record a caption or file name;
        the default is the repository's ``figures/``.
    title : str
        The book's title.
    warnings : list, optional
        Receives Sphinx's warnings, one string each.

    Raises
    ------
    ValstudyError
        When ``executed`` holds no executed notebook or a file not named after the study's notebooks, when ``out``
        holds something other than a book, or when the book's packages are missing.
    """
    from ..study import REPO
    from .pages import write_source
    from .render import render

    executed, out = Path(executed), Path(out)
    docs = REPO / "docs" if docs == "repository" else docs
    figures = REPO / "figures" if figures == "repository" else figures
    if not executed.is_dir():
        raise ValstudyError(f"{executed}: no executed notebooks; run `make study` (it writes notebooks/executed/)")
    _clear(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as tmp:
        src, site = Path(tmp) / "src", Path(tmp) / "site" / "html"  # myst-nb writes beside site/html: in tmp
        alts = write_source(executed, src, Path(docs) if docs else None, Path(figures) if figures else None, title)
        found = render(src, site, Path(tmp) / "doctrees", alts, title)
        if warnings is not None:
            warnings.extend(found)
        shutil.rmtree(site / "_sources", ignore_errors=True)  # left empty: the sources are not copied
        (site / MARKER).write_text("a book built by python -m valstudy.book; the next build replaces this folder\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(site, out)
    return out / "index.html"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the book command (``python -m valstudy.book``)."""
    p.add_argument("--executed", default="notebooks/executed", help="the executed notebooks (make study writes them)")
    p.add_argument("--out", default="build/book", help="the site's folder, replaced by each build")
    p.add_argument("--docs", default="docs", help="the notes made pages of the book ('' for none)")
    p.add_argument("--figures", default="figures",
                   help="the figure files, naming figures whose outputs record no caption")


def run(a: argparse.Namespace) -> int:
    """Build the book from parsed options; print where it is and Sphinx's warnings; the exit status."""
    found: list[str] = []
    index = build(a.executed, a.out, a.docs or None, a.figures or None, warnings=found)
    for line in found:
        print(f"book: warning: {line}", file=sys.stderr)
    site = index.parent  # pages: home, chapters, notebooks' pages, notes (not search, the index, the themes' templates)
    pages = sum(1 for p in site.rglob("*.html") if p.name not in ("search.html", "genindex.html")
                and "_static" not in p.relative_to(site).parts)
    print(f"book: {index} ({pages} pages); open it in a browser, no server needed")
    return 0
