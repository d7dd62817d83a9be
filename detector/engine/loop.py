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

The config object passed in is a :class:`RunConfig` (the trainers' configs derive from it) with
``optim`` (:class:`~.optim.OptimConfig`) and ``data.workers``.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ..checkpoint import load_checkpoint, save_checkpoint
from ..config import save_config
from ..errors import UserError
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
    """SIGINT/SIGTERM set a flag; the loop checkpoints at the next step and stops."""

    def __init__(self):
        self.set = False
        self._old = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, *_):
        self.set = True

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _worker_init(_: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C


def make_loader(ds, batch: int, sampler, workers: int, seed: int, cuda: bool, drop_last: bool, collate) -> DataLoader:
    return DataLoader(
        ds,
        batch_size=batch,
        sampler=sampler,
        num_workers=workers,
        collate_fn=collate,
        drop_last=drop_last,
        pin_memory=cuda,
        worker_init_fn=_worker_init if workers else None,
        generator=torch.Generator().manual_seed(seed),
        **loader_processes(workers),
    )


def resume_state(out_dir: Path, resume: bool, ctx: dist_.DistContext) -> dict | None:
    """The checkpoint to continue from (``out_dir/last.pth``), or None for a new run."""
    last = out_dir / "last.pth"
    if resume and last.is_file():
        return load_checkpoint(last)
    if resume and ctx.is_main:
        print(f"no checkpoint at {last}: starting a new run")
    return None


def train_step(
    net, model, loss_fn, batch, opt, sched, scaler, ema: ModelEMA, cfg, ctx: dist_.DistContext, stop: bool = False
):
    """One optimizer step; returns ``(loss, batch size, flags)`` where ``flags`` (summed over
    processes) are ``[non-finite loss, stop requested]``. Nothing is updated when the loss is
    not finite."""
    with torch.autocast("cuda", enabled=ctx.device.type == "cuda" and cfg.amp):
        loss, n = loss_fn(net, batch)
    flags = dist_.all_reduce_sum(torch.tensor([float(not torch.isfinite(loss)), float(stop)], device=ctx.device), ctx)
    if flags[0] > 0:
        return loss, n, flags
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if cfg.optim.grad_clip:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
    scaler.step(opt)
    scaler.update()
    sched.step()
    ema.update(model)
    return loss, n, flags


def training_kit(model: torch.nn.Module, cfg, device: torch.device):
    """What :func:`fit` trains with: ``(model on device in cfg's memory format, its ModelEMA,
    the optimizer, the AMP GradScaler (enabled on CUDA with cfg.amp))``; also used to time a step."""
    mf = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = model.to(device, memory_format=mf)
    ema = ModelEMA(model, cfg.optim.ema_decay)
    opt = make_optimizer(model, cfg.optim)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and cfg.amp)
    return model, ema, opt, scaler


