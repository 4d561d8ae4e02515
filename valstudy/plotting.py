"""Every drawing the notebooks make: figures from data the notebooks computed with ``valstudy.analysis``.

Figures are saved by :func:`save_figure` only: PNG at a fixed dpi with no time stamp or software version in the
metadata, so the same data gives the same file. Names are ``<notebook>_<dataset>_<subset>`` (the notebooks build them).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .data.standin import NOTE as STANDIN_NOTE, standins_loaded
from .errors import ValstudyError

DPI = 90  # modest: executed notebooks embed every figure, and they are committed
REFERENCE_COLOUR = "#1f5fbf"  # blue box around the reference image (the supplementary's Figs. 5-6)
TARGET_COLOUR = "#2ca02c"  # green box around the target image
plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "figure.titlesize": 11, "svg.hashsalt": "valstudy"})


def save_figure(fig, figures_dir: str | Path, name: str) -> Path:
    """Write ``fig`` to ``<figures_dir>/<name>.png`` (fixed dpi, deterministic metadata), close it, return the path."""
    if not name or "/" in name or name.endswith(".png"):
        raise ValstudyError(f"save_figure: name must be '<notebook>_<dataset>_<subset>' without '.png', got {name!r}")
    path = Path(figures_dir) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    if standins_loaded():  # drawn from stand-in images (valstudy.data.standin): say so on the figure
        fig.text(0.5, 0.0, STANDIN_NOTE, ha="center", va="top", color="#c00000", fontsize=12, weight="bold")
    fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def show(path: str | Path, caption: str | None = None) -> None:
    """Display a saved figure in a notebook (figures are closed once saved, so each is shown exactly as written).

    Parameters
    ----------
    path : str or Path
        The figure file that :func:`save_figure` wrote.
    caption : str, optional
        What the figure shows, in a sentence: the book (``make book``) makes it the image's alt text. The output's
        metadata records it as ``alt`` beside the file's name (``filename``); without a caption the book names the
        figure by its file name in words.
    """
    from IPython.display import Image, display

    metadata = {"filename": Path(path).name} | ({"alt": caption} if caption else {})
    display(Image(filename=str(path), metadata=metadata))


def _image(ax, image, title: str = "", colour: str | None = None, fontsize: float = 8) -> None:
    """An image without ticks; a coloured frame when ``colour`` is given."""
    ax.imshow(np.asarray(image))
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(colour is not None)
        if colour is not None:
            spine.set_edgecolor(colour)
            spine.set_linewidth(4)
    if title:
        ax.set_title(title, fontsize=fontsize)


def _wrap(text: str, width: int = 28) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or "(empty)"


# ---------------------------------------------------------------------------------------------------- datasets
def pair_grid(examples: Sequence[dict], title: str):
    """Reference -> user text -> target, one row per example (the supplementary's Figs. 2-4).

    ``examples``: dicts with ``reference_image``, ``target_image`` (PIL), ``text``, ``reference_description``,
    ``target_description`` (may be empty).
    """
    n = len(examples)
    fig, axes = plt.subplots(n, 3, figsize=(7.2, 2.3 * n + 0.3), gridspec_kw={"width_ratios": [1, 1.3, 1]},
                             squeeze=False)
    for row, ex in zip(axes, examples):
        _image(row[0], ex["reference_image"], _wrap(ex["reference_description"] or "(no description)"),
               REFERENCE_COLOUR)
        _image(row[2], ex["target_image"], _wrap(ex["target_description"] or "(no description)"), TARGET_COLOUR)
        row[1].axis("off")
        row[1].annotate("", xy=(1, 0.5), xytext=(0, 0.5), xycoords="axes fraction",
                        arrowprops={"arrowstyle": "-|>", "color": "0.4", "lw": 1.5})
        row[1].text(0.5, 0.6, f"user text:\n\u201c{_wrap(ex['text'], 30)}\u201d", ha="center", va="bottom",
                    style="italic",
                    transform=row[1].transAxes, fontsize=9)
        row[0].set_xlabel("reference", color=REFERENCE_COLOUR, weight="bold")
        row[2].set_xlabel("target", color=TARGET_COLOUR, weight="bold")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def length_histogram(lengths: dict[str, Sequence[int]], title: str):
    """Histogram of text lengths in words, one series per split."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    top = max((max(v) for v in lengths.values() if len(v)), default=1)
    bins = np.arange(0.5, top + 1.5, 1)
    for label, values in lengths.items():
        ax.hist(values, bins=bins, alpha=0.6, label=f"{label} ({len(values):,} texts)", density=True)
    ax.set_xlabel("words per user text")
    ax.set_ylabel("fraction of texts")
    ax.set_title(title)
    ax.legend(frameon=False)
    fig.tight_layout()
    return fig


def top_words_bar(words: Sequence[tuple[str, int]], title: str):
    """Horizontal bars of the most frequent words."""
    fig, ax = plt.subplots(figsize=(5.5, 0.22 * len(words) + 1.2))
    labels = [w for w, _ in words][::-1]
    ax.barh(labels, [c for _, c in words][::-1], color="#4c72b0")
    ax.set_xlabel("occurrences in the training texts")
    ax.set_title(title)
    ax.margins(y=0.01)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------- training
def training_curves(loss, recalls, title: str):
    """Left: training loss per logged step (one line per phase). Right: R@K against step, a colour per K and a line
    style per split (``recalls`` columns ``"<split> R@K"``)."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10.5, 3.6), gridspec_kw={"width_ratios": [1, 1.25]})
    for phase, part in loss.groupby("phase", sort=False):
        a.plot(part["step"], part["loss"], marker=".", label={"lvv": "L_vv", "lvs": "L_vs"}.get(phase, phase))
    a.set_xlabel("step")
    a.set_ylabel("training loss")
    a.legend(frameon=False, title="phase")
    a.set_title("loss")
    cols = [c for c in recalls.columns if c != "step"]
    ks = sorted({c.rsplit(" ", 1)[-1] for c in cols}, key=lambda k: int(k[2:]))
    splits = list(dict.fromkeys(c.rsplit(" ", 1)[0] if " " in c else "" for c in cols))
    styles = ["-", "--", ":", "-."]
    for col in cols:
        split, k = col.rsplit(" ", 1) if " " in col else ("", col)  # "<protocol ...> R@K"
        b.plot(recalls["step"], recalls[col], marker="o", color=f"C{ks.index(k)}",
               ls=styles[splits.index(split) % len(styles)], label=col)
    b.set_xlabel("step")
    b.set_ylabel("recall (%)")
    b.set_ylim(-2, 102)
    b.set_title("recall along training (EMA weights)")
    b.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def validation_curves(curves, title: str, metric: str = "R@10", groups: dict[str, Sequence[str]] | None = None):
    """Validation ``metric`` against the fraction of each variant's steps, one line per variant (mean over random
    seeds) with a ±1 std band; one panel per group of variants (``groups``: panel title -> variants). Shaded: the
    plateau criterion's windows (steps 25-50% and 50-75%, at a constant learning rate); dashed: the rate's drop."""
    groups = groups or {"": list(dict.fromkeys(curves["variant"]))}
    fig, axes = plt.subplots(1, len(groups), figsize=(5.2 * len(groups), 3.6), squeeze=False, sharey=True)
    for ax, (name, variants) in zip(axes[0], groups.items()):
        for i, v in enumerate(variants):
            part = curves[curves["variant"] == v].sort_values("step")
            if part.empty:
                continue
            ax.plot(part["fraction"], part["mean"], marker=".", color=f"C{i}", label=v)
            ax.fill_between(part["fraction"], part["mean"] - part["std"].fillna(0),
                            part["mean"] + part["std"].fillna(0), color=f"C{i}", alpha=0.15, lw=0)
        ax.axvspan(0.25, 0.5, color="0.95", zorder=0)
        ax.axvspan(0.5, 0.75, color="0.88", zorder=0)
        ax.axvline(0.75, color="0.5", ls="--", lw=0.8)
        ax.set_xlabel("fraction of the variant's L_vv steps")
        ax.set_title(name)
        ax.legend(frameon=False, fontsize=7)
    axes[0][0].set_ylabel(f"validation {metric} (%)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------- results
def recall_bars(table, metrics: Sequence[str], title: str, group: str = "method", ylabel: str = "recall (%)"):
    """Grouped bars: one group per metric, one bar per row of ``table`` (index = ``group``), error bars = std.

    ``table`` has columns ``<metric> mean`` and ``<metric> std`` (std NaN with one seed: no error bar).
    """
    fig, ax = plt.subplots(figsize=(max(5.5, 1.1 * len(metrics) * max(len(table), 2) / 2.5), 3.6))
    n = len(table)
    width = 0.8 / max(n, 1)
    x = np.arange(len(metrics))
    for i, (name, row) in enumerate(table.iterrows()):
        means = np.array([row[f"{m} mean"] for m in metrics], dtype=float)
        stds = np.array([row.get(f"{m} std", np.nan) for m in metrics], dtype=float)
        yerr = None if np.isnan(stds).all() else np.where(np.isnan(stds), 0, stds)  # one seed: no error bar
        bars = ax.bar(x - 0.4 + width * (i + 0.5), means, width, yerr=yerr, capsize=2, label=str(name))
        for r, v in zip(bars, means):
            ax.text(r.get_x() + r.get_width() / 2, v + 0.5, f"{v:.0f}", ha="center", va="bottom", fontsize=6)
    ax.set_xticks(x)
    ax.set_xticklabels(metrics, rotation=0 if len(metrics) < 6 else 30, ha="center" if len(metrics) < 6 else "right")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(title=group, frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------- ablations
def _box(ax, xy, text, colour="#dde8f5", removed=False, w=1.7, h=0.6):
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05",
                                fc="white" if removed else colour, ec="0.6" if removed else "0.2",
                                ls="--" if removed else "-", lw=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=7.5, color="0.6" if removed else "black")


def _arrow(ax, a, b, removed=False):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=10, lw=1.1,
                                 color="0.75" if removed else "0.25", ls="--" if removed else "-"))


def val_schematic(variants: Sequence[str] = ("full", "no_sa", "no_ja")):
    """The composite transformer of one level and its ablations (supplementary Fig. 1), drawn with boxes and arrows.

    ``variants``: "full" (VAL), "no_sa" (w/o SA), "no_ja" (w/o JA); a removed stream is drawn dashed and grey.
    """
    names = {"full": "VAL (both streams)", "no_sa": "w/o SA (self-attention removed)",
             "no_ja": "w/o JA (joint attention removed)"}
    fig, axes = plt.subplots(len(variants), 1, figsize=(8.5, 2.9 * len(variants)), squeeze=False)
    for ax, v in zip(axes[:, 0], variants):
        no_sa, no_ja = v == "no_sa", v == "no_ja"
        _box(ax, (0.9, 3.5), "text feature t\n(B, 512)", "#e5f5e0")
        _box(ax, (0.9, 1.3), "image features X\n(B, c, h, w)", "#fde9d9")
        _box(ax, (3.1, 2.4), "composite function\n[X; tile(t)], 1x1 conv\n-> V", w=1.9, h=0.9)
        _box(ax, (5.6, 3.5), "SA stream\n2-head self-attention\non V -> A_sa", removed=no_sa, w=1.9, h=0.8)
        _box(ax, (5.6, 1.3), "JA stream: channel x spatial\ngates from V, times X\n-> A_ja", removed=no_ja,
             w=1.9, h=0.8)
        out = "w_ja A_ja" if no_sa else "w_sa A_sa" if no_ja else "w_sa A_sa + w_ja A_ja"
        _box(ax, (8.0, 2.4), f"{out}\n= composite feature", "#f2e6f7", w=1.8, h=0.8)
        _arrow(ax, (1.75, 3.3), (2.15, 2.75))
        _arrow(ax, (1.75, 1.5), (2.15, 2.05))
        _arrow(ax, (4.05, 2.75), (4.65, 3.3), no_sa)
        _arrow(ax, (4.05, 2.05), (4.65, 1.5), no_ja)
        _arrow(ax, (1.75, 1.2), (4.65, 1.2), no_ja)  # JA gates the original X, not V (docs/shapes.md; yanbeic/VAL)
        ax.text(3.1, 1.05, "X (the gate multiplies X)", ha="center", va="top", fontsize=7,
                color="0.6" if no_ja else "0.3")
        _arrow(ax, (6.55, 3.3), (7.1, 2.75), no_sa)
        _arrow(ax, (6.55, 1.5), (7.1, 2.05), no_ja)
        ax.set_xlim(-0.05, 9.0)
        ax.set_ylim(0.7, 4.0)
        ax.axis("off")
        ax.set_title(names.get(v, v), loc="left")
    fig.suptitle("Composite transformer at one level (supplementary Fig. 1); VAL has one per level (low, mid, high)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------- qualitative
def retrieval_grid(rows: Sequence[dict], title: str):
    """Reference (blue box), text, top-K retrieved (correct images in a green box), the rank at which the first
    correct image appears, and the annotated target in the last column (green box).

    ``rows``: dicts with ``reference_image``, ``text``, ``retrieved_images`` (list of PIL), ``is_target`` (list of
    bool, one per retrieved image), ``rank`` (1-based rank of the first correct image), ``target_image``.
    """
    k = max(len(r["retrieved_images"]) for r in rows)
    cols = k + 3
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.35 * cols + 0.8, 1.6 * len(rows)),
                             gridspec_kw={"width_ratios": [1, 1.6] + [1] * k + [1.15]}, squeeze=False)
    for ax_row, r in zip(axes, rows):
        _image(ax_row[0], r["reference_image"], "reference", REFERENCE_COLOUR)
        ax_row[1].axis("off")
        ax_row[1].text(0.5, 0.55, _wrap(r["text"], 22), ha="center", va="center", style="italic", fontsize=7.5,
                       transform=ax_row[1].transAxes)
        ax_row[1].text(0.5, 0.08, f"target at rank {r['rank']}", ha="center", fontsize=7.5, weight="bold",
                       transform=ax_row[1].transAxes, color=TARGET_COLOUR if r["rank"] <= k else "firebrick")
        for j in range(k):
            ax = ax_row[2 + j]
            if j < len(r["retrieved_images"]):
                _image(ax, r["retrieved_images"][j], f"top {j + 1}", TARGET_COLOUR if r["is_target"][j] else None)
            else:
                ax.axis("off")
        _image(ax_row[-1], r["target_image"], f"target (rank {r['rank']})", TARGET_COLOUR)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------- attention
def _grid_map(ax, amap, image_shape, region, **style) -> None:
    """An (h, w) map drawn as its cells (no smoothing) over the image's extent, the region's outline in red."""
    ax.imshow(amap, interpolation="nearest", extent=(-0.5, image_shape[1] - 0.5, image_shape[0] - 0.5, -0.5), **style)
    if region is not None:
        ax.contour(region.astype(float), levels=[0.5], colors=["red"], linewidths=1.0)
    ax.set_xticks([])
    ax.set_yticks([])


def attention_grid(rows: Sequence[dict], levels: Sequence[str], title: str, priors: dict | None = None,
                   kind: str = "spatial"):
    """Per query: the reference with its text, the target, the changed region, and per level the ``kind`` map and,
    with ``priors``, its residual (map minus the query-averaged map); a first row then draws the query-averaged map.

    ``rows``: dicts with ``image`` (H, W, 3 uint8), ``text``, ``target`` (or missing), ``region`` ((H, W) bool or
    None) and ``kind`` (level -> (h, w) map on its own grid). ``priors``: {kind: {level: (h, w)}}. Gates
    ("spatial") are drawn on their own scale [0, 1]; another kind (the self-attention received, a distribution over
    positions) from 0 to the level's largest value, stated above the column. Residuals use a diverging colour map
    centred on 0, symmetric, one range per level stated above the column. No map is min-max scaled.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    prior = (priors or {}).get(kind)
    per = 2 if prior else 1
    cols, n = 3 + per * len(levels), len(rows) + (1 if prior else 0)
    fig, axes = plt.subplots(n, cols, figsize=(1.3 * cols + 0.9, 1.55 * n), squeeze=False)
    maps = {lv: [r.get(kind, {}).get(lv) for r in rows] for lv in levels}
    top, span = {}, {}
    for lv in levels:
        present = [m for m in maps[lv] if m is not None] + ([prior[lv]] if prior and lv in prior else [])
        top[lv] = 1.0 if kind == "spatial" else max((float(m.max()) for m in present), default=1.0)
        span[lv] = max((float(np.abs(m - prior[lv]).max()) for m in maps[lv] if m is not None and prior and
                        lv in prior), default=0.0) or 1e-12
    label = "JA spatial" if kind == "spatial" else "SA received"
    if prior:
        first = axes[0]
        for ax in first[:3]:
            ax.axis("off")
        first[1].text(0.5, 0.5, "query-averaged map\n(the same for every\nquery: the prior)", ha="center",
                      va="center", fontsize=7, transform=first[1].transAxes)
        for i, lv in enumerate(levels):
            if lv in prior:
                _grid_map(first[3 + per * i], prior[lv], rows[0]["image"].shape, None, cmap="viridis", vmin=0,
                          vmax=top[lv])
                first[3 + per * i].set_title(f"{lv}: mean {label}", fontsize=7)
            else:
                first[3 + per * i].axis("off")
            first[4 + per * i].axis("off")
    for ax_row, r in zip(axes[1:] if prior else axes, rows):
        _image(ax_row[0], r["image"], "reference\n" + _wrap(f"\u201c{r['text']}\u201d", 22), REFERENCE_COLOUR,
               fontsize=7)
        if r.get("target") is not None:
            _image(ax_row[1], r["target"], "target", TARGET_COLOUR, fontsize=7)
        else:
            ax_row[1].axis("off")
        if r.get("region") is not None:
            _image(ax_row[2], r["image"], "changed region", fontsize=7)
            ax_row[2].contourf(r["region"].astype(float), levels=[0.5, 1.5], colors=["yellow"], alpha=0.5)
            ax_row[2].contour(r["region"].astype(float), levels=[0.5], colors=["red"], linewidths=1.2)
        else:
            ax_row[2].axis("off")
            ax_row[2].text(0.5, 0.5, "no region\n(extras absent)", ha="center", va="center", fontsize=7)
        for i, lv in enumerate(levels):
            amap = r.get(kind, {}).get(lv)
            if amap is None:
                for ax in ax_row[3 + per * i: 3 + per * (i + 1)]:
                    ax.axis("off")
                continue
            scale = "0 to 1" if kind == "spatial" else f"0 to {top[lv]:.3g}"
            _grid_map(ax_row[3 + per * i], amap, r["image"].shape, r.get("region"), cmap="viridis", vmin=0,
                      vmax=top[lv])
            ax_row[3 + per * i].set_title(f"{lv}: {label}\n({scale})", fontsize=7)
            if prior and lv in prior:
                _grid_map(ax_row[4 + per * i], amap - prior[lv], r["image"].shape, r.get("region"), cmap="RdBu_r",
                          vmin=-span[lv], vmax=span[lv])
                ax_row[4 + per * i].set_title(f"{lv}: residual\n(\u00b1{span[lv]:.2g})", fontsize=7)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 0.9, 1))
    fig.colorbar(ScalarMappable(Normalize(0, 1), "viridis"), cax=fig.add_axes((0.91, 0.15, 0.01, 0.7)),
                 label="gate value (its own scale)" if kind == "spatial" else "share of the level's largest value")
    if prior:
        fig.colorbar(ScalarMappable(Normalize(-1, 1), "RdBu_r"), cax=fig.add_axes((0.96, 0.15, 0.01, 0.7)),
                     label="residual, share of the level's range (\u00b1, above each column)")
    return fig


