"""Measures of attention maps against the changed region, on plain arrays, beside their references.

Any map source is measured by the same code: VAL's joint-attention (JA) spatial gates, the self-attention a position
receives, the changed region's mask itself, or a blend of mask and prior (the positive control). A map is compared
with the region on the map's own grid: the mask (H, W) is area-pooled to the map's (h, w), so each cell holds the
share of it inside the region (:func:`pool_masks`), and a cell's weight in every sum is its area.

For one query with map g and pooled region m (each cell's share inside the region),

- ``ratio`` = (sum g m / sum g) / mean(m): the map's mass inside the region over the region's area share. A uniform
  map gives 1, the mask itself 1 / area. Read two-sided: a gate that marks the change by letting *less* of the image
  through there gives a ratio below 1. Over queries the study averages log(ratio) and reports exp of that mean (the
  geometric mean), so 0.5 and 2 are equally far from 1.
- ``excess`` = sum g m / sum g - mean(m): the same comparison as a signed difference of shares.
- the residual g - prior (prior: the query-averaged map) against m: Pearson correlation over cells and the AUC
  (the probability that a random in-region pixel has a larger residual than a random out-of-region one; 0.5 =
  chance, below 0.5 = lower inside the region).

References, measured by the same functions: ``ratio_null`` (the query-averaged map paired with each query's region:
what a fixed prior such as the average garment silhouette scores), ``ratio_shuffled`` (each map paired with another
query's region), ``ratio_mask`` (the mask itself at image resolution: the ceiling) and ``ratio_mask_grid`` (the mask
pooled to the map's grid: the best a map of that size can do).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

EPS = 1e-6  # ratios below this are clipped before the log (a map with no mass at all in the region)
STRENGTHS = (0.0, 0.1, 0.25, 0.5, 1.0)  # the positive control's blend strengths: 0 = the prior, 1 = the mask
KINDS = ("local", "global")  # a change on one part of the garment / on all of it (colour, shade, texture)


def pool_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Each cell's share inside the region: masks (N, H, W) area-pooled to (N, h, w), float64 in [0, 1]."""
    masks = np.asarray(masks, dtype=np.float64)
    if masks.shape[1:] == tuple(size):
        return masks.copy()
    pooled = torch.nn.functional.adaptive_avg_pool2d(torch.as_tensor(masks)[:, None], tuple(size))
    return pooled[:, 0].numpy()


