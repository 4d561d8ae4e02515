"""Write the study notebooks (``notebooks/*.ipynb``) from the readable source below, outputs stripped.

    python notebooks/build_notebooks.py          # (re)write every notebook
    python notebooks/build_notebooks.py --check  # exit 1 when a stored notebook differs from this source

Each notebook: a title, one cell tagged ``parameters`` (UPPER_CASE, annotated, a comment each; papermill replaces
it), a cell of derived values (``prepare`` makes sure the data and runs exist), then orchestration and plotting only:
computations live in ``valstudy.analysis``, drawings in ``valstudy.plotting``. Every notebook ends by recording
the numbers it computed to ``<FIGURES_DIR>/<notebook>_<dataset>.json``.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

PARAMETERS = '''\
DATASET: str = "shoes"              # fashion200k | shoes | fashioniq
PROFILE: str = "smoke"              # smoke (tiny data, seconds) | synthetic (the CPU study) | real (paper settings, GPU)
DATA_ROOT: str = ""                 # data folder; "" = the profile's (smoke: build/smoke/data, synthetic: data)
RUNS_ROOT: str = ""                 # run folders; "" = the profile's (build/smoke/runs, runs/synthetic, runs/real)
FIGURES_DIR: str = ""               # figures and tables; "" = the profile's (build/smoke/figures, figures/)'''

PREPARE = '''\
from valstudy import analysis, plotting, prepare

study = prepare(DATASET, PROFILE, DATA_ROOT, RUNS_ROOT, FIGURES_DIR{train})  # data{runs}, reused when present
FIG = study.figures_dir
figures = []  # every figure this notebook writes, recorded at the end


def save(fig, subset):
    path = plotting.save_figure(fig, FIG, f"{NOTEBOOK}_{DATASET}_{subset}")
    figures.append(path.name)
    plotting.show(path)'''


def prepare_cell(notebook: str, train: bool = True) -> str:
    """The derived-values cell; the datasets notebook needs the data only, not the runs."""
    return f'NOTEBOOK = "{notebook}"\n' + PREPARE.replace("{train}", "" if train else ", train=False").replace(
        "{runs}", " and runs" if train else "")


NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}

NOTEBOOKS["datasets"] = [
    ("md", """# Dataset anatomy

Reference/target pairs with their own descriptions and the user's text (the seed's Figs. 2-4), the counts of this
copy of the dataset beside the paper's counts of the real dataset (VAL.md sections 4-5), the length of the user
texts and the most frequent words."""),
    ("params", PARAMETERS),
    ("code", prepare_cell("datasets", train=False)),
    ("code", """from valstudy import load_dataset

ds = load_dataset(DATASET, study.data_dir)
kind = "real" if PROFILE == "real" else "synthetic"
counts = analysis.dataset_counts(ds, label=f"this copy ({kind} data, {PROFILE} profile)")
counts.to_csv(FIG / f"datasets_{DATASET}_counts.csv")
print("\\n".join(ds.report.notes) or "no notes from the loader")
counts"""),
    ("md", "Examples: the reference (blue) is changed by the user text into the target (green); above each image its "
           "own description where the dataset has one (Fashion200k product text, Shoes tagged caption)."),
    ("code", """examples = analysis.anatomy_examples(ds, n=4)
save(plotting.pair_grid(examples, f"{DATASET}: reference + user text -> target ({PROFILE} data)"), "examples")"""),
    ("code", """texts = analysis.texts_by_split(ds)
lengths = analysis.caption_lengths(texts)
words = analysis.top_words(texts["train"], n=25)
save(plotting.length_histogram(lengths, f"{DATASET}: user text length ({PROFILE} data)"), "lengths")
save(plotting.top_words_bar(words, f"{DATASET}: 25 most frequent words of the training texts\\n"
                                   f"(function words left out; {PROFILE} data)"), "vocabulary")"""),
    ("code", """from valstudy import tokenize

vocabulary = {w for t in texts["train"] for w in tokenize(t)}
analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "counts": ds.report.counts, "paper_counts": analysis.PAPER_COUNTS[DATASET],
    "texts": {k: len(v) for k, v in texts.items()},
    "mean_words": {k: sum(v) / max(len(v), 1) for k, v in lengths.items()},
    "vocabulary_size": len(vocabulary), "top_words": words,
    "examples": [{k: e[k] for k in ("reference", "text", "target")} for e in examples], "figures": figures})"""),
]

NOTEBOOKS["training"] = [
    ("md", """# Training: VAL, seed 0

