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
# # Ablations
#
# The composite transformer and the streams each ablation removes (the seed's Fig. 1), then every ablation the profile
# trains beside full VAL, over the same seeds: w/o SA, w/o JA; one level (low / mid / high) against all three; L_vv
# against L_vv + L_vs; the triplet loss against the softmax loss. R@K under the dataset's first protocol, averaged over
# categories and seeds.

# %% tags=["parameters"]
DATASET: str = "shoes"              # fashion200k | shoes | fashioniq
PROFILE: str = "smoke"              # smoke (tiny data, seconds) | synthetic (the CPU study) | real (paper settings, GPU)
DATA_ROOT: str = ""                 # data folder; "" = the profile's (smoke: build/smoke/data, synthetic: data)
RUNS_ROOT: str = ""                 # run folders; "" = the profile's (build/smoke/runs, runs/synthetic, runs/real)
FIGURES_DIR: str = ""               # figures and tables; "" = the profile's (build/smoke/figures, figures/)

# %%
NOTEBOOK = "ablations"
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
save(plotting.val_schematic(("full", "no_sa", "no_ja")), "schematic")

# %%
from valstudy.data import DATASETS
from valstudy.study import ABLATIONS

protocol = DATASETS[DATASET].protocols[0]
table = analysis.ablation_table(study.results(), protocol)
not_run = [analysis.VARIANT_LABELS[a] for a in ABLATIONS if analysis.VARIANT_LABELS[a] not in table.index]
print(f"protocol {protocol!r}; not trained in the {PROFILE} profile: {', '.join(not_run) or 'none'}")
table.round(2)

# %%
ks = analysis.recall_columns(table)
save(plotting.recall_bars(table[ks].add_suffix(" mean"), ks, f"{DATASET}: ablations, mean over seeds, protocol '{protocol}' "
                          f"({PROFILE} profile)", group="variant"), "recall")
analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "protocol": protocol, "table": table.reset_index().to_dict("records"),
    "not_run": not_run, "figures": figures})
