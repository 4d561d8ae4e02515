"""How far do the study's numbers move when the whole study is regenerated elsewhere?

    python bench/rerun_delta.py --before REV [--after figures] [--metric R@10] [--change WORDS] [--json]

Compares the committed records of two runs of ``make study``: ``--before`` is a git revision whose ``figures/`` holds
the earlier study (read with ``git show``), ``--after`` a folder with the later one (default: ``figures/``). For each
dataset and variant (methods and ablations) it prints the seed-mean test ``--metric`` of both and their difference,
and for each comparison with VAL whether the paired 95% interval claimed a direction before and after: a conclusion
that flips (or appears, or disappears) between two regenerations is one the README must not rest on. Variants whose
step budget differs between the two records are marked, since their difference is not only the machine's.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from valstudy.analysis.common import VARIANT_LABELS  # noqa: E402
from valstudy.analysis.stats import variant_steps, verdict  # noqa: E402

IDS = {label: variant for variant, label in VARIANT_LABELS.items()}
DATASETS = ("fashion200k", "shoes", "fashioniq")


def _read(source: str, name: str, rev: str | None) -> dict | None:
    """``figures/<name>`` from git revision ``rev``, or from the folder ``source`` when ``rev`` is None."""
    if rev is None:
        path = Path(source) / name
        return json.loads(path.read_text()) if path.is_file() else None
    out = subprocess.run(["git", "show", f"{rev}:figures/{name}"], cwd=REPO, capture_output=True, text=True)
    return json.loads(out.stdout) if out.returncode == 0 else None


def _means(results: dict, ablations: dict, metric: str) -> dict[str, float]:
    """Seed-mean test ``metric`` per variant under the headline protocol (FashionIQ: the category average)."""
    out = {}
    for row in results["table"]:
        if row["protocol"] == results["protocol"] and row["category"] in ("", "average"):
            out[row["method"]] = row[f"{metric} mean"]
    for row in ablations["table"]:  # labelled rows ("w/o JA"): keyed by the variant's id, as the paired rows are
        out.setdefault(IDS.get(row["variant"], row["variant"]), row[f"{metric} mean"])
    return out


def _budgets(training: dict | None) -> dict[str, int]:
    """Steps per variant (pre-training included) from a training record's convergence table; a variant missing there
    has the record's own step budget."""
    if not training:
        return {}
    return {v: int(training["steps"]) for v in VARIANT_LABELS} | variant_steps(training)


def _verdicts(results: dict, ablations: dict, metric: str) -> dict[str, str]:
    """Per comparison with VAL: 'higher' / 'lower' (VAL's side, the interval excludes zero) or 'none'."""
    out = {}
    for rec in (results, ablations):
        for row in rec["paired"]:
            if row["metric"] == metric and row.get("category", "") in ("", "average"):
                out[row["variant"]] = verdict(row)
    return out


def compare(before: str, after: str, metric: str) -> list[dict]:
    rows = []
    for ds in DATASETS:
        recs = {}
        for side, (src, rev) in {"before": (None, before), "after": (after, None)}.items():
            res, abl, train = (_read(src, f"{n}_{ds}.json", rev) for n in ("results", "ablations", "training"))
            recs[side] = (res, abl, train)
        if any(r is None for side in recs.values() for r in side[:2]):
            print(f"{ds}: records missing on one side; skipped", file=sys.stderr)
            continue
        budgets = {side: _budgets(r[2]) for side, r in recs.items()}
        means = {side: _means(r[0], r[1], metric) for side, r in recs.items()}
        verdicts = {side: _verdicts(r[0], r[1], metric) for side, r in recs.items()}
        for variant in means["before"]:
            if variant not in means["after"]:
                continue
            b, a = means["before"][variant], means["after"][variant]
            vb, va = verdicts["before"].get(variant, "-"), verdicts["after"].get(variant, "-")
            steps = [budgets[side].get(variant) for side in ("before", "after")]
            rows.append({"dataset": ds, "variant": variant, "before": b, "after": a, "delta": a - b,
                         "verdict_before": vb, "verdict_after": va,
                         "same_budget": steps[0] is not None and steps[0] == steps[1], "steps": steps})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="git revision holding the earlier study's figures/")
    p.add_argument("--after", default=str(REPO / "figures"), help="folder holding the later study's records")
    p.add_argument("--metric", default="R@10")
    p.add_argument("--change", default="on another CPU",
                   help='what the later regeneration changed, as words that follow "regenerated" (recorded in --json)')
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    rows = compare(a.before, a.after, a.metric)
    if a.json:
        print(json.dumps({"before": a.before, "change": a.change, "rows": rows}, indent=1))
        return
    print(f"test {a.metric}, seed means (3 seeds each): {a.before} -> {a.after}")
    print(f"{'dataset':<12}{'variant':<14}{'before':>8}{'after':>8}{'delta':>8}  paired verdict before -> after")
    for r in rows:
        flag = "" if r["verdict_before"] == r["verdict_after"] else "   <- changed"
        budget = "" if r["same_budget"] else f"   (steps {r['steps'][0]} -> {r['steps'][1]})"
        print(f"{r['dataset']:<12}{r['variant']:<14}{r['before']:>8.1f}{r['after']:>8.1f}{r['delta']:>+8.1f}  "
              f"{r['verdict_before']} -> {r['verdict_after']}{flag}{budget}")
    for ds in DATASETS:  # the summary compares equal budgets only, as the README's block does
        same = [r for r in rows if r["dataset"] == ds and r["same_budget"]]
        left = [r["variant"] for r in rows if r["dataset"] == ds and not r["same_budget"]]
        if same:
            d = [abs(r["delta"]) for r in same]
            changed = sum(r["verdict_before"] != r["verdict_after"] for r in same)
            print(f"{ds}: |delta| median {statistics.median(d):.1f}, max {max(d):.1f} points; "
                  f"{changed} of {sum(r['verdict_before'] != '-' for r in same)} paired verdicts changed"
                  + (f"; left out, their step budget changed: {', '.join(left)}" if left else ""))


if __name__ == "__main__":
    main()
