"""The study driver behind ``make study``: data, runs, notebooks, figures.

    python -m valstudy.study data      [--profile P]           generate the synthetic datasets (reused when present)
    python -m valstudy.study train     [--profile P] [--jobs J] train and evaluate every run of the plan (reused)
    python -m valstudy.study notebooks [--profile P]           execute every notebook for every dataset (papermill)
    python -m valstudy.study all       [--data synthetic|real] [--data-root DIR]

Profiles: ``smoke`` (tiny data, a few steps: the tests and the notebooks' stored defaults), ``synthetic`` (the CPU
study on the embedded synthetic data), ``real`` (the paper's configurations on real data; needs a GPU). A run is
reused while its configuration is unchanged (``valstudy.training.train`` refuses a folder holding another one).
Notebooks call :func:`prepare`, so each one also runs on its own.
"""
from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ValstudyError
from .io import read_json, write_json

DATASETS = ("fashion200k", "shoes", "fashioniq")
METHODS = ("val", "tirg", "concat", "image_only", "text_only")
REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("datasets", "training", "results", "ablations", "qualitative", "attention", "costs")
PER_DATASET = ("datasets", "training", "results", "ablations", "qualitative", "attention")


@dataclass(frozen=True)
class Profile:
    """How much of the study to run."""

    name: str
    data_size: str            # synthetic dataset size (tiny | small | medium); "real" for real data
    steps: int                # L_vv iterations per run
    seeds: tuple[int, ...]    # seeds for the method comparison
    methods: tuple[str, ...]
    ablations: tuple[str, ...]
    eval_every: int           # evaluations during training of the seed-0 VAL run (recall curves)
    overrides: dict = field(default_factory=dict)


ABLATIONS = {  # name -> configuration overrides on top of VAL (seed 0); the paper's ablations, VAL.md section 1
    "no_sa": {"model.use_sa": False},
    # Without JA the authors' start (w_ja = 1, w_sa = 0) would make the output exactly zero, so the remaining SA
    # stream starts at weight 1, as in the authors' first release (w_ja = 0, w_sa = 1).
    "no_ja": {"model.use_ja": False, "model.init_w_sa": 1.0},
    "low": {"model.levels": ("low",)},
    "mid": {"model.levels": ("mid",)},
    "high": {"model.levels": ("high",)},
    "lvs": {},                # L_vv + L_vs, set per dataset in _lvs()
    "softmax": {"loss": "softmax"},
}

PROFILES = {
    "smoke": Profile("smoke", "tiny", 12, (0,), ("val", "tirg", "image_only"), ("no_sa", "high"), 6,
                     {"batch_size": 8, "checkpoint_every": 6, "log_every": 2, "model.small_width": 8,
                      "model.lstm_hidden": 64, "model.text_dim": 64, "model.word_dim": 32}),
    "synthetic": Profile("synthetic", "small", 200, (0, 1, 2), METHODS, tuple(ABLATIONS), 25,
                         {"log_every": 10}),
    "real": Profile("real", "real", 0, (0,), ("val", "tirg"), ("no_sa", "no_ja", "lvs"), 5000, {}),
}


@dataclass(frozen=True)
class RunSpec:
    """One training run of the plan: its folder name, named configuration, overrides and table labels."""

    name: str
    config: str
    overrides: dict
    labels: dict


def absolute(path: str | Path) -> Path:
    """A study path: relative paths are relative to the repository, whatever the working folder (a notebook's is
    ``notebooks/``), so ``make study`` and every notebook name the same data and runs in their configurations."""
    path = Path(path)
    return path if path.is_absolute() else REPO / path


def data_root(dataset: str, profile: Profile, root: str | Path) -> Path:
    return Path(root) / dataset if profile.name == "real" else Path(root) / profile.name / dataset