The loss logged during training and the recall on the test split at each evaluation (the seed-0 VAL run trains with
`eval_every`; the last point is the final evaluation in `results.json`), from the run's `metrics.jsonl`."""),
    ("params", PARAMETERS),
    ("code", prepare_cell("training")),
    ("code", """run = study.run_dir(f"{DATASET}/val/seed0")
loss, recalls = analysis.training_curves(run)
save(plotting.training_curves(loss, recalls, f"VAL on {DATASET}, seed 0 ({PROFILE} profile)"), "curves")
recalls"""),
    ("code", """analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "run": str(run), "steps": int(loss["step"].max()),
    "first_loss": float(loss["loss"].iloc[0]), "final_loss": float(loss["loss"].iloc[-1]),
    "loss": loss.to_dict("records"), "evaluations": recalls.to_dict("records"), "figures": figures})"""),
]

NOTEBOOKS["results"] = [
    ("md", """# Results: VAL against the baselines

Mean and standard deviation over the seeds of every method trained by the study (TIRG, concat, image-only,
text-only as the profile lists them), under every protocol of the dataset (FashionIQ: VAL's and the official one).
Datasets with categories get an `average` row (the mean over categories); each row's `mean R@K` is the mean of its
R@K values, so FashionIQ's `average` row gives the paper's headline number (the mean of the six R@10/R@50 values).
The paper's published numbers follow in a **separate table: real data, cited from VAL.md section 6**; they are not
comparable to numbers on synthetic data."""),
    ("params", PARAMETERS),
    ("code", prepare_cell("results")),
    ("code", """df = study.results()
methods = df[df["experiment"] == "methods"]
summary = analysis.summary_table(methods)
summary.to_csv(FIG / f"results_{DATASET}.csv")
print(f"this study ({PROFILE} profile): mean and std over seeds")
summary.round(2)"""),
    ("code", """paper = analysis.paper_table(DATASET)
paper.to_csv(FIG / f"results_{DATASET}_paper.csv")
print("paper, real data, cited (VAL.md section 6); FashionIQ numbers follow VAL's protocol")
paper"""),
    ("code", """protocols = list(dict.fromkeys(methods["protocol"]))
for protocol in protocols:
    bars, metrics = analysis.protocol_bars(summary, protocol)
    seeds = int(summary["seeds"].max())
    spread = f"mean and std over {seeds} seeds" if seeds > 1 else "1 seed"
    save(plotting.recall_bars(bars, metrics, f"{DATASET}, protocol '{protocol}' ({PROFILE} profile, {spread})"),
         protocol)"""),
    ("code", """analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "protocols": protocols,
    "methods": list(dict.fromkeys(summary.index.get_level_values("method"))),
    "table": summary.reset_index().to_dict("records"), "paper": paper.reset_index().to_dict("records"),
    "figures": figures})"""),
]

NOTEBOOKS["ablations"] = [
    ("md", """# Ablations

The composite transformer and the streams each ablation removes (the seed's Fig. 1), then every ablation the profile
trains beside full VAL, over the same seeds: w/o SA, w/o JA; one level (low / mid / high) against all three; L_vv
against L_vv + L_vs; the triplet loss against the softmax loss. R@K under the dataset's first protocol, averaged over
categories and seeds."""),
    ("params", PARAMETERS),
    ("code", prepare_cell("ablations")),
    ("code", 'save(plotting.val_schematic(("full", "no_sa", "no_ja")), "schematic")'),
    ("code", """from valstudy import ABLATIONS, DATASET_LOADERS

protocol = DATASET_LOADERS[DATASET].protocols[0]
table = analysis.ablation_table(study.results(), protocol)
not_run = [analysis.VARIANT_LABELS[a] for a in ABLATIONS if analysis.VARIANT_LABELS[a] not in table.index]
print(f"protocol {protocol!r}; not trained in the {PROFILE} profile: {', '.join(not_run) or 'none'}")
table.round(2)"""),
    ("code", """ks = analysis.recall_columns(table)
save(plotting.recall_bars(table[ks].add_suffix(" mean"), ks, f"{DATASET}: ablations, seed mean, protocol '{protocol}' "
                          f"({PROFILE} profile)", group="variant"), "recall")
analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "protocol": protocol, "table": table.reset_index().to_dict("records"),
    "not_run": not_run, "figures": figures})"""),
]

