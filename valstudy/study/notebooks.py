"""What a notebook asks of the study (:func:`prepare`, :class:`Study`) and how the study executes notebooks
(papermill), keeping executed copies that travel (no machine paths, no timestamps, links that resolve).

A notebook reads the study's records (``valstudy.study.records``), never run folders, and loads weights only from the
records' committed copies; so run as it is in a fresh clone, it trains nothing. ``retrain=True`` trains the runs the
chapter reads again (reusing finished run folders of this machine) and rewrites their records; ``prepare`` first
prints what that costs here.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..config import DATASETS, FIGURES_ENV, PROFILE_ENV, Profile
from ..errors import ValstudyError
from ..io import atomic_write, read_json
from .plan import REPO, RunSpec, StudyPaths, get_profile, plan, profile_paths, reference_variants
from .records import model_config, model_path, record_path
from .runner import describe_pending, ensure_data, to_do

NOTEBOOKS = ("datasets", "training", "results", "ablations", "qualitative", "attention", "costs", "beyond", "search")
PER_DATASET = ("datasets", "training", "results", "ablations", "qualitative", "attention", "beyond", "search")


def _reads(notebook: str, spec: RunSpec, profile: Profile) -> bool:
    """Whether ``notebook`` reads ``spec``'s record (or, for the first VAL seed, its committed weights)."""
    experiment, variant = spec.labels["experiment"], spec.labels["variant"]
    first_val = experiment == "methods" and variant == "val" and spec.config.seed == min(
        profile.seeds_of(spec.dataset, "val"))
    return {"datasets": False, "costs": False, "training": True,
            "results": True, "ablations": True,  # every comparison of the dataset: Holm's family
            "beyond": experiment == "methods",
            "attention": experiment == "methods" and variant == "val",
            "qualitative": first_val, "search": first_val}[notebook]


@dataclass
class Study:
    """What a notebook needs: its dataset, profile and folders, the records of the runs it reads, the committed
    weights, and where its figures and numbers go (:meth:`save`, :meth:`record`)."""

    notebook: str
    dataset: str
    profile: Profile
    paths: StudyPaths
    specs: list[RunSpec]
    figures: list[str] = field(default_factory=list)  # the figure files this notebook wrote, in order

    @property
    def data_dir(self) -> Path:
        return self.paths.data / self.dataset

    @property
    def figures_dir(self) -> Path:
        return self.paths.figures

    def records(self, experiment: str | None = None, variant: str | None = None) -> list[dict]:
        """The records of the chapter's runs (optionally one experiment or variant), in the plan's order."""
        out = []
        for spec in self.specs:
            if experiment not in (None, spec.labels["experiment"]) or variant not in (None, spec.labels["variant"]):
                continue
            path = record_path(self.paths.records, spec)
            if not path.is_file():
                raise ValstudyError(f"{path}: no record of run {spec.name}; set RETRAIN = True to train it, or run "
                                    f"`make study`")
            out.append(read_json(path))
        return out

    def results(self):
        """One row per (run, protocol, category) with the run's labels and every recall (``valstudy.results``)."""
        from ..results import results_table
        return results_table(self.records())

    def family_records(self) -> list[dict]:
        """The records of every run of the dataset's plan (whatever this chapter's own runs are)."""
        return Study(self.notebook, self.dataset, self.profile, self.paths,
                     plan(self.dataset, self.profile, self.paths.data)).records()

    def family(self):
        """:meth:`results` of every run of the dataset's plan: the family of comparisons Holm's correction spans."""
        from ..results import results_table
        return results_table(self.family_records())

    def references(self) -> dict[str, str]:
        """Variant -> the VAL variant it is compared with, where that is not VAL at the dataset's budget (an ablation
        trained longer is paired with VAL trained as long)."""
        return reference_variants(plan(self.dataset, self.profile, self.paths.data))

    def model(self, name: str | None = None, device: str = "cpu"):
        """(model, dataset, vocabulary, configuration) of committed weights, by default VAL's first seed."""
        from ..evaluation import load_run
        return load_run(self.model_dir(name), device=device, config=self.model_config(name))

    def model_config(self, name: str | None = None):
        """The configuration of committed weights, its data root this machine's."""
        return model_config(self.model_dir(name), self.paths.data)

    def model_dir(self, name: str | None = None) -> Path:
        """The folder of committed weights (a minimal run folder) of ``name``, default VAL's first seed."""
        name = name or f"{self.dataset}/val/seed{min(self.profile.seeds_of(self.dataset, 'val'))}"
        return model_path(self.paths.records, name)

    def name(self, subset: str) -> str:
        """A figure's name: ``<notebook>_<dataset>_<subset>``."""
        return f"{self.notebook}_{self.dataset}_{subset}"

    def save(self, fig, subset: str, caption: str = "") -> None:
        """Write a figure as ``<figures>/<notebook>_<dataset>_<subset>.png``, show it (``caption`` is its alt
        text), and list it in the notebook's record. Returns nothing, so a cell that ends with it echoes no path
        of this machine into the executed copy."""
        from .. import plotting

        path = plotting.save_figure(fig, self.figures_dir, self.name(subset))
        self.figures.append(path.name)
        plotting.show(path, caption)

    def record(self, numbers: dict) -> Path:
        """Write what the notebook computed, and the figures it wrote, to ``<figures>/<notebook>_<dataset>.json``."""
        from ..analysis import record
        return record(self.figures_dir, self.notebook, self.dataset, {"profile": self.profile.name, **numbers,
                                                                      "figures": self.figures})


