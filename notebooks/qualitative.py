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
# # Qualitative results: successes and failures
#
# **The paper's question** (the supplementary, Section 3 and Figs. 5-6): when VAL fails on natural-language feedback,
# is it wrong, or is the text ambiguous? The supplementary argues that vague captions ("has a light floral pattern")
# fit several gallery images, so a "failure" can still return images that satisfy the text.
#
# Drawn like the supplementary's Figs. 5-6: the reference in a blue frame with the user text, the top-K retrieved
# images, the correct one in a green frame, and the rank $r_q$ at which the first correct image appears
# (R@K counts the queries with $r_q \le K$). VAL seed 0, EMA weights, the dataset's first protocol (every category).

# %% tags=["parameters"]
DATASET: str = "shoes"  # fashion200k | shoes | fashioniq
RETRAIN: bool = False   # True: train this chapter's runs here again and rewrite their records (cost printed below)
DATA_ROOT: str = ""     # real data: the folder holding fashion200k/ shoes/ fashioniq/; empty: the profile's

# %%
from valstudy import analysis, plotting, prepare
study = prepare("qualitative", DATASET, data=DATA_ROOT, retrain=RETRAIN)
K = 5  # retrieved images shown per query

# %% [markdown]
# ## 1. Every query ranked
#
# The recall computed here from the ranks must equal the run's own evaluation (`results.json`; the tests check it).

# %%
from statistics import median

from valstudy import recall_at_k

model_dir = study.model_dir()  # VAL's first seed: its committed weights
ranked = analysis.rank_queries(model_dir, k=K, config=study.model_config())
ds, rows = ranked["dataset"], ranked["rows"]
successes, failures = analysis.pick_examples(rows, n=4)
ks = ranked["ks"]
print(f"{len(rows)} queries; median rank of the first correct image: {median([r['rank'] for r in rows]):.0f}")
recall_at_k([r["rank"] for r in rows], ks)

# %% [markdown]
# ## 2. Best- and worst-ranked queries
#
# **What to look for:** in the successes, which attribute the text names and whether the reference already had
# most of the target's look; in the failures, whether the top-K images satisfy the text anyway (a vague caption), or
# ignore it (the model kept the reference), or ignore the reference (the model followed the text alone).

# %%
title = f"{DATASET}: VAL top-{K}, {{}} ({study.profile.name} profile)"
study.save(plotting.retrieval_grid(analysis.with_images(ds, successes), title.format("best-ranked queries")), "success",
           f"The best-ranked test queries of VAL on {DATASET}: reference, text, top results and the target")
study.save(plotting.retrieval_grid(analysis.with_images(ds, failures), title.format("worst-ranked queries")), "failure",
           f"The worst-ranked test queries of VAL on {DATASET}: reference, text, top results and the target")

# %% [markdown]
# ### Summary
#
# Generated from the ranks above:

# %%
share = {k: sum(r["rank"] <= k for r in rows) / len(rows) for k in (1, K)}
print(f"the target is first for {100 * share[1]:.0f}% of the queries and in the top {K} for {100 * share[K]:.0f}%; "
      f"the worst query shown ranks it {max(r['rank'] for r in failures)}")

# %% [markdown]
# ## Record

# %%
results = study.records("methods", "val")[0]["results"]
_ = study.record({
    "protocol": ranked["protocol"], "queries": len(rows),
    "recall_from_ranks": {name: recall_at_k([r["rank"] for r in rows if r["split"] == name], ks)
                          for name in ranked["splits"]},
    "recall_results_json": {s["name"]: {k: v for k, v in s.items() if k.startswith("R@")}
                            for s in results["splits"] if s["protocol"] == ranked["protocol"]},
    "success": [{k: r[k] for k in ("reference", "text", "target", "rank")} for r in successes],
    "failure": [{k: r[k] for k in ("reference", "text", "target", "rank")} for r in failures]})
