"""Benchmark exact top-K retrieval: valstudy.retrieval.topk against faiss-cpu and a NumPy full-matrix baseline.

    python bench/retrieval.py [--queries Q] [--gallery N] [--dim D] [--k K] [--threads T] [--repeat R] [--json]

Defaults are Fashion200k's test scale (33,480 queries x 29,789 gallery images, docs/protocols.md) with 2,048-d
features (VAL's ResNet-50 backbone), random float32 from a fixed seed, no exclusions.

How it measures. Each method runs in its own subprocess, with OMP/OpenBLAS/MKL threads set to T before any import,
so no method inherits another's memory or warm thread pools. A subprocess builds the features, imports its
libraries, notes its resident memory, runs the search R times (reporting the fastest), then reads its peak resident
memory (``ru_maxrss``). "Peak MB" is that peak minus the resident memory before the search; it also counts pages
of shared libraries (torch's are large) read in for the first time, so it varies between runs. "Anon MB" is the
peak of anonymous memory (``RssAnon``, sampled every 5 ms in a thread) minus its value before the search: what the
method allocates beyond the features (faiss's includes its copy of the gallery inside the index). The NumPy baseline builds the
full Q x N distance matrix (float32) and ``argpartition``s it (int64 indices): 12 * Q * N bytes. When that exceeds
4 GB it runs on the first queries that fit and its time is scaled to all Q queries (said in the output).

Agreement: for every query, the K indices of faiss / NumPy must equal valstudy's as sets, except for items whose
float64 distance is within 1e-4 (relative) of valstudy's K-th distance (ties at the cut-off).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NUMPY_LIMIT_BYTES = 4e9
SEED = 0


def _features(q: int, n: int, d: int):
    import numpy as np

    rng = np.random.default_rng(SEED)
    return rng.standard_normal((q, d), dtype=np.float32), rng.standard_normal((n, d), dtype=np.float32)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _anon_mb() -> float:
    """Anonymous resident memory (heap, mmaps): what a method allocates, without shared-library pages."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0


class _AnonPeak:
    """Samples RssAnon every 5 ms in a thread; ``peak`` is the largest value seen."""

    def __init__(self):
        import threading

        self.peak, self._stop = _anon_mb(), False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            self.peak = max(self.peak, _anon_mb())
            time.sleep(0.005)

    def stop(self) -> float:
        self._stop = True
        self._thread.join()
        return max(self.peak, _anon_mb())