def fit(task: Task, cfg, out_dir: Path, ctx: dist_.DistContext, state: dict | None) -> dict:
    """Train ``task.model`` per ``cfg`` into ``out_dir``; returns the last evaluation."""
    log = MetricsLog(out_dir / "metrics.jsonl", enabled=ctx.is_main)
    last = out_dir / "last.pth"
    o = cfg.optim
    if o.batch_size % ctx.world_size:
        raise UserError(f"optim.batch_size={o.batch_size} is not divisible by the {ctx.world_size} processes")
    per_rank = o.batch_size // ctx.world_size
    cuda = ctx.device.type == "cuda"
    model, ema, opt, scaler = training_kit(task.model, cfg, ctx.device)
    sampler = ShardedSampler(len(task.train_ds), ctx.rank, ctx.world_size, shuffle=True, seed=cfg.seed, drop_last=True)
    steps_per_epoch = sampler.num_samples // per_rank
    if steps_per_epoch == 0:
        raise UserError(f"{len(task.train_ds)} training images are fewer than one batch of {o.batch_size}")
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(o.schedule, s, steps_per_epoch, o.epochs))
    epoch = step = batch_in_epoch = 0
    result: dict = {}  # the last validation
    pending = False  # epoch `epoch` is trained but its validation has not run yet
    stats: dict = {}  # the finished epoch's numbers for its line: loss, img/s, seconds, skipped
    progress: dict = {}  # the running epoch's sums, so that a resumed epoch reports the whole epoch
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        epoch, step, batch_in_epoch = state["epoch"], state["step"], state["batch_in_epoch"]
        torch.set_rng_state(state["rng"])
        result, pending, stats = (
            dict(state.get("val") or {}),
            bool(state.get("pending_eval")),
            state.get("epoch_stats", {}),
        )
        progress = state.get("epoch_progress", {}) if batch_in_epoch else {}
        log.truncate_after(step, drop_val_at_step=pending)
        if ctx.is_main:
            print(f"resumed from {last} at epoch {min(epoch + 1, o.epochs)}, step {step}"
                  + (f"; validating epoch {epoch} first" if pending else ""))  # fmt: skip
    log.open_tensorboard(out_dir / "tensorboard", purge_step=step if state is not None else None)
    if ctx.distributed and cuda and cfg.sync_bn:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    net = DistributedDataParallel(model, device_ids=[ctx.device] if cuda else None) if ctx.distributed else model
    if ctx.is_main:
        save_config(cfg, out_dir / "config.yaml")

    def checkpoint() -> None:
        if ctx.is_main:
            save_checkpoint(
                last, model.state_dict(), cfg, ema=ema.state_dict(), optimizer=opt.state_dict(), scheduler=sched.state_dict(),
                scaler=scaler.state_dict(), epoch=epoch, step=step, batch_in_epoch=batch_in_epoch,
                rng=torch.get_rng_state(), val=result, pending_eval=pending, epoch_stats=stats,
                epoch_progress=progress if batch_in_epoch else {}, **task.extra,
            )  # fmt: skip

    val_sampler = ShardedSampler(len(task.val_ds), ctx.rank, ctx.world_size, shuffle=False)
    val_loader = make_loader(
        task.val_ds, per_rank, val_sampler, cfg.data.workers, cfg.seed, cuda, False, task.val_collate or task.collate
    )

    def epoch_line(val: str | None) -> str:
        """The epoch's summary: its loss, ``val`` (the validation's description) when one ran,
        speed, and the unreadable images it skipped."""
        skips = f"; skipped {stats['skipped']} unreadable images (e.g. {stats['example']})" if stats["skipped"] else ""
        return (f"epoch {epoch}/{o.epochs}: loss {stats['loss']:.3f}, " + (f"{val}, " if val else "")
                + f"{stats['img_per_s']:.0f} img/s, {stats['seconds']:.0f} s{skips}")  # fmt: skip

    def validate() -> None:
        """Validate the epoch just trained, log and print it, then checkpoint: the step that an
        interrupted run left ``pending`` and its resumption runs first."""
        nonlocal result, pending
        result = task.evaluate(ema.module, val_loader)
        log.write(
            "val", step=step, epoch=epoch, skipped_train=stats["skipped"], **{k: result[k] for k in task.val_keys}
        )
        if ctx.is_main and task.snapshot is not None:
            log.images(step, task.snapshot(ema.module))
        if ctx.is_main:
            print(epoch_line(task.describe(result)))
        pending = False
        checkpoint()

    with _StopFlag() as stop, contextlib.closing(log):  # closing: the TensorBoard writer's thread ends
        if pending:  # interrupted between an epoch's last step and the end of its validation
            validate()
        while epoch < o.epochs:
            sampler.set_epoch(epoch, batch_in_epoch, per_rank)
            task.train_ds.set_epoch(epoch)
            loader = make_loader(
                task.train_ds, per_rank, sampler, cfg.data.workers, cfg.seed + epoch, cuda, True, task.collate
            )
            bar = tqdm(loader, total=steps_per_epoch - batch_in_epoch, desc=f"epoch {epoch + 1}/{o.epochs}",
                       disable=not ctx.is_main, leave=False, dynamic_ncols=True)  # fmt: skip
            t0 = time.perf_counter() - progress.get("seconds", 0.0)
            seen, loss_sum, loss_n, ep_sum, ep_n = (
                progress.get(k, 0) for k in ("seen", "loss_sum", "loss_n", "ep_sum", "ep_n")
            )
            skipped = []
            net.train()
            for batch in bar:
                skipped += getattr(batch, "skipped", [])
                loss, n, flags = train_step(net, model, task.loss, batch, opt, sched, scaler, ema, cfg, ctx, stop.set)
                if flags[0] > 0:
                    raise TrainingStopped(
                        f"non-finite loss at step {step + 1} (epoch {epoch + 1}); lower optim.lr or check the data. "
                        f"Last good checkpoint: {last if last.is_file() else 'none yet'}"
                    )
                step, batch_in_epoch = step + 1, batch_in_epoch + 1
                seen += n * ctx.world_size
                loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
                ep_sum, ep_n = ep_sum + loss.item(), ep_n + 1
                if step % cfg.log_every == 0:
                    ips = seen / (time.perf_counter() - t0)
                    log.write("train", step=step, epoch=round(step / steps_per_epoch, 4), lr=opt.param_groups[0]["lr"],
                              loss=loss_sum / loss_n, img_per_s=ips)  # fmt: skip
                    bar.set_postfix(loss=f"{loss_sum / loss_n:.3f}", ips=f"{ips:.0f}")
                    loss_sum, loss_n = 0.0, 0
                progress = {"seen": seen, "loss_sum": loss_sum, "loss_n": loss_n, "ep_sum": ep_sum, "ep_n": ep_n,
                            "seconds": time.perf_counter() - t0}  # fmt: skip
                if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                    checkpoint()
                if flags[1] > 0:
                    checkpoint()
                    raise TrainingStopped(
                        f"interrupted at step {step} (epoch {epoch + 1}); state saved in {last}: continue with --resume"
                    )
            bar.close()
            n_skipped = int(dist_.all_reduce_sum(torch.tensor([float(len(skipped))], device=ctx.device), ctx).item())
            secs = time.perf_counter() - t0
            epoch, batch_in_epoch, progress = epoch + 1, 0, {}
            stats = {"loss": ep_sum / max(ep_n, 1), "img_per_s": seen / max(secs, 1e-9), "seconds": secs,
                     "skipped": n_skipped, "example": skipped[0] if skipped else "another process's image"}  # fmt: skip
            pending = cfg.eval_every > 0 and (epoch % cfg.eval_every == 0 or epoch == o.epochs)
            checkpoint()  # the epoch's training is safe before its validation starts
            if pending:
                validate()
            elif ctx.is_main:  # no validation this epoch: its summary (and skipped images) all the same
                print(epoch_line(None))
            if ctx.is_main and epoch < o.epochs:  # the last epoch's plot is drawn below
                plot_metrics(log.path, out_dir / "curves.png", task.val_keys)
    if ctx.is_main:  # also for a resumed run that had no epoch left to train
        plot_metrics(log.path, out_dir / "curves.png", task.val_keys)
        save_checkpoint(out_dir / "final.pth", ema.module.state_dict(), cfg, val=result, step=step, **task.extra)
    dist_.barrier(ctx)
    return {**result, "step": step}
