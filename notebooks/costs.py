# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Computational costs
#
# The multiply-accumulates of the composite transformers and the backbones, counted with `FlopCounterMode` by
# `valstudy.flops`, beside the seed's claim (8.10e7 against ResNet-50's 3.80e9, +2.13%; VAL.md section 7 explains the
# gap); then exact retrieval time (`valstudy.retrieval.topk`) for a fixed query set against galleries of N = 1k..32k,
# on CPU and on the GPU when there is one: matching costs O(QN), so the log-log slope should approach 1. Not per
# dataset: the notebook takes no DATASET.

# %% tags=["parameters"]
PROFILE: str = "smoke"              # smoke (seconds) | synthetic | real: only sets how long the timing runs
FIGURES_DIR: str = "build/smoke/figures"  # where figures and tables go (make study passes figures/)
QUERIES: int = 256                  # fixed query set timed against each gallery size
DIM: int = 2048                     # feature dimension of the random features timed
MAX_GALLERY: int = 32000            # largest gallery size N (sizes double from 1,000 up to it)

# %%
from pathlib import Path

import pandas as pd
import torch

from valstudy import analysis, plotting
from valstudy.flops import format_flops
from valstudy.study import REPO

NOTEBOOK, DATASET = "costs", "all"
FIG = Path(FIGURES_DIR) if Path(FIGURES_DIR).is_absolute() else REPO / FIGURES_DIR
FIG.mkdir(parents=True, exist_ok=True)
figures = []
REPEATS = 3 if PROFILE == "smoke" else 7  # best of REPEATS timings per size
SIZES = [n for n in (1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000) if n <= MAX_GALLERY]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
torch.set_num_threads(1)  # the timing runs on one core, whatever else the machine is doing


def save(fig, subset):
    path = plotting.save_figure(fig, FIG, f"{NOTEBOOK}_{DATASET}_{subset}")
    figures.append(path.name)
    plotting.show(path)


# %%
report, flops = analysis.flops_summary()
flops.to_csv(FIG / "costs_all_flops.csv", index=False)
print(format_flops(report))
measured, paper = analysis.flops_bars_data(report)
save(plotting.flops_bars(measured, paper, "composite transformers and ResNet-50: measured MACs vs the seed"),
     "flops")

# %%
times = pd.concat([analysis.time_retrieval(SIZES, QUERIES, DIM, device=d, repeats=REPEATS)
                   for d in DEVICES])
fits = analysis.loglog_fit(times)
# Below a few thousand images the per-query work that does not grow with N (top-k merging, exact re-ranking of
# near-ties) is a large share of the time; the slope over N >= 8,000 shows the O(QN) matching term.
fits_large = analysis.loglog_fit(times, min_gallery=8000)
print({d: f"slope {fits[d][0]:.2f} over all N, {fits_large[d][0]:.2f} over N >= 8,000" for d in fits})
save(plotting.timing_loglog(times, fits_large, f"exact top-50 retrieval, Q = {QUERIES} queries of dimension {DIM}",
                            fit_label="fit over N >= 8,000"), "retrieval")
times

# %%
analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "flops_unit": report["unit"], "flops_rows": report["rows"], "flops_ratios": report["ratios"],
    "paper": report["paper"], "timing": times.to_dict("records"),
    "loglog_slope": {d: s for d, (s, _) in fits.items()},
    "loglog_slope_n_ge_8000": {d: s for d, (s, _) in fits_large.items()}, "devices": DEVICES, "figures": figures})
