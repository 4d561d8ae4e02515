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

# %%

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
# **How the budgets were chosen.** A quarter of each synthetic training set's reference images is held out as a
# validation split (never the test split; `valstudy/data/validation.py`). Every run of the study, every method and
# every ablation over three random seeds, evaluates the exponential moving average of its weights on that split ten
# times along training. The criterion, on the mean curve over seeds: the validation R@10 averaged over the
# evaluations in the last 20% of the steps may exceed its average over the 20% before by less than 2 points
# (`valstudy/analysis/convergence.py`). Test R@K is computed once, at the end.

# %% tags=["parameters"]
DATASET: str = "shoes"      # fashion200k | shoes | fashioniq
PROFILE: str = "synthetic"  # synthetic: the study | smoke: wiring check | real: GPU; $VALSTUDY_PROFILE overrides
DATA_ROOT: str = ""         # data folder; empty: the profile's (smoke: build/smoke/data, synthetic: data)
RUNS_ROOT: str = ""         # run folders; empty: the profile's (build/smoke/runs, runs/synthetic, runs/real)
FIGURES_DIR: str = ""       # figures and tables; empty: the profile's (build/smoke/figures, figures/)

# %%
NOTEBOOK = "training"
from valstudy import analysis, plotting, prepare

PROFILE, DATA_ROOT, RUNS_ROOT, FIGURES_DIR = analysis.notebook_parameters(PROFILE, DATA_ROOT, RUNS_ROOT, FIGURES_DIR)
study = prepare(DATASET, PROFILE, DATA_ROOT, RUNS_ROOT, FIGURES_DIR)  # data and runs, reused when present
FIG = study.figures_dir
figures = []  # every figure this notebook writes, recorded at the end


def save(fig, subset):
    path = plotting.save_figure(fig, FIG, f"{NOTEBOOK}_{DATASET}_{subset}")
    figures.append(path.name)
    plotting.show(path)


# %% [markdown]
# ## 1. Loss and validation recall of one run (VAL, seed 0)
#
# **What to look for:** the loss should fall and flatten; the validation recalls should flatten too. The last
# point of each test curve is the final evaluation in the run's `results.json`.

# %%
run = study.run_dir(f"{DATASET}/val/seed0")
loss, recalls = analysis.training_curves(run)
save(plotting.training_curves(loss, recalls, f"VAL on {DATASET}, seed 0 ({PROFILE} profile)"), "curves")
recalls.round(2)

# %% [markdown]
# ## 2. Every method and ablation: validation curves over the random seeds
#
# **What to look for:** each curve flat in the shaded last fifth of the steps. The table gives each variant's
# plateau gain (the criterion above) and whether it passes; a variant that still climbs is marked, not hidden.

# %%
by_variant, experiment = {}, {}
for spec in study.specs:
    by_variant.setdefault(spec.labels["variant"], []).append(study.run_dir(spec.name))
    experiment[spec.labels["variant"]] = spec.labels["experiment"]
curves = analysis.mean_curves(by_variant)
methods = [v for v in by_variant if experiment[v] == "methods"]
ablations = ["val"] + [v for v in by_variant if experiment[v] == "ablations"]
save(plotting.validation_curves(curves, f"Validation R@10 along training, {DATASET} (mean +- std over seeds)",
                                groups={"methods": methods, "VAL and its ablations": ablations}), "validation")
convergence = analysis.convergence_table(by_variant)
convergence.round(2)

# %% [markdown]
# ### Finding

# %%
gains = convergence["plateau gain"]
judged = convergence[gains.notna()]
rising = judged[~judged["converged"]]
if judged.empty:
    print(f"The runs on {DATASET} log too few validation evaluations to apply the criterion.")
else:
    print(f"{int(judged['converged'].sum())} of {len(judged)} variants on {DATASET} end on a plateau (validation "
          f"R@10 gain over the last 20% of {int(convergence['steps'].max())} steps below "
          f"{analysis.PLATEAU_POINTS:g} points; gains from {gains.min():+.1f} to {gains.max():+.1f})" +
          ("." if rising.empty else "; still rising: " + ", ".join(
              f"{r['variant']} ({r['plateau gain']:+.1f})" for r in rising.to_dict("records")) + "."))

# %% [markdown]
# ## Record

# %%
_ = analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "run": str(run.relative_to(study.runs_root)), "steps": int(loss["step"].max()),
    "first_loss": float(loss["loss"].iloc[0]), "final_loss": float(loss["loss"].iloc[-1]),
    "loss": loss.to_dict("records"), "evaluations": recalls.to_dict("records"),
    "convergence": convergence.to_dict("records"), "plateau_points": analysis.PLATEAU_POINTS,
    "validation_curves": curves.to_dict("records"), "figures": figures})
