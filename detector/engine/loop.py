"""The training loop every trainer shares.

A trainer describes its problem as a :class:`Task` (model, datasets, loss, evaluation) and calls
:func:`fit`, which brings: one process or many (``torchrun``, DDP), CPU or CUDA with mixed
precision, ``channels_last``, a deterministic resumable sampler, an EMA of the weights, the
learning-rate schedule, a progress bar, JSON-lines metrics and a plot, atomic checkpoints
(``last.pth``: everything needed to resume, every ``checkpoint_every`` steps, on SIGINT/SIGTERM,
and twice an epoch: when its training ends, and when its validation ends; ``final.pth``: the EMA
weights under ``"model"``), a one-line stop on a non-finite loss, and a count of unreadable
inputs the datasets skipped.

Resuming (``state`` from :func:`resume_state`) finishes exactly what the interrupted run would
have done, wherever it stopped: the rest of an epoch (its loss average and throughput counting
the steps before the stop), an epoch's validation that had not finished (``pending_eval``), the
metrics (records past the checkpoint are dropped and written again), the plot, ``final.pth``
and the returned last validation, also when the run had already finished.

The loop is state plus steps (:class:`Trainer`): a :class:`TrainState` (where the run is, what it
reported; with the modules and the RNG, what ``last.pth`` holds), and :meth:`Trainer.train_epoch`,
:meth:`~Trainer.validate`, :meth:`~Trainer.checkpoint` and :meth:`~Trainer.run`, the epoch loop.
:func:`run_training` is what all three trainers call.

The config object passed in is a :class:`RunConfig` (the trainers' configs derive from it) with
``optim`` (:class:`~.optim.OptimConfig`) and ``data.workers``.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ..checkpoint import load_checkpoint, save_checkpoint
from ..config import ConfigError, config_from_dict, save_config
from ..errors import Interrupted, UserError
from . import distributed as dist_
from .ema import ModelEMA
from .metrics import MetricsLog, plot_metrics
from .optim import make_optimizer
from .sampler import ShardedSampler
from .schedule import lr_factor
from .workers import loader_processes


class TrainingStopped(UserError):
    """Training ended early (non-finite loss, interruption); the message says what to do."""


@dataclass
class Task:
    """What a trainer plugs into :func:`fit`.

    ``loss(net, batch)`` returns ``(loss, batch size)`` for a batch from ``collate``;
    ``evaluate(ema_model, val_loader)`` returns metrics (summed over processes by the task);
    ``describe(metrics)`` is the per-epoch line; ``extra`` goes into both checkpoints;
    ``val_collate`` batches ``val_ds``'s items (default: ``collate``); ``snapshot(ema_model)``,
    called on rank 0 after each validation, returns pictures for TensorBoard (``{tag: [H, W, 3]
    uint8}``: a few validation images with the detections drawn).
    """

    model: nn.Module
    train_ds: Dataset
    val_ds: Dataset
    collate: Callable
    loss: Callable[[nn.Module, Any], tuple[torch.Tensor, int]]
    evaluate: Callable[[nn.Module, DataLoader], dict]
    describe: Callable[[dict], str]
    val_keys: tuple[str, ...]
    extra: dict = field(default_factory=dict)
    val_collate: Callable | None = None
    snapshot: Callable[[nn.Module], dict] | None = None


class _StopFlag:
    """SIGINT/SIGTERM during the training steps set a flag: the loop checkpoints after the step
    and stops (all processes at the same step). Anywhere else (validation, a checkpoint, the
    plot), or a second signal, raises :class:`~detector.errors.Interrupted` at once: what is due
    is already saved (an epoch's training is checkpointed before its validation starts)."""

    def __init__(self, hint: Callable[[], str] = str):
        self.hint = hint  # what was kept, for the message
        self.set = False
        self.signum = 0
        self.in_steps = False  # between the steps of an epoch, where stopping waits for the step
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, signum, _frame):
        if self.set or not self.in_steps:
            raise Interrupted(signum, self.hint())
        self.set, self.signum = True, signum

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def make_loader(ds, batch: int, sampler, workers: int, seed: int, cuda: bool, drop_last: bool, collate) -> DataLoader:
    return DataLoader(
        ds,
        batch_size=batch,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        drop_last=drop_last,
        pin_memory=cuda,
        generator=torch.Generator().manual_seed(seed),
        **loader_processes(workers),
    )


