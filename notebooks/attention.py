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
# # Attention: where VAL looks when it reads the text, and whether retrieval uses it
#
# **The paper's question** (Section 3 motivates the two streams; Section 4 shows attention maps): does the
# joint-attention stream learn to select the part of the reference image the text talks about, and does
# self-attention relate that part to the rest of the image? A picture of a map cannot answer this alone: any smooth
# map looks like "something", and a fixed map that ignores the query can sit on the garment and still look right.
# This chapter measures the maps against references that say what a map that ignores the query scores and what a
# map that marks the change exactly scores, and then asks the model itself, by intervention, whether retrieval uses
# the per-query part of its maps at all.
#
# ## 1. What is measured
#
# At each level the composite transformer (equations in the [ablations chapter](ablations.ipynb)) builds $V$ from
# the image features $X$ and the text, and outputs $\Phi = w_{ja} A_{ja} + w_{sa} A_{sa}$, with
#
# - the **JA spatial gate** $g_{sp} = \sigma\big(\mathcal{F}_{sp}(\tfrac{1}{c}\sum_k V_{\cdot,\cdot,k})\big) \in [0,
#   1]^{h \times w}$ and the **JA channel gate** $g_{ch} = \sigma\big(\mathcal{F}_{ch}(\mathrm{pool}(V))\big) \in [0,
#   1]^c$: $A_{ja} = g_{ch} \odot g_{sp} \odot X$, so a gate value is how much of the reference's feature at that
#   position (that channel) passes on. The paper's JA stream *preserves* what the text does not change, so a gate
#   that marks the change may just as well be *lower* there: every measure below is read in both directions.
# - the **self-attention** weights $\alpha^m_{p,q}$ (position $p$ attending to $q$ in head $m$; rows sum to 1): the
#   map each position *receives*, $\frac{1}{2hw}\sum_m\sum_p \alpha^m_{p,q}$, and where the rows *inside* the
#   changed region look.
# - the learned **stream weights** $w_{ja}$ and $w_{sa}$.
#
# The synthetic world knows each test query's **changed region** $R$: the part of the reference that carries the
# attributes the text changes (`extras/pairs.json` → the changed attributes, `parts.json` → their part,
# `regions.npz` → the part's mask). A change of one part (a heel, a sleeve) is **local**; a change of colour, shade
# or texture covers the whole garment and is **global**. Each measure compares a map with $R$ on the map's own grid:
# $m(x)$ is the share of cell $x$ inside $R$. Real data has no regions: the measures that need them are left empty,
# the others are computed. The measures and their references are explained in
# [docs/attention.md](../docs/attention.md).
#
# ## 2. The measures and their references
#
# **In-region ratio.** For one query, the share of the gate's mass inside the region over the region's share of the
# image:
#
# $$\rho = \frac{\sum_x g(x)\, m(x) \,/\, \sum_x g(x)}{\tfrac{1}{hw}\sum_x m(x)}.$$
#
# Over queries the study averages $\log\rho$ (0.5 and 2 are equally far from 1) and reports $\exp$ of that mean.
# Read it against four references, measured by the same code:
#
# | reference | what it is | what it scores |
# |---|---|---|
# | uniform | the same value everywhere | 1 |
# | **null**: query-averaged map | $\bar g$, the gate averaged over the test queries, paired with each query's region | what a fixed prior (the average garment silhouette) puts in the region |
# | null: shuffled regions | each query's gate paired with another query's region | the same, keeping the gate's per-query variation |
# | **ceiling**: the region itself | the mask as a map | $1/\text{area}$; on the level's grid somewhat less |
#
# A gate that localises the change differs from its null, in either direction; one at its null does not.
#
# **Residual.** $r = g - \bar g$ removes the fixed prior and keeps the per-query part. Its Pearson correlation with
# $m$ over the cells, and the AUC (the probability that a random pixel inside $R$ has a larger residual than a random
# pixel outside; 0.5 = chance, below 0.5 = lower inside), say whether what varies from query to query points at the
# change, however small it is.
#
# **Text and image sensitivity.** The same reference with its own caption and with another query's caption: how far
# the gate moves (mean absolute difference on its $[0, 1]$ scale), against how far it moves between two images under
# one caption. A gate that reads the text moves with the caption.
#
# **Intervention.** At test time, one level's spatial gate is replaced by $\bar g$ for every query (the per-query
# part removed, the prior kept), then the channel gate by its query average, then the self-attention stream's
# output $A_{sa}$ by zero; the change in R@10 of the dataset's first protocol says whether retrieval uses what was
# removed, whatever the pictures suggest.
#
# **Positive control.** Maps known to localise: blends $(1-s)\,\bar g + s\, m$ of the prior and the region at known
# strengths $s$ ($s = 0$ is the null, $s = 1$ the region on the grid) and the region at full resolution, measured and
# drawn by the same code beside VAL.
#
# Every number over seeds is a mean over the random seeds' VAL runs with its 95% t-interval,
# $\pm\, t_{0.975,\,n-1}\, s/\sqrt{n}$; a comparison (the gate against its null, text against image, a change in
# R@10) is claimed only where the interval of its per-seed difference excludes zero.

