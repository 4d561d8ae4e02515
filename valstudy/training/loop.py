"""The training loop: L_vv (and L_vs) with Adam, EMA weights, atomic checkpoints, exact resume, DDP.

``train(cfg, run_dir)`` is idempotent: a finished run with the same configuration is reused, an interrupted one
resumes from its last checkpoint (model, optimiser, scheduler, EMA, loss scale, random states; the data order is a
function of the step, see ``batches.py``), and a run folder holding another configuration is refused.
:class:`Run` builds a run and steps it; the run folder (``folder.py``), what a checkpoint holds (``state.py``) and the
evaluations during training (``curves.py``) are their own modules.
"""
from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from ..config import TrainConfig
from ..data import load_dataset
from ..data.transforms import make_transform
from ..data.validation import HeldOut
from ..device import pick_device
from ..errors import ValstudyError
from ..locks import folder_lock
from ..models import build_model
from ..runtime import keep_freed_memory
from ..text import Vocabulary, load_glove
from .batches import StepBatches
from .curves import evaluate_during_training
from .distributed import convert_sync_batchnorm, gather_batch, init_distributed
from .folder import RunFolder
from .sides import lvs_triplets
from .state import TrainingState


def build_vocabulary(cfg: TrainConfig, dataset, side_dataset=None) -> Vocabulary:
    """Vocabulary from the texts the authors' code uses (yanbeic/VAL `datasets/vocabulary.py`), plus tagged
    descriptions when L_vs is used."""
    texts = list(dataset.vocabulary_texts())
    if cfg.side_info != "none":
        texts += [d for _, d in (side_dataset or dataset).side_information()]
    return Vocabulary.build(texts)


