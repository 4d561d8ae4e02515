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
# # Attention: where VAL looks when it reads the text
#
# **The paper's question** (Section 3 motivates the two streams; its attention visualisations in Section 4): does
# the joint-attention stream learn to select the part of the reference image the text talks about, and does
# self-attention relate that part to the rest of the image?
#
# ## 1. The two maps drawn
#
# At each level the composite transformer (equations in the [ablations chapter](ablations.ipynb)) computes
#
# - **JA spatial** — the joint-attention spatial gate $g_{sp} = \sigma\big(\mathcal{F}_{sp}(\tfrac{1}{c}\sum_k
#   V_{\cdot,\cdot,k})\big) \in [0, 1]^{h \times w}$: how much of the reference image's feature at each position
#   passes into $A_{ja} = g_{ch} \odot g_{sp} \odot X$. High where the text makes the model *keep* the image.
# - **SA received** — for the self-attention weights $\alpha^m_{p,q}$ (position $p$ attending to position $q$ in
#   head $m$, rows summing to 1), the attention each position receives, averaged over the two heads and the $hw$
#   attending positions: $\frac{1}{2\,hw}\sum_m \sum_p \alpha^m_{p,q}$. High where many positions look.
#
# Each map is bilinearly upsampled to the image and drawn over the reference, min-max scaled per map (the colour
# bar's 1 is that map's largest value), so the panels show *where* attention is, not how much compared with another
# map. Beside them: the target image (green frame) and, on synthetic data, the **changed region**: the part of the
# reference that carries the attributes the text changes, known from the generator (`extras/pairs.json` → the
# changed attributes, `parts.json` → their part, `regions.npz` → the part's mask). Real data has no regions: the
# maps are drawn and the measurement is skipped.
#
# ## 2. The measurement
#
# For a query with changed region $R$, the share of JA spatial mass inside it against the region's share of the
# image (what spatially uniform attention would give):
#
# $$\mu_R = \frac{\sum_{x \in R} g_{sp}(x)}{\sum_{x} g_{sp}(x)}
# \quad\text{against}\quad a_R = \frac{|R|}{|\text{image}|}.$$
#
# Attention that localises the change gives $\mu_R > a_R$; the finding reports $\mu_R - a_R$ with its 95% interval
# over the test queries.

# %% tags=["parameters"]
DATASET: str = "shoes"      # fashion200k | shoes | fashioniq
PROFILE: str = "synthetic"  # synthetic: the study | smoke: wiring check | real: GPU; $VALSTUDY_PROFILE overrides
DATA_ROOT: str = ""         # data folder; empty: the profile's (smoke: build/smoke/data, synthetic: data)
RUNS_ROOT: str = ""         # run folders; empty: the profile's (build/smoke/runs, runs/synthetic, runs/real)
FIGURES_DIR: str = ""       # figures and tables; empty: the profile's (build/smoke/figures, figures/)

# %%
NOTEBOOK = "attention"
import pandas as pd
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
# ## 3. The maps of the final VAL model (seed 0)
#
# Every test query of the dataset's first protocol once (a query listed in several splits counts once), encoded
# with the run's final EMA weights.

# %%
from valstudy import load_run

model, ds, vocab, cfg = load_run(study.run_dir(f"{DATASET}/val/seed0"))
queries = analysis.unique_queries(ds, ds.protocols[0])
maps = analysis.attention_maps(model, ds, queries, vocab, cfg)
regions = analysis.ChangedRegions.load(study.data_dir)
masks = [regions.mask(q.reference, q.target, q.text) if regions else None for q in queries]
located = sum(m is not None for m in masks)
if regions:
    print(f"{len(queries)} test queries; {located} with a changed region in the reference image, "
          f"{len(queries) - located} without one (the changed attribute has no part of its own there, or the pair is "
          f"not in the extras): the measurement below uses the {located}")
else:
    print(f"{len(queries)} test queries; no extras/regions.npz under {study.data_dir}: no region measurement "
          f"(real data)")

# %% [markdown]
# Four queries, one per reference image, chosen from the smallest changed region (a local attribute such as a
# neckline) to the largest (a global one such as colour). **What to look for:** does the JA spatial map at some
# level light up inside the red outline, and more so for small, local regions? Does the SA-received map pick out the
# garment, the background, or the same positions on every image (a map that ignores the image)?

# %%
shown = analysis.pick_attention_examples(queries, masks, n=4)
rows = analysis.attention_rows(ds, [queries[i] for i in shown], [maps[i] for i in shown], [masks[i] for i in shown],
                               cfg.data.image_size)
save(plotting.attention_grid(rows, model.levels, f"{DATASET}: VAL attention per level ({PROFILE} profile)"), "maps")