# %% tags=["parameters"]
DATASET: str = "shoes"  # fashion200k | shoes | fashioniq
RETRAIN: bool = False   # True: train this chapter's runs here again and rewrite their records (cost printed below)
DATA_ROOT: str = ""     # real data: the folder holding fashion200k/ shoes/ fashioniq/; empty: the profile's

# %%
import pandas as pd
from valstudy import analysis, plotting, prepare
study = prepare("attention", DATASET, data=DATA_ROOT, retrain=RETRAIN)
PROFILE = study.profile.name
save = study.save

# %% [markdown]
# ## 3. Every VAL run measured
#
# Each random seed's VAL run was measured when the study trained it (`python -m valstudy measure --what attention`,
# the code of `python -m valstudy attention --run RUN_DIR`) on its final EMA weights: the map measures on a
# fixed-seed sample of the test queries of the dataset's first protocol (each query once), R@10 and the
# interventions on every query; the region measures again at each kept snapshot. Its record holds the numbers.

# %%
records = [r["measures"]["attention"] for r in study.records("methods", "val")]
summary = analysis.seed_intervals(records)
control = analysis.control_table(records)
regions = summary["synthetic"]
levels = list(records[0]["levels"])
q = records[0]["queries"]
print(f"{len(records)} VAL run(s) ({', '.join(r['run'] for r in records)}); protocol {records[0]['protocol']}: "
      f"R@10 over all {q['ranked']} test queries; maps of {q['measured']} of the {q['test']} distinct queries, "
      + (f"{q['with_region']} with a changed region ({q['local']} local, {q['global']} global)" if regions else
         "no changed regions (real data): no region measure"))

# %% [markdown]
# ## 4. The maps, drawn on their own scale
#
# Four queries of the seed-0 run, one per reference image, from the smallest changed region to the largest. Each
# level's spatial gate is drawn as its grid cells on the gate's own scale, 0 to 1 (no stretching: a gate that barely
# varies looks flat), with the changed region outlined in red; beside it the **residual**, gate minus the
# query-averaged map (top row), in a diverging colour map centred on 0, its range per level written above the
# column. **What to look for:** the top row is the prior every query gets. Does the residual turn red (or blue) inside
# the outline, more for local changes than for global ones?

# %%
examples = analysis.attention_examples(study.model_dir(), n=4, device="auto", config=study.model_config())
save(plotting.attention_grid(examples["rows"], levels, f"{DATASET}: VAL's JA spatial gate, its prior and residual "
                             f"(seed 0; {PROFILE} profile)", examples["priors"]), "maps",
     f"VAL's joint-attention spatial gate on four {DATASET} queries at each level, its query average and residual")

# %% [markdown]
# The self-attention each position receives, drawn the same way (a distribution over positions, from 0 to the
# level's largest value, stated above each column). **What to look for:** positions that every query looks at (the
# prior) against what changes with the query.

