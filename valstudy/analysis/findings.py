"""The README's generated block: the results table and every finding, written from the recorded numbers.

    python -m valstudy findings --readme README.md [--figures figures] [--records records/synthetic] [--check]

rewrites the README's block between ``<!-- findings:start -->`` and ``<!-- findings:end -->`` from the numbers the
notebooks recorded (``figures/<notebook>_<dataset>.json``) and the study's records (the CPU seconds each run took);
``--check`` exits 1 when the block differs from what it would write.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ValstudyError
from ..io import read_json, write_text
from .common import VARIANT_LABELS
from .convergence import budget_rows, doubling_rows, doubling_sentences, plateau_note, still_rising
from .stats import DATASET_NAMES, HEADLINE
from .verdicts import MARGIN, verdict_sentence

START, END = "<!-- findings:start -->", "<!-- findings:end -->"
BASELINES = ("concat", "image_only", "text_only")  # compared with VAL, but not among the paper's questions
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _paired(figures_dir: Path, ds: str, metric: str = HEADLINE) -> tuple[list[dict], str]:
    rows, protocol = [], ""
    for notebook in ("results", "ablations"):
        path = figures_dir / f"{notebook}_{ds}.json"
        if path.is_file():
            rec = read_json(path)
            protocol = protocol or rec.get("protocol") or ""
            rows += [r for r in rec.get("paired") or [] if r["metric"] == metric and "outcome" in r]
    return rows, protocol


def results_table(figures_dir: str | Path, datasets=tuple(DATASET_NAMES)) -> list[str]:
    """A markdown table: per method, mean ± std over random seeds of each dataset's recalls under its main protocol
    (FashionIQ: the average over categories), from ``results_<ds>.json``; the seed counts in brackets."""
    figures_dir = Path(figures_dir)
    records = {ds: read_json(figures_dir / f"results_{ds}.json") for ds in datasets
               if (figures_dir / f"results_{ds}.json").is_file()}
    records = {ds: rec for ds, rec in records.items() if rec.get("table")}
    if not records:
        return []
    head, cols, methods = ["method"], [], []
    for ds, rec in records.items():
        rows = [r for r in rec["table"] if r["protocol"] == rec["protocol"] and r.get("category", "") in ("", "average")]
        ks = [k[:-5] for k in rows[0] if k.startswith("R@") and k.endswith(" mean")] if rows else []
        head.append(f"{DATASET_NAMES[ds]} ({rec['protocol']}) " + " / ".join(ks))
        cols.append(({r["method"]: r for r in rows}, ks))
        methods += [m for m in rec.get("methods", []) if m not in methods]

    def cell(row, ks):
        if row is None:
            return "-"
        spread = (lambda k: f" ± {row[k + ' std']:.1f}" if row.get(k + " std") is not None else "")
        return " / ".join(f"{row[k + ' mean']:.1f}{spread(k)}" for k in ks) + f" ({int(row['seeds'])})"

    lines = ["Test recall (%), mean ± std over random seeds (their number in brackets):", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in methods:
        lines.append(f"| {VARIANT_LABELS.get(m, m)} | " + " | ".join(cell(rows.get(m), ks) for rows, ks in cols) + " |")
    return lines + [""]


def verdict_summary(figures_dir: str | Path, datasets=tuple(DATASET_NAMES)) -> list[str]:
    """The paper's questions counted: VAL against TIRG and each ablation, per dataset and in all, by outcome."""
    figures_dir, lines, total = Path(figures_dir), [], {"difference": 0, "equivalence": 0, "inconclusive": 0}
    survive = 0
    for ds in datasets:
        rows = [r for r in _paired(figures_dir, ds)[0] if r["variant"] not in BASELINES]
        if not rows:
            continue
        count = {k: sum(r["outcome"] == k for r in rows) for k in total}
        for k in total:
            total[k] += count[k]
        survive += sum(bool(r.get("survives_holm")) for r in rows)
        lines.append(f"| {DATASET_NAMES[ds]} | {len(rows)} | {count['difference']} | {count['equivalence']} | "
                     f"{count['inconclusive']} | {sum(bool(r.get('survives_holm')) for r in rows)} |")
    if not lines:
        return []
    n = sum(total.values())
    head = [f"The paper's questions on our data: VAL against TIRG and against each of its ablations, test {HEADLINE}, "
            f"paired by random seed. Each is a **difference** (the 95% interval of the paired difference excludes "
            f"zero), an **equivalence** within ±{MARGIN:g} points (the 90% interval lies inside), or "
            f"**inconclusive** (then the sentence says how many seeds would decide it); Holm's correction runs over "
            f"each dataset's comparisons:", "",
            "| dataset | comparisons | differences | equivalences | inconclusive | claims surviving Holm |",
            "|---|---|---|---|---|---|"]
    foot = [f"| all | {n} | {total['difference']} | {total['equivalence']} | {total['inconclusive']} | {survive} |", ""]
    return head + lines + foot


def verdict_lines(figures_dir: str | Path, datasets=tuple(DATASET_NAMES)) -> list[str]:
    """Every recorded comparison with VAL of every dataset as a sentence (the paper's questions first)."""
    figures_dir, lines = Path(figures_dir), []
    for ds in datasets:
        rows, protocol = _paired(figures_dir, ds)
        if not rows:
            lines.append(f"- {DATASET_NAMES[ds]}: no paired comparisons recorded (run `make figures`).")
            continue
        rows = sorted(rows, key=lambda r: r["variant"] in BASELINES)
        rising = _rising(figures_dir, ds)
        for r in rows:
            ref = r.get("reference") or "val"
            who = "VAL" if ref == "val" else f"VAL trained as long ({VARIANT_LABELS.get(ref, ref)})"
            lines.append(f"- {verdict_sentence(r, ds, reference=who)[:-1]} (protocol '{protocol}')"
                         f"{plateau_note(r, rising)}.")
    return lines


