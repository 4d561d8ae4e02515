"""The training loop: L_vv (and L_vs) with Adam, EMA weights, atomic checkpoints, exact resume, DDP.

``train(cfg, run_dir)`` is idempotent: a finished run with the same configuration is reused, an interrupted one
resumes from its last checkpoint (model, optimiser, scheduler, EMA, loss scale, random states; the data order is a
function of the step, see ``batches.py``), and a run folder holding another configuration is refused.
Run folder: ``config.json``, ``meta.json`` (git SHA, seed, versions), ``vocab.json``, ``metrics.jsonl``,
``checkpoint.pt`` (latest, atomic), ``final.pt`` (weights and EMA weights), ``results.json`` (written by evaluation).
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

from ..checkpoint import environment, git_sha, load_checkpoint, save_checkpoint
from ..config import TrainConfig, config_differences, config_to_dict, load_config
from ..data import load_dataset
from ..data.transforms import make_transform
from ..data.validation import HeldOut
from ..device import pick_device
from ..errors import ValstudyError
from ..io import append_line, read_json, read_jsonl, write_json, write_text
from ..locks import folder_lock
from ..losses import build_loss
from ..models import build_model
from ..runtime import keep_freed_memory
from ..text import Vocabulary, load_glove
from .batches import StepBatches
from ..versions import stamp
from .distributed import convert_sync_batchnorm, gather_batch, init_distributed
from .ema import EMA
from .sides import lvs_triplets


def build_vocabulary(cfg: TrainConfig, dataset, side_dataset=None) -> Vocabulary:
    """Vocabulary from the texts the authors' code uses (yanbeic/VAL `datasets/vocabulary.py`), plus tagged
    descriptions when L_vs is used."""
    texts = list(dataset.vocabulary_texts())
    if cfg.side_info != "none":
        texts += [d for _, d in (side_dataset or dataset).side_information()]
    return Vocabulary.build(texts)


def _param_groups(model: torch.nn.Module, weight_decay: float, scope: str = "all") -> list[dict]:
    """Weight decay on conv and linear weights only (authors' code), not on biases, BN, embeddings or scalars.

    ``scope="code"`` also spares what the authors' code leaves unregularised: the self-attention's Q/K/V
    projections (dense layers without a regulariser) and MobileNet's depthwise convs (``regularize_depthwise=False``).
    """
    if scope not in ("all", "code"):
        raise ValstudyError(f"weight_decay_scope: expected 'all' or 'code', got {scope!r}")
    decay, rest = [], []
    for mod_name, module in model.named_modules():
        spared = scope == "code" and mod_name.rsplit(".", 1)[-1] in ("f_q", "f_k", "f_v", "conv_dw")
        for name, p in module.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            is_weight = name == "weight" and isinstance(module, (torch.nn.Conv2d, torch.nn.Linear))
            (decay if is_weight and not spared else rest).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


class QueryTargetPair(torch.nn.Module):
    """One forward for both sides of a triplet: (composite features, target image features)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, refs, texts, tgts):
        return self.model.encode_query(refs, texts), self.model.encode_target(tgts)