# %%
if "sa_received" in examples["priors"]:
    save(plotting.attention_grid(examples["rows"], levels, f"{DATASET}: self-attention received, its prior and "
                                 f"residual (seed 0; {PROFILE} profile)", examples["priors"], kind="sa_received"),
         "self",
         f"Self-attention received at each position on four {DATASET} queries, its query average and residual")

# %% [markdown]
# ## 5. The positive control: what localising maps look like, and what they score
#
# The same queries, each gate replaced by a blend of 25% region and 75% prior: a map known to localise. Then, for
# blends of every strength, the in-region ratio (top) and the residual's correlation with the region (bottom),
# with VAL's gate as a dashed line. **What to look for:** the ratio grows with the strength, from the null at 0 to
# the ceiling at 1; the correlation is the same for every strength above 0: it says *where* the per-query part is,
# not *how much* of it there is. Where does VAL sit on each?

# %%
if regions:
    save(plotting.attention_grid(examples["control_rows"], levels, f"{DATASET}: positive control, a blend of 25% "
                                 f"region and 75% prior ({PROFILE} profile)", examples["control_priors"]),
         "control_maps",
         f"The positive control on {DATASET}: 25% of each changed region blended into the query-averaged map")
    save(plotting.positive_control_plot(control, f"{DATASET}: the positive control beside VAL (mean over "
                                        f"{len(records)} seed(s))"), "control",
         f"Region measures of the positive control at each strength beside VAL's gate on {DATASET}")
    display(control.set_index(["level", "source", "strength"])[
        ["ratio", "ratio_null", "excess", "residual_mask_corr", "residual_mask_auc"]].round(3))

# %% [markdown]
# ## 6. The gate against its references
#
# Left: the gate's in-region ratio beside the nulls and the ceilings (log scale). Right: the gate over its nulls,
# from the per-seed differences, with 95% intervals. **What to look for:** a gate whose ratio is its null's puts in the
# region what a fixed prior puts there; the distance to the ceiling is how far it is from marking the change.

# %%
if regions:
    keys = ["ratio", "ratio_null", "ratio_shuffled", "ratio_mask_grid", "ratio_mask", "ratio_vs_null",
            "ratio_vs_shuffled"]
    save(plotting.region_ratio_plot(analysis.interval_frame(summary, keys), f"{DATASET}: VAL's JA spatial gate in "
                                    f"the changed region ({len(records)} seed(s), 95% intervals)"), "region",
         f"In-region ratio of VAL's spatial gate beside its nulls and ceilings on {DATASET}, 95% intervals")
    display(analysis.interval_table(summary, {
        "ratio": "ratio", "ratio_null": "null: mean map", "ratio_shuffled": "null: shuffled",
        "ratio_mask_grid": "region on grid", "ratio_mask": "region", "residual_mask_corr": "residual corr.",
        "residual_mask_corr_shuffled": "resid. corr., shuffled", "residual_mask_auc": "residual AUC"}))
    display(analysis.interval_table(summary, {
        "ratio_local": "ratio, local", "ratio_null_local": "null, local", "ratio_mask_local": "region, local",
        "residual_mask_corr_local": "resid. corr., local", "ratio_global": "ratio, global",
        "ratio_null_global": "null, global", "ratio_mask_global": "region, global",
        "residual_mask_corr_global": "resid. corr., global"}))

# %% [markdown]
# ## 7. Does the gate follow the text?
#
# **What to look for:** if another caption moves the gate more than another image does, the gate reads the text;
# if it hardly moves with the caption, it is a function of the image alone. The mean absolute difference counts a
# shift of the whole gate as movement; 1 - correlation counts only a change of its shape (where it is high).

# %%
sens = {"text_sensitivity": "another caption, same image", "image_sensitivity": "another image, same caption"}
save(plotting.interval_bars(analysis.interval_frame(summary, list(sens)), sens, f"{DATASET}: how far the JA spatial "
                            f"gate moves ({len(records)} seed(s), 95% intervals)",
                            "mean absolute difference (gate scale)", zero=False), "sensitivity",
     f"How far VAL's spatial gate moves under another caption and under another image on {DATASET}")
