"""Fixtures for tests that drive a real headless browser (``make test-browser``; never part of ``make test``).

- ``chromium``: the path of Debian's chromium (or ``$VALSTUDY_CHROMIUM``); the test is skipped, with the reason, when
  there is none or when the ``playwright`` package is missing. Playwright cannot download its own browsers here, so
  it drives this one through ``executable_path``.
- ``browser``: one headless chromium for the session, shared by every test (Playwright's sync API runs one event
  loop per thread, so a test must not start a second one); ``page``: a fresh page per test, whose console errors and
  failed requests are collected in ``page.problems``.
- ``book``: the static site of ``make book`` (``valstudy.book``), built into a temporary folder from
  ``notebooks/executed/`` or, when the study has not written any yet, from notebooks executed there and then with the
  smoke profile; skipped, saying so, without the ``book`` extra (``make book`` installs it).
- ``jupyter_lab``: JupyterLab on a free localhost port with a random token (the search widget's test);
  ``browser_timeout``: the bound on each slow step, ``$VALSTUDY_BROWSER_TIMEOUT`` seconds (default 300).

Tests here run only when ``VALSTUDY_BROWSER=1`` (set by ``make test-browser``), so a plain ``pytest`` stays
browser-free.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALL = "apt-get update && apt-get install -y chromium (or set VALSTUDY_CHROMIUM to a chromium binary)"


@pytest.fixture(autouse=True, scope="session")  # session: before the session fixtures that build the book
def _only_under_make_test_browser():
    if os.environ.get("VALSTUDY_BROWSER") != "1":
        pytest.skip("browser tests run under `make test-browser` (VALSTUDY_BROWSER=1), not in `make test`")


def find_chromium() -> str | None:
    """Debian's chromium, or the binary named by ``$VALSTUDY_CHROMIUM``."""
    named = os.environ.get("VALSTUDY_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    path = find_chromium()
    if path is None:
        pytest.skip(f"no chromium found: {INSTALL}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is missing: `make test-browser` installs it into .venv")
    return path


@pytest.fixture(scope="session")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    page = browser.new_page()
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: page.problems.append(f"failed: {r.url}") if r.url.startswith("file:")
            else None)  # offline: the notebooks' CDN scripts (MathJax) may fail; local files must not
    yield page
    page.close()


def _smoke_executed(folder: Path) -> Path:
    """Execute the datasets notebook for two datasets with the smoke profile (data only, no training) into folder."""
    from valstudy.study.notebooks import _ipc_kernel_manager
    import papermill as pm

    folder.mkdir(parents=True, exist_ok=True)
    env = {"VALSTUDY_PROFILE": "smoke", "VALSTUDY_FIGURES_DIR": str(folder / "figures")}
    for dataset in ("shoes", "fashioniq"):
        pm.execute_notebook(str(REPO / "notebooks" / "datasets.ipynb"), str(folder / f"datasets_{dataset}.ipynb"),
                            parameters={"DATASET": dataset, "DATA_ROOT": str(folder / "data")},
                            cwd=str(REPO), progress_bar=False, kernel_name="python3",
                            kernel_manager_class=_ipc_kernel_manager(env))
    return folder


@pytest.fixture(scope="session")
def book(tmp_path_factory) -> Path:
    """The built site's folder (``index.html``, ``notebooks/<notebook>_<dataset>.html``, ``docs/``, ``search.html``)."""
    from valstudy.book import build
    from valstudy.book.render import missing_packages

    if missing_packages():
        pytest.skip(f"the book extra is missing ({', '.join(missing_packages())}): `make book` installs it")

    executed = REPO / "notebooks" / "executed"
    if not any(executed.glob("*.ipynb")):
        executed = _smoke_executed(tmp_path_factory.mktemp("executed"))
    out = tmp_path_factory.mktemp("book")
    build(executed, out)
    return out


# ---------------------------------------------------------------- JupyterLab on localhost (the search widget's test)
TIMEOUT = float(os.environ.get("VALSTUDY_BROWSER_TIMEOUT", "300"))


@pytest.fixture(scope="session")
def browser_timeout() -> float:
    """Seconds allowed for each slow step (``VALSTUDY_BROWSER_TIMEOUT``, default 300)."""
    return TIMEOUT


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyter_lab(tmp_path):
    """Start JupyterLab on a free localhost port with a random token, serving ``tmp_path / "lab"``; yield
    ``(base_url, token, root)``; stop it at the end. Start-up is bounded by ``VALSTUDY_BROWSER_TIMEOUT``."""
    root = tmp_path / "lab"
    root.mkdir()
    port, token = _free_port(), secrets.token_hex(16)
    labconfig = tmp_path / "jupyter_config" / "labconfig"  # no news prompt over the widget (and no fetch: offline)
    labconfig.mkdir(parents=True)
    (labconfig / "page_config.json").write_text(
        '{"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": true}}')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter_config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "VALSTUDY_FIGURES_DIR": str(tmp_path / "figures")}  # the notebooks' figures stay out of the repository
    log = open(tmp_path / "jupyterlab.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
                             f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
                             "--LabApp.expose_app_in_browser=True", "--allow-root"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}: {(tmp_path / 'jupyterlab.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {TIMEOUT:.0f} s (VALSTUDY_BROWSER_TIMEOUT)")
                time.sleep(1)
        yield url, token, root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()

