"""Every attention measure of one trained run: ``python -m valstudy attention --run RUN_DIR [--json]``.

:func:`measure_run` loads a run's final EMA weights and returns one JSON-serialisable dict: per level, the JA
spatial gate's region measures beside their references (``attention_measures``), its text and image sensitivity,
the self-attention stream's region measures, and R@10 under each test-time intervention (``interventions``) minus
R@10; the stream weights along the kept snapshots; the positive control. On real data (no changed regions) the
region measures are None and the rest is measured. Deterministic: the map measures use a fixed-seed sample of the
test queries (its size is recorded); R@10 always ranks every query of the protocol.
"""
from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from ..errors import ValstudyError
from .attention import ChangedRegions, unique_queries
from .attention_gates import collect_gates, snapshots, stream_weights, swapped_sensitivity
from .attention_measures import (log_ratio, mean_pairwise_correlation, measure_maps, pool_masks, positive_control,
    region_keys, region_ratios)
from .common import _plain  # JSON-able: numpy scalars to Python, NaN to None
from .interventions import RecallProbe, mean_channel_gate, mean_spatial_gate, recall_under, zero_self_attention

MAX_QUERIES = 600  # map measures on at most this many test queries (a fixed-seed sample); R@10 on all of them
SENSITIVITY_QUERIES = 150  # queries whose caption and image are swapped for the sensitivities
SWAPS = 2  # other captions (and other images) per such query
SA_KEYS = ("sa_received_ratio", "sa_received_ratio_null", "sa_received_residual_mask_corr", "sa_from_region_ratio",
           "sa_from_outside_ratio")
DELTA_KEYS = ("delta_r10_mean_gate", "delta_r10_mean_channel", "delta_r10_sa_zero")


def run_name(run_dir: Path, dataset: str) -> str:
    """``<dataset>/<variant>/seed<k>`` for a study run folder (its name under the runs root), else the folder's
    name: never an absolute path."""
    parts = run_dir.resolve().parts
    return "/".join(parts[-3:]) if len(parts) >= 3 and parts[-3] == dataset else run_dir.name


def _load(run_dir: Path, device: str, config=None):
    from ..evaluation import load_run

    for name in ("config.json", "vocab.json", "final.pt"):
        if not (run_dir / name).is_file():
            raise ValstudyError(f"{run_dir / name}: missing; pass a finished run's folder (it holds config.json, "
                                f"vocab.json and final.pt)")
    model, dataset, vocab, cfg = load_run(run_dir, device=device, config=config)
    if not hasattr(model, "transformers"):
        raise ValstudyError(f"{run_dir / 'config.json'}: a {cfg.model.method} run has no composite transformers; "
                            f"attention is measured on VAL and its ablations")
    return model, dataset, vocab, cfg


def _sample(n: int, k: int | None, seed: int) -> list[int]:
    """Indices of a fixed-seed sample of k of n (all of them, in order, when k is None or >= n)."""
    if k is None or k >= n:
        return list(range(n))
    return sorted(np.random.default_rng(seed).choice(n, size=k, replace=False).tolist())


def region_measures(gates: dict, masks: list, kinds: list, seed: int = 0) -> dict:
    """Per level: the JA spatial gate's :func:`measure_maps` (and its ``map_correlation``), and the SA stream's
    region measures (``SA_KEYS``), from :func:`collect_gates` of queries whose masks (or None) and kinds are
    given. Queries without a mask are left out of the region measures but kept in the query-averaged map."""
    with_mask = [i for i, m in enumerate(masks) if m is not None]
    stack = np.stack([masks[i] for i in with_mask]) if with_mask else None
    out = {}
    for lv, g in gates.items():
        row = dict.fromkeys(region_keys())
        row.update(n=0, map_correlation=None, **dict.fromkeys(SA_KEYS))
        if "spatial" in g:
            row["map_correlation"] = mean_pairwise_correlation(g["spatial"])
            if with_mask:
                row.update(measure_maps(g["spatial"][with_mask], stack, [kinds[i] for i in with_mask],
                                        prior=g["spatial"].mean(0), seed=seed))
        if "sa_received" in g and with_mask:
            received = measure_maps(g["sa_received"][with_mask], stack, prior=g["sa_received"].mean(0), seed=seed)
            row.update(sa_received_ratio=received["ratio"], sa_received_ratio_null=received["ratio_null"],
                       sa_received_residual_mask_corr=received["residual_mask_corr"])
            cells = pool_masks(stack, g["sa_received"].shape[1:])
            for name in ("sa_from_region", "sa_from_outside"):
                ratio = region_ratios(g[name][with_mask], cells)[0]
                ratio = ratio[np.isfinite(ratio)]  # rows outside the region: none when it covers the whole grid
                row[f"{name}_ratio"] = float(np.exp(log_ratio(ratio).mean())) if len(ratio) else None
        out[lv] = row
    return out


