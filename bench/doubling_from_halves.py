"""The doubling check for variants whose study budget already is the doubled one: half the budget against the study.

    python bench/doubling_from_halves.py --dataset fashioniq --variants concat image_only text_only \
        [--halves runs/synthetic build/convergence/records] [--seed 0] [--out docs/convergence.json]

``bench/convergence.py`` doubles the study's run of a variant. When a dataset's budget was doubled by the rule in
docs/convergence.md, the variants checked then became the study's runs at the doubled budget; a variant the check
did not cover (the baselines outside the paper's comparisons) has its study run at the doubled budget and, from the
earlier budget, a finished half-budget run: a record (``<root>/<dataset>/<variant>/seed<k>.json``, as
``bench/convergence.py`` writes them) or a run folder of the study (``<root>/<dataset>/<variant>/seed<k>``). This
writes the same row as ``bench/convergence.py`` from the pair, on the validation split only, after checking that the
two configurations differ only in the steps (and the evaluation interval that follows them).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from convergence import final_validation  # noqa: E402

from valstudy.analysis.convergence import plateau_gain, validation_curve  # noqa: E402
from valstudy.config.named import saved_differences  # noqa: E402
from valstudy.io import read_json, write_json  # noqa: E402
from valstudy.study import absolute, profile_paths  # noqa: E402
from valstudy.study.records import _metrics, portable  # noqa: E402

FOLLOW_THE_STEPS = {"steps", "eval_every", "pretrain_steps", "keep_checkpoints"}


def half_run(roots: list[Path], dataset: str, variant: str, seed: int, steps: int) -> dict | None:
    """The finished half-budget run of ``variant`` as a record-like dict (config, metrics), or None."""
    for root in roots:
        rec = root / dataset / variant / f"seed{seed}.json"
        record = read_json(rec) if rec.is_file() else None
        if record and record["config"]["steps"] == steps:
            return record
        for run in sorted((root / dataset / variant).glob(f"seed{seed}*")):
            cfg = run / "config.json"
            config = read_json(cfg) if run.is_dir() and (run / "final.pt").is_file() and cfg.is_file() else None
            if config and config["steps"] == steps:
                data = profile_paths("synthetic").data  # a run folder's data root, written as a record writes it
                return {"config": portable(config, data), "metrics": _metrics(run)}
    return None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", required=True)
    p.add_argument("--variants", nargs="+", required=True, help="folder names: val, tirg, concat, ablation_no_sa, ...")
    p.add_argument("--halves", nargs="+", default=["build/convergence/records", "runs/synthetic"])
    p.add_argument("--records", default="records/synthetic")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tolerance", type=float, default=2.0)
    p.add_argument("--out", default="docs/convergence.json")
    a = p.parse_args()
    rows = []
    for folder in a.variants:
        study = read_json(absolute(a.records) / a.dataset / folder / f"seed{a.seed}.json")
        steps = study["config"]["steps"]
        half = half_run([absolute(r) for r in a.halves], a.dataset, folder, a.seed, steps // 2)
        if half is None:
            print(f"{a.dataset}/{folder}/seed{a.seed}: no finished run of {steps // 2} steps under {a.halves}")
            return 1
        differ = set(saved_differences(half["config"], study["config"])) - FOLLOW_THE_STEPS
        if differ:
            print(f"{a.dataset}/{folder}: the half-budget run differs in {sorted(differ)}, not only in its steps")
            return 1
        r1, r2 = final_validation(half), final_validation(study)
        g1, g2 = (plateau_gain(validation_curve(r), r["config"]["steps"]) for r in (half, study))
        variant = folder.removeprefix("ablation_")
        rows.append({"dataset": a.dataset, "variant": variant, "seed": a.seed, "steps": steps // 2,
                     "steps_doubled": steps, "validation R@10": r1, "validation R@10 doubled": r2, "gain": r2 - r1,
                     "passes": r2 - r1 < a.tolerance, "plateau gain": g1, "plateau gain doubled": g2})
        print(f"{a.dataset}/{folder}: {steps // 2} -> {steps} steps: validation R@10 {r1:5.1f} -> {r2:5.1f} "
              f"({r2 - r1:+.1f}); constant-rate gain {g1:+.1f} -> {g2:+.1f}")
    out = Path(a.out)
    doc = read_json(out)
    if doc.get("split") != "validation" or doc.get("seed") != a.seed or doc.get("tolerance") != a.tolerance:
        print(f"{out}: holds another check ({json.dumps({k: doc.get(k) for k in ('split', 'seed', 'tolerance')})})")
        return 1
    key = lambda r: (r["dataset"], r["variant"], r["steps"])  # noqa: E731
    new = {key(r) for r in rows}
    doc["rows"] = [r for r in doc["rows"] if key(r) not in new] + rows
    write_json(out, doc)
    print(f"{len(rows)} row(s) written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
