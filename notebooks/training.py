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
# and $\ell$ is the bidirectional triplet loss with margin 0.2. The seed-0 VAL run is evaluated on the test queries
# every `eval_every` steps (with the exponential moving average of its weights, as the authors' code evaluates);
# the last point of each recall curve is the final evaluation in the run's `results.json`.

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
# ## 1. Loss and recall along training (VAL, seed 0)
#
# **What to look for:** the loss should fall and flatten; the recall curves should flatten too. A curve still
# rising at the last step means the run stopped before VAL finished learning, and any comparison with it
# understates VAL.

# %%
run = study.run_dir(f"{DATASET}/val/seed0")
loss, recalls = analysis.training_curves(run)
save(plotting.training_curves(loss, recalls, f"VAL on {DATASET}, seed 0 ({PROFILE} profile)"), "curves")
recalls.round(2)

# %% [markdown]
# ### Summary
#
# Generated from the curves above: the change of each recall over the last fifth of the evaluations.

# %%
last = recalls[recalls["step"] >= 0.8 * recalls["step"].max()]
moves = {c: float(last[c].max() - last[c].min()) for c in recalls.columns if "R@" in c}
print(f"{int(loss['step'].max())} steps; loss {loss['loss'].iloc[0]:.3f} -> {loss['loss'].iloc[-1]:.3f}; over the "
      f"last 20% of steps ({len(last)} evaluations) the recalls move by at most {max(moves.values()):.1f} points")

# %% [markdown]
# ## Record

# %%
_ = analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "run": str(run.relative_to(study.runs_root)), "steps": int(loss["step"].max()),
    "first_loss": float(loss["loss"].iloc[0]), "final_loss": float(loss["loss"].iloc[-1]),
    "loss": loss.to_dict("records"), "evaluations": recalls.to_dict("records"), "last_fifth_moves": moves,
    "figures": figures})