class Run:
    """Everything a training run holds; built once, then ``fit()``."""

    def __init__(self, cfg: TrainConfig, run_dir: str | Path, progress: bool = True):
        self.cfg, self.dir, self.progress = cfg.validate(), Path(run_dir), progress
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
        self._check_run_dir()
        self.dataset = load_dataset(cfg.data.dataset, cfg.data.root, check_images=cfg.data.check_images)
        self.side_dataset = (load_dataset("fashion200k", cfg.side_info_root, check_images=cfg.data.check_images)
                             if cfg.side_info_root else None)
        # A validation split carved out of the training set (never the test split) for the curves that choose the
        # step budget; None trains on the whole training set and evaluates the test protocols during training.
        self.holdout = HeldOut(self.dataset, cfg.data.val_fraction) if cfg.data.val_fraction > 0 else None
        self._check_batch_size()
        vocab_file = self.dir / "vocab.json"
        if vocab_file.is_file():
            self.vocab = Vocabulary.from_state_dict(read_json(vocab_file))
        else:
            self.vocab = build_vocabulary(cfg, self.dataset, self.side_dataset)
        glove = load_glove(cfg.model.glove_path, self.vocab) if cfg.model.glove_path else None
        self.model = build_model(cfg.model, len(self.vocab), glove).to(self.device)
        if self.world > 1 and cfg.sync_batchnorm:  # BatchNorm sees the global batch, as on one GPU
            self.model = convert_sync_batchnorm(self.model, self.device)
        self.criterion = build_loss(cfg.loss, len(self.model.levels), fallback=cfg.triplet_fallback).to(self.device)
        params = _param_groups(self.model, cfg.weight_decay, cfg.weight_decay_scope)
        params.append({"params": list(self.criterion.parameters()), "weight_decay": 0.0})
        self.optimizer = torch.optim.Adam([g for g in params if g["params"]], lr=cfg.lr)
        total = cfg.pretrain_steps + cfg.steps
        decay_step = cfg.pretrain_steps + int(cfg.lr_decay_at * cfg.steps) if cfg.lr_decay_at > 0 else None
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: cfg.lr_decay if decay_step is not None and s >= decay_step else 1.0)
        self.ema = EMA(self.model, cfg.ema_decay, warmup=cfg.ema_warmup)
        self.total_steps, self.step = total, 0
        self.pair = QueryTargetPair(self.model)
        if self.world > 1:  # PyTorch's own engine; one forward computes both sides so DDP sees one graph per step
            self.pair = torch.nn.parallel.DistributedDataParallel(
                self.pair, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=cfg.model.method in ("image_only", "text_only"))

    # ---- run folder -------------------------------------------------------------------------------------------
    def _check_run_dir(self) -> None:
        if self.dir.exists() and not self.dir.is_dir():
            raise ValstudyError(f"{self.dir}: is a file, not a folder; give a folder path for --run-dir")
        if (self.dir / "config.json").is_file():
            load_config(self.dir / "config.json")   # a run of another version: a message naming the key and that version
        diff = config_differences(self.cfg, self.dir)
        if diff:
            raise ValstudyError(f"{self.dir}: holds a run with another configuration (differs in "
                                f"{', '.join(diff)}); choose a new --run-dir or delete this one")

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

    def _write_provenance(self) -> None:
        if self.rank != 0:
            return
        if not (self.dir / "config.json").is_file():
            # meta.json first: config.json marks the folder as this run's, so it must come last
            write_json(self.dir / "meta.json", {**stamp(), "git_sha": git_sha(), "seed": self.cfg.seed,
                                                "world_size": self.world, "device": str(self.device), **environment()})
            write_json(self.dir / "config.json", config_to_dict(self.cfg))
        if not (self.dir / "vocab.json").is_file():
            write_json(self.dir / "vocab.json", self.vocab.state_dict(), indent=None)

    @property
    def finished(self) -> bool:
        return (self.dir / "final.pt").is_file()

    # ---- checkpoints ------------------------------------------------------------------------------------------
    def _state(self) -> dict:
        return {
            "step": self.step,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "criterion": self.criterion.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }

    def _resume(self) -> None:
        path = self.dir / "checkpoint.pt"
        if not path.is_file():
            self._truncate_metrics(0)   # killed before the first checkpoint: start the log again
            return
        state = load_checkpoint(path, map_location=self.device)
        self.model.load_state_dict(state["model"], strict=True)
        self.ema.load_state_dict(state["ema"])
        self.criterion.load_state_dict(state["criterion"], strict=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng_cpu"].cpu())
        if state["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])
        self.step = int(state["step"])
        self._truncate_metrics(self.step)

    def _truncate_metrics(self, step: int) -> None:
        # Lines logged after the checkpoint would be logged again: keep only those up to it. A kill during a write
        # can leave the last line torn (no newline, or not JSON): it was after the checkpoint too, so it goes.
        path = self.dir / "metrics.jsonl"
        if self.rank != 0 or not path.is_file():
            return
        keep = [r for r in read_jsonl(path) if r.get("step", 0) <= step]
        write_text(path, "".join(json.dumps(r) + "\n" for r in keep))

    def _log(self, record: dict) -> None:
        if self.rank == 0:
            append_line(self.dir / "metrics.jsonl", json.dumps(record))

    # ---- training ---------------------------------------------------------------------------------------------
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
        return iter(self._batches("lvs", self.step, self.total_steps, 0))

    def fit(self, stop_after: int | None = None) -> dict:
        """Train to the end (or ``stop_after`` steps from now, used to test resumption); returns a summary."""
        if self.finished:
            return {"run_dir": str(self.dir), "reused": True, "steps": self.total_steps}
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_provenance()
        self._resume()
        cfg, t0, done_now = self.cfg, time.time(), 0
        phases = [("lvs", 0, cfg.pretrain_steps)] if cfg.side_info == "pretrain" else []
        phases.append(("lvv", cfg.pretrain_steps, self.total_steps))
        bar = None
        if self.progress and self.rank == 0:
            from tqdm.auto import tqdm
            bar = tqdm(total=self.total_steps, initial=self.step, desc=cfg.name, unit="step", dynamic_ncols=True)
        self.model.train()
        self.criterion.train()
        for phase, begin, end in phases:
            if self.step >= end:
                continue
            joint = self._joint_lvs() if phase == "lvv" else None
            for refs, texts, tgts in self._batches(phase, self.step, end, begin):
                loss = self._train_step(refs, texts, tgts)
                if joint is not None:
                    r2, t2, g2 = next(joint)
                    loss = loss + self._train_step(r2, t2, g2, accumulate=True)
                self.optimizer.step()
                self.scheduler.step()
                self.step += 1
                done_now += 1
                self.ema.update(self.model, self.step)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss:.4f}", phase=phase)
                if self.step % cfg.log_every == 0 or self.step == self.total_steps:
                    self._log({"step": self.step, "phase": phase, "loss": round(loss, 6),
                               "lr": self.scheduler.get_last_lr()[0],
                               "steps_per_s": round(done_now / max(time.time() - t0, 1e-9), 3)})
                if cfg.eval_every and (self.step % cfg.eval_every == 0 or self.step == self.total_steps):
                    self._evaluate_during_training()
                if self.step % cfg.checkpoint_every == 0 and self.rank == 0:
                    save_checkpoint(self.dir / "checkpoint.pt", self._state())
                if self.step in cfg.keep_checkpoints and self.rank == 0:
                    save_checkpoint(self.dir / f"ckpt_{self.step}.pt", {"step": self.step, "ema": self.ema.state_dict()})
                if stop_after is not None and done_now >= stop_after:
                    if bar is not None:
                        bar.close()
                    return {"run_dir": str(self.dir), "stopped_at": self.step}
        if bar is not None:
            bar.close()
        if self.rank == 0:
            save_checkpoint(self.dir / "checkpoint.pt", self._state())
            save_checkpoint(self.dir / "final.pt", {"step": self.step, "model": self.model.state_dict(),
                                                    "ema": self.ema.state_dict()})
        if self.world > 1:
            dist.barrier()
        return {"run_dir": str(self.dir), "reused": False, "steps": self.step,
                "seconds": round(time.time() - t0, 2)}

    def _train_step(self, refs, texts, tgts, accumulate: bool = False) -> float:
        refs, tgts = refs.to(self.device, non_blocking=True), tgts.to(self.device, non_blocking=True)
        texts = texts.to(self.device)
        if not accumulate:  # the joint L_vs batch adds its gradients to the L_vv batch's
            self.optimizer.zero_grad(set_to_none=True)
        q, t = self.pair(refs, texts, tgts)  # each a list over levels of (B / world, c_l)
        # Mine negatives among the global batch, as one GPU would: every rank's rows (autograd-aware gather).
        q, t = [gather_batch(x) for x in q], [gather_batch(x) for x in t]  # (B, c_l) each
        loss = self.criterion(q, t)
        if not math.isfinite(loss.item()):
            raise ValstudyError(f"{self.dir}: loss became {loss.item()} at step {self.step}; lower the learning rate")
        loss.backward()
        return float(loss.item())

    def _evaluate_during_training(self) -> None:
        if self.rank != 0:
            return
        from ..evaluation import KS, evaluate_model, extract_features
        from ..metrics import evaluate_split

        # Evaluation must not draw from the generators training uses (a data loader's iterator draws its base seed
        # from the global one): a run with evaluations during training ends with the same weights as one without.
        rng_cpu = torch.get_rng_state()
        rng_cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
        if self.holdout is not None:
            split = self.holdout.eval_split()
            qf, gf = extract_features(self.ema.model, self.dataset, split, self.vocab, self.cfg, self.device)
            rows = [evaluate_split(qf, gf, split, ks=KS[self.dataset.name], device=self.device)]
        else:
            rows = evaluate_model(self.ema.model, self.dataset, self.vocab, self.cfg, device=self.device)
        torch.set_rng_state(rng_cpu)
        if rng_cuda:
            torch.cuda.set_rng_state_all(rng_cuda)
        self._log({"step": self.step, "eval": [{k: r[k] for k in r if k != "ranks"} for r in rows]})


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
