"""``make verify``: retrain a random sample of recorded runs here and report how far each number moved.

The sample is drawn from the runs whose record is current, with a random seed that the report prints (give it back
with ``--verify-seed`` to retrain the same sample). Each run trains from scratch into ``build/verify/<seed>/runs``;
its new record (``build/verify/<seed>/records``) is compared number by number with the committed one: every recall
of every evaluated split, every validation recall along training, and the losses. On a machine of the kind that made
the record (same CPU model, same thread count) the numbers are identical; elsewhere floating-point sums run in
another order and a recall moves by up to ``TOLERANCE`` points, the study's stated tolerance.
"""
from __future__ import annotations

import random

from ..io import read_json, write_json
from .plan import RunSpec, StudyPaths, absolute
from .records import machine, record_path, record_state
from .runner import versions

TOLERANCE = 3.0  # points of recall a retrain on another machine may move a number (docs/convergence.md)


def numbers(record: dict) -> dict[str, float]:
    """Every number of a record worth comparing, by a name: test recalls, validation recalls, losses."""
    out = {}
    for split in record["results"]["splits"]:
        for k, v in split.items():
            if isinstance(v, (int, float)) and k.startswith(("R@", "valid@")):
                out[f"test {split['protocol']} {split.get('category') or ''} {k}".replace("  ", " ")] = float(v)
    for ev in record["metrics"]["evaluations"]:
        for row in ev["eval"]:
            for k, v in row.items():
                if k.startswith("R@"):
                    out[f"validation step {ev['step']} {row.get('category') or ''} {k}".replace("  ", " ")] = float(v)
    for step, loss in zip(record["metrics"]["loss"]["step"], record["metrics"]["loss"]["loss"]):
        out[f"loss step {step}"] = float(loss)
    return out


def compare(old: dict, new: dict) -> dict:
    """How far ``new``'s numbers are from ``old``'s: the largest absolute difference of test recalls, of validation
    recalls and of losses, and whether every number is identical."""
    a, b = numbers(old), numbers(new)
    keys = sorted(set(a) & set(b))
    worst = {kind: max((abs(a[k] - b[k]) for k in keys if k.startswith(kind)), default=0.0)
             for kind in ("test", "validation", "loss")}
    return {"name": old["name"], "compared": len(keys), "identical": all(a[k] == b[k] for k in keys),
            "missing": sorted(set(a) ^ set(b)), **{f"max |diff| {k}": v for k, v in worst.items()},
            "same machine kind": old["meta"].get("machine", {}).get("cpu") == new["meta"].get("machine", {}).get("cpu")}


def verify(args, profile, paths: StudyPaths, specs: list[RunSpec]) -> int:
    """Retrain ``args.sample`` recorded runs and compare; exit status 1 when a number moved beyond the tolerance
    (or at all, on the machine kind that made the record)."""
    from .executor import close, open_client
    from .runner import ensure_runs

    recorded = [s for s in specs if record_state(s, paths.records, paths.data, versions(s)) == "recorded"]
    if not recorded:
        print(f"{paths.records}: no current record to verify; run `make study` first")
        return 1
    seed = args.verify_seed if args.verify_seed is not None else random.SystemRandom().randrange(10_000)
    sample = random.Random(seed).sample(recorded, min(args.sample, len(recorded)))
    root = absolute(f"build/verify/{profile.name}/{seed}")
    here = StudyPaths(data=paths.data, runs=root / "runs", records=root / "records", figures=root / "figures")
    print(f"verify: retraining {len(sample)} of {len(recorded)} recorded runs (sample seed {seed}): "
          f"{', '.join(s.name for s in sample)}", flush=True)
    client, cluster, where = open_client(args.scheduler, args.cluster, args.jobs)
    try:
        print(where, flush=True)
        ensure_runs(client, sample, profile, here, fresh=True).raise_failures()
    finally:
        close(client, cluster)
    rows = [compare(read_json(record_path(paths.records, s)), read_json(record_path(here.records, s)))
            for s in sample]
    bad = [r for r in rows if (not r["identical"]) and (r["same machine kind"] or
                                                         r["max |diff| test"] > TOLERANCE)]
    report = {"sample_seed": seed, "machine": machine(), "tolerance": TOLERANCE, "runs": rows,
              "verdict": "pass" if not bad else "fail"}
    write_json(root / "report.json", report)
    width = max(len(r["name"]) for r in rows)
    print(f"{'run':<{width}}  numbers  identical  max|diff| test  validation  loss")
    for r in rows:
        print(f"{r['name']:<{width}}  {r['compared']:>7}  {str(r['identical']):>9}  {r['max |diff| test']:>14.3g}  "
              f"{r['max |diff| validation']:>10.3g}  {r['max |diff| loss']:.3g}")
    print(f"verify: {report['verdict']} ({sum(r['identical'] for r in rows)} of {len(rows)} identical; tolerance "
          f"{TOLERANCE:g} points of test recall on another machine kind); report: {root / 'report.json'}")
    return 0 if not bad else 1

