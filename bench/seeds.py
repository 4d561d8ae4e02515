"""Plan the study's random seeds from its pilot's spread on the validation split, never from a verdict.

    python bench/seeds.py [--pilot-seeds 3] [--min 3] [--max 8] [--out docs/seeds.json] [--datasets ...]

The rule and its reasons: ``valstudy/study/seeds.py``. Reads the pilot's records under the profile's records folder
(``records/synthetic``), prints one line per comparison, and writes the plan (with the pilot's paired SDs) to
``--out``, keeping the datasets it was not asked to plan. Copy the printed ``SEED_PLAN`` into
``valstudy/config/study.py``; ``tests/test_seed_plan.py`` checks that the two agree.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from valstudy.config import DATASETS  # noqa: E402
from valstudy.io import read_json, write_json  # noqa: E402
from valstudy.study import plan, profile_paths  # noqa: E402
from valstudy.study.plan import get_profile, reference_variants  # noqa: E402
from valstudy.study.records import read_records  # noqa: E402
from valstudy.study.seeds import plan_seeds  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--profile", default="synthetic")
    p.add_argument("--pilot-seeds", type=int, default=3)
    p.add_argument("--min", type=int, default=3)
    p.add_argument("--max", type=int, default=8)
    p.add_argument("--out", default="docs/seeds.json")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    a = p.parse_args()
    prof = get_profile(a.profile)
    paths = profile_paths(prof)
    out = Path(a.out)
    record = read_json(out) if out.is_file() else {}
    record.update({"rule": f"clamp(seeds_needed(SD over the first {a.pilot_seeds} seeds of the paired difference of "
                           f"final validation R@10), {a.min}, {a.max}): 80% power against 3 points",
                   "datasets": record.get("datasets", {})})
    for ds in a.datasets:
        specs = [s for s in plan(ds, prof, paths.data) if s.config.seed < a.pilot_seeds]
        records = read_records(paths.records, specs)
        if len(records) < len(specs):
            print(f"{ds}: {len(specs) - len(records)} of the pilot's {len(specs)} runs have no record; skipped")
            continue
        seeds, rows = plan_seeds(records, a.min, a.max, a.pilot_seeds, reference_variants(specs))
        steps = sorted({int(r["config"]["steps"]) for r in records})  # the budget the pilot trained
        record["datasets"][ds] = {"pilot seeds": a.pilot_seeds, "steps": steps[0] if len(steps) == 1 else steps,
                                  "comparisons": rows, "seed_plan": seeds}
        for r in rows:
            print(f"{ds:<12} {r['variant']:<8} pilot sd {r['paired sd']:5.2f} over {r['pilot seeds']} seeds: "
                  f"needs {r['seeds needed']:>3}, planned {r['seeds planned']}")
    write_json(out, record)
    plan_out = {ds: v["seed_plan"] for ds, v in record["datasets"].items()}
    print(f"SEED_PLAN = {plan_out}\nwritten to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
