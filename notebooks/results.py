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
# # Results: VAL against the baselines
#
# Mean and standard deviation over the seeds of every method trained by the study (TIRG, concat, image-only,
# text-only as the profile lists them), under every protocol of the dataset (FashionIQ: VAL's and the official one).
# Datasets with categories get an `average` row (the mean over categories); each row's `mean R@K` is the mean of its
# R@K values, so FashionIQ's `average` row gives the paper's headline number (the mean of the six R@10/R@50 values).
# The paper's published numbers follow in a **separate table: real data, cited from VAL.md section 6**; they are not
# comparable to numbers on synthetic data.

# %% tags=["parameters"]
DATASET: str = "shoes"              # fashion200k | shoes | fashioniq
PROFILE: str = "smoke"              # smoke (tiny data, seconds) | synthetic (the CPU study) | real (paper settings, GPU)
DATA_ROOT: str = ""                 # data folder; "" = the profile's (smoke: build/smoke/data, synthetic: data)
RUNS_ROOT: str = ""                 # run folders; "" = the profile's (build/smoke/runs, runs/synthetic, runs/real)
FIGURES_DIR: str = ""               # figures and tables; "" = the profile's (build/smoke/figures, figures/)

# %%
NOTEBOOK = "results"
from valstudy import analysis, plotting
from valstudy.study import prepare

study = prepare(DATASET, PROFILE, DATA_ROOT, RUNS_ROOT, FIGURES_DIR)  # data and runs, reused when present
FIG = study.figures_dir
figures = []  # every figure this notebook writes, recorded at the end


def save(fig, subset):
    path = plotting.save_figure(fig, FIG, f"{NOTEBOOK}_{DATASET}_{subset}")
    figures.append(path.name)
    plotting.show(path)


# %%
df = study.results()
methods = df[df["experiment"] == "methods"]
summary = analysis.summary_table(methods)
summary.to_csv(FIG / f"results_{DATASET}.csv")
print(f"this study ({PROFILE} profile): mean and std over seeds")
summary.round(2)

# %%
paper = analysis.paper_table(DATASET)
paper.to_csv(FIG / f"results_{DATASET}_paper.csv")
print("paper, real data, cited (VAL.md section 6); FashionIQ numbers follow VAL's protocol")
paper

# %%
protocols = list(dict.fromkeys(methods["protocol"]))
for protocol in protocols:
    bars, metrics = analysis.protocol_bars(summary, protocol)
    seeds = int(summary["seeds"].max())
    spread = f"mean and std over {seeds} seeds" if seeds > 1 else "1 seed"
    save(plotting.recall_bars(bars, metrics, f"{DATASET}, protocol '{protocol}' ({PROFILE} profile, {spread})"),
         protocol)

# %%
analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "protocols": protocols,
    "methods": list(dict.fromkeys(summary.index.get_level_values("method"))),
    "table": summary.reset_index().to_dict("records"), "paper": paper.reset_index().to_dict("records"),
    "figures": figures})
