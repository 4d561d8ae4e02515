"""Attention maps of VAL and how much of their mass falls on the region of the attribute the text changes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..io import read_json


@torch.no_grad()
def attention_maps(model, dataset, queries, vocab, cfg, batch_size: int = 32) -> list[dict]:
    """Per query, per level: the JA spatial map (h, w) and the self-attention each position receives (h, w),
    averaged over heads and over the attending positions. A stream the model lacks gives no entry."""
    from ..features import query_loader

    dev = next(model.parameters()).device
    out = []
    for imgs, texts in query_loader(dataset, queries, vocab, cfg, batch_size):
        _, attns = model.encode_query(imgs.to(dev), texts.to(dev), return_attention=True)
        per = [dict() for _ in range(imgs.shape[0])]
        for lv, a in zip(model.levels, attns):
            if "spatial" in a:
                for d, m in zip(per, a["spatial"][:, 0].cpu().numpy()):  # (B, h, w)
                    d.setdefault("spatial", {})[lv] = m
            if "self" in a:
                s = a["self"].mean(dim=(1, 2))  # (B, heads, hw, hw) -> (B, hw): attention received per position
                h, w = a["spatial"].shape[-2:] if "spatial" in a else (int(s.shape[1] ** 0.5),) * 2
                for d, m in zip(per, s.view(-1, h, w).cpu().numpy()):
                    d.setdefault("self", {})[lv] = m
        out += per
    return out


def unique_queries(dataset, protocol: str) -> list:
    """The test queries of every split of ``protocol``, each (reference, text, target) once."""
    seen, out = set(), []
    for split in dataset.eval_splits(protocol):
        for q in split.queries:
            if (q.reference, q.text, q.target) not in seen:
                seen.add((q.reference, q.text, q.target))
                out.append(q)
    return out


def pick_attention_examples(queries, masks, n: int = 4) -> list[int]:
    """Indices of ``n`` queries to draw, one per reference image: with a known changed region, spread from the
    smallest region (a local attribute) to the largest (a global one); without regions, the first ones."""
    known = sorted((i for i, m in enumerate(masks) if m is not None), key=lambda i: (float(masks[i].mean()), i))
    pool, seen = [], set()
    for i in known or range(len(queries)):
        if queries[i].reference not in seen:
            seen.add(queries[i].reference)
            pool.append(i)
    if not known or len(pool) <= n:
        return pool[:n]
    return [pool[j] for j in np.linspace(0, len(pool) - 1, n).round().astype(int)]


def attention_rows(dataset, queries, maps, masks, size: int) -> list[dict]:
    """Rows for ``plotting.attention_grid``: the reference and target images at the model's input size (or the
    mask's), the maps upsampled to it."""
    from ..data.images import load_image

    rows = []
    for q, m, mask in zip(queries, maps, masks):
        hw = mask.shape if mask is not None else (size, size)
        image = np.asarray(load_image(dataset.image_path(q.reference)).resize(hw[::-1]))
        target = np.asarray(load_image(dataset.image_path(q.target)).resize(hw[::-1]))
        rows.append({"image": image, "target": target, "text": q.text, "region": mask,
                     **{kind: {lv: upsample(a, hw) for lv, a in m.get(kind, {}).items()}
                        for kind in ("spatial", "self")}})
    return rows


