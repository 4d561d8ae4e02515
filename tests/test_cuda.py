"""CUDA paths (skipped without a GPU; bench/gpu_check.sh runs them where one is lent): training, evaluation, BN."""
import json

import pytest
import torch

from valstudy.data.synth import synthesize
from valstudy.evaluation import eval_run
from valstudy.training import get_config, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def test_a_tiny_run_trains_and_evaluates_on_cuda(tmp_path):
    root = synthesize("fashioniq", tmp_path / "fashioniq", size="tiny", seed=0) and tmp_path / "fashioniq"
    cfg = get_config("fashioniq_synth", {"data.root": str(root), "steps": 4, "batch_size": 8, "device": "cuda",
                                         "checkpoint_every": 2, "model.small_width": 8, "num_workers": 2})
    train(cfg, tmp_path / "run", progress=False)
    assert json.loads((tmp_path / "run" / "meta.json").read_text())["device"].startswith("cuda")
    result = eval_run(tmp_path / "run", device="cuda")
    assert {r["protocol"] for r in result["splits"]} == {"val", "official"}
    assert all(0 <= r["R@10"] <= r["R@50"] <= 100 for r in result["splits"])


def test_sync_batchnorm_on_cuda_is_plain_batchnorm_in_one_process():
    from valstudy.training.distributed import convert_sync_batchnorm

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4)).cuda()
    ref = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4)).cuda()
    ref.load_state_dict(net.state_dict())
    net = convert_sync_batchnorm(net, torch.device("cuda"))
    assert isinstance(net[1], torch.nn.SyncBatchNorm)
    x = torch.randn(6, 3, 5, 5, device="cuda")
    assert torch.allclose(net(x), ref(x), atol=1e-5)
