"""Several processes trained as one: the process group, features gathered across ranks, BatchNorm over all ranks.

Under ``torchrun`` each rank holds a slice of the global batch. For the loss to be the one a single GPU computes on
the whole batch, each rank gathers every rank's query and target features before mining negatives
(:func:`gather_batch`), and, with ``sync_batchnorm``, BatchNorm normalises with the statistics of the global batch
(:func:`convert_sync_batchnorm`). Both are autograd-aware: their backward passes sum the gradients of every rank's
loss, and DistributedDataParallel then averages over ranks, so every rank ends with the gradient of the one-GPU loss.
"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

from ..errors import ValstudyError


def init_distributed() -> tuple[int, int]:
    """Start the process group under torchrun (gloo on CPU, nccl on GPU); (rank, world size)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class _GatherBatch(torch.autograd.Function):
    """All-gather along dim 0; backward: sum every rank's gradient of the gathered tensor, keep this rank's rows."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.rank, ctx.rows = dist.get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts)  # (world * B, ...)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)  # every rank's loss depends on this rank's rows
        return grad[ctx.rank * ctx.rows:(ctx.rank + 1) * ctx.rows]


class _SumOverRanks(torch.autograd.Function):
    """All-reduce (sum); backward: the sum of every rank's gradient, since every rank's loss depends on the sum."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        x = x.clone().contiguous()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.clone().contiguous()
        dist.all_reduce(grad)
        return grad


def gather_batch(x: torch.Tensor) -> torch.Tensor:
    """Rows of every rank, rank 0 first: (B, ...) -> (world * B, ...); ``x`` itself outside a process group.

    Every rank must pass the same number of rows (the trainer checks that the global batch divides evenly).
    """
    return _GatherBatch.apply(x) if _world() > 1 else x


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """BatchNorm whose training statistics are those of the global batch (every rank's rows), on any device.

    torch's ``SyncBatchNorm`` runs on GPUs only; this one also runs on CPU with gloo (the DDP tests). Outside a
    process group, or in eval mode, it is ordinary BatchNorm. Parameters and buffers are named as BatchNorm's, so
    checkpoints load into the single-process model.
    """

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() < 2:
            raise ValstudyError(f"GlobalBatchNorm: expected at least 2-D input, got {x.dim()}-D")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        if not self.training or _world() == 1:
            return super().forward(x)
        dims = [0] + list(range(2, x.dim()))
        shape = [1, -1] + [1] * (x.dim() - 2)
        count = torch.tensor([x.numel() / x.shape[1]], dtype=x.dtype, device=x.device)
        total = _SumOverRanks.apply(torch.cat([x.sum(dims), count]))  # (C + 1,) summed over ranks
        n = total[-1]
        mean = total[:-1] / n  # (C,)
        var = _SumOverRanks.apply((x - mean.view(shape)).pow(2).sum(dims)) / n  # (C,) biased, as BN normalises
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), m)
                self.running_var.lerp_(var.detach() * n / max(float(n) - 1, 1.0), m)
        y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


def convert_sync_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm of ``module`` normalised over the global batch: torch's SyncBatchNorm on CUDA, else
    :class:`GlobalBatchNorm`. Call before building the optimiser (the modules, and so the parameters, are new)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return _to_global(module)


def _to_global(module: nn.Module) -> nn.Module:
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                              module.track_running_stats)
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        return new.to(next(iter(module.state_dict().values())).device) if module.state_dict() else new
    for name, child in module.named_children():
        setattr(module, name, _to_global(child))
    return module