def prepare(notebook: str, dataset: str = "all", profile: str | None = None, data: str | Path | None = None,
            figures: str | Path | None = None, retrain: bool = False, workers: int = 1) -> Study:
    """What a notebook needs, ready: its data (generated when missing) and the records of the runs it reads.

    ``profile`` ("" or None: ``$VALSTUDY_PROFILE``, else the study's) and ``figures`` ("" or None:
    ``$VALSTUDY_FIGURES_DIR``, else the profile's folder) come from the environment when a notebook calls this, so
    its parameter cell holds only what the chapter varies; ``data``: real data's root (None: the profile's). Records
    that are missing stop the notebook with the way to make them, unless ``retrain`` (or a profile that trains what
    is missing, like smoke): then the chapter's runs are trained here, one at a time, and their records written.
    Prints the profile's banner and one line on the records: how many, and what retraining them costs here.
    """
    prof = get_profile(profile or None)
    figures = figures or os.environ.get(FIGURES_ENV) or None
    if dataset != "all" and dataset not in DATASETS:
        raise ValstudyError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    if notebook not in NOTEBOOKS:
        raise ValstudyError(f"unknown notebook {notebook!r}; choose from {', '.join(NOTEBOOKS)}")
    paths = profile_paths(prof, data=data, figures=figures)
    chosen = "given" if profile else f"from ${PROFILE_ENV}" if os.environ.get(PROFILE_ENV) else "the default"
    print(prof.banner or f"profile {prof.name!r} ({chosen})", flush=True)
    specs = [] if dataset == "all" else [s for s in plan(dataset, prof, paths.data) if _reads(notebook, s, prof)]
    if dataset != "all":
        ensure_data(dataset, prof, paths.data)
    study = Study(notebook, dataset, prof, paths, specs)
    paths.figures.mkdir(parents=True, exist_ok=True)
    if not specs:
        return study
    missing = to_do(specs, paths)
    retrain_all = describe_pending(specs, prof, paths, workers)
    print(f"{len(specs) - len(missing)} of {len(specs)} record(s) of this chapter's runs present; retraining them "
          f"(RETRAIN = True): {retrain_all.split(', ', 1)[1]}", flush=True)
    todo = specs if retrain else missing if prof.train_missing else []
    if missing and not todo:
        raise ValstudyError(f"{len(missing)} record(s) missing under {paths.records} (first: {missing[0].name}); "
                            f"set RETRAIN = True to train them here, or run `make study`")
    if todo:
        _train_here(todo, prof, paths, fresh=retrain)
    return study


def _train_here(specs: list[RunSpec], profile: Profile, paths: StudyPaths, fresh: bool) -> None:
    """Train ``specs`` in this process's children, one at a time, writing their records (no cluster)."""
    from .tasks import run_task

    exported = {f"{s.dataset}/{name}" for s in specs for name in profile.exported}
    for ds in sorted({d for s in specs for d in s.needs}):
        ensure_data(ds, profile, paths.data)
    for folder in (paths.runs, paths.records):
        folder.mkdir(parents=True, exist_ok=True)
    for i, spec in enumerate(specs, 1):
        if fresh:
            record_path(paths.records, spec).unlink(missing_ok=True)
        out = run_task(spec, paths, 1, spec.name in exported)
        print(f"[{i}/{len(specs)}] {spec.name}: {', '.join(out['done'])} in {out['seconds']:.0f} s", flush=True)


