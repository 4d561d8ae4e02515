"""Sphinx, configured once here, renders the book's source tree (valstudy.book.pages) as a static HTML site.

No ``conf.py``: :data:`CONFIG` is the whole configuration, handed to Sphinx as overrides.
"""
from __future__ import annotations

import importlib.util
import io
import os
from pathlib import Path

from ..errors import ValstudyError

INSTALL = "install the book's packages: `make book` does, or `pip install -e '.[book]'`"
PACKAGES = {"sphinx": "sphinx", "myst_nb": "myst-nb", "sphinx_book_theme": "sphinx-book-theme",
            "mathjax": "django-static-mathjax"}

CONFIG = {
    "extensions": ["myst_nb", "valstudy.book.extension"],
    "project": "valstudy",
    "html_theme": "sphinx_book_theme",
    "html_theme_options": {
        "home_page_in_toc": True,        # the home page heads the contents sidebar
        "show_navbar_depth": 1,          # notebooks in the sidebar, their datasets one click below
        "show_toc_level": 2,             # the page's sections in the right-hand column
        "use_download_button": False,    # it would offer the sources, which the site does not copy
        "use_fullscreen_button": False,
        "footer_content_items": [],      # no "By <author>" line: the study has no single author
    },
    "html_context": {"default_mode": "light"},  # figures are drawn on white; the theme's toggle offers dark
    "html_copy_source": False,           # the executed notebooks are 14 MB, and quote the machine that ran them
    "html_show_sourcelink": False,
    "html_show_search_summary": False,   # summaries fetch each page, which browsers refuse from file://
    "html_last_updated_fmt": None,
    "mathjax_path": "mathjax/tex-svg-full.js",  # copied into _static/ by valstudy.book.extension, never a CDN
    "myst_enable_extensions": ["dollarmath", "amsmath"],  # $...$ and $$...$$ as in Jupyter
    "myst_heading_anchors": 3,           # links to a section (#1-every-method) resolve
    "nb_execution_mode": "off",          # the notebooks are executed already: render what they hold
    "nb_ipywidgets_js": {},              # no widget JavaScript from a CDN (widgets become a note: cells.py)
    "nb_merge_streams": True,            # one block per cell for its printed text
    "nb_render_markdown_format": "myst",  # Markdown outputs (findings) get the same math as the cells
    "suppress_warnings": ["mystnb.unknown_mime_type"],
}


def missing_packages() -> list[str]:
    """The packages of the ``book`` extra that are not installed (their PyPI names)."""
    return [dist for module, dist in PACKAGES.items() if importlib.util.find_spec(module) is None]


def mathjax_es5() -> Path:
    """The ``es5`` folder of the MathJax 3 that django-static-mathjax installs."""
    spec = importlib.util.find_spec("mathjax")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        es5 = Path(root) / "static" / "mathjax" / "es5"
        if (es5 / "tex-svg-full.js").is_file():
            return es5
    raise ValstudyError(f"{roots[0] if roots else 'mathjax'}: no MathJax 3 es5 build found; {INSTALL}")


def render(src: Path, html: Path, doctrees: Path, alts: dict[str, dict[str, str]], title: str) -> list[str]:
    """Render the source tree ``src`` into ``html``; return Sphinx's warnings, one per line.

    ``alts``: the alt text of each page's images (page -> SHA-256 -> alt text, :mod:`valstudy.book.extension`).

    Raises
    ------
    ValstudyError
        When a package of the ``book`` extra is missing, or Sphinx fails (its message, on one line).
    """
    missing = missing_packages()
    if missing:
        raise ValstudyError(f"{src}: the book needs {', '.join(missing)}; {INSTALL}")
    from sphinx.application import Sphinx
    from sphinx.errors import SphinxError
    from sphinx.util.console import nocolor
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    config = dict(CONFIG, html_title=title, valstudy_image_alts=alts, valstudy_mathjax=str(mathjax_es5()))
    warnings = io.StringIO()
    nocolor()  # plain warnings, whatever the terminal
    try:
        with patch_docutils(None), docutils_namespace():
            app = Sphinx(str(src), None, str(html), str(doctrees), "html", confoverrides=config,
                         status=None, warning=warnings, freshenv=True)
            app.build(force_all=True)
    except SphinxError as e:
        raise ValstudyError(f"{src}: Sphinx failed: {' '.join(str(e).split())}") from e
    prefix = f"{src}{os.sep}"  # warnings name the page as in the source tree (notebooks/results_shoes.ipynb)
    return [line.replace(prefix, "") for line in warnings.getvalue().splitlines() if line.strip()]