def region_ratios(maps: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per query: (ratio, excess) of maps (N, h, w) against pooled regions cells (N, h, w) on the same grid."""
    maps = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1)
    cells = np.asarray(cells, dtype=np.float64).reshape(len(cells), -1)
    mass = (maps * cells).sum(1) / np.maximum(maps.sum(1), 1e-300)  # share of the map's mass inside the region
    area = cells.mean(1)  # the region's share of the image
    return mass / area, mass - area


def log_ratio(ratios) -> np.ndarray:
    """log of each ratio, clipped below at log(EPS)."""
    return np.log(np.maximum(np.asarray(ratios, dtype=np.float64), EPS))


def pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row of a (N, n) with the same row of b; NaN where either row is constant."""
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    ok = (na > 1e-12) & (nb > 1e-12)
    out = np.full(len(a), np.nan)
    out[ok] = (a[ok] * b[ok]).sum(1) / (na[ok] * nb[ok])
    return out


def weighted_auc_rows(scores: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Per row of scores (N, n): the AUC of the scores at separating in-region from out-of-region area, cell i
    counting ``inside[:, i]`` of its area as in-region and the rest as out, ties counting one half: the
    Mann-Whitney statistic over pixels when each cell's pixels share its score. NaN where the region covers no
    area or all of it."""
    scores = np.asarray(scores, np.float64)
    n = scores.shape[1]
    order = np.argsort(scores, axis=1, kind="stable")
    s = np.take_along_axis(scores, order, 1)
    pos = np.take_along_axis(np.asarray(inside, np.float64), order, 1)
    neg = 1.0 - pos
    cum = np.cumsum(neg, axis=1)  # out-of-region area up to each sorted cell, inclusive
    before = cum - neg  # ... exclusive
    idx = np.broadcast_to(np.arange(n), s.shape)
    start = np.ones_like(s, bool)
    start[:, 1:] = s[:, 1:] != s[:, :-1]  # first cell of a run of equal scores
    end = np.ones_like(s, bool)
    end[:, :-1] = start[:, 1:]  # last cell of a run
    first = np.maximum.accumulate(np.where(start, idx, 0), axis=1)
    last = np.minimum.accumulate(np.where(end, idx, n - 1)[:, ::-1], axis=1)[:, ::-1]
    below = np.take_along_axis(before, first, 1)  # out-of-region area with a strictly smaller score
    tied = np.take_along_axis(cum, last, 1) - below  # ... with an equal score (the cell itself included)
    p, q = pos.sum(1), neg.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos * (below + 0.5 * tied)).sum(1) / (p * q)
    return np.where((p > 1e-12) & (q > 1e-12), auc, np.nan)


def weighted_auc(scores: np.ndarray, inside: np.ndarray) -> float:
    """:func:`weighted_auc_rows` of one map's scores (n,) and its cells' shares inside the region (n,)."""
    return float(weighted_auc_rows(np.asarray(scores)[None], np.asarray(inside)[None])[0])


def residual_scores(maps: np.ndarray, cells: np.ndarray, prior: np.ndarray,
                    auc: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Per query: (Pearson correlation, AUC or None) of the residual map - prior against the pooled region."""
    res = (np.asarray(maps, np.float64) - prior).reshape(len(maps), -1)
    cells = np.asarray(cells, np.float64).reshape(len(cells), -1)
    return pearson_rows(res, cells), weighted_auc_rows(res, cells) if auc else None


def _mean(x) -> float | None:
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    return float(x.mean()) if len(x) else None


def _geo(ratios) -> float | None:
    return None if len(ratios) == 0 else float(np.exp(log_ratio(ratios).mean()))


def derangement(n: int, seed: int = 0) -> np.ndarray:
    """A fixed-seed permutation of range(n) with no fixed point (n >= 2): a random order, shifted by one."""
    order = np.random.default_rng(seed).permutation(n)
    out = np.empty(n, dtype=int)
    out[order] = np.roll(order, -1)
    return out


def measure_maps(maps: np.ndarray, masks: np.ndarray, kinds: Sequence[str] | None = None,
                 prior: np.ndarray | None = None, seed: int = 0) -> dict:
    """Every region measure of one level's maps, beside its references.

    Parameters
    ----------
    maps : array (N, h, w)
        One map per query with a changed region (any source: a gate, a mask, a blend).
    masks : array (N, H, W) of bool
        Each query's changed region at image resolution (H, W multiples of h, w, or equal to them).
    kinds : sequence of N str, optional
        "local" or "global" per query: the measures are also given for each kind apart (``ratio_local``, ...).
    prior : array (h, w), optional
        The query-averaged map the null and the residual use; default ``maps.mean(0)``.
    seed : int
        Seed of the shuffled pairing of maps and regions.

    Returns
    -------
    dict of floats (None where nothing was measured): ``ratio`` (geometric mean over queries), ``log_ratio``,
    ``excess``, ``ratio_null``, ``ratio_shuffled``, ``ratio_mask``, ``ratio_mask_grid``, ``residual_mask_corr``,
    ``residual_mask_auc``, ``residual_mask_corr_shuffled``, ``n``; and ``ratio_<kind>``, ``ratio_null_<kind>``,
    ``ratio_mask_<kind>``, ``residual_mask_corr_<kind>``, ``n_<kind>`` per kind.
    """
    maps = np.asarray(maps, dtype=np.float64)
    masks = np.asarray(masks, dtype=bool)
    n = len(maps)
    if n == 0:
        return {**dict.fromkeys(region_keys()), "n": 0, **{f"n_{kind}": 0 for kind in KINDS}}
    prior = maps.mean(0) if prior is None else np.asarray(prior, dtype=np.float64)
    cells = pool_masks(masks, maps.shape[1:])
    ratio, excess = region_ratios(maps, cells)
    null, _ = region_ratios(np.broadcast_to(prior, maps.shape), cells)
    mask_ratio, _ = region_ratios(masks, masks)
    grid_ratio, _ = region_ratios(cells, cells)
    corr, auc = residual_scores(maps, cells, prior)
    out = {"n": n, "ratio": _geo(ratio), "log_ratio": float(log_ratio(ratio).mean()), "excess": float(excess.mean()),
           "ratio_null": _geo(null), "ratio_mask": _geo(mask_ratio), "ratio_mask_grid": _geo(grid_ratio),
           "residual_mask_corr": _mean(corr), "residual_mask_auc": _mean(auc),
           "ratio_shuffled": None, "residual_mask_corr_shuffled": None}
    if n >= 2:
        other = cells[derangement(n, seed)]  # each map against another query's region
        out["ratio_shuffled"] = _geo(region_ratios(maps, other)[0])
        out["residual_mask_corr_shuffled"] = _mean(residual_scores(maps, other, prior, auc=False)[0])
    for kind in KINDS:
        sel = np.array([k == kind for k in kinds]) if kinds is not None else np.zeros(n, bool)
        out.update({f"n_{kind}": int(sel.sum()), f"ratio_{kind}": _geo(ratio[sel]),
                    f"ratio_null_{kind}": _geo(null[sel]), f"ratio_mask_{kind}": _geo(mask_ratio[sel]),
                    f"residual_mask_corr_{kind}": _mean(corr[sel])})
    return out


def region_keys() -> tuple[str, ...]:
    """The keys :func:`measure_maps` returns, in order (all None on data without regions)."""
    keys = ("n", "ratio", "log_ratio", "excess", "ratio_null", "ratio_mask", "ratio_mask_grid", "residual_mask_corr",
            "residual_mask_auc", "ratio_shuffled", "residual_mask_corr_shuffled")
    return keys + tuple(f"{m}_{kind}" for kind in KINDS
                        for m in ("n", "ratio", "ratio_null", "ratio_mask", "residual_mask_corr"))


def mean_pairwise_correlation(maps: np.ndarray) -> float | None:
    """The mean Pearson correlation between the maps of two different queries (1: one map for every query; 0:
    unrelated maps); constant maps are left out; None below two maps."""
    z = np.asarray(maps, np.float64).reshape(len(maps), -1)
    z = z - z.mean(1, keepdims=True)
    norm = np.linalg.norm(z, axis=1)
    z = z[norm > 1e-12] / norm[norm > 1e-12, None]  # unit rows
    n = len(z)
    if n < 2:
        return None
    s = z.sum(0)
    return float((s @ s - n) / (n * (n - 1)))  # mean over ordered pairs i != j of z_i . z_j


def blend(prior: np.ndarray, masks: np.ndarray, strength: float) -> np.ndarray:
    """Maps known to localise by a known amount: (1 - strength) * prior + strength * the region pooled to the prior's
    grid, (N, h, w). Strength 0 is the prior for every query, 1 the region itself."""
    return (1.0 - strength) * np.asarray(prior, np.float64) + strength * pool_masks(masks, np.shape(prior))


def positive_control(prior: np.ndarray, masks: np.ndarray, kinds: Sequence[str] | None = None,
                     strengths: Sequence[float] = STRENGTHS, seed: int = 0) -> list[dict]:
    """:func:`measure_maps` of maps whose localisation is known, one row each: a uniform map, blends of the prior
    and the region at each strength (:func:`blend`; strength 1 = the region on the prior's grid) and the region at
    image resolution. Every row has ``source`` ("uniform", "blend", "mask") and ``strength`` (None, s, None)."""
    shape = (len(masks),) + tuple(np.shape(prior))
    rows = [{"source": "uniform", "strength": None, **measure_maps(np.ones(shape), masks, kinds, seed=seed)}]
    for s in strengths:
        rows.append({"source": "blend", "strength": float(s),
                     **measure_maps(blend(prior, masks, s), masks, kinds, seed=seed)})
    rows.append({"source": "mask", "strength": None,
                 **measure_maps(np.asarray(masks, np.float64), masks, kinds, seed=seed)})
    return rows


def map_distance(a: np.ndarray, b: np.ndarray) -> dict:
    """How far paired maps a, b (N, ...) differ: ``mad`` (mean absolute difference, on the maps' own scale),
    ``one_minus_corr`` (1 - Pearson correlation, NaN pairs left out) and ``n``."""
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    if len(a) == 0:
        return {"mad": None, "one_minus_corr": None, "n": 0}
    corr = _mean(pearson_rows(a, b))
    return {"mad": float(np.abs(a - b).mean()), "one_minus_corr": None if corr is None else 1.0 - corr, "n": len(a)}
