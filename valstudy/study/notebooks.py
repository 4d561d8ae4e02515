"""What a notebook asks of the study (:func:`prepare`) and how ``make study`` executes the notebooks (papermill)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..config import DATASETS, Profile
from ..errors import ValstudyError
from ..io import atomic_write
from .plan import REPO, RunSpec, get_profile, plan, profile_paths, run_folder
from .runner import describe_pending, ensure_data, ensure_runs, pending

NOTEBOOKS = ("datasets", "training", "results", "ablations", "qualitative", "attention", "costs", "beyond", "search")
PER_DATASET = ("datasets", "training", "results", "ablations", "qualitative", "attention", "beyond", "search")


@dataclass
class Study:
    """What a notebook needs: the dataset, its data folder, its runs, and where figures go."""

    dataset: str
    profile: Profile
    data_dir: Path
    runs_root: Path
    figures_dir: Path
    specs: list[RunSpec]
    folders: dict[str, Path] = field(default_factory=dict)  # spec name -> its run folder

    def run_dir(self, name: str) -> Path:
        """The folder of the plan's run ``name`` (e.g. ``shoes/val/seed0``): the one holding its configuration."""
        if name not in self.folders:
            spec = next((s for s in self.specs if s.name == name), None)
            self.folders[name] = run_folder(self.runs_root, spec) if spec else self.runs_root / name
        return self.folders[name]

    def run_dirs(self) -> list[Path]:
        """Every run folder of the plan."""
        return [self.run_dir(s.name) for s in self.specs]

    def results(self):
        """The plan's results (``valstudy.results.gather_results`` over its run folders only: a folder left by an
        earlier configuration is not mixed in)."""
        from ..results import gather_results
        return gather_results([d for d in self.run_dirs() if (d / "results.json").is_file()])


def prepare(dataset: str, profile: str = "smoke", data: str | Path | None = None, runs: str | Path | None = None,
            figures: str | Path | None = None, train: bool = True, jobs: int = 1) -> Study:
    """Make sure the data and the runs a notebook needs exist (reusing what is there); return where they are.

    Paths left out (None or "") are the profile's (:func:`valstudy.study.plan.profile_paths`), so a notebook
    switched to another profile reads and writes that profile's folders only. Runs to train are announced in one
    line (how many, roughly how long) and then reported one line each.
    """
    prof = get_profile(profile)
    if dataset not in DATASETS:
        raise ValstudyError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    data, runs, figures = profile_paths(profile, data, runs, figures)
    data_dir = ensure_data(dataset, prof, data)
    specs = plan(dataset, prof, data)
    study = Study(dataset, prof, data_dir, runs, figures, specs)
    if train:
        todo = pending(specs, runs)
        if todo:
            print(describe_pending(todo, prof, runs, jobs), flush=True)
        if any(s.config.side_info_root for s in specs):
            ensure_data("fashion200k", prof, data)
        study.folders = {s.name: d for s, d in zip(specs, ensure_runs(specs, runs, jobs=jobs, verbose=bool(todo)))}
    figures.mkdir(parents=True, exist_ok=True)
    return study


def _ipc_kernel_manager():
    """A kernel manager whose kernels talk over local sockets (IPC, files beside the connection file in Jupyter's
    runtime folder) instead of TCP on localhost: nothing listens on a port, and ipykernel has nothing to warn about
    (it warns once per kernel over unencrypted TCP). Where the runtime folder's path is too long for a socket's name
    (about 100 bytes), TCP it is."""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.paths import jupyter_runtime_dir
    from traitlets import default

    longest = Path(jupyter_runtime_dir()) / f"kernel-{'0' * 36}-ipc-65535"  # a connection file's sockets
    transport = "ipc" if len(str(longest).encode()) < 100 else "tcp"

    class IPCKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self) -> str:
            return transport

    return IPCKernelManager


def execute_notebooks(profile: str, data: Path, runs: Path, figures: Path, out: Path,
                      datasets=DATASETS, notebooks=NOTEBOOKS, executed: Path | None = None) -> list[Path]:
    """Execute each notebook with papermill (per dataset where it is per dataset) into ``out``, and copy each to
    ``executed/<notebook>_<dataset>.ipynb`` when ``executed`` is given."""
    import papermill as pm

    manager = _ipc_kernel_manager()
    done = []
    out.mkdir(parents=True, exist_ok=True)  # papermill does not create the output folder
    for nb in notebooks:
        for ds in (datasets if nb in PER_DATASET else ("all",)):
            target = out / f"{nb}_{ds}.ipynb"
            t0 = time.time()
            params = {"PROFILE": profile, "FIGURES_DIR": str(figures)}
            if nb in PER_DATASET:  # the costs notebook reads no data and no runs
                params.update(DATASET=ds, DATA_ROOT=str(data), RUNS_ROOT=str(runs))
            try:
                pm.execute_notebook(str(REPO / "notebooks" / f"{nb}.ipynb"), str(target), parameters=params,
                                    cwd=str(REPO), progress_bar=False, kernel_name="python3",
                                    kernel_manager_class=manager)
            except pm.PapermillExecutionError as e:  # one line; the executed copy keeps the whole traceback
                raise ValstudyError(f"notebook {nb} [{ds}]: cell In [{e.exec_count}] raised {e.ename}: {e.evalue} "
                                    f"(the traceback is in {target})") from None
            if executed is not None:
                atomic_write(executed / target.name, lambda f, src=target: f.write(src.read_bytes()), mode="wb")
            print(f"notebook {nb} [{ds}]: {time.time() - t0:.0f} s", flush=True)
            done.append(target)
    return done