# %% [markdown]
# ## 4. Attention inside the changed region
#
# Per level, the mean of $\mu_R$ and of $a_R$ over the queries with a region (`queries` in the table). **What to
# look for:** bars of equal height mean the JA spatial map spreads its mass as a uniform map would; a taller
# attention bar means it concentrates on the changed part.

# %%
mass = analysis.region_mass(maps, masks, model.levels) if regions else None
if mass is not None:
    save(plotting.region_mass_bars(mass, f"{DATASET}: spatial attention inside the changed region\n"
                                         f"({located} of {len(queries)} test queries have one; {PROFILE} profile)"),
         "region")
    excess = analysis.region_excess(maps, masks, model.levels)
    display(mass.join(excess.add_prefix("excess ")).round(3))

# %% [markdown]
# ### Finding
#
# Written from the numbers above, not typed in (interval: over queries of this one model, so it says how sure we are
# of this model's maps, not how another seed's would look):

# %%
if mass is not None:
    for level, row in excess.iterrows():
        print("-", analysis.region_sentence(level, row, DATASET))
else:
    print("no changed regions on this data: no finding about localisation")

# %% [markdown]
# ## 5. Do the maps depend on the query at all?
#
# A map that is the same for every query cannot point at what a particular text changes in a particular image.
# `map_correlation` is the mean Pearson correlation between the maps of two different test queries at the same level
# (1: one map for every query; 0: unrelated maps); `spread` is the standard deviation across queries of each
# position's value relative to its mean (0: identical maps). **What to look for:** correlations near 1 mean the level
# attends to fixed positions, whatever it is shown.

# %%
dependence = {kind: analysis.image_dependence(maps, model.levels, kind) for kind in ("spatial", "self")}
dependence_table = dependence["spatial"].add_prefix("JA spatial: ").join(dependence["self"].add_prefix("SA received: "))
dependence_table.round(3)

# %% [markdown]
# ## 6. Along training, over the three random seeds
#
# The VAL method runs keep their exponential-moving-average weights at 10%, 25% and 50% of their steps
# (`ckpt_<step>.pt`); with the final weights, four points per run. Per level: the mass ratio of section 4 (1 = a
# uniform map) and the map correlation of section 5. **What to look for:** a ratio that rises above 1 as VAL learns
# would mean the gate learns where the change is; a correlation that stays near 1 means the map stays fixed.

# %%
along = []
for spec in [s for s in study.specs if s.labels == {"experiment": "methods", "variant": "val"}]:
    run_dir = study.run_dir(spec.name)
    # the seeds' VAL runs share the dataset, vocabulary and model shape of the seed-0 run loaded above
    table = analysis.attention_along_training(run_dir, ds, queries, masks, vocab, cfg)
    along.append(table.assign(seed=spec.config.seed))
along = pd.concat(along, ignore_index=True) if along else pd.DataFrame()
if regions and not along.empty:
    save(plotting.attention_along_training(along, f"{DATASET}: VAL's JA spatial maps along training "
                                                  f"({along['seed'].nunique()} seeds; {PROFILE} profile)"), "training")
    final_step = along.groupby("seed")["step"].transform("max") == along["step"]
    final = along[final_step].groupby("level")[["ratio", "map_correlation"]].agg(["mean", "std"])
    display(final.round(3))

# %% [markdown]
# ### Finding (from the numbers above)

# %%
if regions and not along.empty:
    n = along["seed"].nunique()
    for level in model.levels:
        r = final.loc[level]
        first = along[along["level"] == level].groupby("step")["ratio"].mean()
        print(f"- {level}: at the end of training the JA spatial map puts {r[('ratio', 'mean')]:.2f} +- "
              f"{r[('ratio', 'std')]:.2f} times the changed region's share of the image inside it (mean +- std over "
              f"{n} seeds; 1 = uniform; {first.iloc[0]:.2f} at step {first.index[0]}); two queries' maps correlate at "
              f"{r[('map_correlation', 'mean')]:.2f} +- {r[('map_correlation', 'std')]:.2f}.")
else:
    print("no changed regions or no snapshots: nothing to measure along training")

# %% [markdown]
# ## Record

# %%
_ = analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "queries": len(queries), "queries_with_region": located, "levels": list(model.levels),
    "regions": regions is not None, "region_mass": mass.to_dict("index") if mass is not None else None,
    "region_excess": excess.to_dict("index") if mass is not None else None,
    "shown": [{"reference": queries[i].reference, "text": queries[i].text} for i in shown],
    "image_dependence": {k: v.to_dict("index") for k, v in dependence.items()},
    "along_training": along.to_dict("records"), "figures": figures})
