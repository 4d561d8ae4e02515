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
# # Results: VAL against the baselines
#
# **The paper's question** (Section 4, the results tables for Fashion200k, Shoes and FashionIQ): does composing the
# reference image with the user's text *inside* the CNN, with composite transformers at three depths, retrieve the
# target better than composing pooled features (TIRG), plain concatenation, or either input alone?
#
# This chapter trains (or reuses) every method of the profile over its random seeds and reports, for each, the mean
# and standard deviation over seeds of R@K under every protocol of the dataset (FashionIQ: VAL's protocol and the
# official one; see [docs/protocols.md](../docs/protocols.md)). It then pairs every baseline with VAL seed by seed
# and writes what the study can and cannot claim. The paper's own numbers on real data close the chapter, in a
# separate table: they are not comparable with numbers on synthetic data.
#
# **Recall at K.** For a query $q$ (reference image, text) the gallery is ranked by the distance between the
# composite feature and each image feature (the query's own reference image excluded); with $r_q$ the rank of the
# first correct image,
#
# $$\mathrm{R@}K = \frac{100}{|\mathcal{Q}|} \sum_{q \in \mathcal{Q}} \mathbb{1}\left[r_q \le K\right].$$
#
# Datasets with categories (FashionIQ) also get an `average` row, the mean over categories, and every row a
# `mean R@K` (the mean of its R@K values): on FashionIQ's `average` row that is the paper's headline number, the mean
# of the six R@10 / R@50 values.

# %% tags=["parameters"]
DATASET: str = "shoes"  # fashion200k | shoes | fashioniq
RETRAIN: bool = False   # True: train this chapter's runs here again and rewrite their records (cost printed below)
DATA_ROOT: str = ""     # real data: the folder holding fashion200k/ shoes/ fashioniq/; empty: the profile's

# %%
from valstudy import analysis, plotting, prepare
study = prepare("results", DATASET, data=DATA_ROOT, retrain=RETRAIN)

# %% [markdown]
# ## 1. Every method, mean ± standard deviation over seeds
#
# One row per method, protocol and category. The CSV beside the figures (`results_<dataset>.csv`) holds the same
# numbers as separate `mean` and `std` columns.

# %%
df = study.results()
methods = df[df["experiment"] == "methods"]
summary = analysis.summary_table(methods)
summary.to_csv(study.figures_dir / f"results_{DATASET}.csv")
print(f"this study ({study.profile.name} profile): mean ± std over seeds (no ± with a single seed)")
analysis.mean_std_text(summary)

# %% [markdown]
# ## 2. The figure
#
# One panel per protocol: bars are the mean over seeds, whiskers one standard deviation. **What to look for:** the
# gap between VAL and the best baseline against the whiskers; whether image-only sits above text-only (the reference
# image carries most of the target's appearance) and whether composing models beat both (neither input alone
# determines the target). On FashionIQ, compare the two protocols: the official one has a larger gallery.

# %%
protocols = list(dict.fromkeys(methods["protocol"]))
for protocol in protocols:
    bars, metrics = analysis.protocol_bars(summary, protocol)
    seeds = int(summary["seeds"].max())
    spread = f"mean ± std over {seeds} seeds" if seeds > 1 else "1 seed"
    study.save(plotting.recall_bars(bars, metrics, f"{DATASET}, protocol '{protocol}' ({study.profile.name} profile, {spread})"),
         protocol,
               f"Test recall of every method on {DATASET} under protocol {protocol}, mean and spread over seeds")

# %% [markdown]
# ## 3. Paired differences: what the study can claim
#
# Each baseline was trained with the same random seeds as VAL (the same batches in the same order, the same
# augmentation, the same initial backbone and text encoder), so the comparison is paired: for seed $s$,
# $d_s = \mathrm{R@}K(\mathrm{VAL}, s) - \mathrm{R@}K(\mathrm{baseline}, s)$; the column `mean` of the table is the
# mean of $d_s$, **VAL minus the other**, in points. Over $n$ seeds, with $\bar d$ the mean and $s_d$ the standard
# deviation of the $d_s$, each comparison ends in one of three outcomes (`valstudy/analysis/verdicts.py`):
#
# - **difference**: the 95% interval $\bar d \pm t_{0.975,\,n-1}\, s_d/\sqrt{n}$ excludes zero;
# - **equivalence** within $\pm\Delta$, $\Delta = 3$ points: the 90% interval $\bar d \pm t_{0.95,\,n-1}\, s_d/\sqrt{n}$
#   lies inside $(-\Delta, \Delta)$ (two one-sided tests);
# - **inconclusive** otherwise, with the number of seeds a power analysis from the observed $s_d$ says would decide
#   it (80% power against a 3-point difference).
#
# The family of a dataset's comparisons (the baselines here, the ablations in the next chapter) shares Holm's
# correction, and each sentence says whether its claim survives it. Under the dataset's first protocol, categories
# averaged; `results_<dataset>_paired.csv` holds every R@K.

