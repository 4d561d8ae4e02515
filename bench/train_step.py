"""Time one training step of VAL, TIRG and the backbone alone at the same batch and image size.

    python bench/train_step.py [--config shoes_synth|shoes_paper|...] [--batch B] [--steps N] [--threads T]
                               [--device auto|cpu|cuda] [--json]

The model (backbone, image size, text encoder sizes) comes from the named training configuration; ``--config
shoes_paper`` times ResNet-50 at 256 px (randomly initialised: timing needs no pretrained weights).

The difference between VAL and the backbone alone is the measured cost of the composite transformers and the text
encoder in training (forward + backward + Adam step); nothing here is quoted from the paper. On the CPU, VAL's
self-attention runs on the C kernel (``valstudy/kernels/attention_native.c``; docs/kernels.md) when the machine has a
C compiler; the row "VAL (torch ops)" times the same model on the torch-operations kernel that runs without one, and
the row "VAL (explicit)" on its explicit formulas (``set_fast_paths``): the costs before the fast paths, measured in
the same run.
Like training, the benchmark keeps freed memory in the process (``valstudy.runtime.keep_freed_memory``).
``cpu_s`` is the process's CPU time per step (all its threads), which other processes on a shared machine disturb
far less than the wall-clock ``median_s``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from valstudy.config import get_config  # noqa: E402
from valstudy.losses import build_loss  # noqa: E402
from valstudy.models import build_model  # noqa: E402
from valstudy.models.composite_transformer import set_fast_paths  # noqa: E402
from valstudy.text import TextBatch  # noqa: E402
from valstudy.device import pick_device  # noqa: E402
from valstudy.kernels import attention_native  # noqa: E402
from valstudy.runtime import keep_freed_memory  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step, device, steps: int, warmup: int = 2) -> tuple[list[float], list[float]]:
    """Wall-clock and process CPU seconds of each of ``steps`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    _sync(device)
    wall, cpu = [], []
    for _ in range(steps):
        t, c = time.perf_counter(), time.process_time()
        step()
        _sync(device)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="shoes_synth", help="training configuration whose model is timed")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--device", default="auto")
    p.add_argument("--no-explicit", dest="explicit", action="store_false",
                   help="skip the row timing VAL on its explicit formulas")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    device = pick_device(a.device)
    allocator = keep_freed_memory()  # as training does (valstudy.training.loop.train)
    kernel = "C kernel" if device.type == "cpu" and attention_native.library() is not None else "torch operations"
    torch.manual_seed(0)
    model_cfg = dataclasses.replace(get_config(a.config).model, pretrained=False)
    size, vocab, T = model_cfg.image_size, 500, 8
    images = torch.rand(a.batch, 3, size, size, device=device) * 2 - 1
    targets = torch.rand(a.batch, 3, size, size, device=device) * 2 - 1
    texts = TextBatch(torch.randint(1, vocab, (a.batch, T), device=device),
                      torch.full((a.batch,), T, dtype=torch.long, device=device))
    rows = {}
    labels = (("VAL", "val"), ("VAL (torch ops)", "val"), ("VAL (explicit)", "val"), ("TIRG", "tirg"),
              ("backbone only", None))
    for label, method in labels:
        if label == "VAL (explicit)" and not a.explicit or label == "VAL (torch ops)" and kernel != "C kernel":
            continue
        attention_native.set_native(label != "VAL (torch ops)")
        torch.manual_seed(0)
        cfg = dataclasses.replace(model_cfg, method=method or "image_only")
        model = set_fast_paths(build_model(cfg, vocab), label != "VAL (explicit)").to(device).train()
        loss_fn = build_loss("triplet", len(model.levels)).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=2e-4)

        def step():
            opt.zero_grad(set_to_none=True)
            if method is None:  # the backbone on both images, the same loss: no text, no composition
                q, t = model.encode_target(images), model.encode_target(targets)
            else:
                q, t = model.encode_query(images, texts), model.encode_target(targets)
            loss_fn(q, t).backward()
            opt.step()

        times, cpu = time_steps(step, device, a.steps)
        rows[label] = {"median_s": statistics.median(times), "min_s": min(times), "cpu_s": statistics.median(cpu),
                       "params_m": sum(p.numel() for p in model.parameters()) / 1e6}
    base, tirg = rows["backbone only"], rows["TIRG"]
    for r in rows.values():
        r["vs_backbone"] = r["median_s"] / base["median_s"]
        r["vs_tirg"], r["cpu_vs_tirg"] = r["median_s"] / tirg["median_s"], r["cpu_s"] / tirg["cpu_s"]
    if a.json:
        print(json.dumps({"device": str(device), "config": a.config, "backbone": model_cfg.backbone, "image_size": size,
                          "batch": a.batch, "threads": torch.get_num_threads(), "attention_kernel": kernel,
                          "keep_freed_memory": allocator, "rows": rows}, indent=1))
        return
    print(f"training step, {a.config}: {model_cfg.backbone} backbone, batch {a.batch}, {size} px, {device}, "
          f"{torch.get_num_threads()} threads, median of {a.steps}; CPU attention: {kernel}; "
          f"freed memory kept: {allocator}")
    print(f"{'model':<16}{'s/step':>9}{'min s':>9}{'cpu s':>9}{'x backbone':>12}{'x TIRG':>8}{'cpu x TIRG':>12}"
          f"{'params (M)':>12}")
    for k, r in rows.items():
        print(f"{k:<16}{r['median_s']:>9.4f}{r['min_s']:>9.4f}{r['cpu_s']:>9.4f}{r['vs_backbone']:>12.2f}"
              f"{r['vs_tirg']:>8.2f}{r['cpu_vs_tirg']:>12.2f}{r['params_m']:>12.2f}")


if __name__ == "__main__":
    main()
