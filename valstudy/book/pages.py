"""The book's source tree: the chapters, a page per notebook grouping its datasets, the notes, and the home page.

    index.md                          home: what the book is, a table of every chapter, the two tables of contents
    notebooks/<notebook>.md           one per notebook run per dataset: its title and its datasets' chapters
    notebooks/<notebook>_<dataset>.ipynb   the executed notebook as a chapter (valstudy.book.cells)
    docs/...                          the notes of docs/ (README.md, when there, leads them)

Chapters keep the names ``make study`` gives them, and sit one folder below the root as the notebooks do in the
repository: an executed copy's links, written for ``notebooks/executed/``, are read back as its notebook in
``notebooks/`` writes them (``../docs/flops.md``, ``ablations.ipynb``) and then resolve as written.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..analysis.stats import DATASET_NAMES
from ..errors import ValstudyError
from ..study import DATASETS, NOTEBOOKS
from ..study.notebooks import source_link
from .cells import figure_names, make_chapter
from .links import resolver, rewrite_links

ALL = "all"  # the dataset of a notebook run once for every dataset (costs_all)
HOME = """# {title}

A reproducible study of VAL, "Image Search with Text Feedback by Visiolinguistic Attention Learning" (Chen, Gong and
Bazzani, CVPR 2020). Each chapter is a notebook of the study as `make study` executed it, on one dataset: the
paper's question, the equations it needs, the figures, and findings written from the recorded numbers. Code cells
are folded (**Show code cell source** opens one); the reference notes hold what the study needs from the paper.

## Chapters

| chapter | datasets |
|---|---|
{rows}

```{{toctree}}
:hidden:
:caption: Chapters

{chapters}
```
"""
NOTES_TOC = """
```{{toctree}}
:hidden:
:caption: Reference notes

{notes}
```
"""
GROUP = """# {title}

This chapter ran once per dataset; each page is the notebook executed on that dataset.

```{{toctree}}
:maxdepth: 1

{entries}
```
"""


def chapters(executed: Path) -> list[tuple[str, str, Path]]:
    """(notebook, dataset, path) of every executed notebook in ``executed``, in the study's order.

    Raises
    ------
    ValstudyError
        When a file is not named ``<notebook>_<dataset>.ipynb`` after a notebook and a dataset of the study.
    """
    found = []
    for path in sorted(Path(executed).glob("*.ipynb")):
        name, _, dataset = path.stem.rpartition("_")
        if name not in NOTEBOOKS or dataset not in (*DATASETS, ALL):
            raise ValstudyError(f"{path}: not an executed notebook '<notebook>_<dataset>.ipynb' of the study "
                                f"(notebooks: {', '.join(NOTEBOOKS)})")
        found.append((name, dataset, path))
    order = {d: i for i, d in enumerate((*DATASETS, ALL))}
    return sorted(found, key=lambda c: (NOTEBOOKS.index(c[0]), order[c[1]]))


def _label(dataset: str) -> str:
    return DATASET_NAMES.get(dataset, dataset)


def _notebook_target(name: str, dataset: str | None, have: set[str], groups: set[str]):
    """The page of notebook ``name`` that a page on ``dataset`` opens: that dataset's chapter, the chapter run for
    all datasets, or the notebook's own page (paths relative to ``notebooks/``)."""
    for candidate in ([f"{name}_{dataset}"] if dataset else []) + [f"{name}_{ALL}"]:
        if candidate in have:
            return f"{candidate}.ipynb"
    return f"{name}.md" if name in groups else None


def _chapter_links(resolve, dataset: str):
    """``resolve`` for the links of an executed copy: each read back as its notebook in ``notebooks/`` writes it."""
    return lambda target: resolve(source_link(target, dataset))