def resume_state(out_dir: Path, resume: bool, ctx: dist_.DistContext, cfg=None) -> dict | None:
    """The checkpoint to continue from (``out_dir/last.pth``), or None for a new run. With ``cfg``
    (the run's config), a ``last.pth`` that another tool or kind of run wrote (its config does not
    fit ``cfg``'s type, or the training state is missing) is a one-line error before any work."""
    last = out_dir / "last.pth"
    if resume and last.is_file():
        ckpt = load_checkpoint(last, "training state (last.pth)")
        missing = [k for k in ("ema", "optimizer", "scheduler", "epoch", "step") if k not in ckpt]
        if missing:
            raise UserError(f"{last}: not a training state to resume (no {', '.join(missing)}); use another --out")
        if cfg is not None:
            try:
                config_from_dict(type(cfg), ckpt["config"], str(last))
            except ConfigError as e:
                raise UserError(f"{last}: written by another kind of run, not {type(cfg).__name__} ({e})") from None
        return ckpt
    if resume and ctx.is_main:
        print(f"no checkpoint at {last}: starting a new run")
    return None


@dataclass
class TrainingKit:
    """What a training step updates: the model (on its device, in the config's memory format),
    its EMA, the optimizer, the AMP GradScaler (enabled on CUDA with ``cfg.amp``) and the
    learning-rate schedule (stepped once per optimizer step)."""

    model: nn.Module
    ema: ModelEMA
    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    sched: torch.optim.lr_scheduler.LRScheduler


def training_kit(model: nn.Module, cfg, device: torch.device, steps_per_epoch: int | None = None) -> TrainingKit:
    """The :class:`TrainingKit` for ``model`` per ``cfg``: the schedule follows ``cfg.optim.schedule``
    over ``steps_per_epoch``; without it the learning rate stays constant (to time a step)."""
    mf = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=mf)
    ema = ModelEMA(model, cfg.optim.ema_decay)
    opt = make_optimizer(model, cfg.optim)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and cfg.amp)
    o = cfg.optim
    factor = (lambda s: lr_factor(o.schedule, s, steps_per_epoch, o.epochs)) if steps_per_epoch else (lambda _: 1.0)
    return TrainingKit(model, ema, opt, scaler, torch.optim.lr_scheduler.LambdaLR(opt, factor))


def train_step(net: nn.Module, kit: TrainingKit, loss_fn, batch, cfg, ctx: dist_.DistContext, stop: bool = False):
    """One optimizer step of ``net`` (``kit.model``, or its DDP wrapper); returns ``(loss, batch
    size, flags)`` where ``flags`` (summed over processes) are ``[non-finite loss, stop
    requested]``. Nothing is updated when the loss is not finite."""
    with torch.autocast("cuda", enabled=ctx.device.type == "cuda" and cfg.amp):
        loss, n = loss_fn(net, batch)
    flags = dist_.all_reduce_sum(torch.tensor([float(not torch.isfinite(loss)), float(stop)], device=ctx.device), ctx)
    if flags[0] > 0:
        return loss, n, flags
    kit.opt.zero_grad(set_to_none=True)
    kit.scaler.scale(loss).backward()
    if cfg.optim.grad_clip:
        kit.scaler.unscale_(kit.opt)
        torch.nn.utils.clip_grad_norm_(kit.model.parameters(), cfg.optim.grad_clip)
    kit.scaler.step(kit.opt)
    kit.scaler.update()
    kit.sched.step()
    kit.ema.update(kit.model)
    return loss, n, flags


@dataclass
class EpochProgress:
    """The running epoch's sums, kept in checkpoints so that a resumed epoch reports the whole
    epoch: images seen, the loss since the last log line and over the epoch, seconds."""

    seen: int = 0
    loss_sum: float = 0.0
    loss_n: int = 0
    ep_sum: float = 0.0
    ep_n: int = 0
    seconds: float = 0.0

    def add(self, loss: float, images: int) -> None:
        self.seen += images
        self.loss_sum, self.loss_n = self.loss_sum + loss, self.loss_n + 1
        self.ep_sum, self.ep_n = self.ep_sum + loss, self.ep_n + 1


@dataclass
class TrainState:
    """Where a run is and what it has reported: with the modules' states and the RNG, what a
    checkpoint holds and ``--resume`` restores (the one list of it: :meth:`state_dict`)."""

    epoch: int = 0  # epochs trained
    step: int = 0  # optimizer steps taken
    batch_in_epoch: int = 0  # steps of the running epoch
    val: dict = field(default_factory=dict)  # the last validation
    pending_eval: bool = False  # epoch `epoch` is trained but its validation has not finished
    epoch_stats: dict = field(default_factory=dict)  # the finished epoch's line: loss, img/s, seconds, skipped
    progress: EpochProgress = field(default_factory=EpochProgress)

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch, "step": self.step, "batch_in_epoch": self.batch_in_epoch, "val": self.val,
            "pending_eval": self.pending_eval, "epoch_stats": self.epoch_stats,
            "epoch_progress": asdict(self.progress) if self.batch_in_epoch else {},
        }  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.step, self.batch_in_epoch = state["epoch"], state["step"], state["batch_in_epoch"]
        self.val, self.pending_eval = dict(state.get("val") or {}), bool(state.get("pending_eval"))
        self.epoch_stats = state.get("epoch_stats", {})
        self.progress = EpochProgress(**(state.get("epoch_progress") or {})) if self.batch_in_epoch else EpochProgress()


