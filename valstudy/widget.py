"""An ipywidgets search app over a trained run, for human studies of interactive retrieval (the paper's Future Work).

    from valstudy.widget import SearchWidget
    w = SearchWidget.from_run("runs/synthetic/shoes/val/seed0", log_path="search_log.jsonl")
    w  # in JupyterLab

Pick a reference image (or a random test query, whose target is then known and marked in green), type what to
change, press *Search*: the top K appear, each with a button that makes it the next reference (multi-turn), and under
them VAL's attention maps of each level over the reference (the joint-attention spatial map; a baseline has none).
Every search and every click is appended to ``log_path`` as one JSON line:

- ``{"event": "search", "session", "turn", "time", "reference", "text", "target", "shown", "target_rank",
  "seconds"}`` (``target``/``target_rank``: null when unknown or not shown; ``seconds``: the query's compute time);
- ``{"event": "click", "session", "turn", "time", "click", "rank"}``: the result chosen at that turn, which starts
  the next turn.

A new start (another reference or a random query) opens a new session id. ``time`` is UTC ISO 8601.
:class:`SearchState` holds the turns and the log without a view; :class:`SearchWidget` is its ipywidgets view.
"""
from __future__ import annotations

import io
import json
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

from .search import SearchEngine

__all__ = ["SearchState", "SearchWidget", "heat_overlay"]

TILE = 112  # pixels per image tile


def _png(image: np.ndarray, size: int = TILE) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).resize((size, size), Image.NEAREST).save(buf, "PNG")
    return buf.getvalue()


def heat_overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.6) -> np.ndarray:
    """The image (H, W, 3) uint8 blended with a red-yellow map of ``heat`` (h, w), scaled to [0, 1] per map."""
    h = np.asarray(Image.fromarray(heat.astype(np.float32)).resize(image.shape[1::-1], Image.BILINEAR))
    h = (h - h.min()) / (h.max() - h.min() + 1e-8)  # (H, W)
    colour = np.stack([np.ones_like(h), h, np.zeros_like(h)], axis=-1) * 255.0  # red -> yellow
    out = image.astype(np.float32) * (1 - alpha * h[..., None]) + colour * alpha * h[..., None]
    return out.clip(0, 255).astype(np.uint8)


