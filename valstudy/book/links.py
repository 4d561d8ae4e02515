"""Markdown links of the notebooks and notes, pointed at the pages of the book.

An executed notebook is written for ``notebooks/``: it links to ``../docs/protocols.md`` and to other notebooks
(``ablations.ipynb``). In the book's source tree the chapters sit in ``notebooks/`` as ``<notebook>_<dataset>.ipynb``
and the notes in ``docs/``, so a link to a note resolves as written, and a link to a notebook is pointed at the same
dataset's chapter of it. A link whose target the book does not hold keeps its words and loses its target, so no page
of the site links to a missing file.
"""
from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Callable

# [words](target "title"), not ![alt](image); the words may hold one level of brackets ([R@K] in a link's words)
LINK = re.compile(r'(?<!!)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*([^()\s]+)((?:\s+"[^"]*")?)\s*\)')
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|#|/)", re.I)  # a scheme (https:, mailto:), an anchor, a site root


def rewrite_links(markdown: str, resolve: Callable[[str], str | None]) -> str:
    """Rewrite the target of every relative Markdown link in ``markdown``.

    Parameters
    ----------
    markdown : str
        Markdown text (a notebook cell or a note).
    resolve : callable
        Maps a relative target without its anchor (``ablations.ipynb``, ``../docs/flops.md``) to the target to write
        instead, or to None when the book has no such page: the link is then replaced by its words.

    Returns
    -------
    str
        The text with its links rewritten; links with a scheme, anchors within the page and images are kept.
    """
    def one(m: re.Match) -> str:
        words, target, title = m.groups()
        if EXTERNAL.match(target):
            return m.group(0)
        path, hash_, anchor = target.partition("#")
        new = resolve(path)
        if new is None:
            return words
        return f"[{words}]({new}{hash_}{anchor}{title})"

    return LINK.sub(one, markdown)


def resolver(here: str, pages: set[str], notebook_target: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """The ``resolve`` of :func:`rewrite_links` for a page at ``here`` (a path in the source tree, ``docs/x.md``).

    ``pages``: every file of the source tree (``docs/flops.md``, ``notebooks/results_shoes.ipynb``,
    ``docs/images/a.png``): a link to one of them is kept. A link to a notebook of the study as the repository holds
    it (``ablations.ipynb`` from ``notebooks/``, ``../notebooks/results.ipynb`` from ``docs/``) goes to
    ``notebook_target(name)``, a page of ``notebooks/`` (the same dataset's chapter, or the notebook's own page),
    or loses its target when that is None. Any other link loses its target.
    """
    folder = PurePosixPath(here).parent

    def resolve(target: str) -> str | None:
        path = _normal(folder / target)
        if path in pages:
            return target
        written = PurePosixPath(path)
        if written.suffix == ".ipynb" and written.parent == PurePosixPath("notebooks"):  # a notebook of the study
            chapter = notebook_target(written.stem)
            return None if chapter is None else _relative(PurePosixPath("notebooks") / chapter, folder)
        return None

    return resolve


def _normal(path: PurePosixPath) -> str:
    """``notebooks/../docs/x.md`` -> ``docs/x.md`` (no file system involved)."""
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def _relative(path: PurePosixPath, folder: PurePosixPath) -> str:
    """``path`` (from the root of the tree) as seen from ``folder``."""
    up = len(folder.parts)
    common = 0
    while common < min(up, len(path.parts) - 1) and folder.parts[common] == path.parts[common]:
        common += 1
    return "/".join([".."] * (up - common) + list(path.parts[common:]))
