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
# # Interactive search with text feedback
#
# A search app over a trained run, for human studies (the paper's Future Work: "test the interactive image
# retrieval performance in practical use"). Pick a reference image, or **Random query** to start from a test pair
# whose target is then known and marked in green; type what should change and press **Search**; the top K appear
# with VAL's attention over the reference at each level; a result's button makes it the next reference. Every
# search and click is appended to `LOG` as a JSON line (session id, turn, time, reference, text, shown results,
# target rank, click), as `valstudy/widget.py` documents.

# %% tags=["parameters"]
DATASET: str = "shoes"              # fashion200k | shoes | fashioniq
PROFILE: str = "synthetic"          # synthetic: the study | smoke: wiring check | real: GPU; $VALSTUDY_PROFILE overrides
DATA_ROOT: str = ""                 # data folder; empty: the profile's (smoke: build/smoke/data, synthetic: data)
RUNS_ROOT: str = ""                 # run folders; empty: the profile's (build/smoke/runs, runs/synthetic, runs/real)
FIGURES_DIR: str = ""               # figures and tables; empty: the profile's (build/smoke/figures, figures/)
RUN: str = ""                       # a run folder to search with; empty: the study's VAL run, seed 0
K: int = 8                          # results shown per turn
LOG: str = "build/search_log.jsonl" # the JSON-lines log of every search and click

# %%
NOTEBOOK = "search"
from pathlib import Path

from valstudy import SearchWidget, absolute, analysis, prepare

PROFILE, DATA_ROOT, RUNS_ROOT, FIGURES_DIR = analysis.notebook_parameters(PROFILE, DATA_ROOT, RUNS_ROOT, FIGURES_DIR)
if RUN:
    run_dir, FIG = Path(RUN), absolute(FIGURES_DIR)
else:
    study = prepare(DATASET, PROFILE, DATA_ROOT, RUNS_ROOT, FIGURES_DIR)  # data and runs, reused when present
    run_dir, FIG = study.run_dir(f"{DATASET}/val/seed0"), study.figures_dir
app = SearchWidget.from_run(run_dir, k=K, log_path=absolute(LOG), device="cpu")
app.random_query()
app

# %% [markdown]
# A session played by the simulated user through the app (it types a caption about one attribute that still
# differs from the target and clicks the top result), so an executed copy of this notebook shows the app at work and
# records its speed; images with every attribute of the target are boxed in green.

# %%
from valstudy import plotting


def save(fig, subset):
    path = plotting.save_figure(fig, FIG, f"{NOTEBOOK}_{DATASET}_{subset}")
    figures.append(path.name)
    plotting.show(path)


figures = []
rows = app.simulated_session(turns=3)
if rows:
    save(plotting.retrieval_grid(rows, f"{DATASET}: a simulated user's session, one row per turn"), "session")
print(f"last query: {len(app.shown)} results in {app.last_seconds:.3f} s; {app.status.value}")
analysis.record(FIG, NOTEBOOK, DATASET, {"run": str(run_dir), "k": K, "gallery": len(app.engine.gallery),
                                         "turns": len(rows), "seconds_per_query": app.last_seconds,
                                         "figures": figures})
