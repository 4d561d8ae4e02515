"""The Sphinx extension of the book: figures' alt texts, and MathJax copied into the site.

- ``valstudy_image_alts`` (a config value): page -> SHA-256 -> alt text. myst-nb names each image it takes from a
  notebook output by the SHA-256 of its bytes and gives it no alt text (docutils then writes the file's path); this
  sets the alt text :mod:`valstudy.book.cells` chose for it on that page. Any other image without one is named by
  its file name in words.
- ``valstudy_mathjax`` (a config value): the folder of MathJax 3's ``es5`` build. The parts a page can load (the SVG
  renderer with every TeX extension, the menu, the accessibility components) are copied into ``_static/mathjax/``
  of the site, and ``mathjax_path`` points at them: equations render with no network.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from docutils import nodes

from .cells import figure_words

MATHJAX_ENTRY = "tex-svg-full.js"  # SVG output: no web fonts to fetch (browsers refuse fonts from file:// pages)
MATHJAX_PARTS = (MATHJAX_ENTRY, "a11y", "adaptors", "input", "output/svg", "output/svg.js", "sre", "ui")


def _set_alts(app, doctree) -> None:
    alts = app.config.valstudy_image_alts.get(app.env.docname, {})
    for image in doctree.findall(nodes.image):
        if image.get("alt"):
            continue
        uri = Path(image.get("uri", ""))
        image["alt"] = alts.get(uri.stem) or figure_words(uri.name)


def copy_mathjax(es5: Path, static: Path) -> Path:
    """Copy the parts of MathJax a page loads from ``es5`` into ``static/mathjax``; return that folder."""
    out = static / "mathjax"
    for part in MATHJAX_PARTS:
        source, target = es5 / part, out / part
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return out


def _copy_mathjax(app, exception) -> None:
    if exception is None and app.builder.format == "html" and app.config.valstudy_mathjax:
        copy_mathjax(Path(app.config.valstudy_mathjax), Path(app.outdir) / "_static")


def setup(app):
    """Register the extension (Sphinx calls this)."""
    app.add_config_value("valstudy_image_alts", {}, "env", types=frozenset({dict}))
    app.add_config_value("valstudy_mathjax", "", "env", types=frozenset({str}))
    app.connect("doctree-read", _set_alts)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
