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
# # Attention maps
#
# The joint-attention spatial map and the self-attention each position receives, at every level, overlaid on the
# reference image, with the text. On synthetic data the region of the attribute the text changes is known
# (`extras/pairs.json` changed attributes -> `parts.json` part -> `regions.npz` mask), so we measure the share of
# spatial-attention mass inside that region against the region's area fraction (what uniform attention would give),
# over the test queries. Real data has no regions: the maps are drawn and the measurement is skipped.

# %% tags=["parameters"]
DATASET: str = "shoes"              # fashion200k | shoes | fashioniq
PROFILE: str = "smoke"              # smoke (tiny data, seconds) | synthetic (the CPU study) | real (paper settings, GPU)
DATA_ROOT: str = ""                 # data folder; "" = the profile's (smoke: build/smoke/data, synthetic: data)
RUNS_ROOT: str = ""                 # run folders; "" = the profile's (build/smoke/runs, runs/synthetic, runs/real)
FIGURES_DIR: str = ""               # figures and tables; "" = the profile's (build/smoke/figures, figures/)

# %%
NOTEBOOK = "attention"
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
from valstudy.evaluation import load_run

model, ds, vocab, cfg = load_run(study.run_dir(f"{DATASET}/val/seed0"))
queries = analysis.unique_queries(ds, ds.protocols[0])
maps = analysis.attention_maps(model, ds, queries, vocab, cfg)
regions = analysis.ChangedRegions.load(study.data_dir)
masks = [regions.mask(q.reference, q.target, q.text) if regions else None for q in queries]
print(f"{len(queries)} test queries; " + ("changed regions from the synthetic extras" if regions else
      f"no extras/regions.npz under {study.data_dir}: no region measurement (real data)"))

# %%
shown = analysis.pick_attention_examples(queries, masks, n=4)
rows = analysis.attention_rows(ds, [queries[i] for i in shown], [maps[i] for i in shown], [masks[i] for i in shown],
                               cfg.data.image_size)
save(plotting.attention_grid(rows, model.levels, f"{DATASET}: VAL attention per level ({PROFILE} profile)"), "maps")
mass = analysis.region_mass(maps, masks, model.levels) if regions else None
if mass is not None:
    save(plotting.region_mass_bars(mass, f"{DATASET}: spatial attention inside the changed region\n"
                                         f"({int(mass['queries'].max())} test queries, {PROFILE} profile)"), "region")
mass

# %%
analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "queries": len(queries), "levels": list(model.levels), "regions": regions is not None,
    "region_mass": mass.to_dict("index") if mass is not None else None,
    "shown": [{"reference": queries[i].reference, "text": queries[i].text} for i in shown], "figures": figures})
