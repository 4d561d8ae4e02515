"""The search widget's notebook in a real browser: JupyterLab + headless Chromium answer a typed caption and a click."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from valstudy.data.synth import synthesize
from valstudy.training import get_config, train

from lab_page import open_in_lab

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "build" / "browser" / "search_widget.png"
K = 6


@pytest.fixture
def tiny_run(tmp_path):
    synthesize("shoes", tmp_path / "data", size="tiny", seed=0, image_size=32)
    cfg = get_config("shoes_synth", {"data.root": str(tmp_path / "data"), "steps": 2, "batch_size": 8,
                                     "model.small_width": 8, "model.lstm_hidden": 32, "model.text_dim": 32,
                                     "model.word_dim": 16, "model.image_size": 32, "data.image_size": 32})
    train(cfg, tmp_path / "run", progress=False)
    return tmp_path / "run"


@pytest.fixture
def notebook(tiny_run, jupyter_lab, tmp_path):
    """A copy of notebooks/search.ipynb pointed at a tiny trained run, in JupyterLab's root."""
    url, token, root = jupyter_lab
    nb = json.loads((REPO / "notebooks" / "search.ipynb").read_text())
    params = {"RUN": str(tiny_run), "LOG": str(tmp_path / "log.jsonl"), "K": K}  # figures: jupyter_lab's env
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    lines = "".join(cell["source"]).splitlines()
    cell["source"] = "\n".join(next((f"{name}: {type(v).__name__} = {v!r}" for name, v in params.items()
                                     if line.startswith(f"{name}:")), line) for line in lines)
    (root / "search.ipynb").write_text(json.dumps(nb))
    return url, token, tmp_path / "log.jsonl", tmp_path / "figures" / "search_shoes.json"


def _log(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []


# the image keys of the result tiles on the page, read from their buttons' tooltips ("<key>: make it the next ...")
SHOWN = """() => Array.from(document.querySelectorAll('button.valstudy-result'))
    .map(b => b.title.replace(/: make it the next reference$/, ''))"""


def _wait_for_status(page, text: str) -> None:
    page.wait_for_function("t => document.querySelector('.valstudy-status').innerText.includes(t)", arg=text,
                           timeout=60_000)


def test_widget_answers_a_typed_caption_and_a_click(browser, notebook, browser_timeout):
    """Run All in JupyterLab, then as a person would: type a caption and press Search (the results shown are the
    ones logged for the new turn), click the second result (it becomes the reference, the click is logged), and search
    again from it (the next turn's results, logged with the clicked image as reference)."""
    url, token, log, record = notebook
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        open_in_lab(page, url, token, "search.ipynb", browser_timeout)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        deadline = time.monotonic() + browser_timeout  # the notebook ends by writing its record
        while not record.is_file():
            assert time.monotonic() < deadline, f"the notebook did not finish within {browser_timeout:.0f} s"
            page.wait_for_timeout(1000)
        page.wait_for_selector(".valstudy-search-app", timeout=60_000)
        before = _log(log)
        assert before and before[0]["event"] == "search"  # the simulated user's session, logged
        assert page.evaluate(SHOWN) == [e for e in before if e["event"] == "search"][-1]["shown"]

        # a typed caption: a new turn, its results on the page are the ones logged
        turn = before[-1]["turn"] + 1
        page.locator(".valstudy-text input").fill("is red and has a higher heel")
        page.locator("button.valstudy-search").click()
        _wait_for_status(page, f"turn {turn}:")
        entries = _log(log)
        assert len(entries) == len(before) + 1
        search = entries[-1]
        assert search["event"] == "search" and search["text"] == "is red and has a higher heel"
        assert search["turn"] == turn and len(search["shown"]) == K
        assert page.evaluate(SHOWN) == search["shown"]
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.locator(".valstudy-search-app").screenshot(path=str(SCREENSHOT))

        # a click: the second result becomes the reference, and the click is logged in the same session
        page.locator("button.valstudy-result").nth(1).click()
        _wait_for_status(page, "chose #2")
        click = _log(log)[-1]
        assert click["event"] == "click" and click["rank"] == 2 and click["click"] == search["shown"][1]
        assert click["session"] == search["session"] and click["turn"] == turn
        assert f"reference {click['click']}" in page.locator(".valstudy-search-app").inner_text()

        # the next turn searches from the clicked image, and the page shows that turn's results
        page.locator(".valstudy-text input").fill("is black")
        page.locator("button.valstudy-search").click()
        _wait_for_status(page, f"turn {turn + 1}:")
        nxt = _log(log)[-1]
        assert nxt["event"] == "search" and nxt["reference"] == click["click"] and nxt["turn"] == turn + 1
        assert nxt["session"] == search["session"] and page.evaluate(SHOWN) == nxt["shown"]
        print(f"widget: {search['seconds']:.3f} s and {nxt['seconds']:.3f} s per typed query "
              f"(the search's compute time, logged)")
    finally:
        page.close()