# ------------------------------------------------------------------------------------------------ executing notebooks
def _ipc_kernel_manager(env: dict[str, str] | None = None):
    """A kernel manager whose kernels talk over local sockets (IPC, files beside the connection file in Jupyter's
    runtime folder) instead of TCP on localhost: nothing listens on a port, and ipykernel has nothing to warn about
    (it warns once per kernel over unencrypted TCP). Where the runtime folder's path is too long for a socket's name
    (about 100 bytes), TCP it is. ``env``: variables set in each kernel's environment on top of this process's."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir

    Path(jupyter_runtime_dir()).mkdir(parents=True, exist_ok=True)
    from traitlets import default

    runtime = Path(jupyter_runtime_dir())
    longest = runtime / f"kernel-{'0' * 12}-ipc-65535"  # a kernel's socket files: <ip>-<n>
    transport = "ipc" if len(str(longest).encode()) < 100 else "tcp"

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self) -> str:
            return transport

        @default("ip")
        def _ip_default(self) -> str:  # each kernel its own socket files, so kernels started at once never share one
            return str(runtime / f"kernel-{uuid.uuid4().hex[:12]}-ipc") if transport == "ipc" else "127.0.0.1"

        async def _async_pre_start_kernel(self, **kw):
            kw["env"] = {**(kw.get("env") or os.environ), **(env or {})}
            return await super()._async_pre_start_kernel(**kw)

    return IPCKernelManager


_LINK = re.compile(r"\]\((?!https?:|#|/)([^)\s]+)\)")


def executed_link(target: str, dataset: str) -> str:
    """A relative link of notebook ``notebooks/<name>.py`` written for its executed copy in ``notebooks/executed/``:
    docs one level further up (``../docs/x.md`` -> ``../../docs/x.md``), a sibling notebook as the same dataset's
    executed copy (``ablations.ipynb`` -> ``ablations_shoes.ipynb``; ``costs.ipynb`` -> ``costs_all.ipynb``)."""
    stem, _, anchor = target.partition("#")
    if stem.endswith(".ipynb") and "/" not in stem:
        suffix = "all" if stem[:-6] == "costs" else dataset
        stem = f"{stem[:-6]}_{suffix}.ipynb"
    elif not stem.startswith(("../../", "http")) and stem.startswith("../"):
        stem = "../" + stem
    return f"{stem}{'#' + anchor if anchor else ''}"


def source_link(target: str, dataset: str) -> str:
    """The inverse of :func:`executed_link`: a link of an executed copy as its notebook in ``notebooks/`` writes it.
    A link already in that form (an executed copy written before links were rewritten) is returned as it is."""
    stem, _, anchor = target.partition("#")
    if stem.startswith("../../"):
        stem = stem[3:]
    elif stem.endswith(".ipynb") and "/" not in stem:
        for suffix in (f"_{dataset}", "_all"):
            if stem[:-6].endswith(suffix):
                stem = stem[:-6 - len(suffix)] + ".ipynb"
                break
    return f"{stem}{'#' + anchor if anchor else ''}"


WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_MODEL_REF = re.compile(r"IPY_MODEL_([0-9a-f]{32})")


def stable_widget_ids(nb: dict) -> dict:
    """The notebook with its widget models renamed ``000...0``, ``000...1``, ... in an order that comes from the
    notebook itself (the views in the outputs, in cell order, then what each model refers to), so that executing a
    notebook twice writes the same file: ipywidgets names each model with a random UUID."""
    state = nb["metadata"].get("widgets", {}).get(WIDGET_STATE, {}).get("state")
    if not state:
        return nb
    order, queue = [], []

    def visit(model: str) -> None:
        if model in state and model not in order:
            order.append(model)
            queue.append(model)

    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view:
                visit(view.get("model_id", ""))
    text = {m: json.dumps(state[m], sort_keys=True) for m in state}
    digests: dict[str, str] = {}

    def digest(model: str) -> str:  # the model's content, each reference replaced by the referred model's digest
        if model not in digests:
            digests[model] = ""  # a cycle reads as an empty reference
            body = _MODEL_REF.sub(lambda m: "IPY_MODEL_" + (digest(m.group(1)) if m.group(1) in state else ""),
                                  text[model])
            digests[model] = hashlib.sha1(body.encode()).hexdigest()
        return digests[model]

    while True:
        while queue:
            for ref in _MODEL_REF.findall(text[queue.pop(0)]):
                visit(ref)
        left = [m for m in state if m not in order]
        if not left:
            break
        # what no view shows: start from a model nothing left refers to, the least by digest (equal digests are
        # equal subtrees, so their order cannot change the file)
        referred = {r for m in left for r in _MODEL_REF.findall(text[m])}
        visit(min([m for m in left if m not in referred] or left, key=digest))
    names = {old: f"{i:032x}" for i, old in enumerate(order)}
    out = json.loads(re.sub(r"[0-9a-f]{32}", lambda m: names.get(m.group(0), m.group(0)), json.dumps(nb)))
    widgets = out["metadata"]["widgets"][WIDGET_STATE]
    widgets["state"] = dict(sorted(widgets["state"].items()))
    return out


def travel(nb: dict, dataset: str) -> dict:
    """An executed notebook made to travel: papermill's and Jupyter's timestamps removed, the injected parameter
    cell given a fixed id, relative links written for ``notebooks/executed/`` (:func:`executed_link`) and widget
    models named in a fixed order (:func:`stable_widget_ids`)."""
    nb = stable_widget_ids(nb)
    nb["metadata"].get("papermill", {}).pop("start_time", None)
    for key in ("end_time", "duration", "input_path", "output_path", "environment_variables", "exception"):
        nb["metadata"].get("papermill", {}).pop(key, None)

    def link(m: re.Match) -> str:
        return f"]({executed_link(m.group(1), dataset)})"

    for cell in nb["cells"]:
        for key in ("papermill", "execution"):
            cell["metadata"].pop(key, None)
        if "injected-parameters" in cell["metadata"].get("tags", []):
            cell["id"] = "injected-parameters"
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            cell["source"] = _LINK.sub(link, text)
    return nb


def execute_notebook(notebook: str, dataset: str, profile: str, out: Path, params: dict | None = None,
                     executed: Path | None = None, figures: Path | None = None) -> Path:
    """Execute ``notebooks/<notebook>.ipynb`` for ``dataset`` with papermill into ``out``, its kernel's
    ``$VALSTUDY_PROFILE`` set to ``profile`` (and ``$VALSTUDY_FIGURES_DIR`` to ``figures`` when given); keep a
    travelling copy in ``executed`` when given. A failing cell is a one-line error naming the notebook and the cell."""
    import papermill as pm

    out.mkdir(parents=True, exist_ok=True)  # papermill does not create the output folder
    target = out / f"{notebook}_{dataset}.ipynb"
    parameters = {**({"DATASET": dataset} if notebook in PER_DATASET else {}), **(params or {})}
    env = {PROFILE_ENV: profile, **({FIGURES_ENV: str(figures)} if figures else {})}
    try:
        pm.execute_notebook(str(REPO / "notebooks" / f"{notebook}.ipynb"), str(target), parameters=parameters,
                            cwd=str(REPO), progress_bar=False, kernel_name="python3",
                            kernel_manager_class=_ipc_kernel_manager(env))
    except pm.PapermillExecutionError as e:  # one line; the executed copy keeps the whole traceback
        raise ValstudyError(f"notebook {notebook} [{dataset}]: cell In [{e.exec_count}] raised {e.ename}: {e.evalue} "
                            f"(the traceback is in {target})") from None
    nb = travel(json.loads(target.read_text()), dataset)
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    atomic_write(target, lambda f: f.write(text))
    if executed is not None:
        atomic_write(executed / target.name, lambda f: f.write(text))
    return target


def notebook_task(notebook: str, dataset: str, profile: str, out: str, params: dict | None = None,
                  executed: str | None = None, after: tuple = (), figures: str | None = None) -> dict:
    """One notebook execution as a study task (``after``: the runs it waits for)."""
    t0 = time.time()
    execute_notebook(notebook, dataset, profile, Path(out), params, Path(executed) if executed else None,
                     Path(figures) if figures else None)
    return {"name": f"{notebook}_{dataset}", "done": ["executed"], "seconds": time.time() - t0}


def notebook_jobs(profile: str | Profile, datasets=DATASETS, notebooks=NOTEBOOKS) -> list[tuple[str, str]]:
    """(notebook, dataset) of every execution: per-dataset notebooks once per dataset, the others once ("all")."""
    return [(nb, ds) for nb in notebooks for ds in (datasets if nb in PER_DATASET else ("all",))]