def region_mass_bars(table, title: str):
    """Per level: mean spatial-attention mass inside the changed region next to the region's area fraction."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    x = np.arange(len(table))
    for dx, col, label in ((-0.2, "attention_mass", "spatial attention mass in region"),
                           (0.2, "area_fraction", "region area fraction (= uniform attention)")):
        bars = ax.bar(x + dx, table[col], 0.4, label=label)
        for r, v in zip(bars, table[col]):
            ax.text(r.get_x() + r.get_width() / 2, v, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{lv} level" for lv in table.index])
    ax.set_ylabel("mean over test queries")
    ax.set_ylim(0, min(1.0, 1.45 * float(np.nanmax(table[["attention_mass", "area_fraction"]].to_numpy()))))
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def _interval_points(ax, frame, keys: dict[str, str], levels: Sequence[str], markers: str = "osD^vx") -> None:
    """Per level (x) and key (offset), the mean with its 95% interval as an error bar (none for one seed)."""
    width = 0.8 / max(len(keys), 1)
    for j, (key, label) in enumerate(keys.items()):
        part = frame[frame["measure"] == key].set_index("level").reindex(levels)
        x = np.arange(len(levels)) - 0.4 + width * (j + 0.5)
        mean = part["mean"].to_numpy(float)
        err = np.vstack([mean - part["low"].to_numpy(float), part["high"].to_numpy(float) - mean])
        ax.errorbar(x, mean, yerr=np.where(np.isfinite(err), err, 0), fmt=markers[j % len(markers)], color=f"C{j}",
                    capsize=3, label=label, ms=5)
    ax.set_xticks(np.arange(len(levels)))
    ax.set_xticklabels([f"{lv} level" for lv in levels])


def region_ratio_plot(frame, title: str):
    """Per level, the JA spatial gate's in-region ratio beside its references, on a log scale (two-sided: 0.5 and 2
    are equally far from the uniform map's 1): the gate, its query-averaged map (the null), maps paired with other
    queries' regions, the region on the level's grid and at image resolution (the ceilings). Right, where ``frame``
    has them: the gate over its nulls, from the per-seed log differences ``ratio_vs_null`` / ``ratio_vs_shuffled``
    (1 = no more and no less in the region than the null puts there). ``frame``: rows ``level``, ``measure``,
    ``mean``, ``low``, ``high`` (means and 95% intervals over seeds)."""
    keys = {"ratio": "VAL's gate", "ratio_null": "query-averaged map (null)", "ratio_shuffled": "other queries' "
            "regions (null)", "ratio_mask_grid": "the region on the level's grid", "ratio_mask": "the region itself"}
    paired = {"ratio_vs_null": "gate / query-averaged map", "ratio_vs_shuffled": "gate / with other queries' regions"}
    levels = list(dict.fromkeys(frame["level"]))
    has = set(frame["measure"])
    right = {k: v for k, v in paired.items() if k in has}
    fig, axes = plt.subplots(1, 2 if right else 1, figsize=(11 if right else 6.5, 3.6), squeeze=False)
    ax = axes[0, 0]
    _interval_points(ax, frame, {k: v for k, v in keys.items() if k in has}, levels)
    ax.set_yscale("log")
    ax.axhline(1.0, color="0.5", ls=":", lw=1, label="uniform map (1)")
    ax.set_ylabel("mass in region / region's area share")
    ax.legend(frameon=False, fontsize=7)
    if right:
        ax = axes[0, 1]
        logs = frame[frame["measure"].isin(list(right))].copy()
        logs[["mean", "low", "high"]] = np.exp(logs[["mean", "low", "high"]].to_numpy(float))
        _interval_points(ax, logs, right, levels)
        ax.axhline(1.0, color="0.5", ls=":", lw=1)
        ax.set_ylabel("ratio of the gate over its null (x)")
        ax.legend(frameon=False, fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def interval_bars(frame, keys: dict[str, str], title: str, ylabel: str, zero: bool = True):
    """Per level, each key's mean over seeds with its 95% interval (``frame`` as :func:`region_ratio_plot`'s); a
    line at zero with ``zero`` (differences: an interval across it is no detected effect)."""
    levels = list(dict.fromkeys(frame["level"]))
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    _interval_points(ax, frame, keys, levels)
    if zero:
        ax.axhline(0.0, color="0.5", ls=":", lw=1)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    return fig


OUTCOME_COLOURS = {"difference": "#1f77b4", "equivalence": "#2ca02c", "inconclusive": "#8c8c8c"}


def verdict_forest(paired, title: str, margin: float, labels: dict[str, str] | None = None):
    """Paired comparisons as intervals, one row each (``paired``: rows of ``analysis.paired_verdicts`` for one
    metric): the mean of VAL minus the other, its 90% interval (thick) and 95% interval (thin), coloured by outcome;
    the equivalence band +-``margin`` shaded; a hollow marker where a claim does not survive Holm's correction. The
    right margin says the outcome, the seeds, and the seeds an inconclusive comparison would need."""
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    rows = paired.to_dict("records")
    labels = labels or {}
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(rows) + 1.5))
    ax.axvspan(-margin, margin, color="#e6f2e6", zorder=0)
    ax.axvline(0.0, color="0.3", lw=0.8)
    side = blended_transform_factory(ax.transAxes, ax.transData)
    for i, r in enumerate(rows):
        y, colour = len(rows) - 1 - i, OUTCOME_COLOURS.get(r["outcome"], "black")
        if r["low"] == r["low"]:  # no interval from a single seed
            ax.plot([r["low"], r["high"]], [y, y], color=colour, lw=1.2)
            ax.plot([r["low90"], r["high90"]], [y, y], color=colour, lw=5, alpha=0.55, solid_capstyle="butt")
        claim = r["outcome"] != "inconclusive"
        ax.plot(r["mean"], y, "o", ms=7, color=colour, mfc=colour if (r["survives_holm"] or not claim) else "white")
        note = f"{r['outcome']}, {int(r['n'])} seeds"
        if claim and not r["survives_holm"]:
            note += ", not after Holm"
        if r["outcome"] == "inconclusive" and r.get("seeds_needed") == r.get("seeds_needed") and r.get("seeds_needed"):
            note += f", would need {int(r['seeds_needed'])}"
        ax.text(1.02, y, note, transform=side, va="center", fontsize=7.5, color=colour)
    ax.set_yticks(range(len(rows)), [labels.get(r["variant"], r["variant"]) for r in reversed(rows)])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(f"VAL \u2212 other, {rows[0]['metric'] if rows else ''} (points): 90% interval thick, 95% thin")
    handles = [Line2D([], [], color=c, marker="o", lw=3, label=o) for o, c in OUTCOME_COLOURS.items()]
    handles.append(Line2D([], [], color="0.3", marker="o", mfc="white", lw=0, label="claim not after Holm"))
    handles.append(plt.Rectangle((0, 0), 1, 1, color="#e6f2e6", label=f"equivalence band \u00b1{margin:g}"))
    height = fig.get_size_inches()[1]
    fig.legend(handles=handles, frameon=False, fontsize=7, loc="lower center", ncol=5)
    ax.set_title(title)
    fig.tight_layout(rect=(0, 0.3 / height, 1, 1))
    return fig


def positive_control_plot(table, title: str):
    """Per level (columns): the in-region ratio (top, log scale) and the residual's correlation with the region
    (bottom) of maps blended from the region and the prior at known strengths (0 = the prior, 1 = the region on the
    level's grid), beside VAL's gate (dashed) and the region at image resolution (dotted). ``table``:
    ``analysis.attention_seeds.control_table``."""
    levels = list(dict.fromkeys(table["level"]))
    fig, axes = plt.subplots(2, len(levels), figsize=(3.2 * len(levels) + 0.5, 5.2), squeeze=False)
    for i, lv in enumerate(levels):
        t = table[table["level"] == lv]
        blend = t[t["source"] == "blend"].sort_values("strength")
        for ax, col, label in ((axes[0, i], "ratio", "mass in region / area share"),
                               (axes[1, i], "residual_mask_corr", "residual's correlation with region")):
            ax.plot(blend["strength"], blend[col], marker="o", color="C0", label="blend of region and prior")
            for source, style, name in (("VAL", "--", "VAL's gate"), ("mask", ":", "the region itself")):
                value = t.loc[t["source"] == source, col]
                if len(value) and np.isfinite(value.iloc[0]):
                    ax.axhline(value.iloc[0], color="C3" if source == "VAL" else "0.3", ls=style, label=name)
            ax.set_xlabel("blend strength (share of the region)")
            ax.set_ylabel(label)
        axes[0, i].set_yscale("log")
        axes[0, i].axhline(1.0, color="0.6", lw=0.8)
        axes[0, i].set_title(f"{lv} level")
    axes[0, -1].legend(frameon=False, fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def stream_weights_plot(weights: dict, title: str):
    """Per level, the learned stream weights w_ja (solid) and w_sa (dashed) against the training step, one line per
    random seed. ``weights``: seed -> ``measure_run``'s ``stream_weights`` (level -> step, w_ja, w_sa)."""
    levels = list(dict.fromkeys(lv for w in weights.values() for lv in w))
    fig, axes = plt.subplots(1, len(levels), figsize=(3.4 * len(levels), 3.0), squeeze=False, sharey=True)
    for ax, lv in zip(axes[0], levels):
        for k, (seed, w) in enumerate(weights.items()):
            for stream, style in (("w_ja", "-"), ("w_sa", "--")):
                values = [np.nan if v is None else v for v in w[lv][stream]]
                ax.plot(w[lv]["step"], values, style, marker="o", ms=3, color=f"C{k}",
                        label=f"{stream}, seed {seed}")
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set_xlabel("step")
        ax.set_title(f"{lv} level")
    axes[0, 0].set_ylabel("stream weight (EMA)")
    axes[0, -1].legend(frameon=False, fontsize=6, loc="upper left", bbox_to_anchor=(1, 1))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def attention_along_training(table, title: str):
    """Panels against training step, one line per level (mean over random seeds, +-1 std band): the JA spatial
    gate's in-region ratio (solid) beside its query-averaged map's (dashed; 1 = uniform), and the residual's
    correlation with the region (or, in a table without it, the correlation between two queries' maps)."""
    second = "residual_mask_corr" if "residual_mask_corr" in table else "map_correlation"
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.5))
    panels = ((("ratio", "-"), ("ratio_null", "--")), ((second, "-"),))
    labels = ("mass in region / area share (dashed: the null)", "residual's correlation with the region"
              if second == "residual_mask_corr" else "map correlation across queries")
    for ax, cols, label in zip(axes, panels, labels):
        for i, (level, part) in enumerate(table.groupby("level", sort=False)):
            for col, style in cols:
                if col not in part or part[col].isna().all():
                    continue
                g = part.groupby("step")[col]
                mean, std = g.mean(), g.std(ddof=1).fillna(0)
                ax.plot(mean.index, mean.values, style, marker="o", color=f"C{i}",
                        label=level if style == "-" else None)
                ax.fill_between(mean.index, mean - std, mean + std, color=f"C{i}", alpha=0.12, lw=0)
        ax.axhline(1.0 if ax is axes[0] else 0.0, color="0.5", ls=":", lw=1)
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.legend(frameon=False, title="level", fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------- costs
def flops_bars(measured: dict[str, float], paper: dict[str, float], title: str):
    """Log-scale bars: measured MACs beside the supplementary's figures, per item."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    names = list(measured)
    x = np.arange(len(names))
    for dx, values, label in ((-0.2, [measured[n] for n in names], "measured (FlopCounterMode, MACs)"),
                              (0.2, [paper.get(n, np.nan) for n in names], "the supplementary's claim")):
        bars = ax.bar(x + dx, values, 0.4, label=label)
        for r, v in zip(bars, values):
            if np.isfinite(v):
                ax.text(r.get_x() + r.get_width() / 2, v * 1.08, f"{v:.3g}", ha="center", va="bottom", fontsize=7.5)
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels([_wrap(n, 22) for n in names], fontsize=7.5)
    ax.set_ylabel("multiply-accumulates")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return fig


def timing_loglog(times, fits: dict[str, tuple[float, float]], title: str, fit_label: str = "fit"):
    """Retrieval time against gallery size on log-log axes, one line per device, with the fitted power law.

    ``times``: DataFrame with columns ``device``, ``gallery``, ``seconds``; ``fits``: device -> (slope, intercept)
    of log10(seconds) = slope * log10(gallery) + intercept.
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for dev, part in times.groupby("device"):
        n = part["gallery"].to_numpy(float)
        line = ax.loglog(n, part["seconds"], "o", label=f"{dev} (measured)")[0]
        slope, icpt = fits[dev]
        ax.loglog(n, 10 ** (slope * np.log10(n) + icpt), "-", color=line.get_color(), alpha=0.6,
                  label=f"{dev} {fit_label}: time ~ N^{slope:.2f}")
    from matplotlib.ticker import NullFormatter

    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("gallery size N")
    ax.set_ylabel("seconds for the fixed query set")
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=7)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------- beyond
def success_curves(table, title: str):
    """The simulated user's success within T turns: one line per method (``table``: index (method, T), columns
    ``mean``, ``std``), a band of one std over seeds where there are several."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for method in dict.fromkeys(table.index.get_level_values(0)):
        sub = table.loc[method]
        t, m, s = sub.index.to_numpy(), sub["mean"].to_numpy(float), sub["std"].to_numpy(float)
        line, = ax.plot(t, m, marker="o", label=str(method))
        if not np.isnan(s).all():
            ax.fill_between(t, m - np.nan_to_num(s), m + np.nan_to_num(s), color=line.get_color(), alpha=0.15)
    ax.set_xlabel("turns T")
    ax.set_ylabel("success within T turns (%)")
    ax.set_xticks(sorted(set(table.index.get_level_values(1))))
    ax.set_ylim(0, max(5.0, float(np.nanmax(table["mean"] + table["std"].fillna(0))) * 1.15))
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig


def vagueness_bars(table, k: int, title: str):
    """R@k (hatched) beside valid@k (solid) per caption style, one colour per method (``table``: columns method,
    style, R@k, valid@k). An empty table (real data: no attributes, no caption styles) gives a figure that says so."""
    if len(table) == 0 or "style" not in table:
        fig, ax = plt.subplots(figsize=(5.5, 1.6))
        ax.text(0.5, 0.5, "no caption styles: valid@k needs the synthetic world's attributes", ha="center",
                va="center")
        ax.set_axis_off()
        ax.set_title(title)
        return fig
    styles = list(dict.fromkeys(table["style"]))
    methods = list(dict.fromkeys(table["method"]))
    fig, ax = plt.subplots(figsize=(max(5.5, 1.6 * len(styles) * max(len(methods), 2) / 2.5), 3.6))
    width = 0.8 / max(2 * len(methods), 1)
    x = np.arange(len(styles))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, m in enumerate(methods):
        sub = table[table["method"] == m].set_index("style").reindex(styles)
        c = colours[i % len(colours)]
        ax.bar(x - 0.4 + width * (2 * i + 0.5), sub[f"R@{k}"], width, color="white", edgecolor=c, hatch="///",
               label=f"{m} R@{k}")
        ax.bar(x - 0.4 + width * (2 * i + 1.5), sub[f"valid@{k}"], width, color=c, label=f"{m} valid@{k}")
    ax.set_xticks(x)
    ax.set_xticklabels(styles)
    ax.set_xlabel("caption style (vaguest phrase)")
    ax.set_ylabel("percent of queries")
    ax.set_ylim(0, 105)
    ax.set_title(title)
    ax.legend(frameon=False, fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), ncol=1)
    fig.tight_layout()
    return fig
