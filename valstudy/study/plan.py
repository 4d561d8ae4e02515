"""The study's plan: where a profile keeps its data, runs, records and figures, and every run a dataset's notebooks
need.

Run folders: ``<runs>/<dataset>/<variant>/seed<k>`` under the profile's runs root. A folder is never deleted or
overwritten: when the plan's configuration for a run differs from the one a folder holds, the run goes to
``seed<k>-<hash>`` beside it (a short hash of the configuration's non-default settings); :func:`run_folder` finds
whichever holds the plan's configuration. Records (one small JSON per finished run, ``valstudy.study.records``) live
under the profile's records root with the same names.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import (ABLATIONS, DATASETS, PROFILES, Profile, TrainConfig, config_differences, config_hash,
                      get_config, long_vals, lvs_overrides, resolve_profile, slow_factor)
from ..errors import ValstudyError

REPO = Path(__file__).resolve().parents[2]


def absolute(path: str | Path) -> Path:
    """A study path: relative paths are relative to the repository, whatever the working folder (a notebook's is
    ``notebooks/``), so ``make study`` and every notebook name the same data and runs."""
    path = Path(path)
    return path if path.is_absolute() else REPO / path


def get_profile(name: str | Profile | None = None) -> Profile:
    """The profile ``name`` (a Profile passes through); None: ``$VALSTUDY_PROFILE``, else the default profile."""
    if isinstance(name, Profile):
        return name
    if name is None:
        return resolve_profile(None)
    if name not in PROFILES:
        raise ValstudyError(f"unknown profile {name!r}; choose from {', '.join(PROFILES)}")
    return PROFILES[name]


@dataclass(frozen=True)
class StudyPaths:
    """The absolute folders of one profile's study: data root, runs, records, figures."""

    data: Path
    runs: Path
    records: Path
    figures: Path


def profile_paths(profile: str | Profile, data: str | Path | None = None, runs: str | Path | None = None,
                  figures: str | Path | None = None, records: str | Path | None = None) -> StudyPaths:
    """The profile's folders (``Profile.data_dir`` ...), absolute; an argument given (not None or "") wins.

    A runs root inside another profile's folder is refused.
    """
    prof = get_profile(profile)
    defaults = (prof.data_dir, prof.runs_dir, prof.records_dir, prof.figures_dir)
    out = StudyPaths(*(absolute(given or d) for given, d in zip((data, runs, records, figures), defaults)))
    others = [p for p in PROFILES if p != prof.name and p in out.runs.relative_to(out.runs.anchor).parts]
    if others:
        raise ValstudyError(f"{out.runs}: runs of profile {others[0]!r} live there; profile {prof.name!r} keeps its "
                            f"runs under {absolute(prof.runs_dir)} (leave RUNS_ROOT empty)")
    return out


def data_root(dataset: str, profile: Profile, root: str | Path) -> Path:
    """A dataset's folder: ``<root>/<dataset>`` (the generated world of a synthetic profile, or real data)."""
    return Path(root) / dataset


@dataclass(frozen=True)
class RunSpec:
    """One training run of the plan: its name (``<dataset>/<variant>/seed<k>``), configuration and table labels."""

    name: str
    config: TrainConfig
    labels: dict

    @property
    def dataset(self) -> str:
        return self.config.data.dataset

    @property
    def needs(self) -> tuple[str, ...]:
        """The datasets this run reads: its own, and Fashion200k when it pre-trains L_vs on it (FashionIQ)."""
        return (self.dataset,) + (("fashion200k",) if self.config.side_info_root else ())


