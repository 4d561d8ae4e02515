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
# # Training: VAL, seed 0
#
# The loss logged during training and the recall on the test split at each evaluation (the seed-0 VAL run trains with
# `eval_every`; the last point is the final evaluation in `results.json`), from the run's `metrics.jsonl`.

# %% tags=["parameters"]
DATASET: str = "shoes"              # fashion200k | shoes | fashioniq
PROFILE: str = "smoke"              # smoke (tiny data, seconds) | synthetic (the CPU study) | real (paper settings, GPU)
DATA_ROOT: str = ""                 # data folder; "" = the profile's (smoke: build/smoke/data, synthetic: data)
RUNS_ROOT: str = ""                 # run folders; "" = the profile's (build/smoke/runs, runs/synthetic, runs/real)
FIGURES_DIR: str = ""               # figures and tables; "" = the profile's (build/smoke/figures, figures/)

# %%
NOTEBOOK = "training"
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
run = study.run_dir(f"{DATASET}/val/seed0")
loss, recalls = analysis.training_curves(run)
save(plotting.training_curves(loss, recalls, f"VAL on {DATASET}, seed 0 ({PROFILE} profile)"), "curves")
recalls

# %%
analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "run": str(run), "steps": int(loss["step"].max()),
    "first_loss": float(loss["loss"].iloc[0]), "final_loss": float(loss["loss"].iloc[-1]),
    "loss": loss.to_dict("records"), "evaluations": recalls.to_dict("records"), "figures": figures})
