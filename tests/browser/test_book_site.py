"""The site of ``make book`` in a real headless chromium: the index lists every chapter, a chapter opens from it, and
every chapter opens with its title and images; every image loads (``complete`` with a non-zero natural width)."""
from __future__ import annotations

from pathlib import Path

BROKEN_IMAGES = """() => Array.from(document.images)
    .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => (i.src || '').slice(0, 80))"""


def open_page(page, path: Path):
    page.goto(path.as_uri(), wait_until="load")
    return page


def test_index_lists_every_chapter_and_its_images_load(page, book):
    pages = sorted(p.name for p in book.glob("*.html") if p.name != "index.html")
    open_page(page, book / "index.html")
    links = page.eval_on_selector_all("#contents a", "as => as.map(a => a.getAttribute('href'))")
    assert sorted(links) == pages and pages, "the table of contents and the chapters on disk differ"
    assert page.evaluate(BROKEN_IMAGES) == []
    assert page.problems == []


def test_a_chapter_opens_from_the_index_with_every_image(page, book):
    open_page(page, book / "index.html")
    first = page.eval_on_selector("#contents a", "a => a.getAttribute('href')")
    page.click(f"#contents a[href='{first}']")
    page.wait_for_load_state("load")
    assert page.url.endswith(first)
    assert page.locator("h1").count() >= 1  # the chapter's title
    images = page.evaluate("() => document.images.length")
    assert images > 0, f"{first}: a chapter without figures"
    assert page.evaluate(BROKEN_IMAGES) == [], f"{first}: images that do not load"
    assert page.problems == []


def test_every_chapter_opens_with_a_title_and_every_image_loads(page, book):
    chapters = sorted(p.name for p in book.glob("*.html") if p.name != "index.html")
    bad = {}
    for name in chapters:
        open_page(page, book / name)
        problems = []
        if page.locator("h1").count() < 1:
            problems.append("no title")
        if page.evaluate("() => document.images.length") == 0:
            problems.append("no image")
        broken = page.evaluate(BROKEN_IMAGES)
        if broken:
            problems.append(f"{len(broken)} images that do not load")
        if problems:
            bad[name] = problems
    assert bad == {}
    assert page.problems == []
