"""Computational costs: the FLOPs summary and retrieval time against gallery size."""
from __future__ import annotations

import math
import time

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..io import read_json, write_json


def flops_summary() -> tuple[dict, pd.DataFrame]:
    """(``valstudy.flops.flops_report()``, its rows as a table, the supplementary's claims beside the rows)."""
    from ..flops import flops_report

    report = flops_report()
    t = pd.DataFrame([{k: r[k] for k in ("name", "input", "macs")} for r in report["rows"]])
    claim = {"composite transformers, 3 levels (paper shapes)": report["paper"]["composite_transformers"],
             "ResNet-50 (torchvision)": report["paper"]["resnet50"]}
    t["the supplementary's claim"] = [claim.get(n, np.nan) if (n != "ResNet-50 (torchvision)" or i.startswith("224"))
                                 else np.nan for n, i in zip(t["name"], t["input"])]
    return report, t


def flops_bars_data(report: dict) -> tuple[dict[str, float], dict[str, float]]:
    """(measured, claimed) MACs for the bars: the three composite transformers and ResNet-50 at 224 px."""
    by = {(r["name"], r["input"]): r["macs"] for r in report["rows"]}
    measured = {"composite transformers (3 levels, paper shapes)":
                by[("composite transformers, 3 levels (paper shapes)", "sum of the above")],
                "ResNet-50 (torchvision, 224 px)": by[("ResNet-50 (torchvision)", "224x224x3")]}
    paper = {"composite transformers (3 levels, paper shapes)": report["paper"]["composite_transformers"],
             "ResNet-50 (torchvision, 224 px)": report["paper"]["resnet50"]}
    return measured, paper


def time_retrieval(sizes=(1_000, 2_000, 4_000, 8_000, 16_000, 32_000), queries: int = 256, dim: int = 512,
                   k: int = 50, device: str = "cpu", repeats: int = 3, seed: int = 0) -> pd.DataFrame:
    """Seconds for ``retrieval.topk`` of a fixed query set against galleries of each size (best of ``repeats``)."""
    from ..retrieval import topk

    dev = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    q = torch.nn.functional.normalize(torch.randn(queries, dim, generator=g), dim=1).to(dev)
    gallery = torch.nn.functional.normalize(torch.randn(max(sizes), dim, generator=g), dim=1).to(dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    topk(q, gallery[: min(sizes)], k)  # warm-up
    rows = []
    for n in sizes:
        best = math.inf
        for _ in range(repeats):
            sync()
            t0 = time.perf_counter()
            topk(q, gallery[:n], k)
            sync()
            best = min(best, time.perf_counter() - t0)
        rows.append({"device": dev.type, "gallery": n, "queries": queries, "dim": dim, "seconds": best})
    return pd.DataFrame(rows)


def retrieval_timings(records: str | Path, queries: int, dim: int, max_gallery: int, retime: bool = False,
                      repeats: int = 7) -> pd.DataFrame:
    """Retrieval timings (:func:`time_retrieval`, one thread, on CPU and on the GPU when there is one) from the
    record ``<records>/costs_retrieval.json``; measured here and recorded when ``retime``, when there is no record,
    or when the record timed other settings. ``attrs["machine"]`` names the machine that timed them."""
    from ..checkpoint import machine

    path = Path(records) / "costs_retrieval.json"
    settings = {"queries": queries, "dim": dim, "max_gallery": max_gallery}
    rec = read_json(path) if path.is_file() else None
    if retime or rec is None or rec.get("settings") != settings:
        sizes = [n for n in (1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000) if n <= max_gallery]
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the timing runs on one core, whatever else the machine is doing
        try:
            times = pd.concat([time_retrieval(sizes, queries, dim, device=d, repeats=repeats) for d in devices])
        finally:
            torch.set_num_threads(threads)
        m = machine()
        rec = {"settings": settings, "machine": f"{m['cpu']} ({m['cores']} cores)" + (f", {m['gpu']}" if m["gpu"]
                                                                                     else ""),
               "rows": times.to_dict("records")}
        write_json(path, rec)
    out = pd.DataFrame(rec["rows"])
    out.attrs["machine"] = rec["machine"]
    return out


def loglog_fit(times: pd.DataFrame, min_gallery: int = 0) -> dict[str, tuple[float, float]]:
    """Per device, (slope, intercept) of the least-squares line log10(seconds) = slope * log10(N) + intercept, over
    the galleries of at least ``min_gallery`` items (small ones are dominated by per-query work independent of N)."""
    fits = {}
    for dev, part in times[times["gallery"] >= min_gallery].groupby("device"):
        slope, icpt = np.polyfit(np.log10(part["gallery"].to_numpy(float)), np.log10(part["seconds"]), 1)
        fits[dev] = (float(slope), float(icpt))
    return fits
