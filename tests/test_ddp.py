"""Several processes through torchrun + DistributedDataParallel (gloo on CPU): the ranks end with the same weights."""
import os
import subprocess
import sys
from pathlib import Path

import torch

from valstudy.data.synth import synthesize


def test_two_gloo_processes_agree(tmp_path):
    root = tmp_path / "shoes"
    synthesize("shoes", root, size="tiny", seed=0)
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(worker), str(root), str(tmp_path / "run")], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0 = torch.load(tmp_path / "run" / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "run" / "rank1.pt", weights_only=True)
    saved = torch.load(tmp_path / "run" / "final.pt", weights_only=True)["model"]
    assert w0.keys() == w1.keys()
    trained = [k for k in w0 if w0[k].is_floating_point() and "running" not in k]
    for k in trained:
        assert torch.allclose(w0[k], w1[k], atol=1e-6), k
    assert all(torch.equal(w0[k], saved[k]) for k in w0)
