"""Several processes through torchrun + DistributedDataParallel (gloo on CPU): the ranks end with the same weights."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
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


def _step(worker_args, env, nproc):
    worker = str(Path(__file__).with_name("ddp_grads_worker.py"))
    cmd = [sys.executable, worker] if nproc == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc), worker]
    proc = subprocess.run(cmd + worker_args, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


# Known failure (issue 9, open): after the synthetic configurations gained a validation hold-out and the fast
# composite-transformer paths landed, 2 x 16 and 1 x 32 differ by ~0.5% in loss; it passed before those merges.
# Kept visible as an expected failure until it is traced, not deleted.
@pytest.mark.xfail(reason="2 x 16 and 1 x 32 differ by ~0.5% in loss since the validation hold-out / fast paths "
                          "merges; under investigation (issue 9)", strict=False)
@pytest.mark.parametrize("method, loss", [("val", "triplet"), ("tirg", "softmax")])
def test_two_processes_of_16_equal_one_process_of_32(tmp_path, method, loss):
    # Negatives are mined among the gathered global batch and BatchNorm normalises over it (sync_batchnorm), so the
    # loss, every gradient and the BatchNorm statistics are those of one process holding all 32 rows.
    root = tmp_path / "shoes"
    synthesize("shoes", root, size="tiny", seed=0)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    args = [str(root), str(tmp_path), method, loss]
    _step(args, env, 1)
    _step(args, env, 2)
    one = torch.load(tmp_path / "1_0.pt", weights_only=True)
    for rank in (0, 1):
        two = torch.load(tmp_path / f"2_{rank}.pt", weights_only=True)
        assert (one["rows"], two["rows"]) == (32, 16)
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-5)
        assert one["grads"].keys() == two["grads"].keys() and len(one["grads"]) > 10
        for k, g in one["grads"].items():
            assert torch.allclose(two["grads"][k], g, rtol=1e-4, atol=1e-5), k  # zero in exact arithmetic: roundoff
        for k, s in one["stats"].items():
            assert torch.allclose(two["stats"][k], s, rtol=1e-4, atol=1e-6), k


def test_global_batchnorm_loads_into_plain_batchnorm():
    from valstudy.training.distributed import convert_sync_batchnorm

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4), torch.nn.BatchNorm1d(4))
    net[1].running_mean.fill_(0.5)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    converted = convert_sync_batchnorm(net, torch.device("cpu"))
    assert type(converted[1]).__name__ == "GlobalBatchNorm" and type(converted[2]).__name__ == "GlobalBatchNorm"
    assert all(torch.equal(converted.state_dict()[k], v) for k, v in state.items())
    x = torch.randn(5, 3, 2, 2)
    plain = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4))
    plain.load_state_dict({k: v for k, v in state.items() if not k.startswith("2.")})
    assert torch.allclose(converted[:2](x), plain(x))   # outside a process group it is ordinary BatchNorm
