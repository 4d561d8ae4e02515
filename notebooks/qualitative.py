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
# # Qualitative results
#
# Successes and failures like the seed's Figs. 5-6: the reference in a blue box, the user text, the top-K retrieved
# images with the correct one in a green box, and the rank at which the first correct image appears. VAL seed 0,
# EMA weights, the dataset's first protocol (every category).

# %% tags=["parameters"]
DATASET: str = "shoes"              # fashion200k | shoes | fashioniq
PROFILE: str = "smoke"              # smoke (tiny data, seconds) | synthetic (the CPU study) | real (paper settings, GPU)
DATA_ROOT: str = ""                 # data folder; "" = the profile's (smoke: build/smoke/data, synthetic: data)
RUNS_ROOT: str = ""                 # run folders; "" = the profile's (build/smoke/runs, runs/synthetic, runs/real)
FIGURES_DIR: str = ""               # figures and tables; "" = the profile's (build/smoke/figures, figures/)

# %%
K = 5  # retrieved images shown per query
NOTEBOOK = "qualitative"
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
from statistics import median

ranked = analysis.rank_queries(study.run_dir(f"{DATASET}/val/seed0"), k=K)
ds, rows = ranked["dataset"], ranked["rows"]
successes, failures = analysis.pick_examples(rows, n=4)
ks = ranked["ks"]
print(f"{len(rows)} queries; median rank of the first correct image: {median([r['rank'] for r in rows]):.0f}")
analysis.recall_from_ranks([r["rank"] for r in rows], ks)

# %%
title = f"{DATASET}: VAL top-{K}, {{}} ({PROFILE} profile)"
save(plotting.retrieval_grid(analysis.with_images(ds, successes), title.format("best-ranked queries")), "success")
save(plotting.retrieval_grid(analysis.with_images(ds, failures), title.format("worst-ranked queries")), "failure")

# %%
from valstudy.io import read_json

results = read_json(study.run_dir(f"{DATASET}/val/seed0") / "results.json")
analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "protocol": ranked["protocol"], "queries": len(rows),
    "recall_from_ranks": {name: analysis.recall_from_ranks([r["rank"] for r in rows if r["split"] == name], ks)
                          for name in ranked["splits"]},
    "recall_results_json": {s["name"]: {k: v for k, v in s.items() if k.startswith("R@")}
                            for s in results["splits"] if s["protocol"] == ranked["protocol"]},
    "success": [{k: r[k] for k in ("reference", "text", "target", "rank")} for r in successes],
    "failure": [{k: r[k] for k in ("reference", "text", "target", "rank")} for r in failures],
    "figures": figures})
