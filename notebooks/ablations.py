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
# # Ablations: which parts of VAL matter
#
# **The paper's question** (Section 4, its ablation study; the supplementary's Fig. 1 sketches the two ablative
# baselines): does VAL need both attention streams, several levels, and the side information of $\mathcal{L}_{vs}$?
# The study adds a question of its own: does the loss (the authors' triplet loss against TIRG's softmax) change the
# picture?
#
# ## 1. The composite transformer
#
# At each level $i \in \{\text{low}, \text{mid}, \text{high}\}$ the CNN's feature map $X^i \in \mathbb{R}^{h \times w
# \times c}$ and the text feature $t \in \mathbb{R}^{512}$ (an LSTM's max-pooled outputs) meet in a composite
# transformer (the supplementary's Table 1; shapes in [docs/shapes.md](../docs/shapes.md)).
#
# **Composite function** (1×1 convolution, batch norm, ReLU over the text tiled at every position):
#
# $$V^i = \mathcal{F}_c\big([X^i, \mathrm{tile}(t)]\big) \in \mathbb{R}^{h \times w \times c}.$$
#
# **Self-attention (SA) stream**, two heads, head $m$ on its own $\bar c = c/2$ channels $V^i_m$ with 1×1
# projections, attention over the $hw$ positions, then a 1×1 convolution with ReLU:
#
# $$\mathrm{SA}_m = \mathrm{softmax}\!\left(\frac{\mathcal{F}_Q(V^i_m)\,\mathcal{F}_K(V^i_m)^\top}{\sqrt{\bar c}}\right)
# \mathcal{F}_V(V^i_m), \qquad A^i_{sa} = \mathcal{F}_{sa}\big([\mathrm{SA}_1, \mathrm{SA}_2]\big).$$
#
# **Joint-attention (JA) stream**: a channel gate and a spatial gate computed from $V^i$ rescale the *original*
# image features $X^i$, so the text decides which features of the reference to keep:
#
# $$g_{ch} = \sigma\big(\mathcal{F}_{ch}(\mathrm{avgpool}(V^i))\big) \in \mathbb{R}^{c}, \quad
# g_{sp} = \sigma\big(\mathcal{F}_{sp}(\tfrac{1}{c}\textstyle\sum_{k} V^i_{\cdot,\cdot,k})\big)
# \in \mathbb{R}^{h \times w},
# \quad A^i_{ja} = g_{ch} \odot g_{sp} \odot X^i,$$
#
# with $\mathcal{F}_{sp}$ a convolution whose kernel covers the whole $h \times w$ map.
#
# **Stream weights**: the composite output is a learnt mixture of the two streams,
#
# $$\Phi^i = w_{ja} A^i_{ja} + w_{sa} A^i_{sa},$$
#
# with $w_{ja} = 1$, $w_{sa} = 0$ at the start, as in the authors' code (yanbeic/VAL `nets/attention.py`).
#
# **Hierarchical matching**: at every level the pooled, L2-normalised composite feature is matched with the target
# image's feature at the same level, and the losses are summed over levels,
#
# $$\mathcal{L}_{vv} = \sum_{i} \ell\Big(\tfrac{\bar\Phi^i}{\|\bar\Phi^i\|},\,
# \tfrac{\bar X^i_{tgt}}{\|\bar X^i_{tgt}\|}\Big),
# \qquad \ell(a, p) = \sum_{n} \max\big(0,\ m + \|a - p\|^2 - \|a - n\|^2\big),$$
#
# the authors' bidirectional triplet loss with margin $m = 0.2$ and semi-hard negatives $n$ from the batch (or
# TIRG's batch softmax in the "softmax loss" ablation). $\mathcal{L}_{vs}$ is the same loss with the image's own
# description in place of the user text (side information: joint training on Fashion200k, pre-training on Shoes
# and FashionIQ; the supplementary, Section 2).
#
# ## 2. The ablations
#
# | ablation | what changes |
# |---|---|
# | w/o SA | $\Phi^i = w_{ja} A^i_{ja}$ |
# | w/o JA | $\Phi^i = w_{sa} A^i_{sa}$ ($w_{sa}$ starts at 1, or the output would start at zero) |
# | low / mid / high level only | one composite transformer, one level in $\mathcal{L}_{vv}$ and in the features |
# | L_vv + L_vs | adds the side-information loss |
# | softmax loss | TIRG's batch softmax instead of the triplet loss |

# %% tags=["parameters"]
DATASET: str = "shoes"  # fashion200k | shoes | fashioniq
RETRAIN: bool = False   # True: train this chapter's runs here again and rewrite their records (cost printed below)
DATA_ROOT: str = ""     # real data: the folder holding fashion200k/ shoes/ fashioniq/; empty: the profile's

# %%
from valstudy import analysis, plotting, prepare
study = prepare("ablations", DATASET, data=DATA_ROOT, retrain=RETRAIN)

