"""Several processes through torchrun + DistributedDataParallel (gloo on CPU): the ranks end with the same weights,
and 2 processes x 16 rows compute the loss, gradients and BatchNorm statistics of 1 process x 32 rows."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import color_of, write_image
from valstudy.data.base import Triplet
from valstudy.data.images import image_transform
from valstudy.data.synth import synthesize
from valstudy.text import Vocabulary
from valstudy.training.batches import StepBatches


@pytest.fixture(scope="module")
def shoes_synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp") / "shoes"
    synthesize("shoes", root, size="tiny", seed=0)
    return root


def test_ranks_slices_reassemble_the_global_batch_padded_to_its_longest_text(tmp_path):
    # One text is longer than the others, so one rank's slice holds it and the other's does not: both slices must
    # still be padded to it (the text encoder's max over time counts padded steps as zeros).
    texts = ["red", "is blue", "has long sleeves and a wide collar", "green", "short", "is black"]
    triplets = [Triplet(f"r{i}", t, f"t{i}") for i, t in enumerate(texts)]
    for key in {k for t in triplets for k in (t.reference, t.target)}:
        write_image(tmp_path / f"{key}.jpg", color_of(key))
    vocab = Vocabulary.build(texts)
    make = lambda rank, world: StepBatches(lambda epoch: triplets, lambda k: tmp_path / f"{k}.jpg", vocab,  # noqa
                                           batch_size=6, transform=image_transform(8, train=False), seed=3,
                                           rank=rank, world_size=world)
    for step in range(3):
        refs, text, tgts = make(0, 1)[step]
        slices = [make(rank, 2)[step] for rank in (0, 1)]
        assert [s[0].shape[0] for s in slices] == [3, 3]
        assert torch.equal(torch.cat([s[0] for s in slices]), refs)          # rank 0's rows first, in order
        assert torch.equal(torch.cat([s[2] for s in slices]), tgts)
        assert torch.equal(torch.cat([s[1].tokens for s in slices]), text.tokens)   # the global padded length
        assert torch.equal(torch.cat([s[1].lengths for s in slices]), text.lengths)
        assert min(int(s[1].lengths.max()) for s in slices) < text.tokens.shape[1]  # one slice lacks the longest


def test_two_gloo_processes_agree(shoes_synth, tmp_path):
    root = shoes_synth
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


@pytest.mark.parametrize("method, loss", [("val", "triplet"), ("tirg", "softmax")])
def test_two_processes_of_16_equal_one_process_of_32(shoes_synth, tmp_path, method, loss):
    """One training step (tests/ddp_grads_worker.py) of 2 processes x 16 rows gives the loss, every gradient and every
    BatchNorm running statistic of 1 process x 32 rows, to float roundoff.

    "The same" is defined with the step's random draws off (dropout on the attention weights and the text feature,
    the flip augmentation): each rank draws its own masks and flips, which are not the rows' draws in one process;
    what this compares is the deterministic computation. Negatives are mined among the gathered global batch,
    BatchNorm normalises over it (sync_batchnorm), and each rank's texts are padded to the global batch's longest
    text. Checked to fail when ``gather_batch`` returns the local rows, when ``GlobalBatchNorm`` uses the local
    statistics, or when a rank pads only to its own longest text.
    """
    root = shoes_synth
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
