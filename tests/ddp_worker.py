"""Run by tests/test_ddp.py under torchrun: train a few steps with DDP (gloo on CPU), save this rank's weights."""
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from valstudy.training import get_config
from valstudy.training.loop import Run

root, run_dir = sys.argv[1], Path(sys.argv[2])
cfg = get_config("shoes_synth", {"data.root": root, "steps": 4, "batch_size": 8, "checkpoint_every": 2,
                                 "log_every": 1, "model.small_width": 8})
run = Run(cfg, run_dir, progress=False)
run.fit()
torch.save(run.model.state_dict(), run_dir / f"rank{dist.get_rank()}.pt")
dist.destroy_process_group()
