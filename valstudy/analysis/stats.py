"""Seeds and paired intervals: how sure the study is of each comparison, and the sentences it may write.

Every comparison the study states is VAL against another model trained with the same random seed (a baseline, or
an ablation of VAL). Over n seeds the paired differences d_s = R@K(VAL, s) - R@K(other, s) give a mean, a standard
deviation and a 95% t-interval, mean +- t(0.975, n - 1) * std / sqrt(n) (t = 4.303 for 3 seeds). A sentence claims a
direction only when that interval excludes zero; otherwise it says the study detects no difference.

    python -m valstudy findings --readme README.md [--figures figures] [--check]

rewrites the README's block between ``<!-- findings:start -->`` and ``<!-- findings:end -->`` from the committed
``figures/results_<dataset>.json`` and ``figures/ablations_<dataset>.json`` (``--check``: exit 1 when it differs).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from ..errors import ValstudyError
from ..io import read_json
from .common import ABLATION_GROUPS, VARIANT_LABELS

DATASET_NAMES = {"fashion200k": "Fashion200k", "shoes": "Shoes", "fashioniq": "FashionIQ"}
HEADLINE = "R@10"  # the recall the sentences speak of (the paper's headline recall on every dataset)
START, END = "<!-- findings:start -->", "<!-- findings:end -->"
# The verdicts of an earlier regeneration of the whole study on another CPU (bench/rerun_delta.py --json), if any.
RERUN = Path(__file__).resolve().parents[2] / "docs" / "rerun_delta.json"
_VERDICT_WORDS = {"higher": "VAL higher", "lower": "VAL lower", "none": "no difference"}


def verdict(row: dict) -> str:
    """'higher' / 'lower' (VAL's side, where the 95% interval of the paired difference excludes 0) or 'none'."""
    if int(row.get("n", 0)) < 2 or not (row["low"] > 0 or row["high"] < 0):
        return "none"
    return "higher" if row["mean"] > 0 else "lower"


def rerun_record(path: str | Path = RERUN) -> tuple[str, list[dict]]:
    """What the regeneration recorded in ``path`` (``bench/rerun_delta.py --json``) changed, as words that follow
    "regenerated" ("on another CPU", "with ..."), and its rows; ("", []) when there is no record. A record written
    before it named the change (a bare list of rows) compared two CPUs."""
    path = Path(path)
    if not path.is_file():
        return "", []
    rec = read_json(path)
    if isinstance(rec, list):
        return "on another CPU", rec
    return rec["change"], rec["rows"]


def rerun_verdicts(path: str | Path = RERUN) -> dict[tuple[str, str], str]:
    """(dataset, variant) -> the verdict of the earlier regeneration recorded in ``path`` (same step budget only);
    empty when there is no such record."""
    return {(r["dataset"], r["variant"]): r["verdict_before"] for r in rerun_record(path)[1]
            if r.get("same_budget") and r.get("verdict_before") in _VERDICT_WORDS}


def t_quantile(df: int, p: float = 0.975) -> float:
    """The p-quantile of Student's t with ``df`` degrees of freedom (Simpson integration of the density, bisection).

    Computed rather than tabled so any seed count works: df = 2 gives 4.303, df = 1 gives 12.706.
    """
    if df < 1:
        raise ValueError(f"t quantile needs df >= 1, got {df}")
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def cdf_above_half(x: float, n: int = 4000) -> float:  # P(0 < T < x), Simpson's rule
        h = x / n
        f = [c * (1 + (i * h) ** 2 / df) ** (-(df + 1) / 2) for i in range(n + 1)]
        return h / 3 * (f[0] + f[-1] + 4 * sum(f[1:-1:2]) + 2 * sum(f[2:-1:2]))

    lo, hi = 0.0, 1.0
    while cdf_above_half(hi) < p - 0.5:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf_above_half(mid) < p - 0.5 else (lo, mid)
    return (lo + hi) / 2


def per_seed(df: pd.DataFrame, protocol: str, metrics: tuple[str, ...] = ("R@",)) -> pd.DataFrame:
    """R@K per (variant, seed) under one protocol, averaged over categories (FashionIQ), from ``gather_results``.

    ``variant`` is the method for the method comparison (``val``, ``tirg``, ...) and the ablation's name for
    ablations (``no_sa``, ...); full VAL is the methods' ``val``. ``metrics``: the column prefixes kept, in this
    order, each by increasing K (``("R@", "valid@")`` adds valid@K where evaluation computed it).
    """
    sel = df[df["protocol"] == protocol]
    if sel.empty:
        raise ValstudyError(f"no results under protocol {protocol!r}; train the runs first (python -m valstudy.study)")
    variant = sel["variant"] if "variant" in sel else sel["method"]
    sel = sel.assign(variant=variant.fillna(sel["method"]))
    ks = [c for prefix in metrics for c in sorted((c for c in sel.columns if c.startswith(prefix)
                                                   and c[len(prefix):].isdigit()), key=lambda c: int(c[len(prefix):]))]
    return sel.groupby(["variant", "seed"], sort=False)[ks].mean()


def ablation_runs(df: pd.DataFrame) -> pd.DataFrame:
    """The ablation runs and full VAL's method-comparison runs with the ablations' seeds (seed 0 without any)."""
    abl = df["experiment"] == "ablations"
    seeds = set(df.loc[abl, "seed"]) or {0}
    return df[abl | ((df["experiment"] == "methods") & (df["method"] == "val") & df["seed"].isin(seeds))]


def seed_summary(seeds: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation (ddof 1; NaN for one seed) over the seeds of each variant, and the seed count."""
    g = seeds.groupby(level="variant", sort=False)
    out = g.mean().add_suffix(" mean").join(g.std(ddof=1).add_suffix(" std"))
    ks = list(seeds.columns)
    out = out[[f"{k} {s}" for k in ks for s in ("mean", "std")]]
    out["seeds"] = g.size()
    return out


def ablation_table(seeds: pd.DataFrame) -> pd.DataFrame:
    """Full VAL and each ablation: group, mean and std of each R@K and of their mean over the seeds, seed count.

    ``seeds`` is :func:`per_seed` restricted to ``val`` and the ablations; rows in the paper's order, labelled.
    """
    seeds = seeds.assign(**{"mean R@K": seeds.mean(axis=1)})
    t = seed_summary(seeds)
    order = list(VARIANT_LABELS)  # full VAL, then the ablations in the paper's order
    t = t.iloc[sorted(range(len(t)), key=lambda i: order.index(t.index[i]) if t.index[i] in order else len(order))]
    t.insert(0, "group", [ABLATION_GROUPS.get(v, "full model") for v in t.index])
    t.index = pd.Index([VARIANT_LABELS.get(v, v) for v in t.index], name="variant")
    return t


def paired_differences(seeds: pd.DataFrame, reference: str = "val", level: float = 0.95) -> pd.DataFrame:
    """VAL minus each other variant, seed by seed (only seeds both were trained with), per R@K.

    Columns: variant, metric, n (paired seeds), mean, std, t, low, high (the ``level`` t-interval of the mean
    difference; NaN with fewer than 2 seeds), excludes_zero.
    """
    if reference not in seeds.index.get_level_values("variant"):
        raise ValstudyError(f"no {reference!r} runs to compare against; train them first (python -m valstudy.study)")
    ref = seeds.xs(reference, level="variant")
    rows = []
    for variant in dict.fromkeys(seeds.index.get_level_values("variant")):
        if variant == reference:
            continue
        other = seeds.xs(variant, level="variant")
        common = ref.index.intersection(other.index)
        for metric in seeds.columns:
            d = (ref.loc[common, metric] - other.loc[common, metric]).astype(float)
            n = len(d)
            mean = float(d.mean()) if n else math.nan
            std = float(d.std(ddof=1)) if n > 1 else math.nan
            t = t_quantile(n - 1, 0.5 + level / 2) if n > 1 else math.nan
            half = t * std / math.sqrt(n) if n > 1 else math.nan
            low, high = mean - half, mean + half
            rows.append({"variant": variant, "metric": metric, "n": n, "mean": mean, "std": std, "t": t,
                         "low": low, "high": high, "excludes_zero": bool(n > 1 and (low > 0 or high < 0))})
    return pd.DataFrame(rows)


def mean_interval(values, level: float = 0.95) -> dict:
    """n, mean, std and the ``level`` t-interval of the mean of ``values`` (NaN interval below 2 values)."""
    v = pd.Series(values, dtype=float).dropna()
    n, mean = len(v), float(v.mean()) if len(v) else math.nan
    std = float(v.std(ddof=1)) if n > 1 else math.nan
    half = t_quantile(n - 1, 0.5 + level / 2) * std / math.sqrt(n) if n > 1 else math.nan
    return {"n": n, "mean": mean, "std": std, "low": mean - half, "high": mean + half}


def region_excess(maps: list[dict], masks: list, levels) -> pd.DataFrame:
    """Per level, over the queries with a changed region: the share of JA spatial-attention mass inside the region
    minus the region's area fraction (0 for attention spread uniformly), its mean and 95% t-interval over queries."""
    from .attention import upsample

    rows = {}
    for lv in levels:
        excess = []
        for m, mask in zip(maps, masks):
            if mask is None or lv not in m.get("spatial", {}):
                continue
            up = upsample(m["spatial"][lv], mask.shape)
            excess.append(float((up * mask).sum() / max(up.sum(), 1e-12)) - float(mask.mean()))
        rows[lv] = mean_interval(excess)
    return pd.DataFrame.from_dict(rows, orient="index")


def region_sentence(level: str, row: dict, dataset: str = "") -> str:
    """One level of :func:`region_excess` as a sentence: a direction only when the interval excludes zero."""
    where = f"On synthetic {DATASET_NAMES.get(dataset, dataset)}, at the {level} level" if dataset else \
        f"At the {level} level"
    n = int(row["n"])
    if n < 2:
        return f"{where} only {n} query has a changed region: no interval, no claim."
    interval = f"95% interval over {n} queries: {row['low']:+.3f} to {row['high']:+.3f}"
    if row["low"] > 0 or row["high"] < 0:
        word = "more" if row["mean"] > 0 else "less"
        return (f"{where} the joint-attention spatial map puts {abs(row['mean']):.3f} {word} of its mass inside the "
                f"changed region than uniform attention would ({interval}).")
    return (f"{where} the study detects no difference between the joint-attention mass inside the changed region "
            f"and the region's share of the image (mean {row['mean']:+.3f}; {interval}).")


def mean_std_text(summary: pd.DataFrame, digits: int = 1) -> pd.DataFrame:
    """The summary as ``mean ± std`` strings (one column per R@K) for display; the numbers stay in the CSV."""
    ks = [c[:-5] for c in summary.columns if c.endswith(" mean")]
    out = pd.DataFrame(index=summary.index)
    for k in ks:
        m, s = summary[f"{k} mean"], summary[f"{k} std"]
        out[k] = [f"{a:.{digits}f}" + ("" if math.isnan(b) else f" ± {b:.{digits}f}") for a, b in zip(m, s)]
    if "seeds" in summary:
        out["seeds"] = summary["seeds"]
    return out


def comparison_sentence(row: dict, dataset: str = "", reference: str = "VAL") -> str:
    """One comparison as a sentence: a direction only when the 95% interval of the paired difference excludes 0.

    ``row`` is a row of :func:`paired_differences` (``variant`` may be a code or a label).
    """
    other = VARIANT_LABELS.get(row["variant"], row["variant"])
    where = f"On synthetic {DATASET_NAMES.get(dataset, dataset)}, " if dataset else ""
    metric, n, mean = row["metric"], int(row["n"]), row["mean"]
    if n < 2:
        return (f"{where}{reference} against {other}: {metric} difference {mean:+.1f} points from {n} seed; "
                f"one seed gives no interval, so the study claims no difference.")
    interval = f"95% interval of the paired difference over {n} seeds: {row['low']:+.1f} to {row['high']:+.1f}"
    if verdict(row) != "none":
        return f"{where}{reference}'s {metric} is {verdict(row)} than {other}'s by {abs(mean):.1f} points ({interval})."
    return (f"{where}the study detects no difference in {metric} between {reference} and {other} "
            f"(mean paired difference {mean:+.1f} points; {interval}).")


def findings(figures_dir: str | Path, datasets=tuple(DATASET_NAMES), metric: str = HEADLINE,
             rerun: dict[tuple[str, str], str] | None = None, rerun_change: str = "on another CPU") -> list[str]:
    """Markdown bullet lines: every recorded comparison (baselines, then ablations) of every dataset as a sentence.

    Reads the ``paired`` lists the results and ablations notebooks record in ``<figures_dir>/<notebook>_<ds>.json``.
    ``rerun`` (:func:`rerun_verdicts`) holds another regeneration's verdicts, ``rerun_change`` what it changed
    (:func:`rerun_record`): a sentence whose verdict differs from it says that the direction (or its absence) was
    not reproduced there.
    """
    figures_dir = Path(figures_dir)
    lines = []
    for ds in datasets:
        training = figures_dir / f"training_{ds}.json"
        steps = variant_steps(read_json(training)) if training.is_file() else {}
        for notebook, what in (("results", "baselines"), ("ablations", "ablations")):
            path = figures_dir / f"{notebook}_{ds}.json"
            if not path.is_file():
                lines.append(f"- {DATASET_NAMES[ds]}, {what}: `{path.name}` is missing (run `make study`).")
                continue
            rec = read_json(path)
            paired = [r for r in rec.get("paired") or [] if r["metric"] == metric]
            if not paired:
                lines.append(f"- {DATASET_NAMES[ds]}, {what}: `{path.name}` records no paired differences "
                             f"(written before they existed: run `make study`).")
            protocol = rec.get("protocol") or (rec.get("protocols") or [""])[0]
            for r in paired:
                other = (rerun or {}).get((ds, r["variant"]))
                flag = "" if other in (None, verdict(r)) else (
                    f"; **not reproduced**: the previous study, before this one was regenerated {rerun_change}, found "
                    f"{_VERDICT_WORDS[other]} (docs/convergence.md)")
                budget = r["variant"] in steps and "val" in steps and steps[r["variant"]] != steps["val"]
                if budget:  # a slow variant trained longer than VAL (config.SLOW_ABLATIONS, per dataset): say so
                    flag += f"; it trained {steps[r['variant']]:,} steps, VAL {steps['val']:,}"
                lines.append(f"- {comparison_sentence(r, ds)[:-1]} (protocol '{protocol}'){flag}.")
    return lines


def variant_steps(training: dict) -> dict[str, int]:
    """Steps per variant (pre-training included) from a training chapter's record (its convergence table); a variant
    without a validation curve (steps NaN) is left out."""
    return {r["variant"]: int(r["steps"]) for r in training.get("convergence") or []
            if r.get("steps") == r.get("steps")}


def results_table(figures_dir: str | Path, datasets=tuple(DATASET_NAMES)) -> list[str]:
    """A markdown table: per method, mean +- std over random seeds of each dataset's recalls under its main protocol
    (FashionIQ: the average over categories), from ``results_<ds>.json``."""
    figures_dir = Path(figures_dir)
    records = {ds: read_json(figures_dir / f"results_{ds}.json") for ds in datasets
               if (figures_dir / f"results_{ds}.json").is_file()}
    records = {ds: rec for ds, rec in records.items() if rec.get("table")}  # records older than the table: none
    if not records:
        return []
    head, cols, methods = ["method"], [], []
    for ds, rec in records.items():
        rows = [r for r in rec["table"] if r["protocol"] == rec["protocol"] and r.get("category", "") in ("", "average")]
        ks = [k[:-5] for k in rows[0] if k.startswith("R@") and k.endswith(" mean")] if rows else []
        head.append(f"{DATASET_NAMES[ds]} ({rec['protocol']}) " + " / ".join(ks))
        cols.append(({r["method"]: r for r in rows}, ks))
        methods += [m for m in rec.get("methods", []) if m not in methods]
    seeds = sorted({int(r.get("seeds") or 0) for rec in records.values() for r in rec["table"]})

    def cell(row, ks):
        if row is None:
            return "-"
        return " / ".join(f"{row[k + ' mean']:.1f}" + (f" ± {row[k + ' std']:.1f}" if row.get(k + " std") is not None
                                                      else "") for k in ks)
    lines = [f"Test recall (%), mean ± std over {', '.join(map(str, seeds))} random seeds:", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in methods:
        lines.append(f"| {m} | " + " | ".join(cell(rows.get(m), ks) for rows, ks in cols) + " |")
    return lines + [""]


def convergence_lines(figures_dir: str | Path, datasets=tuple(DATASET_NAMES)) -> list[str]:
    """One sentence per dataset from ``training_<ds>.json``: how many variants end on a plateau."""
    lines = []
    for ds in datasets:
        path = Path(figures_dir) / f"training_{ds}.json"
        record = read_json(path) if path.is_file() else {}
        conv = record.get("convergence")
        if not conv:
            continue
        judged = [r for r in conv if r.get("plateau gain") is not None and r["plateau gain"] == r["plateau gain"]]
        if not judged:
            lines.append(f"- {DATASET_NAMES[ds]}: too few validation evaluations to apply the criterion.")
            continue
        rising = [r for r in judged if not r["converged"]]
        gains = [r["plateau gain"] for r in judged]
        steps = next((r['steps'] for r in judged if r['variant'] == 'val'), max(r['steps'] for r in judged))
        longer = [f"{r['variant']} {r['steps']:,}" for r in judged if r["steps"] != steps]
        budget = f"{steps:,} steps" + (f" ({', '.join(longer)}, pre-training included)" if longer else "")
        lines.append(f"- {DATASET_NAMES[ds]}: {len(judged) - len(rising)} of {len(judged)} variants end on a plateau "
                     f"after {budget} (validation R@10 gain over the last 20% of the "
                     f"steps from {min(gains):+.1f} to {max(gains):+.1f} points, criterion < "
                     f"{record.get('plateau_points', 2.0):g})" + ("." if not rising else "; still rising: " +
                     ", ".join(f"{r['variant']} ({r['plateau gain']:+.1f})" for r in rising) + "."))
    return lines


def attention_lines(figures_dir: str | Path, datasets=tuple(DATASET_NAMES)) -> list[str]:
    """Per dataset and level, from ``attention_<ds>.json``: the final JA spatial maps' mass ratio in the changed
    region and their correlation across queries, mean +- std over the random seeds' VAL runs."""
    lines = []
    for ds in datasets:
        path = Path(figures_dir) / f"attention_{ds}.json"
        along = read_json(path).get("along_training") if path.is_file() else None
        if not along:
            continue
        df = pd.DataFrame(along)
        final = df[df.groupby("seed")["step"].transform("max") == df["step"]]
        parts = []
        for level, g in final.groupby("level", sort=False):
            parts.append(f"{level} {g['ratio'].mean():.2f} ± {g['ratio'].std(ddof=1):.2f} (map correlation "
                         f"{g['map_correlation'].mean():.2f})")
        lines.append(f"- {DATASET_NAMES[ds]}: mass in the changed region over its share of the image, at the end of "
                     f"training ({final['seed'].nunique()} seeds; 1 = uniform): " + "; ".join(parts) + ".")
    return lines


def rerun_lines(path: str | Path = RERUN) -> list[str]:
    """Per dataset, from the record of ``bench/rerun_delta.py --json``: how far the seed-mean test R@10 of each
    variant moved when the whole study was regenerated (on another CPU, or with what the record names), and how
    many paired verdicts changed."""
    records = rerun_record(path)[1]
    if not records:
        return []
    rows = pd.DataFrame(records)
    lines = []
    for ds, everything in rows.groupby("dataset", sort=False):
        # Variants whose step budget changed between the two records measure more than the machine: they are left out
        # of the summary, unless every variant's budget changed (then the summary says so).
        same = everything[everything["same_budget"]]
        g = same if len(same) else everything
        moved = g["delta"].abs()
        judged = g[g["verdict_before"] != "-"]
        changed = judged[judged["verdict_before"] != judged["verdict_after"]]
        other = everything[~everything["same_budget"]]
        if same.empty:
            budget = (f" (the step budget changed too, {g['steps'].iloc[0][0]} -> {g['steps'].iloc[0][1]} steps, so "
                      f"this is not the regeneration's effect alone, and no verdict here is checked by a regeneration at "
                      f"its budget)")
        elif len(other):
            budget = ("; not compared, their step budget changed (so their verdicts are not checked by a "
                      "regeneration): " + ", ".join(
                f"{r['variant']} ({r['steps'][0]} -> {r['steps'][1]} steps)" for r in other.to_dict("records")))
        else:
            budget = ""
        lines.append(f"- {DATASET_NAMES.get(ds, ds)}: test R@10 of the {len(g)} variants moved by {moved.median():.1f} "
                     f"points (median; largest {moved.max():.1f}, {g.loc[moved.idxmax(), 'variant']}); "
                     f"{len(changed)} of {len(judged)} paired verdicts changed"
                     + (": " + ", ".join(f"{r['variant']} ({r['verdict_before']} -> {r['verdict_after']})"
                                         for r in changed.to_dict("records")) if len(changed) else "")
                     + budget + ".")
    return lines


def readme_block(figures_dir: str | Path, rerun_path: str | Path = RERUN) -> str:
    """The generated README block, markers included: the results table, the paired comparisons (each checked
    against the earlier regeneration in ``rerun_path`` where it exists), the convergence and attention findings."""
    conv, att, rerun = convergence_lines(figures_dir), attention_lines(figures_dir), rerun_lines(rerun_path)
    change = rerun_record(rerun_path)[0]
    body = "\n".join(results_table(figures_dir) + ["Each comparison with VAL (paired by random seed; a direction is "
                      "claimed only where the 95% interval excludes zero):", ""]
                      + findings(figures_dir, rerun=rerun_verdicts(rerun_path), rerun_change=change)
                      + (["", "Convergence (validation curves, [training chapter](notebooks/executed/)):", ""] + conv
                         if conv else [])
                      + (["", "Attention of the converged models ([attention chapter](notebooks/executed/)):", ""]
                         + att if att else [])
                      + (["", f"The whole study regenerated {change}: the previous records against these "
                          "(`bench/rerun_delta.py`, [docs/convergence.md](docs/convergence.md)):", ""] + rerun
                         if rerun else []))
    return (f"{START}\n<!-- generated by `python -m valstudy findings --readme README.md` from "
            f"figures/*.json; do not edit by hand -->\n{body}\n{END}")


def update_readme(readme: str | Path, figures_dir: str | Path, check: bool = False) -> bool:
    """Rewrite the findings block of ``readme``; return True when it changed (with ``check``: only compare)."""
    readme = Path(readme)
    text = readme.read_text()
    if text.count(START) != 1 or text.count(END) != 1 or text.index(START) > text.index(END):
        raise ValstudyError(f"{readme}: needs exactly one '{START}' line followed by one '{END}' line")
    before, rest = text.split(START)
    _, after = rest.split(END)
    new = before + readme_block(figures_dir) + after
    if new != text and not check:
        from ..io import write_text
        write_text(readme, new)
    return new != text


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``python -m valstudy findings``."""
    p.add_argument("--readme", default="README.md", help="the file holding the findings block")
    p.add_argument("--figures", default="figures", help="the folder of the recorded results_*/ablations_* JSON")
    p.add_argument("--check", action="store_true", help="exit 1 when the block differs from what it would write")


def run(a: argparse.Namespace) -> int:
    """Rewrite (or with ``--check`` compare) the README's findings block; the exit status."""
    try:
        changed = update_readme(a.readme, a.figures, check=a.check)
    except ValstudyError as e:
        print(f"valstudy findings: error: {e}", file=sys.stderr)
        return 2
    if a.check and changed:
        print(f"{a.readme}: the findings block is stale; run python -m valstudy findings --readme {a.readme}")
        return 1
    print(f"{a.readme}: findings block {'rewritten' if changed else 'unchanged'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m valstudy findings", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
