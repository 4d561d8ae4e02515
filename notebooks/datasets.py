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
# # Dataset anatomy
#
# Reference/target pairs with their own descriptions and the user's text (the seed's Figs. 2-4), the counts of this
# copy of the dataset beside the paper's counts of the real dataset (VAL.md sections 4-5), the length of the user
# texts and the most frequent words.

# %% tags=["parameters"]
DATASET: str = "shoes"              # fashion200k | shoes | fashioniq
PROFILE: str = "smoke"              # smoke (tiny data, seconds) | synthetic (the CPU study) | real (paper settings, GPU)
DATA_ROOT: str = ""                 # data folder; "" = the profile's (smoke: build/smoke/data, synthetic: data)
RUNS_ROOT: str = ""                 # run folders; "" = the profile's (build/smoke/runs, runs/synthetic, runs/real)
FIGURES_DIR: str = ""               # figures and tables; "" = the profile's (build/smoke/figures, figures/)

# %%
NOTEBOOK = "datasets"
from valstudy import analysis, plotting
from valstudy.study import prepare

study = prepare(DATASET, PROFILE, DATA_ROOT, RUNS_ROOT, FIGURES_DIR, train=False)  # data, reused when present
FIG = study.figures_dir
figures = []  # every figure this notebook writes, recorded at the end


def save(fig, subset):
    path = plotting.save_figure(fig, FIG, f"{NOTEBOOK}_{DATASET}_{subset}")
    figures.append(path.name)
    plotting.show(path)


# %%
from valstudy.data import load_dataset

ds = load_dataset(DATASET, study.data_dir)
kind = "real" if PROFILE == "real" else "synthetic"
counts = analysis.dataset_counts(ds, label=f"this copy ({kind} data, {PROFILE} profile)")
counts.to_csv(FIG / f"datasets_{DATASET}_counts.csv")
print("\n".join(ds.report.notes) or "no notes from the loader")
counts

# %% [markdown]
# Examples: the reference (blue) is changed by the user text into the target (green); above each image its own description where the dataset has one (Fashion200k product text, Shoes tagged caption).

# %%
examples = analysis.anatomy_examples(ds, n=4)
save(plotting.pair_grid(examples, f"{DATASET}: reference + user text -> target ({PROFILE} data)"), "examples")

# %%
texts = analysis.texts_by_split(ds)
lengths = analysis.caption_lengths(texts)
words = analysis.top_words(texts["train"], n=25)
save(plotting.length_histogram(lengths, f"{DATASET}: user text length ({PROFILE} data)"), "lengths")
save(plotting.top_words_bar(words, f"{DATASET}: 25 most frequent words of the training texts\n"
                                   f"(function words left out; {PROFILE} data)"), "vocabulary")

# %%
from valstudy.text import tokenize

vocabulary = {w for t in texts["train"] for w in tokenize(t)}
analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "counts": ds.report.counts, "paper_counts": analysis.PAPER_COUNTS[DATASET],
    "texts": {k: len(v) for k, v in texts.items()},
    "mean_words": {k: sum(v) / max(len(v), 1) for k, v in lengths.items()},
    "vocabulary_size": len(vocabulary), "top_words": words,
    "examples": [{k: e[k] for k in ("reference", "text", "target")} for e in examples], "figures": figures})