def measured_queries(dataset, cfg, max_queries: int | None, seed: int):
    """(protocol, its unique test queries, the measured sample, their masks (or None), their kinds (or None),
    whether the data has changed regions at all)."""
    from ..evaluation import protocols_of

    protocol = protocols_of(dataset, cfg)[0]  # the run's main protocol: results.json's first
    every = unique_queries(dataset, protocol)
    queries = [every[i] for i in _sample(len(every), max_queries, seed)]
    regions = ChangedRegions.load(cfg.data.root)
    masks = [regions.mask(q.reference, q.target, q.text) if regions else None for q in queries]
    kinds = [regions.kind(q.reference, q.target, q.text) if m is not None else None for q, m in zip(queries, masks)]
    return protocol, every, queries, masks, kinds, regions is not None


def interventions(model, dataset, vocab, cfg, protocol: str, gates: dict) -> tuple[float, dict, float | None]:
    """(R@10, per level the ``DELTA_KEYS``, the delta with every level's spatial gate at its mean): each
    intervention's R@10 minus the unmodified R@10, on every query of ``protocol``; the mean gates are the means
    of ``gates`` (:func:`collect_gates`) over its queries."""
    probe = RecallProbe(model, dataset, vocab, cfg, protocol)
    r10 = probe.baseline
    deltas = {}
    for lv, g in gates.items():
        t = model.transformers[lv]
        row = dict.fromkeys(DELTA_KEYS)
        if t.ja is not None:
            row["delta_r10_mean_gate"] = recall_under(probe, mean_spatial_gate(model, lv, g["spatial"].mean(0)),
                                                      [lv]) - r10
            row["delta_r10_mean_channel"] = recall_under(probe, mean_channel_gate(model, lv, g["channel"].mean(0)),
                                                         [lv]) - r10
        if t.sa is not None:
            row["delta_r10_sa_zero"] = recall_under(probe, zero_self_attention(model, lv), [lv]) - r10
        deltas[lv] = row
    every = None
    if all(model.transformers[lv].ja is not None for lv in gates):
        with contextlib.ExitStack() as stack:
            for lv, g in gates.items():
                stack.enter_context(mean_spatial_gate(model, lv, g["spatial"].mean(0)))
            every = probe.r10() - r10
    return r10, deltas, every