def write_source(executed: Path, src: Path, docs: Path | None, figures: Path | None,
                 title: str) -> dict[str, dict[str, str]]:
    """Write the book's source tree into ``src``; return the alt text of every chapter's images (page -> SHA-256 ->
    alt text).

    Parameters
    ----------
    executed : Path
        The executed notebooks (``notebooks/executed``).
    src : Path
        An empty folder for the source tree.
    docs : Path or None
        The notes (``docs/``); None or a missing folder: a book without notes.
    figures : Path or None
        The figure files (``figures/``), naming the figures of notebooks executed before
        :func:`valstudy.plotting.show` recorded a figure's name in its output.
    title : str
        The book's title, the home page's heading.
    """
    import nbformat

    found = chapters(executed)
    if not found:
        raise ValstudyError(f"{executed}: no executed notebooks; run `make study` (it writes notebooks/executed/)")
    have = {f"{n}_{d}" for n, d, _ in found}
    groups = {n for n, d, _ in found if d != ALL}
    notes = sorted(Path(docs).rglob("*")) if docs and Path(docs).is_dir() else []
    pages = ({f"notebooks/{c}.ipynb" for c in have} | {f"notebooks/{g}.md" for g in groups}
             | {f"docs/{p.relative_to(docs).as_posix()}" for p in notes if p.is_file()})

    alts: dict[str, dict[str, str]] = {}
    titles: dict[str, str] = {}
    names = figure_names(figures)
    (src / "notebooks").mkdir(parents=True)
    for name, dataset, path in found:
        nb = nbformat.read(path, as_version=4)
        here = f"notebooks/{name}_{dataset}.ipynb"
        resolve = _chapter_links(resolver(here, pages, lambda n, d=dataset: _notebook_target(n, d, have, groups)),
                                 dataset)
        chapter = make_chapter(nb, name, None if dataset == ALL else _label(dataset), resolve, names)
        titles.setdefault(name, chapter.title)
        alts[here.rsplit(".", 1)[0]] = chapter.alts
        nbformat.write(nb, src / here)

    for name in dict.fromkeys(n for n, d, _ in found if d != ALL):
        entries = "\n".join(f"{_label(d)} <{n}_{d}>" for n, d, _ in found if n == name)
        (src / "notebooks" / f"{name}.md").write_text(GROUP.format(title=titles[name], entries=entries))

    note_pages = _write_notes(Path(docs), notes, src, pages, have, groups) if notes else []

    rows, toc = [], []
    for name in dict.fromkeys(n for n, _, _ in found):
        runs = [(d, f"notebooks/{n}_{d}.ipynb") for n, d, _ in found if n == name]
        if name in groups:
            page = f"notebooks/{name}.md"
            links = " · ".join(f"[{_label(d)}]({p})" for d, p in runs)
        else:
            page, links = runs[0][1], "all datasets"
        rows.append(f"| [{titles[name]}]({page}) | {links} |")
        toc.append(page.rsplit(".", 1)[0])
    home = HOME.format(title=title, rows="\n".join(rows), chapters="\n".join(toc))
    if note_pages:
        home += NOTES_TOC.format(notes="\n".join(note_pages))
    (src / "index.md").write_text(home)
    return alts


def _write_notes(docs: Path, notes: list[Path], src: Path, pages: set[str], have: set[str],
                 groups: set[str]) -> list[str]:
    """Copy the notes into ``src/docs`` with their links pointed at the book's pages; return the pages the home
    page's table of contents lists (``docs/README`` alone, leading the others, when the notes have one)."""
    out = src / "docs"
    for path in notes:
        target = out / path.relative_to(docs)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix != ".md":
            shutil.copyfile(path, target)
            continue
        here = f"docs/{path.relative_to(docs).as_posix()}"
        resolve = resolver(here, pages, lambda n: _notebook_target(n, None, have, groups))
        target.write_text(rewrite_links(path.read_text(encoding="utf-8"), resolve), encoding="utf-8")
    mds = [p.relative_to(docs).with_suffix("").as_posix() for p in notes if p.suffix == ".md" and p.is_file()]
    if "README" not in mds:
        return [f"docs/{m}" for m in mds]
    others = [m for m in mds if m != "README"]
    with open(out / "README.md", "a", encoding="utf-8") as f:  # the other notes as the README's chapters
        f.write("\n```{toctree}\n:hidden:\n\n" + "\n".join(others) + "\n```\n")
    return ["docs/README"]