class QueryTargetPair(torch.nn.Module):
    """One forward for both sides of a triplet: (composite features, target image features)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, refs, texts, tgts):
        return self.model.encode_query(refs, texts), self.model.encode_target(tgts)


class Run:
    """A training run: its data, vocabulary, model and optimiser state, built once; then ``fit()`` steps it."""

    def __init__(self, cfg: TrainConfig, run_dir: str | Path, progress: bool = True):
        self.cfg, self.progress = cfg.validate(), progress
        self.rank, self.world = init_distributed()
        if cfg.batch_size % self.world:
            raise ValstudyError(f"batch_size={cfg.batch_size}: the global batch must divide evenly over the "
                                f"{self.world} processes")
        self.device = pick_device(cfg.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True)
        self.folder = RunFolder(run_dir, self.rank)
        self.dir = self.folder.path
        self.folder.check(cfg)
        self.dataset = load_dataset(cfg.data.dataset, cfg.data.root, check_images=cfg.data.check_images)
        self.side_dataset = (load_dataset("fashion200k", cfg.side_info_root, check_images=cfg.data.check_images)
                             if cfg.side_info_root else None)
        # A validation split carved out of the training set (never the test split) for the curves that choose the
        # step budget; None trains on the whole training set and evaluates the test protocols during training.
        self.holdout = HeldOut(self.dataset, cfg.data.val_fraction) if cfg.data.val_fraction > 0 else None
        self._check_batch_size()
        self.vocab = self.folder.vocabulary()
        if self.vocab is None:
            self.vocab = build_vocabulary(cfg, self.dataset, self.side_dataset)
        glove = load_glove(cfg.model.glove_path, self.vocab) if cfg.model.glove_path else None
        model = build_model(cfg.model, len(self.vocab), glove).to(self.device)
        if self.world > 1 and cfg.sync_batchnorm:  # BatchNorm sees the global batch, as on one GPU
            model = convert_sync_batchnorm(model, self.device)
        self.state = TrainingState(cfg, model, self.device)
        self.pair = QueryTargetPair(model)
        if self.world > 1:  # PyTorch's own engine; one forward computes both sides so DDP sees one graph per step
            self.pair = torch.nn.parallel.DistributedDataParallel(
                self.pair, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=cfg.model.method in ("image_only", "text_only"))

    @property
    def model(self) -> torch.nn.Module:
        return self.state.model

    @property
    def criterion(self) -> torch.nn.Module:
        return self.state.criterion

    def _check_batch_size(self) -> None:
        # A cross-field rule that needs the data: each step draws one batch without repeats from an epoch's triplets.
        cfg = self.cfg
        train = self.holdout or self.dataset   # what the batches are drawn from (the held-out part excluded)
        sources = [(f"training triplets in {self.dataset.root}", train.train_triplets(epoch=0, seed=cfg.seed))]
        if cfg.side_info != "none":
            side = self.side_dataset or self.dataset
            sources.append((f"tagged descriptions (L_vs) in {side.root}", side.side_information()))
        for what, items in sources:
            if cfg.batch_size > len(items):
                raise ValstudyError(f"configuration key batch_size={cfg.batch_size}: larger than the {len(items)} "
                                    f"{what}; allowed: 2 to {len(items)}")

    # ---- batches ----------------------------------------------------------------------------------------------
    def _batches(self, phase: str, start: int, end: int, offset: int) -> DataLoader:
        cfg = self.cfg
        if phase == "lvs":
            source = self.side_dataset or self.dataset
            triplets = lambda epoch: lvs_triplets(source, epoch, cfg.seed)  # noqa: E731
            image_path = source.image_path
        else:
            train = self.holdout or self.dataset
            triplets = lambda epoch: train.train_triplets(epoch=epoch, seed=cfg.seed)  # noqa: E731
            image_path = self.dataset.image_path
        stream = StepBatches(triplets, image_path, self.vocab, cfg.batch_size, make_transform(cfg.data, train=True),
                             seed=cfg.seed + (7919 if phase == "lvs" else 0), rank=self.rank, world_size=self.world)
        # A private generator: creating the loader's iterator must not draw from the global generator, whose state
        # (dropout) the checkpoint restores; otherwise a resumed run would drift from an uninterrupted one.
        return DataLoader(stream, batch_size=None, sampler=range(start - offset, end - offset),
                          num_workers=cfg.num_workers, pin_memory=self.device.type == "cuda",
                          generator=torch.Generator().manual_seed(cfg.seed))

    def _joint_lvs(self):
        if self.cfg.side_info != "joint":
            return None
        return iter(self._batches("lvs", self.state.step, self.state.total_steps, 0))

    # ---- the step loop ----------------------------------------------------------------------------------------
    def fit(self, stop_after: int | None = None) -> dict:
        """Train to the end (or ``stop_after`` steps from now, used to test resumption); returns a summary."""
        cfg, state, folder = self.cfg, self.state, self.folder
        if folder.finished:
            return {"run_dir": str(self.dir), "reused": True, "steps": state.total_steps}
        self.dir.mkdir(parents=True, exist_ok=True)
        folder.write_provenance(cfg, self.vocab, self.world, self.device)
        state.resume(folder.checkpoint, self.device)
        folder.keep_metrics_up_to(state.step)  # the lines after the checkpoint (all, without one) come again
        t0, done_now = time.time(), 0
        phases = [("lvs", 0, cfg.pretrain_steps)] if cfg.side_info == "pretrain" else []
        phases.append(("lvv", cfg.pretrain_steps, state.total_steps))
        bar = None
        if self.progress and self.rank == 0:
            from tqdm.auto import tqdm
            bar = tqdm(total=state.total_steps, initial=state.step, desc=cfg.name, unit="step", dynamic_ncols=True)
        state.model.train()
        state.criterion.train()
        for phase, begin, end in phases:
            if state.step >= end:
                continue
            joint = self._joint_lvs() if phase == "lvv" else None
            for refs, texts, tgts in self._batches(phase, state.step, end, begin):
                loss = self._train_step(refs, texts, tgts)
                if joint is not None:
                    r2, t2, g2 = next(joint)
                    loss = loss + self._train_step(r2, t2, g2, accumulate=True)
                state.optimizer.step()
                state.scheduler.step()
                state.step += 1
                done_now += 1
                state.ema.update(state.model, state.step)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4f}", phase=phase)
                self._after_step(phase, loss, done_now / max(time.time() - t0, 1e-9))
                if stop_after is not None and done_now >= stop_after:
                    if bar is not None:
                        bar.close()
                    return {"run_dir": str(self.dir), "stopped_at": state.step}
        if bar is not None:
            bar.close()
        if self.rank == 0:
            state.save(folder.checkpoint)
            state.save_final(folder.final)
        if self.world > 1:
            dist.barrier()
        return {"run_dir": str(self.dir), "reused": False, "steps": state.step,
                "seconds": round(time.time() - t0, 2)}

    def _after_step(self, phase: str, loss: float, steps_per_s: float) -> None:
        """What follows a step when it is due: its metrics line, an evaluation, a checkpoint, a snapshot."""
        cfg, state = self.cfg, self.state
        if state.step % cfg.log_every == 0 or state.step == state.total_steps:
            self.folder.log({"step": state.step, "phase": phase, "loss": round(loss, 6),
                             "lr": state.scheduler.get_last_lr()[0], "steps_per_s": round(steps_per_s, 3)})
        if cfg.eval_every and (state.step % cfg.eval_every == 0 or state.step == state.total_steps) and self.rank == 0:
            rows = evaluate_during_training(state.ema.model, self.dataset, self.holdout, self.vocab, cfg, self.device)
            self.folder.log({"step": state.step, "eval": rows})
        if state.step % cfg.checkpoint_every == 0 and self.rank == 0:
            state.save(self.folder.checkpoint)
        if state.step in cfg.keep_checkpoints and self.rank == 0:
            state.save_snapshot(self.dir / f"ckpt_{state.step}.pt")

    def _train_step(self, refs, texts, tgts, accumulate: bool = False) -> float:
        refs, tgts = refs.to(self.device, non_blocking=True), tgts.to(self.device, non_blocking=True)
        texts = texts.to(self.device)
        if not accumulate:  # the joint L_vs batch adds its gradients to the L_vv batch's
            self.state.optimizer.zero_grad(set_to_none=True)
        q, t = self.pair(refs, texts, tgts)  # each a list over levels of (B / world, c_l)
        # Mine negatives among the global batch, as one GPU would: every rank's rows (autograd-aware gather).
        q, t = [gather_batch(x) for x in q], [gather_batch(x) for x in t]  # (B, c_l) each
        loss = self.state.criterion(q, t)
        if not math.isfinite(loss.item()):
            raise ValstudyError(f"{self.dir}: loss became {loss.item()} at step {self.state.step}; "
                                "lower the learning rate")
        loss.backward()
        return float(loss.item())


def train(cfg: TrainConfig, run_dir: str | Path, progress: bool = True, stop_after: int | None = None) -> dict:
    """Train (or resume, or reuse) the run in ``run_dir``; see the module docstring.

    Rank 0 holds the run folder's lock (``valstudy.locks``) throughout: a second process training in the same folder
    is refused with the holder's pid.
    """
    keep_freed_memory()  # valstudy.runtime: no page faults from memory handed back and taken again every step
    if int(os.environ.get("RANK", "0")) != 0:
        return Run(cfg, run_dir, progress=progress).fit(stop_after=stop_after)
    with folder_lock(run_dir, "run folder"):
        return Run(cfg, run_dir, progress=progress).fit(stop_after=stop_after)