def measure_run(run_dir: str | Path, device: str = "cpu", max_queries: int | None = MAX_QUERIES,
                seed: int = 0) -> dict:
    """Every attention measure of a finished VAL run (or an ablation of it), as a JSON-serialisable dict.

    Parameters
    ----------
    run_dir : path
        A run folder holding config.json, vocab.json and final.pt (and any ``ckpt_<step>.pt`` snapshots).
    device : str
        Where the model runs ("cpu", "cuda", "auto").
    max_queries : int or None
        The map measures use at most this many of the protocol's unique test queries (a sample with ``seed``);
        None: all. R@10 and the interventions always rank every query.
    seed : int
        Seed of the query sample, the shuffled-mask null and the caption / image swaps.

    Returns
    -------
    dict with ``run``, ``dataset``, ``method``, ``seed``, ``step``, ``protocol``, ``r10``, ``queries``,
    ``regions``, ``levels`` (per level: the region measures, ``text_sensitivity``, ``image_sensitivity``, the SA
    measures, ``delta_r10_mean_gate``, ``delta_r10_mean_channel``, ``delta_r10_sa_zero``, final ``w_ja``,
    ``w_sa``), ``delta_r10_all_mean_gates``, ``stream_weights`` and ``positive_control``.
    """
    run_dir = Path(run_dir)
    model, dataset, vocab, cfg = _load(run_dir, device)
    protocol, every, queries, masks, kinds, has_regions = measured_queries(dataset, cfg, max_queries, seed)
    gates = collect_gates(model, dataset, queries, vocab, cfg, masks)
    levels = region_measures(gates, masks, kinds, seed)
    pick = _sample(len(queries), SENSITIVITY_QUERIES, seed + 1)
    sens = swapped_sensitivity(model, dataset, [queries[i] for i in pick], vocab, cfg,
                               {lv: {k: v[pick] for k, v in g.items()} for lv, g in gates.items()}, SWAPS, seed)
    r10, deltas, all_gates = interventions(model, dataset, vocab, cfg, protocol, gates)
    weights = stream_weights(run_dir, model.levels)
    control = None
    with_mask = [i for i, m in enumerate(masks) if m is not None]
    if with_mask:
        stack = np.stack([masks[i] for i in with_mask])
        control = {lv: positive_control(g["spatial"].mean(0), stack, [kinds[i] for i in with_mask], seed=seed)
                   for lv, g in gates.items() if "spatial" in g}
    for lv in model.levels:
        levels[lv].update(sens[lv], **deltas[lv], w_ja=weights[lv]["w_ja"][-1], w_sa=weights[lv]["w_sa"][-1])
    return _plain({
        "run": run_name(run_dir, cfg.data.dataset), "dataset": cfg.data.dataset, "method": cfg.model.method,
        "seed": cfg.seed, "step": snapshots(run_dir)[-1][0], "protocol": protocol, "r10": r10,
        "queries": {"test": len(every), "ranked": sum(len(s.queries) for s in dataset.eval_splits(protocol)),
                    "measured": len(queries), "with_region": len(with_mask),
                    "local": kinds.count("local"), "global": kinds.count("global"),
                    "sensitivity": len(pick), "sample_seed": seed},
        "regions": has_regions, "levels": levels, "delta_r10_all_mean_gates": all_gates,
        "stream_weights": weights, "positive_control": control})


def format_summary(result: dict) -> str:
    """A readable summary of :func:`measure_run`'s dict (``python -m valstudy attention`` without --json)."""
    def f(v, spec=".2f"):
        return "-" if v is None else format(v, spec)

    q = result["queries"]
    lines = [f"{result['run']} ({result['method']}, seed {result['seed']}, step {result['step']}): protocol "
             f"{result['protocol']}, R@10 {result['r10']:.2f} on all {q['ranked']} queries; maps of {q['measured']} "
             f"({q['with_region']} with a changed region: {q['local']} local, {q['global']} global)"]
    if not result["regions"]:
        lines.append("  no changed regions on this data (real data): region measures are None")
    lines.append("  level  ratio (null shuffled | mask grid)   resid.corr  AUC    text/image sens.   "
                 "dR@10 gate chan SA0   w_ja   w_sa")
    for lv, r in result["levels"].items():
        lines.append(
            f"  {lv:<5}  {f(r['ratio'])} ({f(r['ratio_null'])} {f(r['ratio_shuffled'])} | {f(r['ratio_mask'])} "
            f"{f(r['ratio_mask_grid'])})   {f(r['residual_mask_corr'], '+.2f')}       {f(r['residual_mask_auc'])}   "
            f"{f(r['text_sensitivity'], '.3f')}/{f(r['image_sensitivity'], '.3f')}        "
            f"{f(r['delta_r10_mean_gate'], '+.1f')} {f(r['delta_r10_mean_channel'], '+.1f')} "
            f"{f(r['delta_r10_sa_zero'], '+.1f')}   {f(r['w_ja'])}  {f(r['w_sa'])}")
    if result.get("delta_r10_all_mean_gates") is not None:
        lines.append(f"  every level's spatial gate at its mean: dR@10 {result['delta_r10_all_mean_gates']:+.1f}")
    return "\n".join(lines)