def run_config(dataset: str, profile: Profile, root: str | Path, method: str = "val", seed: int = 0,
               ablation: str | None = None) -> TrainConfig:
    """The configuration of one run: the dataset's named configuration, the profile's settings, the variant."""
    name = f"{dataset}_{profile.config_kind}"
    over = {**profile.overrides, "data.root": str(data_root(dataset, profile, root)), "model.method": method,
            "seed": seed}
    named = get_config(name).steps
    steps = profile.steps if profile.steps is not None else named
    budget = steps  # this run's L_vv steps: the dataset's budget, longer for a slow ablation of the synthetic study
    if ablation is not None and profile.steps is None and profile.config_kind == "synth":
        budget = steps * slow_factor(ablation, dataset)
    if budget != named:
        over["steps"] = budget
    if profile.evaluations:  # validation curves: evenly spaced evaluations, the last one at the final step
        over["eval_every"] = max(budget // profile.evaluations, 1)
    if method == "val" and ablation is None and profile.snapshots:  # attention along training (VAL only)
        over["keep_checkpoints"] = tuple(sorted({max(int(round(f * budget)), 1) for f in profile.snapshots}))
    if ablation is not None and not ablation.startswith("val_x"):
        if ablation not in ABLATIONS:
            raise ValstudyError(f"unknown ablation {ablation!r}; choose from {', '.join(ABLATIONS)}")
        over.update(ABLATIONS[ablation] or lvs_overrides(dataset, steps, str(data_root("fashion200k", profile, root)),
                                                        paper=profile.config_kind == "paper"))
    return get_config(name, over)


def plan(dataset: str, profile: Profile, root: str | Path) -> list[RunSpec]:
    """Every run a dataset's notebooks need under a profile: each method and each ablation over its random seeds
    (``Profile.seeds_of``)."""
    if dataset not in DATASETS:
        raise ValstudyError(f"unknown dataset {dataset!r}; choose from {', '.join(DATASETS)}")
    specs = [RunSpec(f"{dataset}/{method}/seed{seed}", run_config(dataset, profile, root, method, seed),
                     {"experiment": "methods", "variant": method})
             for method in profile.methods for seed in profile.seeds_of(dataset, method)]
    longer = long_vals(dataset, profile.ablations) if profile.steps is None and profile.config_kind == "synth" else ()
    for name in longer:  # VAL trained as long as a slow ablation, with that ablation's seeds
        k = slow_factor(name, dataset)
        seeds = sorted({s for a in profile.ablations if slow_factor(a, dataset) == k for s in profile.seeds_of(dataset, a)})
        specs += [RunSpec(f"{dataset}/{name}/seed{seed}", run_config(dataset, profile, root, "val", seed, name),
                          {"experiment": "ablations", "variant": name}) for seed in seeds]
    specs += [RunSpec(f"{dataset}/ablation_{name}/seed{seed}", run_config(dataset, profile, root, "val", seed, name),
                      {"experiment": "ablations", "variant": name})
              for name in profile.ablations for seed in profile.seeds_of(dataset, name)]
    order = sorted(range(len(specs)), key=lambda i: (specs[i].config.seed, i))  # seed by seed: early seeds finish first
    return [specs[i] for i in order]


def run_folder(runs_root: str | Path, spec: RunSpec) -> Path:
    """The folder holding (or to hold) ``spec``'s run: ``<name>`` unless that holds another configuration, then
    ``<name>-<hash>``. Raises when both hold other configurations (nothing is ever replaced)."""
    base = Path(runs_root) / spec.name
    if not config_differences(spec.config, base):  # None (no run yet) or [] (this run)
        return base
    alt = base.with_name(f"{base.name}-{config_hash(spec.config)}")
    diff = config_differences(spec.config, alt)
    if diff:
        raise ValstudyError(f"{alt}: holds a run of another configuration (differs in {', '.join(diff)}); move it "
                            f"away to train this plan's run there")
    return alt


def reference_variants(specs: list[RunSpec]) -> dict[str, str]:
    """Variant -> the VAL variant trained for the same L_vv steps, for every variant whose steps differ from VAL's
    method runs (the comparisons at equal budgets); empty when every variant trains VAL's steps."""
    steps = {s.labels["variant"]: s.config.steps for s in specs}
    vals = {s.config.steps: s.labels["variant"] for s in specs if s.config.model.method == "val"
            and s.labels["variant"] in ("val",) + tuple(v for v in steps if v.startswith("val_"))}
    return {v: vals[n] for v, n in steps.items() if v in steps and n != steps.get("val") and n in vals
            and v != vals[n]}
