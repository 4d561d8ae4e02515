"""The doubling check, on the validation split: is every variant's step budget enough?

    python bench/convergence.py [--datasets shoes fashioniq fashion200k] [--seed 0] [--jobs N] [--out
                                docs/convergence.json] [--variants ...] [--train-missing] [--adopt]

For every variant of the study's plan (each method and each ablation), its run of random seed ``--seed`` is retrained
with twice its L_vv steps (the learning-rate drop, a fraction of the steps, moves with them; the evaluations stay
eight), and its final validation R@10 is set beside the study's run's. Nothing here reads a test split: budgets are
judged on validation only. A variant *passes* when doubling its steps raises validation R@10 by less than
``--tolerance`` points (2). The study's runs come from their records (``records/synthetic``); the doubled runs train
on the study's Dask executor into ``build/convergence/`` (reused when there) and write their own records there,
each with its own constant-rate gain (does the doubled budget reach a plateau?). A doubled run's configuration is the
study's at the doubled budget, so once the rule in docs/convergence.md doubles a budget, ``--adopt`` makes the
doubled runs the study's own. ``--train-missing`` first trains the study's runs of ``--seed`` that have no record.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from valstudy.analysis.convergence import plateau_gain, validation_curve  # noqa: E402
from valstudy.config import DATASETS  # noqa: E402
from valstudy.io import read_json, write_json  # noqa: E402
from valstudy.study import RunSpec, StudyPaths, absolute, plan, profile_paths  # noqa: E402
from valstudy.study.plan import get_profile  # noqa: E402
from valstudy.study.records import record_path  # noqa: E402


def final_validation(record: dict, metric: str = "R@10") -> float:
    """The validation ``metric`` at a record's last evaluation."""
    last = record["metrics"]["evaluations"][-1]
    return float(next(r[metric] for r in last["eval"] if r.get("protocol") == "validation"))


def doubled(spec: RunSpec) -> RunSpec:
    """The same run with twice its L_vv steps (pre-training too), its evaluations and snapshots rescaled: the
    configuration the study itself trains when that dataset's budget doubles (docs/convergence.md), so a doubled
    run's record can stand as that study's run."""
    cfg = spec.config
    twice = replace(cfg, steps=2 * cfg.steps, pretrain_steps=2 * cfg.pretrain_steps, eval_every=2 * cfg.eval_every,
                    keep_checkpoints=tuple(2 * k for k in cfg.keep_checkpoints))
    return RunSpec(spec.name, twice.validate(), {**spec.labels, "doubled": True})