class Trainer:
    """:func:`fit`'s machinery as state plus steps: :meth:`train_epoch`, :meth:`validate`,
    :meth:`checkpoint`, :meth:`epoch_line`; :meth:`run` is the epoch loop. ``state_dict`` /
    ``load_state_dict`` are what ``last.pth`` holds and ``--resume`` restores."""

    def __init__(self, task: Task, cfg, out_dir: Path, ctx: dist_.DistContext):
        o = cfg.optim
        if o.batch_size % ctx.world_size:
            raise UserError(f"optim.batch_size={o.batch_size} is not divisible by the {ctx.world_size} processes")
        self.task, self.cfg, self.out_dir, self.ctx = task, cfg, Path(out_dir), ctx
        self.last = self.out_dir / "last.pth"
        self.per_rank = o.batch_size // ctx.world_size
        self.cuda = ctx.device.type == "cuda"
        self.log = MetricsLog(self.out_dir / "metrics.jsonl", enabled=ctx.is_main)
        self.sampler = ShardedSampler(len(task.train_ds), ctx.rank, ctx.world_size, shuffle=True, seed=cfg.seed,
                                      drop_last=True)  # fmt: skip
        self.steps_per_epoch = self.sampler.num_samples // self.per_rank
        if self.steps_per_epoch == 0:
            raise UserError(f"{len(task.train_ds)} training images are fewer than one batch of {o.batch_size}")
        self.kit = training_kit(task.model, cfg, ctx.device, self.steps_per_epoch)
        self.state = TrainState()
        val_sampler = ShardedSampler(len(task.val_ds), ctx.rank, ctx.world_size, shuffle=False)
        self.val_loader = make_loader(task.val_ds, self.per_rank, val_sampler, cfg.data.workers, cfg.seed, self.cuda,
                                      False, task.val_collate or task.collate)  # fmt: skip
        self.net = self.kit.model
        self.stop = _StopFlag(self.resume_hint)

    def resume_hint(self) -> str:
        """Where an interrupted run's state is, and how to continue it."""
        return f"state saved in {self.last}: continue with --resume" if self.last.is_file() else "nothing saved yet"

    def state_dict(self) -> dict:
        k = self.kit
        return {"model": k.model.state_dict(), "ema": k.ema.state_dict(), "optimizer": k.opt.state_dict(),
                "scheduler": k.sched.state_dict(), "scaler": k.scaler.state_dict(), "rng": torch.get_rng_state(),
                **self.state.state_dict()}  # fmt: skip

    def load_state_dict(self, ckpt: dict) -> None:
        k = self.kit
        k.model.load_state_dict(ckpt["model"])
        k.ema.load_state_dict(ckpt["ema"])
        k.opt.load_state_dict(ckpt["optimizer"])
        k.sched.load_state_dict(ckpt["scheduler"])
        k.scaler.load_state_dict(ckpt["scaler"])
        torch.set_rng_state(ckpt["rng"])
        self.state.load_state_dict(ckpt)

    def checkpoint(self) -> None:
        """``last.pth``: everything :meth:`load_state_dict` needs, plus the config and task extras."""
        if self.ctx.is_main:
            s = self.state_dict()
            save_checkpoint(self.last, s.pop("model"), self.cfg, **s, **self.task.extra)

    def resume(self, ckpt: dict) -> None:
        """Continue from a ``last.pth``: restore, drop the metrics past it, say where. A file that
        is not this kind of run's state (another tool's, another model's) is a one-line error."""
        try:
            self.load_state_dict(ckpt)
        except (KeyError, RuntimeError, ValueError, TypeError) as e:
            why = f"no {e}" if isinstance(e, KeyError) else str(e).strip().splitlines()[0][:160]
            raise UserError(
                f"{self.last}: not the state of this training run ({why}); resume with the tool and config that "
                "wrote it, or use another --out"
            ) from None
        s = self.state
        self.log.truncate_after(s.step, drop_val_at_step=s.pending_eval)
        if self.ctx.is_main:
            print(f"resumed from {self.last} at epoch {min(s.epoch + 1, self.cfg.optim.epochs)}, step {s.step}"
                  + (f"; validating epoch {s.epoch} first" if s.pending_eval else ""))  # fmt: skip

    def wrap(self) -> None:
        """SyncBatchNorm and DDP around the model, for the training steps (after resuming)."""
        model, ctx = self.kit.model, self.ctx
        if ctx.distributed and self.cuda and self.cfg.sync_bn:
            model = self.kit.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.net = (
            DistributedDataParallel(model, device_ids=[ctx.device] if self.cuda else None) if ctx.distributed else model
        )

    def epoch_line(self, val: str | None) -> str:
        """The epoch's summary: its loss, ``val`` (the validation's description) when one ran,
        speed, and the unreadable images it skipped."""
        st, s = self.state.epoch_stats, self.state
        skips = f"; skipped {st['skipped']} unreadable images (e.g. {st['example']})" if st["skipped"] else ""
        return (f"epoch {s.epoch}/{self.cfg.optim.epochs}: loss {st['loss']:.3f}, " + (f"{val}, " if val else "")
                + f"{st['img_per_s']:.0f} img/s, {st['seconds']:.0f} s{skips}")  # fmt: skip

    def validate(self) -> None:
        """Validate the epoch just trained, log and print it, then checkpoint: the step that an
        interrupted run left pending and its resumption runs first."""
        s, task, ema = self.state, self.task, self.kit.ema
        s.val = task.evaluate(ema.module, self.val_loader)
        self.log.write("val", step=s.step, epoch=s.epoch, skipped_train=s.epoch_stats["skipped"],
                       **{k: s.val[k] for k in task.val_keys})  # fmt: skip
        if self.ctx.is_main and task.snapshot is not None:
            self.log.images(s.step, task.snapshot(ema.module))
        if self.ctx.is_main:
            print(self.epoch_line(task.describe(s.val)))
        s.pending_eval = False
        self.checkpoint()

    def _after_step(self, loss: float, n: int, flags, t0: float, bar) -> None:
        """Count the step, log every ``log_every``, checkpoint when asked to or told to stop."""
        s, cfg, p = self.state, self.cfg, self.state.progress
        if flags[0] > 0:
            raise TrainingStopped(
                f"non-finite loss at step {s.step + 1} (epoch {s.epoch + 1}); lower optim.lr or check the data. "
                f"Last good checkpoint: {self.last if self.last.is_file() else 'none yet'}"
            )
        s.step, s.batch_in_epoch = s.step + 1, s.batch_in_epoch + 1
        p.add(loss, n * self.ctx.world_size)
        if s.step % cfg.log_every == 0:
            ips = p.seen / (time.perf_counter() - t0)
            self.log.write("train", step=s.step, epoch=round(s.step / self.steps_per_epoch, 4),
                           lr=self.kit.opt.param_groups[0]["lr"], loss=p.loss_sum / p.loss_n, img_per_s=ips)  # fmt: skip
            bar.set_postfix(loss=f"{p.loss_sum / p.loss_n:.3f}", ips=f"{ips:.0f}")
            p.loss_sum, p.loss_n = 0.0, 0
        p.seconds = time.perf_counter() - t0
        if cfg.checkpoint_every and s.step % cfg.checkpoint_every == 0:
            self.checkpoint()
        if flags[1] > 0:
            self.checkpoint()
            raise Interrupted(
                self.stop.signum or signal.SIGTERM,  # another rank's signal: this one is told to stop
                f"stopped at step {s.step} (epoch {s.epoch + 1}); state saved in {self.last}: continue with --resume",
            )

    def train_epoch(self) -> bool:
        """Train the rest of epoch ``state.epoch``, then record its numbers in ``state.epoch_stats``;
        True when a process was told to stop during the epoch's last step (stop once it is saved)."""
        s, cfg, task, ctx, stop = self.state, self.cfg, self.task, self.ctx, self.stop
        self.sampler.set_epoch(s.epoch, s.batch_in_epoch, self.per_rank)
        task.train_ds.set_epoch(s.epoch)
        loader = make_loader(task.train_ds, self.per_rank, self.sampler, cfg.data.workers, cfg.seed + s.epoch,
                             self.cuda, True, task.collate)  # fmt: skip
        bar = tqdm(loader, total=self.steps_per_epoch - s.batch_in_epoch, desc=f"epoch {s.epoch + 1}/{cfg.optim.epochs}",
                   disable=not ctx.is_main, leave=False, dynamic_ncols=True)  # fmt: skip
        t0 = time.perf_counter() - s.progress.seconds
        skipped = []
        self.net.train()
        stop.in_steps = True
        for batch in bar:
            skipped += getattr(batch, "skipped", [])
            loss, n, flags = train_step(self.net, self.kit, task.loss, batch, cfg, ctx, stop.set)
            self._after_step(loss.item(), n, flags, t0, bar)
        stop.in_steps = False
        bar.close()
        # a signal during the epoch's last step (or its batch) set the flag after the step read it
        counts = dist_.all_reduce_sum(torch.tensor([float(len(skipped)), float(stop.set)], device=ctx.device), ctx)
        n_skipped = int(counts[0].item())
        secs, p = time.perf_counter() - t0, s.progress
        s.epoch_stats = {"loss": p.ep_sum / max(p.ep_n, 1), "img_per_s": p.seen / max(secs, 1e-9), "seconds": secs,
                         "skipped": n_skipped, "example": skipped[0] if skipped else "another process's image"}  # fmt: skip
        s.epoch, s.batch_in_epoch, s.progress = s.epoch + 1, 0, EpochProgress()
        return bool(counts[1].item() > 0)

    def run(self) -> dict:
        """The epoch loop (a resumed run's pending validation first), then ``final.pth`` (the
        EMA weights) and the plot; returns the last validation with the step."""
        s, cfg, ctx = self.state, self.cfg, self.ctx
        plot = lambda: plot_metrics(self.log.path, self.out_dir / "curves.png", self.task.val_keys)  # noqa: E731
        with self.stop, contextlib.closing(self.log):  # closing: the TensorBoard writer's thread ends
            if s.pending_eval:  # interrupted between an epoch's last step and the end of its validation
                self.validate()
            while s.epoch < cfg.optim.epochs:
                stopped = self.train_epoch()
                s.pending_eval = cfg.eval_every > 0 and (s.epoch % cfg.eval_every == 0 or s.epoch == cfg.optim.epochs)
                self.checkpoint()  # the epoch's training is safe before its validation starts
                if stopped:
                    raise Interrupted(self.stop.signum or signal.SIGTERM, f"stopped after epoch {s.epoch}; "
                                      f"state saved in {self.last}: continue with --resume")  # fmt: skip
                if s.pending_eval:
                    self.validate()
                elif ctx.is_main:  # no validation this epoch: its summary (and skipped images) all the same
                    print(self.epoch_line(None))
                if ctx.is_main and s.epoch < cfg.optim.epochs:  # the last epoch's plot is drawn below
                    plot()
        if ctx.is_main:  # also for a resumed run that had no epoch left to train
            plot()
            ema = self.kit.ema.module.state_dict()
            save_checkpoint(self.out_dir / "final.pth", ema, self.cfg, val=s.val, step=s.step, **self.task.extra)
        dist_.barrier(ctx, "the end of training")
        return {**s.val, "step": s.step}