def _lvs(dataset: str, profile: Profile, root: str | Path) -> dict:
    # Fashion200k: joint L_vv + L_vs with product descriptions; Shoes: L_vs pre-training on tagged images then L_vv;
    # FashionIQ: L_vs pre-training on Fashion200k then L_vv (seed, section 2).
    pre = max(profile.steps // 3, 1) if profile.steps else 10_000
    if dataset == "fashion200k":
        return {"side_info": "joint"}
    if dataset == "shoes":
        return {"side_info": "pretrain", "pretrain_steps": pre}
    return {"side_info": "pretrain", "pretrain_steps": pre,
            "side_info_root": str(data_root("fashion200k", profile, root))}


def plan(dataset: str, profile: Profile, root: str | Path) -> list[RunSpec]:
    """Every run a dataset's notebooks need under a profile."""
    config = f"{dataset}_{'paper' if profile.name == 'real' else 'synth'}"
    base = {**profile.overrides, "data.root": str(data_root(dataset, profile, root))}
    if profile.steps:
        base["steps"] = profile.steps
    specs = []
    for seed in profile.seeds:
        for method in profile.methods:
            over = {**base, "model.method": method, "seed": seed}
            if method == "val" and seed == 0:
                over["eval_every"] = profile.eval_every
            specs.append(RunSpec(f"{dataset}/{method}/seed{seed}", config, over,
                                 {"experiment": "methods", "variant": method}))
    for name in profile.ablations:
        over = {**base, "seed": 0, **(ABLATIONS[name] or _lvs(dataset, profile, root))}
        specs.append(RunSpec(f"{dataset}/ablation_{name}/seed0", config, over,
                             {"experiment": "ablations", "variant": name}))
    return specs


def ensure_data(dataset: str, profile: Profile, root: str | Path, seed: int = 0, check_images: bool = False) -> Path:
    """Generate a synthetic dataset unless it is there already (real data is checked, never generated).

    Real data: ``data check`` runs first and its report is printed; ``check_images`` also decodes every image
    (``make study`` does, once; notebooks read the annotations only).
    """
    target = data_root(dataset, profile, root)
    if profile.name == "real":  # check the copy first, and say what it holds (missing images, drops)
        from .data.check import check_dataset, format_report
        print(format_report(check_dataset(dataset, target, images=check_images)), flush=True)
        return target
    world = target / "extras" / "world.json"
    if world.is_file():
        w = read_json(world)
        if w.get("size") == profile.data_size and w.get("seed") == seed:
            return target
    from .data.synth import synthesize
    synthesize(dataset, target, size=profile.data_size, seed=seed)
    return target


def _train_one(spec: RunSpec, runs_root: Path, threads: int) -> tuple[RunSpec, float, str]:
    run_dir = runs_root / spec.name
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir.parent / f".{run_dir.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two notebooks (or test workers) asking for one run train it once
        return _train_locked(spec, run_dir, threads)


def _train_locked(spec: RunSpec, run_dir: Path, threads: int) -> tuple[RunSpec, float, str]:
    how = "trained"
    from .training.configs import config_differences, get_config

    diff = config_differences(get_config(spec.config, spec.overrides), run_dir)
    if diff:  # the plan changed: this folder is the study's to replace
        shutil.rmtree(run_dir)
        run_dir.mkdir(parents=True)
        how = "retrained (configuration changed)"
    elif diff == [] and (run_dir / "results.json").is_file() and (run_dir / "final.pt").is_file():
        return spec, 0.0, "reused"
    sets = [f"{k}={','.join(v) if isinstance(v, tuple) else v}" for k, v in spec.overrides.items()]
    cmd = [sys.executable, "-m", "valstudy", "train", "--config", spec.config, "--quiet", "--run-dir", str(run_dir),
           "--set", *sets]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    t0 = time.time()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ValstudyError(f"run {spec.name} failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    write_json(run_dir / "label.json", spec.labels)
    return spec, time.time() - t0, how


def ensure_runs(specs: list[RunSpec], runs_root: str | Path, jobs: int = 1, verbose: bool = True) -> list[Path]:
    """Train and evaluate every run not already finished, ``jobs`` at a time (one thread each when jobs > 1)."""
    runs_root = Path(runs_root)
    threads = max(1, (os.cpu_count() or 1) // max(jobs, 1))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_train_one, s, runs_root, threads) for s in specs]
        for i, f in enumerate(futures, 1):
            spec, secs, how = f.result()
            if verbose:
                print(f"[{i}/{len(specs)}] {spec.name}: {how}" + (f" in {secs:.0f} s" if secs else ""), flush=True)
    return [runs_root / s.name for s in specs]


@dataclass
class Study:
    """What a notebook needs: the dataset, its data folder, its runs, and where figures go."""

    dataset: str
    profile: Profile
    data_dir: Path
    runs_root: Path
    figures_dir: Path
    specs: list[RunSpec]

    def run_dir(self, name: str) -> Path:
        return self.runs_root / name


def prepare(dataset: str, profile: str = "smoke", data: str | Path = "build/smoke/data",
            runs: str | Path = "build/smoke/runs", figures: str | Path = "build/smoke/figures",
            train: bool = True, jobs: int = 1) -> Study:
    """Make sure the data and the runs a notebook needs exist (reusing what is there); return where they are."""
    if profile not in PROFILES:
        raise ValstudyError(f"unknown profile {profile!r}; choose from {', '.join(PROFILES)}")
    if dataset not in DATASETS:
        raise ValstudyError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    prof = PROFILES[profile]
    data, runs, figures = (absolute(p) for p in (data, runs, figures))
    data_dir = ensure_data(dataset, prof, data)
    specs = plan(dataset, prof, data)
    if train:
        if any("side_info_root" in s.overrides for s in specs):
            ensure_data("fashion200k", prof, data)
        ensure_runs(specs, runs, jobs=jobs, verbose=False)
    Path(figures).mkdir(parents=True, exist_ok=True)
    return Study(dataset, prof, data_dir, Path(runs), Path(figures), specs)


def execute_notebooks(profile: str, data: Path, runs: Path, figures: Path, out: Path,
                      datasets=DATASETS, notebooks=NOTEBOOKS) -> list[Path]:
    """Execute each notebook with papermill (per dataset where it is per dataset) into ``out``."""
    import papermill as pm

    done = []
    out.mkdir(parents=True, exist_ok=True)  # papermill does not create the output folder
    for nb in notebooks:
        for ds in (datasets if nb in PER_DATASET else ("all",)):
            target = out / f"{nb}_{ds}.ipynb"
            t0 = time.time()
            params = {"PROFILE": profile, "FIGURES_DIR": str(figures)}
            if nb in PER_DATASET:  # the costs notebook reads no data and no runs
                params.update(DATASET=ds, DATA_ROOT=str(data), RUNS_ROOT=str(runs))
            pm.execute_notebook(str(REPO / "notebooks" / f"{nb}.ipynb"), str(target), parameters=params,
                                cwd=str(REPO), progress_bar=False, kernel_name="python3")
            print(f"notebook {nb} [{ds}]: {time.time() - t0:.0f} s", flush=True)
            done.append(target)
    return done


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m valstudy.study", description=__doc__.splitlines()[0])
    p.add_argument("stage", choices=("data", "train", "notebooks", "all"))
    p.add_argument("--data", default="synthetic", choices=("synthetic", "real"), help="which data the study uses")
    p.add_argument("--profile", default=None, help="smoke | synthetic | real (default: from --data)")
    p.add_argument("--data-root", default=None, help="real data: the folder holding fashion200k/ shoes/ fashioniq/")
    p.add_argument("--jobs", type=int, default=2, help="runs trained at once")
    p.add_argument("--datasets", nargs="*", default=list(DATASETS))
    a = p.parse_args(argv)
    profile = a.profile or a.data
    prof = PROFILES[profile]
    # Data folders: real -> <data-root>/<dataset>; synthetic -> data/synthetic/<dataset>; smoke -> build/smoke/data/...
    data = Path(a.data_root or "data/real") if profile == "real" else Path("data") if profile == "synthetic" \
        else Path("build/smoke/data")
    runs = Path("runs") / profile
    figures = Path("figures") if profile != "smoke" else Path("build/smoke/figures")
    data, runs, figures = (absolute(p) for p in (data, runs, figures))
    t0 = time.time()
    try:
        for ds in a.datasets:
            path = ensure_data(ds, prof, data, check_images=True)
            print(f"data {ds}: {path}", flush=True)
        if a.stage in ("train", "all"):
            specs = [s for ds in a.datasets for s in plan(ds, prof, data)]
            print(f"training {len(specs)} runs, {a.jobs} at a time", flush=True)
            ensure_runs(specs, runs, jobs=a.jobs)
        if a.stage in ("notebooks", "all"):
            execute_notebooks(profile, data, runs, figures, absolute(Path("build") / "notebooks" / profile),
                              datasets=tuple(a.datasets))
    except ValstudyError as e:
        print(f"valstudy.study: error: {e}", file=sys.stderr)
        return 2
    print(f"study stage '{a.stage}' ({profile}) done in {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
