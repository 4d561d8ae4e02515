"""Driving JupyterLab's page from a browser test."""
from __future__ import annotations

KERNEL_IDLE = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return k && k.status === 'idle'; }"""


def open_in_lab(page, url: str, token: str, name: str, timeout: float) -> None:
    """Open ``name`` (under JupyterLab's root) in JupyterLab and wait until its kernel is idle."""
    page.goto(f"{url}/lab/tree/{name}?token={token}")
    page.wait_for_function(KERNEL_IDLE, timeout=timeout * 1000)