def fit(task: Task, cfg, out_dir: Path, ctx: dist_.DistContext, state: dict | None) -> dict:
    """Train ``task.model`` per ``cfg`` into ``out_dir`` (from ``state``, a ``last.pth``, when
    resuming); returns the last evaluation."""
    trainer = Trainer(task, cfg, out_dir, ctx)
    if state is not None:
        trainer.resume(state)
    else:  # a new run: the records of an earlier one in this folder (one killed before its first
        trainer.log.truncate_after(0)  # checkpoint, say) are not this run's history
    # purge_step: the events past the step this run starts from (0 for a new one) are replaced
    trainer.log.open_tensorboard(trainer.out_dir / "tensorboard", purge_step=trainer.state.step)
    trainer.wrap()
    if ctx.is_main:
        save_config(cfg, trainer.out_dir / "config.yaml")
    return trainer.run()


def run_training(make_task: Callable[[dist_.DistContext], tuple[Task, Any]], cfg, out_dir: str | Path,
                 resume: bool = False) -> dict:  # fmt: skip
    """What every trainer does around :func:`fit`: set up the process group (``torchrun``) or one
    process on ``cfg.device``, find the checkpoint to resume, build the task (``make_task(ctx)``
    returns it with the config it settled, e.g. the number of classes it found), train, and leave
    the process group whatever happens. Returns the last evaluation."""
    out_dir = Path(out_dir)
    ctx = dist_.setup(cfg.device, cfg.dist_timeout)
    try:
        state = resume_state(out_dir, resume, ctx, cfg)
        task, cfg = make_task(ctx)
        return fit(task, cfg, out_dir, ctx, state)
    finally:
        dist_.cleanup()
