# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Computational costs
#
# **The paper's question** (the supplementary, Section 1, "Computational costs"): how much does VAL add at test
# time? The supplementary claims that the three composite transformers cost $8.10 \times 10^{7}$ FLOPs against
# ResNet-50's $3.80 \times 10^{9}$ (+2.13%), and that matching and ranking cost $O(QN)$ and $O(QN \log N)$ for $Q$
# queries and a gallery of $N$ images.
#
# ## 1. Counting the composite transformers
#
# At a level with an $h \times w \times c$ map and a 512-d text, a 1×1 convolution from $c_{in}$ to $c_{out}$ channels
# costs $h w\, c_{in} c_{out}$ multiply-accumulates (MACs) *at every position*; self-attention adds $2 (hw)^2 c$
# for the two products $QK^\top$ and $\alpha V$. Per level, roughly
#
# $$\underbrace{hw\,(c + 512)\,c}_{\mathcal{F}_c} + \underbrace{3\,hw\,c^2/2}_{\mathcal{F}_Q, \mathcal{F}_K,
# \mathcal{F}_V} + \underbrace{2\,(hw)^2 c}_{\text{attention}} + \underbrace{hw\,c^2}_{\mathcal{F}_{sa}} +
# \underbrace{c^2}_{\mathcal{F}_{ch}} + \underbrace{(hw)^2}_{\mathcal{F}_{sp}}.$$
#
# The notebook does not type this in: it runs the model's own modules at the paper's shapes (16×16×512,
# 8×8×1024, 8×8×2048) under `torch.utils.flop_counter` (`valstudy.flops`). The arithmetic, term by term, and the
# count that reproduces the supplementary's $8.10 \times 10^{7}$ are in [docs/flops.md](../docs/flops.md).

# %% tags=["parameters"]
RETIME: bool = False    # True: time retrieval on this machine and rewrite the committed timings (make study does)
QUERIES: int = 256      # fixed query set timed against each gallery size
DIM: int = 2048         # feature dimension of the random features timed
MAX_GALLERY: int = 32000  # largest gallery size N (sizes double from 1,000 up to it)

# %%
from valstudy import analysis, format_flops, plotting, prepare
study = prepare("costs")

# %% [markdown]
# ## 2. Measured multiply-accumulates
#
# **What to look for:** the measured bar of the composite transformers against the supplementary's; and both
# against ResNet-50 at 224 px (torchvision's, counted the same way).

# %%
report, flops = analysis.flops_summary()
flops.to_csv(study.figures_dir / "costs_all_flops.csv", index=False)
print(format_flops(report))
measured, paper = analysis.flops_bars_data(report)
study.save(plotting.flops_bars(measured, paper, "composite transformers and ResNet-50: measured MACs vs the paper"),
           "flops", "Measured multiply-accumulates of the composite transformers and ResNet-50 beside the paper's")

# %% [markdown]
# ## 3. Retrieval time against the gallery size
#
# Exact top-50 retrieval (`valstudy.retrieval.topk`) for a fixed query set against galleries of doubling size, on
# CPU (one thread) and on the GPU when there is one, best of several timings. Matching is $O(QN)$, so on log-log axes
# time against $N$ should approach a line of slope 1. **What to look for:** the slope of the fitted line; below a few
# thousand images the per-query work that does not grow with $N$ (merging top-k lists, re-ranking near-ties) flattens
# the curve, so the fit uses $N \ge 8{,}000$. Timings depend on the machine, so they are measured once by
# `make study` (`RETIME = True`) and kept as a record (`records/<profile>/costs_retrieval.json`, with the machine
# that made them); this figure is drawn from it.

# %%
times = analysis.retrieval_timings(study.paths.records, QUERIES, DIM, MAX_GALLERY, retime=RETIME,
                                   repeats=3 if study.profile.banner else 7)
print(f"timed on {times.attrs['machine']}")
fits = analysis.loglog_fit(times)
fits_large = analysis.loglog_fit(times, min_gallery=8000)
study.save(plotting.timing_loglog(times, fits_large, f"exact top-50 retrieval, Q = {QUERIES} queries of dimension "
                                                   f"{DIM}", fit_label="fit over N >= 8,000"), "retrieval",
           "Retrieval time against gallery size on log-log axes, with the fitted slope")
times

# %% [markdown]
# ### Finding
#
# Generated from the measurements above:

# %%
r = report["ratios"]
print(f"- measured: the three composite transformers cost {r['composite_transformers_over_paper_8.10e7']:.1f} times "
      f"the supplementary's 8.10e7, an extra {100 * r['extra_cost_vs_resnet50_224']:.0f}% of ResNet-50 at 224 px "
      f"(the supplementary: +{100 * r['paper_extra_cost']:.2f}%)")
for d in fits:
    print(f"- {d}: log-log slope {fits[d][0]:.2f} over every N, {fits_large[d][0]:.2f} over N >= 8,000 "
          f"(1 = time proportional to the gallery size)")

# %% [markdown]
# ## Record

# %%
_ = study.record({
    "flops_unit": report["unit"], "flops_rows": report["rows"], "flops_ratios": report["ratios"],
    "paper": report["paper"], "timing": times.to_dict("records"),
    "loglog_slope": {d: s for d, (s, _) in fits.items()},
    "loglog_slope_n_ge_8000": {d: s for d, (s, _) in fits_large.items()},
    "devices": list(dict.fromkeys(times["device"]))})
