"""Run by tests/test_ddp.py, under torchrun or alone: one training step's loss and gradients, saved per rank.

The step's batch is the global batch of step 0 (each rank its slice); augmentation and dropout are off so that one
process and several see the same images and the same network.
"""
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from valstudy.training import get_config
from valstudy.training.loop import Run

root, out, method, loss = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
cfg = get_config("shoes_synth", {"data.root": root, "batch_size": 32, "model.small_width": 8, "model.method": method,
                                 "loss": loss, "data.hflip": False, "model.attn_dropout": 0.0,
                                 "model.text_dropout": 0.0, "sync_batchnorm": True, "model.lstm_hidden": 64,
                                 "model.text_dim": 64, "model.word_dim": 32})
run = Run(cfg, out / "run", progress=False)
run.model.train()
refs, texts, tgts = next(iter(run._batches("lvv", 0, 1, 0)))
value = run._train_step(refs, texts, tgts)
grads = {n: p.grad.clone() for n, p in run.model.named_parameters() if p.grad is not None}
stats = {n: b.clone() for n, b in run.model.named_buffers() if "running" in n}
rank = dist.get_rank() if dist.is_initialized() else 0
torch.save({"loss": value, "grads": grads, "stats": stats, "rows": refs.shape[0]}, out / f"{run.world}_{rank}.pt")
if dist.is_initialized():
    dist.destroy_process_group()