def upsample(m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of an (h, w) map to ``size`` (H, W)."""
    t = torch.nn.functional.interpolate(torch.as_tensor(m, dtype=torch.float32)[None, None], size=size,
                                        mode="bilinear", align_corners=False)
    return t[0, 0].numpy()


class ChangedRegions:
    """Where, in the reference image, the attributes a query's text changes live (synthetic extras only).

    ``pairs.json`` gives each query's changed attributes, ``parts.json`` the part each attribute lives on, and
    ``regions.npz`` each image's part mask. ``ChangedRegions.load(data_dir)`` returns None when the extras are absent
    (real data).
    """

    def __init__(self, extras: Path):
        parts = read_json(extras / "parts.json")
        self.parts, self.attribute_part = parts["parts"], parts["attribute_part"]
        self.pairs: dict = {}
        for p in read_json(extras / "pairs.json"):
            self.pairs.setdefault((p["reference"], p["target"], p["text"]), p["changed"])
            self.pairs.setdefault((p["reference"], p["target"]), p["changed"])
        self.regions = np.load(extras / "regions.npz")

    @classmethod
    def load(cls, data_dir: str | Path) -> "ChangedRegions | None":
        extras = Path(data_dir) / "extras"
        names = ("parts.json", "pairs.json", "regions.npz")
        return cls(extras) if all((extras / n).is_file() for n in names) else None

    def mask(self, reference: str, target: str, text: str) -> np.ndarray | None:
        """(H, W) bool mask of the changed attributes' parts in the reference image; None when unknown or empty."""
        changed = self.pairs.get((reference, target, text), self.pairs.get((reference, target)))
        key = reference.replace("/", "__")
        if not changed or key not in self.regions:
            return None
        part_map = self.regions[key]
        mask = np.zeros(part_map.shape, dtype=bool)
        for attr in changed:
            part = self.attribute_part.get(attr)
            if part == "foreground":
                mask |= part_map > 0
            elif part in self.parts:  # an attribute without a part of its own marks nothing
                mask |= part_map == self.parts.index(part)
        return mask if mask.any() else None

    def kind(self, reference: str, target: str, text: str) -> str | None:
        """"global" when a changed attribute covers the whole garment (colour, shade, texture, category), "local"
        when every changed attribute lives on one part of it (a sleeve, a heel), None when unknown."""
        changed = self.pairs.get((reference, target, text), self.pairs.get((reference, target)))
        parts = [self.attribute_part.get(a) for a in changed or ()]
        parts = [p for p in parts if p is not None]
        if not parts:
            return None
        return "global" if "foreground" in parts else "local"


def region_mass(maps: list[dict], masks: list[np.ndarray | None], levels) -> pd.DataFrame:
    """Per level: mean share of spatial-attention mass inside the changed region, mean area fraction of the region,
    and the number of queries with a non-empty region (the others are skipped)."""
    rows = {}
    for lv in levels:
        mass, area = [], []
        for m, mask in zip(maps, masks):
            if mask is None or lv not in m.get("spatial", {}):
                continue
            up = upsample(m["spatial"][lv], mask.shape)
            mass.append(float((up * mask).sum() / max(up.sum(), 1e-12)))
            area.append(float(mask.mean()))
        rows[lv] = {"attention_mass": np.mean(mass) if mass else np.nan,
                    "area_fraction": np.mean(area) if area else np.nan, "queries": len(mass)}
    return pd.DataFrame.from_dict(rows, orient="index")


def image_dependence(maps: list[dict], levels, kind: str = "spatial") -> pd.DataFrame:
    """How much a level's attention map depends on the query at all.

    Per level: ``map_correlation``, the mean Pearson correlation between the maps of two different queries
    (1 = every query gets the same map, whatever its image and text; 0 = maps unrelated across queries), and
    ``spread``, the mean across positions of the standard deviation over queries divided by the mean map value
    (0 = identical maps). Queries whose map is constant (no spatial variation) are counted in ``flat`` and left out
    of the correlation.
    """
    rows = {}
    for lv in levels:
        stack = np.stack([m[kind][lv].ravel() for m in maps if lv in m.get(kind, {})]) if maps else np.empty((0, 0))
        if len(stack) < 2:
            rows[lv] = {"map_correlation": np.nan, "spread": np.nan, "queries": len(stack), "flat": 0}
            continue
        centred = stack - stack.mean(axis=1, keepdims=True)
        norm = np.linalg.norm(centred, axis=1)
        ok = norm > 1e-9 * max(float(np.abs(stack).max()), 1e-12)
        z = centred[ok] / norm[ok, None]  # (n, hw), unit rows
        n = len(z)
        if n >= 2:
            s = z.sum(axis=0)
            corr = float((s @ s - n) / (n * (n - 1)))  # mean over ordered pairs i != j of z_i . z_j
        else:
            corr = np.nan
        spread = float(np.mean(stack.std(axis=0) / np.maximum(np.abs(stack.mean(axis=0)), 1e-12)))
        rows[lv] = {"map_correlation": corr, "spread": spread, "queries": len(stack), "flat": int((~ok).sum())}
    return pd.DataFrame.from_dict(rows, orient="index")


def region_summary(maps: list[dict], masks: list[np.ndarray | None], levels) -> pd.DataFrame:
    """:func:`region_mass` with ``ratio`` (mass inside the changed region over its area share: 1 = uniform, above
    1 = the map favours the changed region) and :func:`image_dependence`'s columns for the spatial maps."""
    table = region_mass(maps, masks, levels)
    table["ratio"] = table["attention_mass"] / table["area_fraction"]
    return table.join(image_dependence(maps, levels)[["map_correlation", "spread"]])


def attention_along_training(run_dir: str | Path, dataset, queries, masks, vocab, cfg,
                             device: str | torch.device = "cpu") -> pd.DataFrame:
    """:func:`region_summary` for each snapshot a run kept (``ckpt_<step>.pt``, EMA weights) and for its final
    weights: one row per (step, level)."""
    from ..models import build_model
    from ..checkpoint import load_checkpoint

    run_dir = Path(run_dir)
    snapshots = sorted((int(p.stem.split("_")[1]), p) for p in run_dir.glob("ckpt_*.pt"))
    final = load_checkpoint(run_dir / "final.pt", map_location="cpu")
    snapshots = [(s, p) for s, p in snapshots if s < int(final["step"])] + [(int(final["step"]), run_dir / "final.pt")]
    model = build_model(cfg.model, len(vocab)).to(device).eval()
    frames = []
    for step, path in snapshots:
        state = final if path.name == "final.pt" else load_checkpoint(path, map_location="cpu")
        model.load_state_dict(state["ema"], strict=True)
        table = region_summary(attention_maps(model, dataset, queries, vocab, cfg), masks, model.levels)
        frames.append(table.assign(step=step).rename_axis("level").reset_index())
    return pd.concat(frames, ignore_index=True)
