"""Command line: ``python -m valstudy {data synth, data check, data stand-in, flops, train, eval, simulate, measure, results,
findings, attention, study, book}``.

User errors (bad input, missing data, weights or checkpoints) print one line naming the file and the problem and
exit with status 2; no traceback.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

from .config import DATASETS as DATASET_NAMES
from .errors import ValstudyError
from .locks import folder_lock


def _data_synth(args) -> int:
    from .data.synth import synthesize

    counts = synthesize(args.dataset, args.root, size=args.size, seed=args.seed, image_size=args.image_size,
                        train_scale=args.train_scale)
    print(json.dumps(counts, indent=1) if args.json else
          f"wrote synthetic {args.dataset} ({args.size}, seed {args.seed}) to {args.root}: "
          + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _data_check(args) -> int:
    from .data.check import check_dataset, format_report

    report = check_dataset(args.dataset, args.root, images=not args.no_images)
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0


def _data_standin(args) -> int:
    from .data.standin import NOTE, write_standins

    r = write_standins(args.dataset, args.root, force=args.force, progress=not args.json)
    print(json.dumps(r, indent=1) if args.json else
          f"{args.dataset} at {args.root}: {r['new']:,} stand-in images written ({r['written']:,} in all) for "
          f"{r['referenced']:,} images named, {r['present']:,} already there, in {r['seconds']} s; {NOTE}")
    return 0


def _flops(args) -> int:
    from .flops import flops_report, format_flops

    report = flops_report()
    print(json.dumps(report, indent=1) if args.json else format_flops(report))
    return 0


def _train(args) -> int:
    from .config import apply_overrides, get_config, load_config
    from .training import train

    if (args.config is None) == (args.config_file is None):
        raise ValstudyError("train: give one of --config NAME or --config-file PATH")
    cfg = get_config(args.config, args.set) if args.config else apply_overrides(load_config(args.config_file),
                                                                                 args.set)
    # Rank 0 owns the run folder for the whole command (training, then evaluation): a second command is refused.
    owner = int(os.environ.get("RANK", "0")) == 0
    with folder_lock(args.run_dir, "run folder") if owner else contextlib.nullcontext():
        summary = train(cfg, args.run_dir, progress=not args.quiet)
        if summary.get("reused"):
            print(f"{args.run_dir}: finished run with this configuration found; reused (delete it to retrain)")
        if not args.no_eval:
            from .evaluation import eval_run
            from .training import init_distributed

            if init_distributed()[0] == 0:
                _print_results(eval_run(args.run_dir), json_out=False)
    return 0


def _study(args) -> int:
    from .study.command import run

    return run(args)


def _print_results(result: dict, json_out: bool) -> None:
    if json_out:
        print(json.dumps({k: v for k, v in result.items()}, indent=1))
        return
    print(f"{result['run']} ({result['method']}, seed {result['seed']}, {result['weights']} weights)")
    for r in result["splits"]:
        recalls = "  ".join(f"{k} {v:6.2f}" for k, v in r.items() if k.startswith("R@"))
        dropped = ", ".join(f"{k} {v}" for k, v in r.get("dropped", {}).items() if v) or "none"
        print(f"  {r['protocol']:<9} {r.get('category') or '-':<8} queries {r['queries']:>6}  gallery "
              f"{r['gallery']:>6}  {recalls}   dropped: {dropped}")
        beyond = "  ".join(f"{k} {v:6.2f}" for k, v in r.items() if k.startswith(("valid@", "precision@", "refsim@")))
        if beyond:
            print(f"  {'':<9} {'':<8} {beyond}")
    for protocol, means in result["summary"].items():
        if sum(r["protocol"] == protocol for r in result["splits"]) < 2:
            continue  # one split: its average is itself
        print(f"  {protocol:<9} average  " + "  ".join(f"{k} {v:6.2f}" for k, v in means.items()
                                                      if k.startswith("R@") or k == "mean"))
    if result.get("stand_in_images"):
        print(f"  NOTE: {result['note']}")


def _eval(args) -> int:
    from .evaluation import eval_run

    result = eval_run(args.run, protocols=args.protocol or None, weights=args.weights, device=args.device)
    if args.json:
        for r in result["splits"]:
            for key in ("ranks", "valid_ranks", "valid_counts", "styles"):  # per-query lists stay in results.json
                r.pop(key, None)
    _print_results(result, json_out=args.json)
    return 0


def _simulate(args) -> int:
    from .simulate import simulate_run

    res = simulate_run(args.run, turns=args.turns, k=args.k, seed=args.seed, protocol=args.protocol,
                       p_vague=args.p_vague, device=args.device)
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"{res['run']} ({res['method']}, seed {res['seed']}): simulated user, {res['sessions']} sessions, "
          f"protocol {res['protocol']}, success = a target look-alike in the top {res['k']}")
    print("  success within T turns: " + "  ".join(f"T={t + 1} {v:5.1f}%" for t, v in enumerate(res["success"])))
    return 0


def _results(args) -> int:
    from .results import gather_results

    table = gather_results(args.root)
    if table.empty:
        raise ValstudyError(f"{args.root}: no results.json found under it")
    if "stand_in_images" in table.columns:
        from .data.standin import NOTE

        print(f"# {NOTE} (rows marked stand_in_images)")
    print(table.to_csv(index=False) if args.csv else table.to_string(index=False))
    return 0


def _measure(args) -> int:
    from .analysis.measures import measure

    out = measure(args.run, tuple(args.what), device=args.device)
    print(json.dumps(out, indent=1) if args.json else
          f"{args.run}: measures.json holds {', '.join(k for k in out if k != 'measures_version')} "
          f"(measures version {out['measures_version']})")
    return 0


def _book(args) -> int:
    from .book import run

    return run(args)


def _findings(args) -> int:
    from .analysis.findings import run

    return run(args)


def _attention(args) -> int:
    from .analysis.attention_run import MAX_QUERIES, format_summary, measure_run

    chosen = MAX_QUERIES if args.max_queries is None else args.max_queries or None  # 0: every query
    result = measure_run(args.run, device=args.device, max_queries=chosen, seed=args.seed)
    print(json.dumps(result, indent=1) if args.json else format_summary(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m valstudy", description="valstudy: data, training, evaluation, the "
                                "study on Dask and its book; each command's --help says more. A bad input stops "
                                "with one line naming what is wrong (exit status 2).")
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="generate or check datasets").add_subparsers(dest="data_command",
                                                                                      required=True)
    s = data.add_parser("synth", help="write a synthetic dataset in the real dataset's format")
    s.add_argument("--dataset", required=True, choices=DATASET_NAMES)
    s.add_argument("--root", required=True, help="folder to write (e.g. data/synthetic/shoes)")
    s.add_argument("--size", default="small", choices=("tiny", "small", "medium"))
    s.add_argument("--train-scale", type=int, default=1, help="multiply the training counts (test unchanged)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--image-size", type=int, default=64)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_data_synth)
    c = data.add_parser("check", help="report what a copy of a dataset holds, per protocol")
    c.add_argument("--dataset", required=True, choices=DATASET_NAMES)
    c.add_argument("--root", required=True)
    c.add_argument("--no-images", action="store_true", help="inspect the annotation files alone")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=_data_check)

    si = data.add_parser("stand-in", help="write a labelled stand-in for every missing image the annotations name "
                                          "(a rehearsal of the real-data route; numbers on stand-ins are meaningless)")
    si.add_argument("--dataset", required=True, choices=DATASET_NAMES)
    si.add_argument("--root", required=True, help="a folder holding the real annotation files")
    si.add_argument("--force", action="store_true", help="also when some named images are there (a real copy)")
    si.add_argument("--json", action="store_true")
    si.set_defaults(func=_data_standin)

    f = sub.add_parser("flops", help="measured multiply-accumulates beside the paper's claim")
    f.add_argument("--json", action="store_true")
    f.set_defaults(func=_flops)

    t = sub.add_parser("train", help="train (or resume) a run, then evaluate it")
    t.add_argument("--config", help="a named configuration, e.g. shoes_synth or shoes_paper")
    t.add_argument("--config-file", help="a configuration saved as JSON (a run's config.json; the study writes one)")
    t.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides, e.g. model.method=tirg")
    t.add_argument("--run-dir", required=True)
    t.add_argument("--no-eval", action="store_true")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=_train)

    e = sub.add_parser("eval", help="evaluate a finished run under the paper's protocols")
    e.add_argument("--run", required=True, help="the run folder")
    e.add_argument("--protocol", nargs="*", help="default: every protocol of the dataset")
    e.add_argument("--weights", default="ema", choices=("ema", "raw"))
    e.add_argument("--device", default="auto")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=_eval)

    m = sub.add_parser("simulate", help="a simulated user searching over several turns (synthetic data)")
    m.add_argument("--run", required=True, help="the run folder")
    m.add_argument("--turns", type=int, default=5)
    m.add_argument("--k", type=int, default=1, help="success when one of the top k has the target's attributes")
    m.add_argument("--seed", type=int, default=0, help="the simulated user's random seed")
    m.add_argument("--protocol", default=None, help="whose split's queries start the sessions (default: first)")
    m.add_argument("--p-vague", type=float, default=0.2, help="probability of a vague caption")
    m.add_argument("--device", default="auto")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=_simulate)

    me = sub.add_parser("measure", help="compute what the chapters draw from a trained run (measures.json)")
    me.add_argument("--run", required=True, help="the run folder")
    me.add_argument("--what", nargs="+", default=["simulation"], choices=("simulation", "attention"))
    me.add_argument("--device", default="cpu")
    me.add_argument("--json", action="store_true")
    me.set_defaults(func=_measure)

    r = sub.add_parser("results", help="gather every run's results under a folder into one table")
    r.add_argument("--root", required=True)
    r.add_argument("--csv", action="store_true")
    r.set_defaults(func=_results)

    # stats' own options, declared here so that parsing imports nothing heavy (valstudy.analysis loads torch)
    fi = sub.add_parser("findings", help="rewrite the README's generated block from figures/*.json (make findings)")
    fi.add_argument("--readme", default="README.md", help="the file holding the findings block")
    fi.add_argument("--figures", default="figures", help="the folder of the notebooks' recorded numbers (*.json)")
    fi.add_argument("--records", default="records/synthetic", help="the study's records (the CPU seconds of runs)")
    fi.add_argument("--check", action="store_true", help="exit 1 when the block differs from what it would write")
    fi.set_defaults(func=_findings)

    at = sub.add_parser("attention", help="VAL's attention of a trained run, calibrated and tested by intervention "
                                          "(docs/attention.md)")
    at.add_argument("--run", required=True, help="the run folder (VAL or an ablation of it)")
    at.add_argument("--device", default="cpu")
    at.add_argument("--max-queries", type=int, default=None,
                    help="map measures on a fixed-seed sample of this many test queries (default 600; 0: all); "
                         "R@10 always ranks every query")
    at.add_argument("--seed", type=int, default=0, help="seed of the query sample and the shuffled pairings")
    at.add_argument("--json", action="store_true")
    at.set_defaults(func=_attention)

    from .study.command import add_arguments
    st = sub.add_parser("study", help="the whole study: data, runs, records, notebooks, figures (make study)")
    add_arguments(st)
    st.set_defaults(func=_study)

    from .book import add_arguments as book_arguments
    bk = sub.add_parser("book", help="the executed notebooks and docs/ as a book in build/book/ (make book)")
    book_arguments(bk)
    bk.set_defaults(func=_book)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValstudyError as e:
        print(f"valstudy: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("valstudy: interrupted; run the same command again to resume from the last checkpoint",
              file=sys.stderr)
        return 130