display(analysis.interval_table(summary, {**sens, "text_sensitivity_corr": "1 - corr., caption",
                                          "image_sensitivity_corr": "1 - corr., image",
                                          "text_sensitivity_channel": "channel gate, caption",
                                          "image_sensitivity_channel": "channel gate, image"}, digits=4))

# %% [markdown]
# ## 8. Does retrieval use the maps? The intervention
#
# R@10 under each replacement minus R@10 of the unmodified model, per level, with 95% intervals over seeds.
# **What to look for:** an interval across zero means retrieval does not measurably depend on what was removed.

# %%
deltas = {"delta_r10_mean_gate": "spatial gate := its query average",
          "delta_r10_mean_channel": "channel gate := its query average",
          "delta_r10_sa_zero": "self-attention output := 0"}
save(plotting.interval_bars(analysis.interval_frame(summary, list(deltas)), deltas, f"{DATASET}: R@10 under test-time "
                            f"interventions, minus R@10 ({len(records)} seed(s), 95% intervals)",
                            "change in R@10 (points)"), "intervention",
     f"Change in test R@10 on {DATASET} when a gate is set to its query average or self-attention to zero")
display(analysis.interval_table(summary, deltas, digits=1))

# %% [markdown]
# ## 9. The self-attention stream against the region
#
# The map each position receives, measured like the gate (ratio and its null, residual correlation), and where the
# rows *inside* the changed region look against the rows outside it (share of their attention inside the region over
# the region's share). **What to look for:** rows from inside the region that look into it more than rows from outside
# would mean self-attention groups the changed part.

# %%
if regions:
    display(analysis.interval_table(summary, {
        "sa_received_ratio": "received: ratio", "sa_received_ratio_null": "received: null",
        "sa_received_residual_mask_corr": "received: residual corr.", "sa_from_region_ratio": "rows inside: ratio",
        "sa_from_outside_ratio": "rows outside: ratio"}, digits=3))

# %% [markdown]
# ## 10. Along training: the stream weights and the gate
#
# The stream weights $w_{ja}$ and $w_{sa}$ of every level at each kept snapshot (EMA weights at 10%, 25% and 50% of
# the steps) and at the end, one line per seed; then the gate's ratio beside its null, and the residual's correlation
# with the region, at the same steps. **What to look for:** a stream whose weight stays near zero contributes little
# whatever its maps show; a ratio that leaves its null as training goes on is a gate that learns where the change is.

# %%
save(plotting.stream_weights_plot({r["seed"]: r["stream_weights"] for r in records},
                                  f"{DATASET}: learned stream weights ({PROFILE} profile)"), "weights",
     f"Learned weights of the joint-attention and self-attention streams along training on {DATASET}")
along = [{**row, "seed": r["seed"]} for r in records for row in r["along_training"]]
if regions:
    save(plotting.attention_along_training(pd.DataFrame(along), f"{DATASET}: VAL's JA spatial gate along training "
                                           f"({len(records)} seed(s); {PROFILE} profile)"), "training",
         f"VAL's spatial gate in the changed region along training on {DATASET}, one line per seed")

# %% [markdown]
# ## 11. Findings
#
# Written from the numbers above, not typed in: per level, the ratio with its null and ceiling, the residual, the
# text against the image, the interventions, and a finding, whichever way it comes out.

# %%
sentences = analysis.attention_sentences(summary, control if regions else None)
for s in sentences:
    print("-", s)

# %% [markdown]
# ## Record

# %%
_ = study.record({
    "levels": levels, "regions": regions, "seeds": [r["seed"] for r in records],
    "records": [{k: v for k, v in r.items() if k != "along_training"} for r in records], "summary": summary,
    "sentences": sentences, "findings": [analysis.readme_line(summary)],
    "shown": examples["queries"], "along_training": along})