# %% [markdown]
# The two ablative baselines, redrawn after the supplementary's Fig. 1: greyed boxes are the stream removed.

# %%
study.save(plotting.val_schematic(("full", "no_sa", "no_ja")), "schematic",
           "VAL beside its two ablative baselines, w/o SA and w/o JA, drawn as the supplementary's Fig. 1")

# %% [markdown]
# ## 3. Every ablation beside full VAL, mean ± standard deviation over seeds
#
# Under the dataset's first protocol, R@K averaged over categories; `mean R@K` is the mean of a row's R@K. Full VAL
# is the method comparison's VAL, with the seeds the ablations were trained with.

# %%
from valstudy import ABLATIONS, DATASET_LOADERS

protocol = DATASET_LOADERS[DATASET].protocols[0]
df = study.results()
seeds = analysis.per_seed(analysis.ablation_runs(df), protocol)
table = analysis.ablation_table(seeds)
table.to_csv(study.figures_dir / f"ablations_{DATASET}.csv")
not_run = [analysis.VARIANT_LABELS[a] for a in ABLATIONS if analysis.VARIANT_LABELS[a] not in table.index]
print(f"protocol {protocol!r}; not trained in the {study.profile.name} profile: {', '.join(not_run) or 'none'}")
analysis.mean_std_text(table.drop(columns="group")).join(table["group"])

# %% [markdown]
# **What to look for** in the figure: bars are means over seeds, whiskers one standard deviation. Compare each
# ablation with the VAL bars: removing a stream the model relies on drops every R@K; a single level that matches
# the three together says the hierarchy adds little *on this data*.

# %%
ks = [c[:-5] for c in table.columns if c.startswith("R@") and c.endswith(" mean")]
n_seeds = int(table["seeds"].max())
study.save(plotting.recall_bars(table[[f"{k} {s}" for k in ks for s in ("mean", "std")]], ks,
                          f"{DATASET}: ablations, protocol '{protocol}' ({study.profile.name} profile, "
                          f"{'mean ± std over %d seeds' % n_seeds if n_seeds > 1 else '1 seed'})", group="variant"),
     "recall",
           f"Test recall of VAL and each of its ablations on {DATASET}, mean and spread over seeds")

# %% [markdown]
# ## 4. Paired differences against full VAL
#
# As in the results chapter: per seed, VAL's R@K minus the ablation's (the column `mean` is **VAL minus the
# ablation**, in points), over the seeds both were trained with, and one of three outcomes: a difference (95%
# interval excludes zero), an equivalence within $\pm 3$ points (90% interval inside), or inconclusive with the seeds
# a power analysis says would decide it. A positive difference means the removed part helps. Holm's correction runs
# over the dataset's whole family (the baselines of the results chapter and these ablations); an ablation trained for
# more steps than VAL's budget is compared with VAL trained as long (`reference`). `ablations_<dataset>_paired.csv`
# holds every R@K.

# %%
family = analysis.per_seed(study.family(), protocol)
verdicts = analysis.paired_verdicts(family, references=study.references())
paired = verdicts[verdicts["variant"].isin(set(seeds.index.get_level_values("variant")))].reset_index(drop=True)
paired.to_csv(study.figures_dir / f"ablations_{DATASET}_paired.csv", index=False)
analysis.verdict_table(paired)

# %% [markdown]
# The paper's questions on this dataset at a glance: VAL against TIRG (from the results chapter) and against each
# ablation, test R@10. A dot is the mean of VAL minus the other over the paired seeds; the thick bar its 90% interval
# (an equivalence needs it inside the shaded band), the thin bar its 95% interval (a difference needs it clear of
# zero); grey rows are inconclusive, and the margin says how many seeds would decide them.

# %%
questions = verdicts[(verdicts["metric"] == "R@10") & verdicts["variant"].isin({"tirg", *paired["variant"]})]
study.save(plotting.verdict_forest(questions, f"{DATASET}: the paper's questions (test R@10, protocol '{protocol}')",
                                   analysis.MARGIN, analysis.VARIANT_LABELS), "verdicts",
           f"VAL minus TIRG and minus each ablation on {DATASET}, test R@10, with 90% and 95% intervals and outcomes")

# %% [markdown]
# ### Finding
#
# Written from the numbers above, not typed in:

# %%
rising = analysis.still_rising(analysis.convergence_table(analysis.by_variant(study.family_records())))
analysis.markdown([analysis.verdict_sentence(row, DATASET)[:-1] + analysis.plateau_note(row, rising) + "."
                   for row in paired[paired["metric"] == "R@10"].to_dict("records")])

# %% [markdown]
# ## Record

# %%
_ = study.record({
    "protocol": protocol, "table": table.reset_index().to_dict("records"),
    "paired": paired.to_dict("records"), "not_run": not_run})
