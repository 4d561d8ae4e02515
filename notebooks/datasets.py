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
# # The datasets: what a query looks like
#
# **The paper's question** (Section 4's dataset descriptions; the supplementary's Figs. 2-4): what kind of text
# feedback does each dataset carry? Fashion200k's "replace X with Y" texts name one attribute word; Shoes and
# FashionIQ carry *relative captions* in natural language ("is more casual and has shorter sleeves"), which may be
# vague and fit several images (the supplementary, Section 3).
#
# This chapter shows pairs (reference + user text → target), the counts of this copy of the dataset beside the
# counts of the real one ([docs/protocols.md](../docs/protocols.md) lists them with their sources), the length of the
# user texts and their most frequent words. On the synthetic profiles the images are procedurally drawn garments
# written in the real datasets' file formats; the counts are far smaller than the real ones on purpose.

# %% tags=["parameters"]
DATASET: str = "shoes"  # fashion200k | shoes | fashioniq
DATA_ROOT: str = ""     # real data: the folder holding fashion200k/ shoes/ fashioniq/; empty: the profile's

# %%
from valstudy import analysis, plotting, prepare
study = prepare("datasets", DATASET, data=DATA_ROOT)

# %% [markdown]
# ## 1. Counts: this copy against the real dataset
#
# The loader's counts (queries per protocol, gallery sizes, training triplets) beside the paper's counts of the real
# dataset; the loader's notes say what it dropped and why (nothing is skipped silently).

# %%
from valstudy import load_dataset

ds = load_dataset(DATASET, study.data_dir)
kind = "real" if study.profile.real_data else "synthetic"
counts = analysis.dataset_counts(ds, label=f"this copy ({kind} data, {study.profile.name} profile)")
counts.to_csv(study.figures_dir / f"datasets_{DATASET}_counts.csv")
print("\n".join(ds.report.notes) or "no notes from the loader")
counts

# %% [markdown]
# ## 2. Pairs
#
# The reference (blue frame) is changed by the user text into the target (green frame); above each image its own
# description where the dataset has one (Fashion200k product text, Shoes tagged caption: the side information of
# $\mathcal{L}_{vs}$). **What to look for:** can you tell the target from the reference and the text together, and
# from neither alone? The synthetic world is built so that you can't from one alone.

# %%
examples = analysis.anatomy_examples(ds, n=4)
study.save(plotting.pair_grid(examples, f"{DATASET}: reference + user text -> target ({kind} data)"), "examples",
           f"Example queries of {DATASET}: reference image, user text and target image")

# %% [markdown]
# ## 3. The user texts
#
# **What to look for:** Fashion200k's texts have a fixed length (four words: "replace X with Y"); relative captions
# vary. The most frequent words show what the feedback is about (colours, sleeves, length, pattern) once the
# function words are left out.

# %%
texts = analysis.texts_by_split(ds)
lengths = analysis.caption_lengths(texts)
words = analysis.top_words(texts["train"], n=25)
study.save(plotting.length_histogram(lengths, f"{DATASET}: user text length ({kind} data)"), "lengths",
           f"Histogram of the user texts' lengths on {DATASET}")
study.save(plotting.top_words_bar(words, f"{DATASET}: 25 most frequent words of the training texts\n"
                                   f"(function words left out; {kind} data)"), "vocabulary",
           f"The 25 most frequent words of the training texts of {DATASET}")

# %% [markdown]
# ## 4. What the world asks of spatial attention
#
# VAL's joint-attention stream gates the reference's features with a spatial map (the paper's Section 3.2), which the
# paper credits with attending to the region the text talks about (its Fig. 4). A synthetic world can say how much
# such a map has to do: how often a pair changes only a local part (a sleeve, a heel) rather than the whole garment
# (colour, shade, texture), and how large each part is in cells of the three feature maps (the small backbone's
# 16 x 16, 8 x 8 and 4 x 4 at 64 px). **What to look for:** a part smaller than one cell of a level cannot be
# localised at that level; a part of several cells at the low level can. Real data has no part masks, so this section
# is empty there.

# %%
locality = analysis.change_locality(study.data_dir)
if locality is None:
    print("no part masks (real data): the world's locality cannot be measured")
else:
    print(f"{locality['pairs']} pairs: {locality['only_local']:.0%} change only local parts, "
          f"{locality['some_local']:.0%} at least one; part areas at {locality['image_size']} px:")
    display(locality["parts"].round(3))

# %% [markdown]
# ### Summary
#
# Generated from the counts above:

# %%
from valstudy import tokenize

vocabulary = {w for t in texts["train"] for w in tokenize(t)}
mean_words = {k: sum(v) / max(len(v), 1) for k, v in lengths.items()}
print(f"{len(texts['train'])} training texts and {len(texts['test'])} test texts; {len(vocabulary)} distinct words "
      f"in training; {mean_words['train']:.1f} words per training text on average; most frequent: "
      + ", ".join(w for w, _ in words[:5]))

# %% [markdown]
# ## Record

# %%
_ = study.record({
    "counts": ds.report.counts, "paper_counts": analysis.PAPER_COUNTS[DATASET],
    "texts": {k: len(v) for k, v in texts.items()}, "mean_words": mean_words,
    "vocabulary_size": len(vocabulary), "top_words": words,
    "change_locality": None if locality is None else {
        **{k: v for k, v in locality.items() if k != "parts"}, "parts": locality["parts"].to_dict("index")},
    "examples": [{k: e[k] for k in ("reference", "text", "target")} for e in examples]})