def adopt(specs: list[RunSpec], here: StudyPaths, study: StudyPaths) -> list[str]:
    """Copy each doubled run's record (and exported weights) into the study's records where the study's plan now
    trains exactly that configuration (after a dataset's budget doubled); the names adopted."""
    import shutil

    from valstudy.study.records import model_path, portable_config, saved_differences, write_record

    done = []
    for spec in specs:
        path, planned, theirs = record_path(here.records, spec), portable_config(spec, study.data), None
        rec = read_json(path) if path.is_file() else None
        if rec is None or saved_differences(rec.get("config") or {}, planned):
            continue  # no doubled run, or the plan's budget is not the doubled one
        if record_path(study.records, spec).is_file():
            theirs = read_json(record_path(study.records, spec)).get("config") or {}
        if theirs is not None and not saved_differences(theirs, planned):
            continue  # the study already holds a record of this configuration
        rec["labels"] = {k: v for k, v in rec["labels"].items() if k != "doubled"}
        write_record(rec, study.records)
        if model_path(here.records, spec.name).is_dir():
            shutil.rmtree(model_path(study.records, spec.name), ignore_errors=True)
            shutil.copytree(model_path(here.records, spec.name), model_path(study.records, spec.name))
        done.append(spec.name)
    return done


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="*", default=list(DATASETS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", default="synthetic")
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--tolerance", type=float, default=2.0)
    p.add_argument("--root", default="build/convergence")
    p.add_argument("--out", default="docs/convergence.json")
    p.add_argument("--variants", nargs="*", default=None,
                   help="only these variants (default: every method and ablation of the plan)")
    p.add_argument("--adopt", action="store_true",
                   help="train nothing: copy the doubled runs whose configuration the study's plan now trains (a "
                        "doubled budget) into the study's records, where those have no record")
    p.add_argument("--train-missing", action="store_true",
                   help="train the study's runs of --seed that have no record first (into the study's records)")
    a = p.parse_args()
    from valstudy.study.executor import close, open_client
    from valstudy.study.runner import ensure_runs

    prof = get_profile(a.profile)
    study = profile_paths(prof)
    root = absolute(a.root)
    here = StudyPaths(study.data, root / "runs", root / "records", root / "figures")
    specs = [s for ds in a.datasets for s in plan(ds, prof, study.data) if s.config.seed == a.seed
             and (not a.variants or s.labels["variant"] in a.variants)]
    if a.adopt:
        names = adopt(specs, here, study)
        print(f"{len(names)} doubled run(s) adopted as the study's: {', '.join(names) or 'none'}")
        return 0
    missing = [s for s in specs if not record_path(study.records, s).is_file()]
    if missing and not a.train_missing:
        print(f"no record of {', '.join(s.name for s in missing)}: run the study first (make records), or pass "
              f"--train-missing")
        return 1
    twice = [doubled(s) for s in specs]
    exported = tuple(f"{ds}/{name}" for ds in a.datasets for name in prof.exported)
    client, cluster, where = open_client(workers=a.jobs)
    try:
        if missing:  # the study's own runs of this seed, into the study's records (make records would train them)
            print(f"{where}; {len(missing)} run(s) of the study first", flush=True)
            ensure_runs(client, missing, prof, study, export=exported).raise_failures()
        print(f"{where}; {len(twice)} doubled runs", flush=True)
        ensure_runs(client, twice, prof, here, export=exported).raise_failures()
    finally:
        close(client, cluster)
    rows = []
    for spec, long in zip(specs, twice):
        base, more = read_json(record_path(study.records, spec)), read_json(record_path(here.records, long))
        r1, r2 = final_validation(base), final_validation(more)
        g1, g2 = (plateau_gain(validation_curve(r), r["config"]["steps"]) for r in (base, more))
        rows.append({"dataset": spec.dataset, "variant": spec.labels["variant"], "seed": a.seed,
                     "steps": spec.config.steps, "steps_doubled": long.config.steps, "validation R@10": r1,
                     "validation R@10 doubled": r2, "gain": r2 - r1, "passes": r2 - r1 < a.tolerance,
                     "plateau gain": g1, "plateau gain doubled": g2})
        print(f"{spec.name:<36} {spec.config.steps:>5} -> {long.config.steps:>5} steps: validation R@10 "
              f"{r1:5.1f} -> {r2:5.1f} ({r2 - r1:+.1f}){'' if r2 - r1 < a.tolerance else '  STILL RISING'}; "
              f"constant-rate gain {g1:+.1f} -> {g2:+.1f}")
    out = Path(a.out)
    before = read_json(out) if out.is_file() else {}
    if before.get("split") == "validation" and before.get("seed") == a.seed and before.get("tolerance") == a.tolerance:
        key = lambda r: (r["dataset"], r["variant"], r["steps"])  # noqa: E731
        new = {key(r) for r in rows}  # the rows of other datasets, variants and budgets are kept
        rows = [r for r in before.get("rows", []) if key(r) not in new] + rows
    fresh = len(twice)
    write_json(out, {"check": "doubling", "split": "validation", "metric": "R@10", "seed": a.seed,
                     "tolerance": a.tolerance, "rows": rows})
    print(f"{sum(r['passes'] for r in rows[-fresh:])} of {fresh} variants gain less than {a.tolerance:g} points; "
          f"written to {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
