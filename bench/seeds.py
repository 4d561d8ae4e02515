"""Plan the study's random seeds from a pilot's spread, never from a verdict.

    python bench/seeds.py [--pilot-seeds 4] [--min 4] [--max 8] [--out docs/seeds.json]

The pilot is the study's own first ``--pilot-seeds`` random seeds (their records under ``records/synthetic``). For
every comparison the study makes (VAL against each other variant, test R@10 under the dataset's first protocol,
paired by seed), the standard deviation of the paired differences over the pilot's seeds sets the seeds the
comparison gets: the smallest n at which a paired t-test has 80% power against a 3-point difference
(``valstudy.analysis.verdicts.seeds_needed``), clamped to [``--min``, ``--max``] (the compute this machine can
give). Only the spread is read: the pilot's mean differences, intervals and outcomes play no part. VAL gets the most
seeds any of its comparisons gets, so every comparison is paired on all of its own seeds. The plan is written to
``--out``; ``valstudy/config/study.py`` copies it into the synthetic profile's ``seed_plan`` (a test checks the two
agree).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from valstudy.analysis.stats import per_seed  # noqa: E402
from valstudy.analysis.verdicts import seeds_needed  # noqa: E402
from valstudy.config import DATASETS  # noqa: E402
from valstudy.data import DATASETS as LOADERS  # noqa: E402
from valstudy.io import write_json  # noqa: E402
from valstudy.results import results_table  # noqa: E402
from valstudy.study import plan, profile_paths  # noqa: E402
from valstudy.study.plan import get_profile, reference_variants  # noqa: E402
from valstudy.study.records import read_records  # noqa: E402

KEY = "R@10"


def plan_seeds(records: list[dict], protocol: str, lo: int, hi: int, pilot: int,
               references: dict[str, str] | None = None) -> tuple[dict[str, int], list[dict]]:
    """(variant -> seeds, one row per comparison: its pilot seeds, paired SD and the seeds it needs)."""
    seeds = per_seed(results_table(records), protocol)[[KEY]]
    seeds = seeds[seeds.index.get_level_values("seed") < pilot]
    variants = list(dict.fromkeys(seeds.index.get_level_values("variant")))
    out, rows = {}, []
    for v in variants:
        ref = (references or {}).get(v, "val")
        if v == "val" or v in (references or {}).values() or ref not in variants:
            continue
        a, b = seeds.xs(ref, level="variant")[KEY], seeds.xs(v, level="variant")[KEY]
        d = (a - b).dropna()
        sd = float(d.std(ddof=1)) if len(d) > 1 else float("nan")
        need = seeds_needed(sd) if sd == sd else hi
        out[v] = min(max(need, lo), hi)
        rows.append({"variant": v, "reference": ref, "pilot seeds": len(d), "paired sd": sd, "seeds needed": need,
                     "seeds planned": out[v]})
    for ref in {(references or {}).get(v, "val") for v in out}:  # a reference gets its comparisons' most seeds
        out[ref] = max([n for v, n in out.items() if (references or {}).get(v, "val") == ref] + [lo])
    return out, rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="synthetic")
    p.add_argument("--pilot-seeds", type=int, default=4)
    p.add_argument("--min", type=int, default=4)
    p.add_argument("--max", type=int, default=8)
    p.add_argument("--out", default="docs/seeds.json")
    a = p.parse_args()
    prof = get_profile(a.profile)
    paths = profile_paths(prof)
    record, plan_out = {"rule": f"clamp(seeds_needed(paired sd of the first {a.pilot_seeds} seeds), {a.min}, "
                                f"{a.max}); 80% power against 3 points of {KEY}", "datasets": {}}, {}
    for ds in DATASETS:
        specs = plan(ds, prof, paths.data)
        records = read_records(paths.records, specs)
        protocol = LOADERS[ds].protocols[0]
        seeds, rows = plan_seeds(records, protocol, a.min, a.max, a.pilot_seeds, reference_variants(specs))
        plan_out[ds] = seeds
        record["datasets"][ds] = {"protocol": protocol, "comparisons": rows, "seed_plan": seeds}
        for r in rows:
            print(f"{ds:<12} {r['variant']:<11} pilot sd {r['paired sd']:5.2f} over {r['pilot seeds']} seeds: "
                  f"needs {r['seeds needed']:>3}, planned {r['seeds planned']}")
    write_json(Path(a.out), record)
    print(f"seed plan: {plan_out}\nwritten to {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