NOTEBOOKS["qualitative"] = [
    ("md", """# Qualitative results

Successes and failures like the seed's Figs. 5-6: the reference in a blue box, the user text, the top-K retrieved
images with the correct one in a green box, and the rank at which the first correct image appears. VAL seed 0,
EMA weights, the dataset's first protocol (every category)."""),
    ("params", PARAMETERS),
    ("code", "K = 5  # retrieved images shown per query\n" + prepare_cell("qualitative")),
    ("code", """from statistics import median

from valstudy import recall_at_k

ranked = analysis.rank_queries(study.run_dir(f"{DATASET}/val/seed0"), k=K)
ds, rows = ranked["dataset"], ranked["rows"]
successes, failures = analysis.pick_examples(rows, n=4)
ks = ranked["ks"]
print(f"{len(rows)} queries; median rank of the first correct image: {median([r['rank'] for r in rows]):.0f}")
recall_at_k([r["rank"] for r in rows], ks)"""),
    ("code", """title = f"{DATASET}: VAL top-{K}, {{}} ({PROFILE} profile)"
save(plotting.retrieval_grid(analysis.with_images(ds, successes), title.format("best-ranked queries")), "success")
save(plotting.retrieval_grid(analysis.with_images(ds, failures), title.format("worst-ranked queries")), "failure")"""),
    ("code", """from valstudy import read_json

results = read_json(study.run_dir(f"{DATASET}/val/seed0") / "results.json")
analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "protocol": ranked["protocol"], "queries": len(rows),
    "recall_from_ranks": {name: recall_at_k([r["rank"] for r in rows if r["split"] == name], ks)
                          for name in ranked["splits"]},
    "recall_results_json": {s["name"]: {k: v for k, v in s.items() if k.startswith("R@")}
                            for s in results["splits"] if s["protocol"] == ranked["protocol"]},
    "success": [{k: r[k] for k in ("reference", "text", "target", "rank")} for r in successes],
    "failure": [{k: r[k] for k in ("reference", "text", "target", "rank")} for r in failures],
    "figures": figures})"""),
]

NOTEBOOKS["attention"] = [
    ("md", """# Attention maps

The joint-attention spatial map and the self-attention each position receives, at every level, overlaid on the
reference image, with the text. On synthetic data the region of the attribute the text changes is known
(`extras/pairs.json` changed attributes -> `parts.json` part -> `regions.npz` mask), so we measure the share of
spatial-attention mass inside that region against the region's area fraction (what uniform attention would give),
over the test queries. Real data has no regions: the maps are drawn and the measurement is skipped."""),
    ("params", PARAMETERS),
    ("code", prepare_cell("attention")),
    ("code", """from valstudy import load_run

model, ds, vocab, cfg = load_run(study.run_dir(f"{DATASET}/val/seed0"))
queries = analysis.unique_queries(ds, ds.protocols[0])
maps = analysis.attention_maps(model, ds, queries, vocab, cfg)
regions = analysis.ChangedRegions.load(study.data_dir)
masks = [regions.mask(q.reference, q.target, q.text) if regions else None for q in queries]
print(f"{len(queries)} test queries; " + ("changed regions from the synthetic extras" if regions else
      f"no extras/regions.npz under {study.data_dir}: no region measurement (real data)"))"""),
    ("code", """shown = analysis.pick_attention_examples(queries, masks, n=4)
rows = analysis.attention_rows(ds, [queries[i] for i in shown], [maps[i] for i in shown], [masks[i] for i in shown],
                               cfg.data.image_size)
save(plotting.attention_grid(rows, model.levels, f"{DATASET}: VAL attention per level ({PROFILE} profile)"), "maps")
mass = analysis.region_mass(maps, masks, model.levels) if regions else None
if mass is not None:
    save(plotting.region_mass_bars(mass, f"{DATASET}: spatial attention inside the changed region\\n"
                                         f"({int(mass['queries'].max())} test queries, {PROFILE} profile)"), "region")
mass"""),
    ("code", """analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "queries": len(queries), "levels": list(model.levels), "regions": regions is not None,
    "region_mass": mass.to_dict("index") if mass is not None else None,
    "shown": [{"reference": queries[i].reference, "text": queries[i].text} for i in shown], "figures": figures})"""),
]

