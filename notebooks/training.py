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
# # Training: does VAL reach a plateau?
#
# **The paper's question** (Section 4's implementation details; the supplementary, Section 2, gives the iterations:
# 160k on Fashion200k, 30k on Shoes, 50k on FashionIQ): how long must VAL train? The study's runs are far shorter and
# on CPU; a comparison between methods is fair only if each has stopped improving, so this chapter shows the curves.
#
# VAL is trained with the hierarchical matching loss (equations in the [ablations chapter](ablations.ipynb)),
#
# $$\mathcal{L}_{vv} = \sum_{i \in \{\text{low}, \text{mid}, \text{high}\}} \ell\big(\hat\Phi^i, \hat X^i_{tgt}\big),$$
#
# where $\hat\Phi^i$ and $\hat X^i_{tgt}$ are the pooled, L2-normalised composite and target features at level $i$
# and $\ell$ is the bidirectional triplet loss with margin 0.2.
#
# **How the budgets are judged.** Each synthetic world writes a validation split of its own (families drawn apart
# from the train and test parts, about 1,000 queries; `valstudy/data/synth/validation.py`); real data, which has
# none, holds out a quarter of the training references (`valstudy/data/validation.py`). The test split is never
# looked at. Every run of the study, every method and every ablation over its random seeds, evaluates the
# exponential moving average of its weights on that split at every eighth of its steps. The learning rate drops tenfold after 75% of the steps, and any drop flattens a curve, so the
# criterion reads the curve where the rate is constant: on the mean curve over seeds, the validation R@10 averaged
# over the evaluations in steps 50-75% may exceed its average over steps 25-50% by less than 2 points
# (`valstudy/analysis/convergence.py`); the per-seed gains give the criterion's 95% interval. A second check trains
# every variant for twice its steps and compares validation recall (`bench/convergence.py`, section 3).
# Test R@K is computed once, at the end. Every number here comes from the study's records (`records/`), one per run.
#
# Run as it is, this chapter trains nothing; the cell after the parameters says how many records it reads and what
# retraining them here (`RETRAIN = True`) would cost.

# %% tags=["parameters"]
DATASET: str = "shoes"  # fashion200k | shoes | fashioniq
RETRAIN: bool = False   # True: train this chapter's runs here again and rewrite their records (cost printed below)
DATA_ROOT: str = ""     # real data: the folder holding fashion200k/ shoes/ fashioniq/; empty: the profile's

# %%
from valstudy import analysis, plotting, prepare
study = prepare("training", DATASET, data=DATA_ROOT, retrain=RETRAIN)

# %% [markdown]
# ## 1. Loss and validation recall of one run (VAL, seed 0)
#
# **What to look for:** the loss should fall and flatten; the validation recalls should flatten too. The last
# point of each test curve is the final evaluation in the run's `results.json`.

# %%
run = study.records("methods", "val")[0]
loss, recalls = analysis.training_curves(run)
study.save(plotting.training_curves(loss, recalls, f"VAL on {DATASET}, seed {run['config']['seed']} "
                                                   f"({study.profile.name} profile)"), "curves",
           f"Loss and recall along training of VAL on {DATASET}, one random seed")
recalls.round(2)

# %% [markdown]
# ## 2. Every method and ablation: validation curves over the random seeds
#
# **What to look for:** each curve flat between half and three quarters of its steps, before the learning rate
# drops (the shaded window). The table gives each variant's
# plateau gain (the criterion above) and whether it passes; a variant that still climbs is marked, not hidden.

# %%
by_variant = analysis.by_variant(study.records())
experiment = {v: records[0]["labels"]["experiment"] for v, records in by_variant.items()}
curves = analysis.mean_curves(by_variant)
methods = [v for v in by_variant if experiment[v] == "methods"]
ablations = ["val"] + [v for v in by_variant if experiment[v] == "ablations"]
study.save(plotting.validation_curves(curves, f"Validation R@10 along training, {DATASET} (mean ± std over seeds)",
                                      groups={"methods": methods, "VAL and its ablations": ablations}), "validation",
           f"Validation R@10 along training of every method and ablation on {DATASET}, mean and spread over seeds")
convergence = analysis.convergence_table(by_variant)
convergence.round(2)

# %% [markdown]
# ### Finding

# %%
gains = convergence["plateau gain"]
judged = convergence[gains.notna()]
rising = judged[~judged["converged"]]
if judged.empty:
    finding = f"The runs on {DATASET} log too few validation evaluations to apply the criterion."
else:
    finding = (f"{int(judged['converged'].sum())} of {len(judged)} variants on {DATASET} end on a plateau at a "
               f"constant learning rate (validation R@10 gain from steps 25-50% to 50-75% below "
               f"{analysis.PLATEAU_POINTS:g} points; gains from {gains.min():+.1f} to {gains.max():+.1f})" +
               ("." if rising.empty else "; still rising: " + ", ".join(
                   f"{analysis.VARIANT_LABELS.get(r['variant'], r['variant'])} ({r['plateau gain']:+.1f})"
                   for r in rising.to_dict("records")) + "."))
analysis.markdown(finding)

# %% [markdown]
# ## 3. The doubling check, on validation
#
# **What to look for:** random seed 0 of every variant trained again for twice its steps (the learning-rate drop
# moves with them), its final validation R@10 beside the study's run's. A gain of 2 points or more says the budget
# stopped that variant early; the doubled run's own constant-rate gain says whether twice the budget reaches a
# plateau. `bench/convergence.py` writes `docs/convergence.json`; the rows shown are the checks that doubled to
# the budget these records trained (they chose it) or from it.

# %%
import pandas as pd

doubling, tolerance = analysis.doubling_rows(DATASET)
doubling = analysis.budget_rows(doubling, convergence["steps"].dropna().astype(int).unique())
analysis.markdown(" ".join(analysis.doubling_sentences(doubling, tolerance)) or
                  f"The doubling check has not been run for these budgets on {DATASET} "
                  f"(`python bench/convergence.py --datasets {DATASET}`).")
pd.DataFrame(doubling).round(2)

# %% [markdown]
# ## Record

# %%
_ = study.record({
    "run": run["name"], "steps": int(loss["step"].max()),
    "first_loss": float(loss["loss"].iloc[0]), "final_loss": float(loss["loss"].iloc[-1]),
    "loss": loss.to_dict("records"), "evaluations": recalls.to_dict("records"),
    "convergence": convergence.to_dict("records"), "plateau_points": analysis.PLATEAU_POINTS,
    "validation_curves": curves.to_dict("records"), "doubling": doubling})
