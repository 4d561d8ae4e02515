"""The search widget's notebook in a real browser: JupyterLab + headless Chromium answer a typed caption and a click."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from valstudy.data.synth import synthesize
from valstudy.training import get_config, train

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
    params = {"RUN": str(tiny_run), "LOG": str(tmp_path / "log.jsonl"), "K": K,
              "FIGURES_DIR": str(tmp_path / "figures")}
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    lines = "".join(cell["source"]).splitlines()
    cell["source"] = "\n".join(next((f"{name}: {type(v).__name__} = {v!r}" for name, v in params.items()
                                     if line.startswith(f"{name}:")), line) for line in lines)
    (root / "search.ipynb").write_text(json.dumps(nb))
    return url, token, tmp_path / "log.jsonl", tmp_path / "figures" / "search_shoes.json"


def _log(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.is_file() else []


def test_widget_answers_a_typed_caption_and_a_click(chromium, notebook, browser_timeout):
    from playwright.sync_api import sync_playwright

    url, token, log, record = notebook
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(f"{url}/lab/tree/search.ipynb?token={token}")
            page.wait_for_function("""() => {
                const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
                return k && k.status === 'idle'; }""", timeout=browser_timeout * 1000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            status = ".valstudy-status"
            deadline = time.monotonic() + browser_timeout  # the notebook ends by writing its record
            while not record.is_file():
                assert time.monotonic() < deadline, f"the notebook did not finish within {browser_timeout:.0f} s"
                page.wait_for_timeout(1000)
            page.wait_for_selector(".valstudy-search-app", timeout=60_000)
            before = _log(log)
            assert before and before[0]["event"] == "search"  # the simulated user's session, logged
            turn = before[-1]["turn"] + 1
            page.locator(".valstudy-text input").fill("is red and has a higher heel")
            page.locator("button.valstudy-search").click()
            page.wait_for_function(f"t => document.querySelector('{status}').innerText.includes('turn ' + t + ':')",
                                   arg=turn, timeout=60_000)
            assert page.locator("button.valstudy-result").count() == K
            entries = _log(log)
            assert entries[-1]["event"] == "search" and entries[-1]["text"] == "is red and has a higher heel"
            assert entries[-1]["turn"] == turn and len(entries[-1]["shown"]) == K and len(entries) == len(before) + 1
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.locator(".valstudy-search-app").screenshot(path=str(SCREENSHOT))
            page.locator("button.valstudy-result").nth(1).click()
            page.wait_for_function(f"() => document.querySelector('{status}').innerText.includes('chose #2')",
                                   timeout=60_000)
            click = _log(log)[-1]
            assert click["event"] == "click" and click["rank"] == 2 and click["click"] == entries[-1]["shown"][1]
            assert click["session"] == entries[-1]["session"]
            assert click["click"] in page.locator(".valstudy-search-app").inner_text()  # the new reference's label
        finally:
            browser.close()
