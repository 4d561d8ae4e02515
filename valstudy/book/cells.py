"""An executed notebook made a chapter of the book: which cells show, which fold, what each figure is called.

- The parameter cells (tagged ``parameters``, and papermill's ``injected-parameters`` right after it, which quotes
  the folders of the machine that ran the study) are removed from the page; where papermill injected nothing, the
  cell right after ``parameters`` shows its outputs but not its code.
- Every other code cell is folded: its outputs show, its code opens with a click (myst-nb's ``hide-input``).
- Empty cells are dropped, and so are outputs that only echo a path (``PosixPath('...')``).
- A widget cannot run in a static page: its output becomes a sentence saying where it runs.
- Every figure gets an alt text: the caption :func:`valstudy.plotting.show` recorded, else its file's name in words
  (from the output's metadata or, for notebooks executed before ``show`` recorded it, from the figure file of
  ``figures/`` with the same bytes), else the chapter's title and the figure's number.
- The chapter's title (its first ``#`` heading) names the dataset, and its links point at the book's pages
  (:mod:`valstudy.book.links`).
"""
from __future__ import annotations

import hashlib
import os
import re
from binascii import a2b_base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .links import rewrite_links

PARAMETERS, INJECTED = "parameters", "injected-parameters"
HIDDEN_TAGS = {"remove-cell", "remove_cell", "remove-input", "remove_input", "hide-input", "hide-cell"}
PATH_REPR = re.compile(r"^(?:Posix|Windows)?Path\(['\"].*['\"]\)$", re.S)
WIDGET = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("<p><em>The interactive app appears here when the notebook runs in JupyterLab "
               "(<code>notebooks/{name}.ipynb</code>); a static page cannot run it. The output below shows what it "
               "does.</em></p>")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")
TITLE = re.compile(r"^# +(.+?) *$", re.M)


@dataclass
class Chapter:
    """What :func:`make_chapter` learnt of a notebook: its title (as the notebook writes it) and the alt text of
    each of its images, keyed by the SHA-256 of the image's bytes (the name myst-nb gives the image's file)."""

    title: str
    alts: dict[str, str] = field(default_factory=dict)


def figure_words(filename: str) -> str:
    """A figure's file name in words: ``results_shoes_default.png`` -> ``Figure: results, shoes, default``."""
    words = [w for w in re.split(r"[_\-\s]+", Path(filename).stem) if w]
    return "Figure: " + ", ".join(words) if words else "Figure"


def image_digest(mime: str, content: str) -> str:
    """The SHA-256 myst-nb names an image output's file by (base64-decoded bytes; text for SVG)."""
    if mime == "image/svg+xml":
        data = os.linesep.join(content.splitlines()).encode("utf-8")
    else:
        data = a2b_base64(content)
    return hashlib.sha256(data).hexdigest()


def figure_names(figures: Path | None) -> dict[str, str]:
    """SHA-256 of each PNG in ``figures`` -> its file name (figures are embedded byte for byte)."""
    if figures is None or not Path(figures).is_dir():
        return {}
    return {hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in sorted(Path(figures).glob("*.png"))}


def _source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def _tags(cell) -> list[str]:
    return cell.setdefault("metadata", {}).setdefault("tags", [])


def _outputs(cell, notebook: str) -> list:
    """The outputs a page shows: path echoes dropped, widgets replaced by a note."""
    import nbformat

    kept = []
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if out.get("output_type") == "execute_result" and set(data) == {"text/plain"} \
                and PATH_REPR.match(str(data["text/plain"]).strip()):
            continue
        if WIDGET in data:
            out = nbformat.v4.new_output("display_data", data={"text/html": WIDGET_NOTE.format(name=notebook)})
        kept.append(out)
    return kept


def _alt(out, mime: str, digest: str, names: dict[str, str], title: str, number: int) -> str:
    meta = out.get("metadata", {})
    own = meta.get(mime, {}) if isinstance(meta.get(mime), dict) else {}
    alt = own.get("alt") or meta.get("alt")
    if alt:
        return " ".join(str(alt).split())
    filename = own.get("filename") or meta.get("filename") or names.get(digest)
    return figure_words(filename) if filename else f"Figure {number} of {title}"


def make_chapter(nb, notebook: str, dataset_label: str | None, resolve: Callable[[str], str | None],
                 names: dict[str, str]) -> Chapter:
    """Make the executed notebook ``nb`` (an nbformat node, changed in place) a chapter of the book.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook.
    notebook : str
        Its name in the study (``results``).
    dataset_label : str or None
        The dataset it ran on (``Shoes``), added to its title; None for a notebook run once for all datasets.
    resolve : callable
        Where each relative link goes (:func:`valstudy.book.links.resolver`).
    names : dict
        SHA-256 -> figure file name (:func:`figure_names`), the alt texts of figures shown without metadata.

    Returns
    -------
    Chapter
        The title as the notebook writes it and the alt text of every image.
    """
    injected = any(INJECTED in c.get("metadata", {}).get("tags", []) for c in nb.cells)
    cells, after_parameters = [], False
    for cell in nb.cells:
        source = _source(cell)
        if cell.cell_type == "code":
            cell.outputs = _outputs(cell, notebook)
        if not source.strip() and not cell.get("outputs"):
            continue  # an empty cell shows as an empty box
        tags = _tags(cell)
        if cell.cell_type == "code":
            if PARAMETERS in tags or INJECTED in tags:
                tags.append("remove-cell")
            elif after_parameters:
                tags.append("remove-input")
            elif not HIDDEN_TAGS & set(tags):
                tags.append("hide-input")
            after_parameters = PARAMETERS in tags and not injected
        elif cell.cell_type == "markdown":
            cell.source = rewrite_links(source, resolve)
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop("widgets", None)  # widget state would ask for the widgets' JavaScript from a CDN

    title = next((m.group(1) for c in nb.cells if c.cell_type == "markdown" for m in [TITLE.search(c.source)] if m),
                 notebook)
    if dataset_label:
        for cell in nb.cells:
            if cell.cell_type == "markdown" and TITLE.search(cell.source):
                cell.source = TITLE.sub(lambda m: f"# {m.group(1)} ({dataset_label})", cell.source, count=1)
                break
    chapter, number = Chapter(title), 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for mime in IMAGE_TYPES:
                if mime in out.get("data", {}):
                    number += 1
                    digest = image_digest(mime, out["data"][mime])
                    chapter.alts[digest] = _alt(out, mime, digest, names, title, number)
                    break  # myst-nb renders one image per output
    return chapter