def measures_along_training(run_dir: str | Path, device: str = "cpu", max_queries: int | None = MAX_QUERIES,
                            seed: int = 0) -> list[dict]:
    """:func:`region_measures` (no sensitivity, no intervention) at every kept snapshot and at the end: one row per
    (step, level) with ``step``, ``level``, the region measures, ``w_ja`` and ``w_sa``."""
    from ..checkpoint import load_checkpoint

    run_dir = Path(run_dir)
    model, dataset, vocab, cfg = _load(run_dir, device)
    _, _, queries, masks, kinds, _ = measured_queries(dataset, cfg, max_queries, seed)
    rows = []
    for step, path in snapshots(run_dir):
        state = load_checkpoint(path, map_location="cpu")["ema"]
        model.load_state_dict(state, strict=True)
        for lv, r in region_measures(collect_gates(model, dataset, queries, vocab, cfg, masks), masks, kinds,
                                     seed).items():
            t = model.transformers[lv]
            rows.append({"step": step, "level": lv, **r,
                         "w_ja": None if t.w_ja is None else float(t.w_ja.detach()),
                         "w_sa": None if t.w_sa is None else float(t.w_sa.detach())})
    return _plain(rows)


def attention_records(run_dirs, device: str = "cpu", max_queries: int | None = MAX_QUERIES) -> list[dict]:
    """:func:`measure_run` of each run folder (one per random seed): the records every number over seeds comes from.

    The study stores these in each VAL run's record (``measures["attention"]``), which the chapter reads."""
    return [measure_run(d, device=device, max_queries=max_queries) for d in run_dirs]


def attention_examples(run_dir: str | Path, n: int = 4, strength: float = 0.25, device: str = "cpu",
                       max_queries: int | None = MAX_QUERIES, seed: int = 0, config=None) -> dict:
    """What ``plotting.attention_grid`` draws for one run: ``n`` queries (one per reference image, from the smallest
    changed region to the largest; the first ones without regions) with their gates and received self-attention on
    the maps' own grids, and the query-averaged maps (``priors``) of the same sample :func:`measure_run` measures.

    With regions, also the positive control drawn the same way: ``control_rows`` / ``control_priors`` hold the
    blend of each query's region and the prior at ``strength`` (``attention_measures.blend``) and its mean.
    ``config``: the run's resolved configuration, for committed weights (``Study.model_config``).
    Returns ``rows``, ``priors``, ``control_rows``, ``control_priors`` (None without regions), ``levels``,
    ``queries`` (the shown queries' reference and text).
    """
    from ..data.images import load_image
    from .attention import pick_attention_examples
    from .attention_measures import blend

    run_dir = Path(run_dir)
    model, dataset, vocab, cfg = _load(run_dir, device, config)
    _, _, queries, masks, _, _ = measured_queries(dataset, cfg, max_queries, seed)
    gates = collect_gates(model, dataset, queries, vocab, cfg, masks)
    kinds = [k for k in ("spatial", "sa_received") if any(k in g for g in gates.values())]
    priors = {k: {lv: g[k].mean(0) for lv, g in gates.items() if k in g} for k in kinds}
    shown = pick_attention_examples(queries, masks, n)
    size = (cfg.data.image_size,) * 2
    rows = []
    for i in shown:
        q, mask = queries[i], masks[i]
        hw = mask.shape if mask is not None else size
        rows.append({"image": np.asarray(load_image(dataset.image_path(q.reference)).resize(hw[::-1])),
                     "target": np.asarray(load_image(dataset.image_path(q.target)).resize(hw[::-1])),
                     "text": q.text, "region": mask,
                     **{k: {lv: g[k][i] for lv, g in gates.items() if k in g} for k in kinds}})
    control_rows = control_priors = None
    with_mask = [i for i, m in enumerate(masks) if m is not None]
    if with_mask and "spatial" in priors:
        stack = np.stack([masks[i] for i in with_mask])
        blends = {lv: blend(p, stack, strength) for lv, p in priors["spatial"].items()}
        control_priors = {"spatial": {lv: b.mean(0) for lv, b in blends.items()}}
        control_rows = [{**r, "spatial": {lv: blend(p, masks[i][None], strength)[0]
                                          for lv, p in priors["spatial"].items()}}
                        for i, r in zip(shown, rows) if masks[i] is not None]
    return {"rows": rows, "priors": priors, "control_rows": control_rows, "control_priors": control_priors,
            "levels": list(model.levels), "queries": [{"reference": queries[i].reference, "text": queries[i].text}
                                                      for i in shown]}
