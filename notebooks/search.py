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
# # Interactive search with text feedback
#
# A search app over a trained run, for human studies (the paper's Future Work: "test the interactive image
# retrieval performance in practical use"). Pick a reference image, or **Random query** to start from a test pair
# whose target is then known and marked in green; type what should change and press **Search**; the top K appear
# with VAL's attention over the reference at each level; a result's button makes it the next reference. Every
# search and click is appended to `LOG` as a JSON line (session id, turn, time, reference, text, shown results,
# target rank, click), as `valstudy/widget.py` documents.

# %% tags=["parameters"]
DATASET: str = "shoes"  # fashion200k | shoes | fashioniq
RETRAIN: bool = False   # True: train the one run this app searches with here again (cost printed below)
DATA_ROOT: str = ""     # real data: the folder holding fashion200k/ shoes/ fashioniq/; empty: the profile's
RUN: str = ""           # a run folder of yours to search with; empty: the study's VAL, first seed (committed weights)
K: int = 8              # results shown per turn
LOG: str = "build/search_log.jsonl"  # the JSON-lines log of every search and click

# %%
from valstudy import SearchWidget, absolute, analysis, plotting, prepare
study = prepare("search", DATASET, data=DATA_ROOT, retrain=RETRAIN)

# %%
if RUN:  # your own run folder: its config.json names its data
    app = SearchWidget.from_run(absolute(RUN), k=K, log_path=absolute(LOG), device="cpu")
else:
    app = SearchWidget.from_run(study.model_dir(), k=K, log_path=absolute(LOG), device="cpu",
                                config=study.model_config())
    trained = study.records()[0]
    print(f"VAL, seed {trained['config']['seed']}, trained {trained['config']['steps']:,} steps "
          f"({study.profile.name} profile)" + (f": {study.profile.banner}" if study.profile.banner else ""))
app.random_query()
app

# %% [markdown]
# A session played by the simulated user through the app (it types a caption about one attribute that still
# differs from the target and clicks the top result), so an executed copy of this notebook shows the app at work and
# records its speed; images with every attribute of the target are boxed in green.

# %%
rows = app.simulated_session(turns=3)
if rows:
    study.save(plotting.retrieval_grid(rows, f"{DATASET}: a simulated user's session, one row per turn"), "session",
               f"A simulated user's search session on {DATASET}, one row per turn")
print(f"last query: {len(app.shown)} results shown")
_ = study.record({"run": RUN or "committed weights of VAL, first seed", "k": K,
                  "gallery": len(app.engine.gallery), "turns": len(rows)})