def _worker(args) -> None:
    """Run one method; write {seconds, peak_mb, rows} and the (rows, K) indices to args.out."""
    import numpy as np

    if args.method == "sgemm":
        q, g = _features(4096, 8192, args.dim)
        import torch

        torch.set_num_threads(args.threads)
        a, b = torch.from_numpy(q[:4096]), torch.from_numpy(g[:8192])
        torch.mm(a, b.T)
        t = time.perf_counter()
        torch.mm(a, b.T)
        torch_s = time.perf_counter() - t
        np.matmul(q[:4096], g[:8192].T)
        t = time.perf_counter()
        np.matmul(q[:4096], g[:8192].T)
        numpy_s = time.perf_counter() - t
        flops = 2 * a.shape[0] * b.shape[0] * a.shape[1]
        Path(args.out).write_text(json.dumps({"torch_gflops": flops / torch_s / 1e9,
                                              "numpy_gflops": flops / numpy_s / 1e9}))
        return
    q, g = _features(args.queries, args.gallery, args.dim)
    rows = q.shape[0]
    if args.method in ("valstudy", "valstudy_cuda"):  # valstudy_cuda: features from host memory, ranks back
        import torch

        from valstudy.retrieval import topk

        torch.set_num_threads(args.threads)
        qt, gt = torch.from_numpy(q), torch.from_numpy(g)
        device = "cuda" if args.method == "valstudy_cuda" else None

        def search():
            return topk(qt, gt, args.k, device=device)[1].numpy()  # the copy back to the host synchronises
    elif args.method == "faiss":
        import faiss

        faiss.omp_set_num_threads(args.threads)

        def search():
            index = faiss.IndexFlatL2(g.shape[1])  # building the index is part of the search cost
            index.add(g)
            return index.search(q, args.k)[1]
    else:  # numpy
        rows = min(q.shape[0], max(1, int(NUMPY_LIMIT_BYTES // (12 * g.shape[0]))))
        q = q[:rows]

        def search():
            dist = q @ g.T  # (rows, N)
            dist *= -2
            dist += np.einsum("nd,nd->n", g, g)[None, :]
            dist += np.einsum("nd,nd->n", q, q)[:, None]
            part = np.argpartition(dist, args.k - 1, axis=1)[:, : args.k]  # (rows, K), unordered
            order = np.argsort(np.take_along_axis(dist, part, 1), axis=1, kind="stable")
            return np.take_along_axis(part, order, 1)

    base, base_anon = _rss_mb(), _anon_mb()
    sampler = _AnonPeak()
    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        idx = search()
        times.append(time.perf_counter() - t)
    anon_peak = sampler.stop()
    np.save(args.out + ".npy", idx.astype(np.int64))
    extra = {}
    if args.method == "valstudy_cuda":
        import torch

        extra = {"gpu_peak_mb": torch.cuda.max_memory_allocated() / 2**20, "gpu": torch.cuda.get_device_name()}
    Path(args.out).write_text(json.dumps({"seconds": min(times), "all_seconds": times, "rows": rows,
                                          "peak_mb": _peak_mb() - base, "anon_peak_mb": anon_peak - base_anon,
                                          **extra}))


def _run(method: str, args, tmp: str) -> dict:
    out = os.path.join(tmp, method + ".json")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, __file__, "--_method", method, "--_out", out, "--queries", str(args.queries),
           "--gallery", str(args.gallery), "--dim", str(args.dim), "--k", str(args.k),
           "--threads", str(args.threads), "--repeat", str(args.repeat)]
    subprocess.run(cmd, env=env, check=True)
    res = json.loads(Path(out).read_text())
    if method != "sgemm":
        import numpy as np

        res["idx"] = np.load(out + ".npy")
    return res


def _agree(ref_idx, other_idx, q, g, rtol: float = 1e-4) -> tuple[bool, int]:
    """Do the top-K sets match, up to ties at the K-th distance? Returns (agree, rows that differ as sets)."""
    import numpy as np

    differ, ok = 0, True
    for r in range(other_idx.shape[0]):
        a, b = set(ref_idx[r].tolist()), set(other_idx[r].tolist())
        if a == b:
            continue
        differ += 1
        dist = lambda j: float(np.sum((q[r].astype(np.float64) - g[j].astype(np.float64)) ** 2))  # noqa: E731
        kth = max(dist(j) for j in ref_idx[r])
        if any(abs(dist(j) - kth) > rtol * kth for j in a ^ b):
            ok = False
    return ok, differ


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--queries", type=int, default=33480)
    p.add_argument("--gallery", type=int, default=29789)
    p.add_argument("--dim", type=int, default=2048)
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeat", type=int, default=2,
                   help="runs per method; the fastest is reported (the first run pays warm-up)")
    p.add_argument("--methods", default="valstudy,faiss,numpy",
                   help="any of valstudy, valstudy_cuda (GPU), faiss, numpy")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--_method", help=argparse.SUPPRESS)
    p.add_argument("--_out", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._method:
        args.method, args.out = args._method, args._out
        _worker(args)
        return {}

    flops = 2 * args.queries * args.gallery * args.dim
    result = {"queries": args.queries, "gallery": args.gallery, "dim": args.dim, "k": args.k,
              "threads": args.threads, "repeat": args.repeat, "cpu_count": os.cpu_count(),
              "load_avg_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        result.update({f"sgemm_{k}": v for k, v in _run("sgemm", args, tmp).items()})
        runs = {m: _run(m, args, tmp) for m in args.methods.split(",")}
        q, g = _features(args.queries, args.gallery, args.dim)
    ref = runs.get("valstudy")
    agree = True
    for m, r in runs.items():
        scale = args.queries / r["rows"]
        result[f"{m}_s"] = r["seconds"] * scale
        result[f"{m}_gflops"] = flops / result[f"{m}_s"] / 1e9
        result[f"{m}_peak_mb"] = r["peak_mb"]
        result[f"{m}_anon_peak_mb"] = r["anon_peak_mb"]
        result[f"{m}_all_s"] = [t * scale for t in r["all_seconds"]]
        for key in ("gpu_peak_mb", "gpu"):
            if key in r:
                result[f"{m}_{key}"] = r[key]
        if scale != 1:
            result[f"{m}_note"] = f"ran on {r['rows']} of {args.queries} queries (time scaled x{scale:.2f})"
        if ref is not None and m != "valstudy":
            ok, differ = _agree(ref["idx"], r["idx"], q, g)
            result[f"{m}_agree"], result[f"{m}_rows_differ"] = ok, differ
            agree &= ok
    result["agree"] = agree
    result["load_avg_after"] = os.getloadavg()[0]
    if args.json:
        print(json.dumps(result))
        return result
    print(f"top-{args.k}, {args.queries} queries x {args.gallery} gallery, {args.dim}-d float32, "
          f"{args.threads} thread(s), best of {args.repeat}; load average {result['load_avg_before']:.2f} before, "
          f"{result['load_avg_after']:.2f} after (cores shared with other users)")
    print(f"sgemm reference (4096x2048 @ 2048x8192): torch/MKL {result['sgemm_torch_gflops']:.1f} GFLOP/s, "
          f"numpy/OpenBLAS {result['sgemm_numpy_gflops']:.1f} GFLOP/s")
    print(f"{'method':<10}{'seconds':>10}{'GFLOP/s':>10}{'peak MB':>10}{'anon MB':>10}  agrees with valstudy")
    for m in runs:
        agree_s = "-" if m == "valstudy" else (
            f"{result[m + '_agree']} ({result[m + '_rows_differ']} rows differ as sets)")
        print(f"{m:<10}{result[m + '_s']:>10.2f}{result[m + '_gflops']:>10.1f}{result[m + '_peak_mb']:>10.0f}"
              f"{result[m + '_anon_peak_mb']:>10.0f}  "
              f"{agree_s}  {result.get(m + '_note', '')}")
    return result


if __name__ == "__main__":
    main()