# %%
protocol = protocols[0]
family = analysis.per_seed(study.family(), protocol)  # every run of the dataset: Holm's family is all comparisons
paired = analysis.paired_verdicts(family, references=study.references())
paired = paired[paired["variant"].isin(set(methods["method"]))].reset_index(drop=True)
paired.to_csv(study.figures_dir / f"results_{DATASET}_paired.csv", index=False)
analysis.verdict_table(paired)

# %% [markdown]
# ### Finding
#
# Written from the numbers above, not typed in:

# %%
rising = analysis.still_rising(analysis.convergence_table(analysis.by_variant(study.family_records())))
analysis.markdown([analysis.verdict_sentence(row, DATASET)[:-1] + analysis.plateau_note(row, rising) + "."
                   for row in paired[paired["metric"] == "R@10"].to_dict("records")])

# %% [markdown]
# ## 4. R@K beside valid@K: targets the annotation does not name
#
# R@K credits one image per query, the annotated target, although the paper (Section 4, Figs. 5-6) explains many
# "failures" by vague text that several gallery images satisfy. The synthetic world knows every image's attributes,
# so it can credit every **valid target** $V_q$: a gallery image of the reference's category with every attribute
# the text asks for and the reference's other attributes (the rule: [docs/valid_targets.md](../docs/valid_targets.md)).
# The annotated target is always valid, so with $v_q$ the rank of the first valid target,
#
# $$\mathrm{valid@}K = \frac{100}{|\mathcal{Q}|} \sum_{q \in \mathcal{Q}} \mathbb{1}\left[v_q \le K\right]
# \;\ge\; \mathrm{R@}K, \qquad v_q \le r_q .$$
#
# The gap $\mathrm{valid@}K - \mathrm{R@}K$ is the share of queries whose top K holds an image that does what the
# text asks but is not the annotated one, a hit R@K counts as a miss. It is taken seed by seed, then averaged (mean ±
# std over seeds, FashionIQ's categories averaged first; `results_<dataset>_valid.csv`). **What to look for:** how
# large the gap is against the differences between methods; whether the methods keep their order under valid@K (if
# they do, the single annotated target does not distort the comparison of section 3); and which methods gain most
# (a model that reads the text well but misses the exact target gains; one that ignores the text gains little). The
# gap by caption style (absolute, relative, vague) is in the *Beyond the paper* chapter. Real data has no attributes:
# there the table is empty and only R@K stands.

# %%
valid = analysis.recall_valid_table(methods)
valid_paired = []
if valid.empty:
    print("no valid@K in these results: valid targets need the synthetic world's attributes (docs/valid_targets.md)")
else:
    valid.to_csv(study.figures_dir / f"results_{DATASET}_valid.csv")
    display(analysis.mean_std_text(valid))

# %% [markdown]
# ### Finding
#
# The gap and the order of the methods under each protocol, then VAL against each baseline in valid@10 under the
# protocol of section 3, paired by seed as there, with the same three outcomes (Holm's family: these valid@10
# comparisons). Written
# from the numbers above, not typed in:

# %%
found = []
if not valid.empty:
    found += [analysis.valid_gap_sentence(valid, p, 10, DATASET)
              for p in dict.fromkeys(valid.index.get_level_values("protocol"))]
    valid_seeds = analysis.per_seed(methods, protocol, metrics=("valid@",)).dropna(how="all")
    if "val" in valid_seeds.index.get_level_values("variant"):  # VAL's runs have valid@K under this protocol
        valid_paired = analysis.paired_verdicts(valid_seeds).to_dict("records")
    found += [analysis.verdict_sentence(row, DATASET) for row in valid_paired if row["metric"] == "valid@10"]
analysis.markdown(found)

# %% [markdown]
# ## 5. The paper's numbers (real data, cited)
#
# What the paper reports on the real datasets (its results tables; FashionIQ under VAL's protocol), as cited by
# later work: see [docs/published-numbers.md](../docs/published-numbers.md) for the sources. These models are
# ResNet-50 / MobileNet backbones trained for 30k-160k iterations on real photographs; the study's models are small
# CPU networks trained on synthetic images, so only the *pattern* (which method is ahead) may be compared, never the
# values.

# %%
paper = analysis.paper_table(DATASET)
paper.to_csv(study.figures_dir / f"results_{DATASET}_paper.csv")
partial = [name for name, row in paper.drop(columns="source").iterrows() if row.isna().any()]
if partial:
    print(f"the sources cite only some columns for: {', '.join(partial)} (shown as '-')")
paper.astype(object).where(paper.notna(), "-")

# %% [markdown]
# ## Record
#
# The numbers this chapter computed, for the tests and for the README's generated findings
# (`python -m valstudy findings --readme README.md`).

# %%
_ = study.record({
    "protocols": protocols, "protocol": protocol,
    "methods": list(dict.fromkeys(summary.index.get_level_values("method"))),
    "table": summary.reset_index().to_dict("records"), "paired": paired.to_dict("records"),
    "valid": valid.reset_index().to_dict("records"), "valid_paired": valid_paired,
    "paper": paper.reset_index().to_dict("records")})
