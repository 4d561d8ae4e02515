"""The book of ``make book`` in a real headless chromium, opened from disk with the network blocked: every request
that is not for a file of the site is aborted and recorded, and a test fails when a page asked for one.

A chapter renders its equations with the MathJax copied into the site (MathJax's SVG output, no raw ``$$``); every
page loads every image with a real alt text and links only to files that exist; the sidebar leads through every
chapter; the search box finds a word of the study.
"""
from __future__ import annotations

import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

IMAGES = """() => Array.from(document.images).map(i => ({src: i.getAttribute('src'), alt: i.getAttribute('alt') || '',
    loaded: i.complete && i.naturalWidth > 0}))"""
TARGETS = """() => [...Array.from(document.querySelectorAll('a[href]'), a => a.href),
    ...Array.from(document.querySelectorAll('img[src], script[src]'), e => e.src),
    ...Array.from(document.querySelectorAll('link[href]'), l => l.href)]"""
UNRENDERED = """() => Array.from(document.querySelectorAll('.math'))
    .filter(m => !m.querySelector('mjx-container svg')).length"""
PLACEHOLDER_ALT = re.compile(r"no description|\.png$|^\S*/\S*$|^$", re.I)  # a path as alt text: one word with "/"


NETWORK = re.compile(r"^(?!file:|data:|blob:|about:)")  # every URL that is not the site's own files


@pytest.fixture
def offline(page):
    """``page`` with every request that is not for a file aborted; the URLs asked for are in ``page.network``."""
    page.network = []

    def abort(route):
        page.network.append(route.request.url)
        route.abort()

    page.route(NETWORK, abort)
    page.context.set_offline(True)  # and the browser itself offline, should a request slip past the route
    return page


def chapters(book: Path) -> list[Path]:
    return sorted((book / "notebooks").glob("*.html"))


def site_pages(book: Path) -> list[Path]:
    """Every page of the site: home, chapters, notes, search (not the themes' templates in _static/)."""
    return sorted(p for p in book.rglob("*.html") if "_static" not in p.relative_to(book).parts)


def here(url: str) -> Path:
    """The file a file:// URL opens (anchor and query dropped)."""
    return Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))


def missing_files(targets: list[str]) -> list[str]:
    """The file:// targets (anchor and query dropped) that do not exist."""
    return [url for url in targets if url.startswith("file:") and not here(url).exists()]


def test_a_chapter_renders_its_equations_offline_with_no_raw_dollars(offline, book):
    with_math = [p for p in chapters(book) if 'class="math' in p.read_text(encoding="utf-8")]
    if not with_math:
        pytest.skip("no chapter holds an equation (the smoke-executed datasets notebook has none)")
    page = offline
    page.goto(with_math[0].as_uri(), wait_until="load")
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
    page.evaluate("() => MathJax.startup.promise")
    maths = page.evaluate("() => document.querySelectorAll('.math').length")
    rendered = page.evaluate("() => document.querySelectorAll('.math mjx-container svg').length")
    assert maths > 0 and rendered == maths, f"{with_math[0].name}: {rendered} of {maths} equations rendered"
    assert "$$" not in page.inner_text("body")
    assert page.network == [] and page.problems == []


def test_every_page_renders_its_math_shows_its_images_with_alt_texts_and_links_to_existing_files(offline, book):
    page, bad = offline, {}
    for path in site_pages(book):
        page.goto(path.as_uri(), wait_until="load")
        problems = [f"image not loaded: {i['src'][:60]}" for i in page.evaluate(IMAGES) if not i["loaded"]]
        problems += [f"alt {i['alt']!r}: {i['src'][:60]}" for i in page.evaluate(IMAGES)
                     if PLACEHOLDER_ALT.search(i["alt"])]
        problems += [f"missing: {url}" for url in missing_files(page.evaluate(TARGETS))]
        if page.evaluate("() => document.querySelectorAll('.math').length"):
            page.evaluate("() => MathJax.startup.promise")
            if page.evaluate(UNRENDERED):
                problems.append(f"{page.evaluate(UNRENDERED)} equations not rendered")
        if "$$" in page.inner_text("body"):
            problems.append("raw $$")
        if problems:
            bad[path.relative_to(book).as_posix()] = problems
    assert bad == {}
    assert sum(1 for p in chapters(book) if "_" in p.stem) > 0
    assert page.network == [] and page.problems == []


def test_the_sidebar_lists_every_chapter_and_previous_next_walk_through_them(offline, book):
    page = offline
    page.goto((book / "index.html").as_uri(), wait_until="load")
    sidebar = page.eval_on_selector_all("nav.bd-docs-nav a[href]", "as => as.map(a => a.href)")
    assert set(chapters(book)) <= {here(u) for u in sidebar}
    seen = [here(page.url)]
    for step in ["a.right-next"] * 4 + ["a.left-prev"] * 4:  # home -> the first notebook -> its datasets, and back
        page.click(step)
        page.wait_for_load_state("load")
        seen.append(here(page.url))
        assert page.locator("h1").count() >= 1
    assert seen[1].parent == book / "notebooks" and len(set(seen[:5])) == 5 and seen[::-1] == seen
    assert page.network == [] and page.problems == []


def test_the_search_box_finds_a_word_of_the_study(offline, book):
    word = "plateau" if any("plateau" in p.read_text(encoding="utf-8") for p in chapters(book)) else "datasets"
    page = offline
    page.goto((book / "index.html").as_uri(), wait_until="load")
    page.keyboard.press("Control+k")
    field = page.locator("form.bd-search input[name='q']:visible").first
    field.fill(word)
    field.press("Enter")
    page.wait_for_load_state("load")
    assert page.url.split("?")[0].endswith("search.html")
    page.wait_for_selector("#search-results ul.search li a", timeout=30_000)
    hits = page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
    assert any("/notebooks/" in h for h in hits), hits
    assert missing_files(hits) == []
    assert page.network == [] and page.problems == []