class SearchState:
    """A search over a run's gallery, turn by turn, and its log: the app's state, without a view.

    Parameters
    ----------
    engine : SearchEngine
    k : int
        Results per turn.
    log_path : str or Path, optional
        JSON-lines log (appended); None keeps no log.
    seed : int
        Seed of :meth:`pick_query`.
    """

    def __init__(self, engine: SearchEngine, k: int, log_path: str | Path | None, seed: int):
        self.engine, self.k = engine, k
        self.log_path = Path(log_path) if log_path else None
        self.rng = np.random.default_rng(seed)
        self.queries = list(engine.split.queries)
        self.reference: str = self.queries[0].reference if self.queries else engine.gallery[0]
        self.target: str | None = None
        self.session, self.turn, self.shown = "", 0, []
        self.last_seconds = 0.0

    def start(self, reference: str, target: str | None, session: str | None = None) -> None:
        """A new session at ``reference`` (``target``: the image sought, when known); ``session`` names it (by
        default a random id, so that people's sessions never share one in a log)."""
        self.session = session or uuid.uuid4().hex[:12]
        self.turn, self.target, self.reference = 0, target, reference

    def pick_query(self):
        """A random test query (its reference, target and caption), drawn from the seeded generator."""
        return self.queries[int(self.rng.integers(len(self.queries)))]

    def search(self, text: str) -> tuple[list[str], dict, int | None]:
        """One turn for (reference, ``text``): the top K keys, the engine's attention maps and the target's rank
        among them (None when unknown or not shown); logged."""
        t0 = time.perf_counter()
        row, maps = self.engine.query(self.reference, text, k=self.k)
        self.last_seconds = time.perf_counter() - t0
        self.turn += 1
        self.shown = [self.engine.gallery[j] for j in row]
        target_rank = self.shown.index(self.target) + 1 if self.target in self.shown else None
        self.log({"event": "search", "reference": self.reference, "text": text, "target": self.target,
                  "shown": self.shown, "target_rank": target_rank, "seconds": round(self.last_seconds, 4)})
        return self.shown, maps, target_rank

    def click(self, rank: int) -> str:
        """Choose the result at ``rank`` (1-based): logged, and the reference of the next turn."""
        key = self.shown[rank - 1]
        self.log({"event": "click", "click": key, "rank": rank})
        self.reference = key
        return key

    def log(self, record: dict) -> None:
        """Append ``record`` with the session, the turn and the time to the log (when there is one)."""
        if self.log_path is None:
            return
        line = json.dumps({"session": self.session, "turn": self.turn,
                           "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **record})
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(line + "\n")


class SearchWidget:
    """The app; ``.widget`` is the ipywidgets tree (the object displays itself in a notebook), ``.state`` the
    :class:`SearchState` it shows (its reference, target, session, turn, shown, last_seconds are read through).

    Parameters
    ----------
    engine : SearchEngine
    k : int
        Results shown per turn.
    log_path : str or Path, optional
        JSON-lines log (appended); None keeps no log.
    seed : int
        Seed of the *Random query* button.
    """

    def __init__(self, engine: SearchEngine, k: int = 8, log_path: str | Path | None = None, seed: int = 0):
        import ipywidgets as W

        self.state = SearchState(engine, k, log_path, seed)
        self.picker = W.Dropdown(options=engine.gallery, value=self.reference if self.reference in engine.index
                                 else engine.gallery[0], description="reference", layout=W.Layout(width="360px"))
        self.random_button = W.Button(description="Random query", icon="random")
        self.text = W.Text(placeholder="what should change? e.g. is red and has a higher heel",
                           layout=W.Layout(width="420px"))
        self.search_button = W.Button(description="Search", button_style="primary", icon="search")
        self.status = W.HTML()
        self.ref_image, self.target_image = W.Image(format="png"), W.Image(format="png")
        self.ref_label, self.target_label = W.HTML(), W.HTML()
        self.results = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.attention = W.HBox()
        for w, cls in ((self.text, "valstudy-text"), (self.search_button, "valstudy-search"),
                       (self.random_button, "valstudy-random"), (self.status, "valstudy-status"),
                       (self.results, "valstudy-results"), (self.picker, "valstudy-picker")):
            w.add_class(cls)
        self.picker.observe(self._picked, names="value")
        self.random_button.on_click(lambda _: self.random_query())
        self.search_button.on_click(lambda _: self.search(self.text.value))
        self.widget = W.VBox([
            W.HBox([self.picker, self.random_button]),
            W.HBox([W.VBox([self.ref_label, self.ref_image]), W.VBox([self.target_label, self.target_image])]),
            W.HBox([self.text, self.search_button]), self.status, self.results,
            W.HTML("<b>attention over the reference</b> (joint-attention spatial map per level)"), self.attention])
        self.widget.add_class("valstudy-search-app")
        self.start(self.reference, None)

    @classmethod
    def from_run(cls, run_dir: str | Path, protocol: str | None = None, category: str | None = None,
                 device: str = "cpu", config=None, **kw) -> "SearchWidget":
        """A widget over a finished run's evaluation gallery (see ``SearchEngine.from_run``)."""
        return cls(SearchEngine.from_run(run_dir, protocol, category, device, config=config), **kw)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    # the state, read through the app
    engine = property(lambda self: self.state.engine)
    k = property(lambda self: self.state.k)
    queries = property(lambda self: self.state.queries)
    reference = property(lambda self: self.state.reference)
    target = property(lambda self: self.state.target)
    session = property(lambda self: self.state.session)
    turn = property(lambda self: self.state.turn)
    shown = property(lambda self: self.state.shown)
    last_seconds = property(lambda self: self.state.last_seconds)

    # ---------------------------------------------------------------- actions
    def start(self, reference: str, target: str | None, session: str | None = None) -> None:
        """Begin a new session at ``reference`` (``target``: the image sought, when known; ``session``: its name,
        by default a random id)."""
        self.state.start(reference, target, session)
        self._show_reference()
        self.target_image.value = _png(self.engine.image(target)) if target else b""
        self.target_label.value = "<b>target</b> (marked green below)" if target else "<b>target</b>: unknown"
        self.results.children, self.attention.children = (), ()
        self.status.value = f"session {self.session}: type what should change and press Search"

    def random_query(self, session: str | None = None) -> None:
        """Start from a random test query: its reference, its target and its caption as a hint (``session``: the
        session's name, by default a random id)."""
        q = self.state.pick_query()
        self.start(q.reference, q.target, session)
        self.text.placeholder = f"e.g. {q.text}"

    def search(self, text: str) -> list[str]:
        """One turn: rank the gallery for (current reference, ``text``), show and log the top K."""
        import ipywidgets as W

        text = text.strip()
        if not text:
            self.status.value = "<span style='color:#b00'>type a caption first</span>"
            return []
        shown, maps, target_rank = self.state.search(text)
        tiles = []
        for rank, key in enumerate(shown, 1):
            hit = key == self.target
            img = W.Image(value=_png(self.engine.image(key)), format="png",
                          layout=W.Layout(border="4px solid #2a2" if hit else "4px solid transparent"))
            b = W.Button(description=f"#{rank}" + (" target" if hit else ""), layout=W.Layout(width=f"{TILE}px"),
                         tooltip=f"{key}: make it the next reference")
            b.add_class("valstudy-result")
            b.on_click(lambda _, r=rank: self.click(r))
            tiles.append(W.VBox([img, b]))
        self.results.children = tiles
        ref = self.engine.image(self.reference)
        spatial = maps.get("spatial", {})
        self.attention.children = [W.VBox([W.HTML(lv), W.Image(value=_png(heat_overlay(ref, m)), format="png")])
                                   for lv, m in spatial.items()] or [W.HTML("this model has no attention maps")]
        where = "" if self.target is None else (f", target at rank {target_rank}" if target_rank else
                                                f", target not in the top {self.k}")
        self.status.value = (f"session {self.session}, turn {self.turn}: {len(shown)} results in "
                             f"{self.last_seconds:.2f} s{where}")
        return shown

    def click(self, rank: int) -> str:
        """Choose the result at ``rank`` (1-based): log it and make it the reference of the next turn."""
        key = self.state.click(rank)
        self._show_reference()
        self.text.value = ""
        self.status.value = (f"session {self.session}: turn {self.turn} chose #{rank}; it is the new reference, "
                             f"type the next change")
        return key

    def simulated_session(self, turns: int = 3, seed: int = 0) -> list[dict]:
        """Play ``turns`` turns of the simulated user (``valstudy.simulate.user_caption``) from a random test query,
        clicking the top result each turn, through the widget (so they are shown and logged like a person's); rows
        for ``valstudy.plotting.retrieval_grid``: reference, caption, top K, the target's rank in the full ranking.
        Needs the synthetic world's attributes."""
        from .simulate import user_caption

        attrs = self.engine.attributes
        if attrs is None:
            return []
        rng = np.random.default_rng(seed)
        self.random_query(session=f"simulated-{seed}")  # named as such in the log, apart from people's sessions
        rows = []
        for _ in range(turns):
            said = user_caption(rng, attrs[self.reference], attrs[self.target], self.engine.dataset.name)
            if said is None:
                break
            ref = self.reference
            shown = self.search(said[0])
            full = self.engine.search([ref], [said[0]], k=len(self.engine.gallery))[0].tolist()
            t = self.engine.index.get(self.target)
            rows.append({"reference_image": Image.fromarray(self.engine.image(ref)), "text": said[0],
                         "retrieved_images": [Image.fromarray(self.engine.image(k)) for k in shown],
                         "is_target": [attrs[k] == attrs[self.target] for k in shown],
                         "rank": full.index(t) + 1 if t in full else len(full) + 1,
                         "target_image": Image.fromarray(self.engine.image(self.target))})
            if any(rows[-1]["is_target"]):
                break
            self.click(1)
        return rows

    # ---------------------------------------------------------------- helpers
    def _picked(self, change) -> None:
        if change["new"] != self.reference:
            self.start(change["new"], None)

    def _show_reference(self) -> None:
        key = self.reference
        self.ref_image.value = _png(self.engine.image(key))
        self.ref_label.value = f"<b>reference</b> {key}"
        if key in self.engine.index and self.picker.value != key:
            self.picker.unobserve(self._picked, names="value")
            self.picker.value = key
            self.picker.observe(self._picked, names="value")