def _rising(figures_dir: Path, ds: str) -> dict[str, int]:
    """The variants of ``ds`` that the training chapter found still rising (``training_<ds>.json``), with their
    steps."""
    path = Path(figures_dir) / f"training_{ds}.json"
    return still_rising((read_json(path) if path.is_file() else {}).get("convergence") or [])


def convergence_lines(figures_dir: str | Path, datasets=tuple(DATASET_NAMES)) -> list[str]:
    """One sentence per dataset from ``training_<ds>.json``: how many variants end on a plateau at a constant
    learning rate, and the doubling check on validation (``docs/convergence.json``) where it was run."""
    lines = []
    doubling, tolerance = doubling_rows(None, DOCS / "convergence.json")  # validation-split checks only
    for ds in datasets:
        path = Path(figures_dir) / f"training_{ds}.json"
        conv = (read_json(path) if path.is_file() else {}).get("convergence")
        if not conv:
            continue
        judged = [r for r in conv if r.get("plateau gain") is not None and r["plateau gain"] == r["plateau gain"]]
        if not judged:
            lines.append(f"- {DATASET_NAMES[ds]}: too few validation evaluations to apply the criterion.")
            continue
        rising = [r for r in judged if not r["converged"]]
        gains = [r["plateau gain"] for r in judged]
        steps = sorted({int(r["steps"]) for r in judged})
        text = (f"- {DATASET_NAMES[ds]}: {len(judged) - len(rising)} of {len(judged)} variants on a plateau at a "
                f"constant learning rate ({' or '.join(f'{s:,}' for s in steps)} L_vv steps; validation R@10 gain "
                f"from steps 25-50% to 50-75%: {min(gains):+.1f} to {max(gains):+.1f} points, criterion < 2)")
        text += "." if not rising else "; still rising: " + ", ".join(
            f"{VARIANT_LABELS.get(r['variant'], r['variant'])} ({r['plateau gain']:+.1f})" for r in rising) + "."
        rows = budget_rows([r for r in doubling if r["dataset"] == ds], steps)
        text += "".join(" " + t for t in doubling_sentences(rows, tolerance))
        lines.append(text)
    return lines


def attention_lines(figures_dir: str | Path, datasets=tuple(DATASET_NAMES)) -> list[str]:
    """The attention chapter's generated findings (``attention_<ds>.json``, key ``findings``: README lines that
    name their dataset), per dataset."""
    lines = []
    for ds in datasets:
        path = Path(figures_dir) / f"attention_{ds}.json"
        found = (read_json(path) if path.is_file() else {}).get("findings") or []
        lines += list(found)
    return lines


def cost_lines(records: str | Path, figures_dir: str | Path, datasets=tuple(DATASET_NAMES)) -> list[str]:
    """The study's compute from its records (CPU seconds of training, evaluation and measures, summed over runs)
    against the decisive verdicts it bought."""
    records = Path(records)
    cpu, runs = 0.0, 0
    for path in records.glob("*/*/*.json"):
        secs = read_json(path).get("meta", {}).get("seconds", {})
        cpu += sum(v.get("cpu", 0.0) for v in secs.values())
        runs += 1
    decisive = sum(r["outcome"] != "inconclusive" and r["variant"] not in BASELINES
                   for ds in datasets for r in _paired(Path(figures_dir), ds)[0])
    if not runs or not decisive:
        return []
    return [f"The {runs} runs of the study took {cpu / 3600:.1f} CPU-hours (training, evaluation and measures, "
            f"summed over runs from their records): {cpu / decisive / 3600:.2f} CPU-hours per decisive verdict "
            f"({decisive} of the paper's comparisons are a difference or an equivalence)."]


def readme_block(figures_dir: str | Path, records: str | Path) -> str:
    """The generated README block, markers included."""
    conv, att, cost = convergence_lines(figures_dir), attention_lines(figures_dir), cost_lines(records, figures_dir)
    body = (results_table(figures_dir) + verdict_summary(figures_dir) + cost + ([""] if cost else [])
            + ["Every comparison with VAL, as the notebooks wrote it:", ""] + verdict_lines(figures_dir)
            + (["", "Convergence (validation curves, [training chapter](notebooks/executed/training_shoes.ipynb)):",
                ""] + conv if conv else [])
            + (["", "Attention ([attention chapter](notebooks/executed/attention_shoes.ipynb)):", ""] + att
               if att else []))
    return (f"{START}\n<!-- generated by `python -m valstudy findings --readme README.md` from figures/*.json and "
            f"the study's records; do not edit by hand -->\n" + "\n".join(body) + f"\n{END}")


def update_readme(readme: str | Path, figures_dir: str | Path, records: str | Path, check: bool = False) -> bool:
    """Rewrite the findings block of ``readme``; return True when it changed (with ``check``: only compare)."""
    readme = Path(readme)
    text = readme.read_text()
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValstudyError(f"{readme}: needs exactly one '{START}' line followed by one '{END}' line")
    before, rest = text.split(START)
    _, after = rest.split(END)
    new = before + readme_block(figures_dir, records) + after
    if new != text and not check:
        write_text(readme, new)
    return new != text


def run(a: argparse.Namespace) -> int:
    """``python -m valstudy findings``: rewrite (or with ``--check`` compare) the README's block; the exit status."""
    changed = update_readme(a.readme, a.figures, a.records, check=a.check)
    if a.check and changed:
        print(f"{a.readme}: the findings block is stale; run python -m valstudy findings --readme {a.readme}",
              file=sys.stderr)
        return 1
    print(f"{a.readme}: findings block {'rewritten' if changed else 'unchanged'}")
    return 0