COSTS_PARAMETERS = '''\
PROFILE: str = "smoke"              # smoke (seconds) | synthetic | real: only sets how long the timing runs
FIGURES_DIR: str = "build/smoke/figures"  # where figures and tables go (make study passes figures/)
QUERIES: int = 256                  # fixed query set timed against each gallery size
DIM: int = 2048                     # feature dimension of the random features timed
MAX_GALLERY: int = 32000            # largest gallery size N (sizes double from 1,000 up to it)'''

NOTEBOOKS["costs"] = [
    ("md", """# Computational costs

The multiply-accumulates of the composite transformers and the backbones, counted with `FlopCounterMode` by
`valstudy.flops`, beside the seed's claim (8.10e7 against ResNet-50's 3.80e9, +2.13%; VAL.md section 7 explains the
gap); then exact retrieval time (`valstudy.retrieval.topk`) for a fixed query set against galleries of N = 1k..32k,
on CPU and on the GPU when there is one: matching costs O(QN), so the log-log slope should approach 1. Not per
dataset: the notebook takes no DATASET."""),
    ("params", COSTS_PARAMETERS),
    ("code", """from pathlib import Path

import pandas as pd
import torch

from valstudy import REPO, analysis, format_flops, plotting

NOTEBOOK, DATASET = "costs", "all"
FIG = Path(FIGURES_DIR) if Path(FIGURES_DIR).is_absolute() else REPO / FIGURES_DIR
FIG.mkdir(parents=True, exist_ok=True)
figures = []
REPEATS = 3 if PROFILE == "smoke" else 7  # best of REPEATS timings per size
SIZES = [n for n in (1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000) if n <= MAX_GALLERY]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
torch.set_num_threads(1)  # the timing runs on one core, whatever else the machine is doing


def save(fig, subset):
    path = plotting.save_figure(fig, FIG, f"{NOTEBOOK}_{DATASET}_{subset}")
    figures.append(path.name)
    plotting.show(path)"""),
    ("code", """report, flops = analysis.flops_summary()
flops.to_csv(FIG / "costs_all_flops.csv", index=False)
print(format_flops(report))
measured, paper = analysis.flops_bars_data(report)
save(plotting.flops_bars(measured, paper, "composite transformers and ResNet-50: measured MACs vs the seed"),
     "flops")"""),
    ("code", """times = pd.concat([analysis.time_retrieval(SIZES, QUERIES, DIM, device=d, repeats=REPEATS)
                   for d in DEVICES])
fits = analysis.loglog_fit(times)
# Below a few thousand images the per-query work that does not grow with N (top-k merging, exact re-ranking of
# near-ties) is a large share of the time; the slope over N >= 8,000 shows the O(QN) matching term.
fits_large = analysis.loglog_fit(times, min_gallery=8000)
print({d: f"slope {fits[d][0]:.2f} over all N, {fits_large[d][0]:.2f} over N >= 8,000" for d in fits})
save(plotting.timing_loglog(times, fits_large, f"exact top-50 retrieval, Q = {QUERIES} queries of dimension {DIM}",
                            fit_label="fit over N >= 8,000"), "retrieval")
times"""),
    ("code", """analysis.record(FIG, NOTEBOOK, DATASET, {
    "profile": PROFILE, "flops_unit": report["unit"], "flops_rows": report["rows"], "flops_ratios": report["ratios"],
    "paper": report["paper"], "timing": times.to_dict("records"),
    "loglog_slope": {d: s for d, (s, _) in fits.items()},
    "loglog_slope_n_ge_8000": {d: s for d, (s, _) in fits_large.items()}, "devices": DEVICES, "figures": figures})"""),
]


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook with deterministic cell ids and no outputs."""
    nb = new_notebook(metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}})
    for i, (kind, source) in enumerate(cells):
        if kind == "md":
            cell = new_markdown_cell(source)
        else:
            cell = new_code_cell(source)
            if kind == "params":
                cell.metadata["tags"] = ["parameters"]
        cell["id"] = f"{name}-{i:02d}"
        nb.cells.append(cell)
    return nb


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, cells in NOTEBOOKS.items():
        path = HERE / f"{name}.ipynb"
        text = nbformat.writes(build(name, cells)) + "\n"
        if check:
            if not path.is_file() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale notebooks (run python notebooks/build_notebooks.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
