"""``train_cls``: the paper's classification recipe with real training machinery.

One process or many (``torchrun``, DDP), CPU or CUDA (mixed precision), ``channels_last``;
the run folder gets ``config.yaml``, ``metrics.jsonl``, ``curves.png``, ``last.pth`` (all
state, written atomically each epoch, every ``checkpoint_every`` steps, and on SIGINT/SIGTERM)
and ``final.pth`` (the EMA weights under ``"model"``, loadable by ``googlenet(weights=...)``).
"""

from __future__ import annotations

import dataclasses
import signal
import time
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from backbones import aux_loss_weighted, load_weights

from ..backbone import build_backbone
from ..checkpoint import load_checkpoint, save_checkpoint
from ..cli import UserError
from ..config import config_to_dict, save_config
from ..engine import distributed as dist_
from ..engine.ema import ModelEMA
from ..engine.metrics import MetricsLog, plot_metrics
from ..engine.sampler import ShardedSampler
from ..engine.schedule import lr_factor
from .config import ClsTrainConfig
from .data import ImageFolderDataset, collate
from .evaluate import topk_counts


class TrainingStopped(UserError):
    """Training ended early (non-finite loss, interruption); the message says what to do."""


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


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)  # no decay on biases and BN affine
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _optimizer(model: torch.nn.Module, cfg: ClsTrainConfig) -> torch.optim.Optimizer:
    o = cfg.optim
    groups = _param_groups(model, o.weight_decay)
    if o.name == "adamw":
        return torch.optim.AdamW(groups, lr=o.lr, betas=o.betas)
    return torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, nesterov=o.nesterov)


def _loader(ds, batch: int, sampler, workers: int, seed: int, cuda: bool, drop_last: bool) -> DataLoader:
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
        persistent_workers=False,
    )


def train_classifier(cfg: ClsTrainConfig, data_dir: str | Path, out_dir: str | Path, resume: bool = False) -> dict:
    """Train on ``data_dir/{train,val}`` (ImageFolder) into ``out_dir``; returns the final
    validation numbers of the EMA model."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    ctx = dist_.setup(cfg.device)
    log = MetricsLog(out_dir / "metrics.jsonl", enabled=ctx.is_main)
    try:
        return _train(cfg, data_dir, out_dir, resume, ctx, log)
    finally:
        dist_.cleanup()


def _train(
    cfg: ClsTrainConfig, data_dir: Path, out_dir: Path, resume: bool, ctx: dist_.DistContext, log: MetricsLog
) -> dict:
    last = out_dir / "last.pth"
    state = load_checkpoint(last) if resume and last.is_file() else None
    if resume and state is None and ctx.is_main:
        print(f"no checkpoint at {last}: starting a new run")
    torch.manual_seed(cfg.seed)
    train_ds = ImageFolderDataset(data_dir / "train", cfg.data, train=True, seed=cfg.seed)
    val_ds = ImageFolderDataset(data_dir / "val", cfg.data, train=False, seed=cfg.seed)
    if val_ds.classes != train_ds.classes:
        raise UserError(f"{data_dir}: train/ and val/ have different class folders")
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, num_classes=len(train_ds.classes)))
    if cfg.optim.batch_size % ctx.world_size:
        raise UserError(f"optim.batch_size={cfg.optim.batch_size} is not divisible by the {ctx.world_size} processes")
    per_rank = cfg.optim.batch_size // ctx.world_size
    cuda = ctx.device.type == "cuda"
    mf = torch.channels_last if cfg.channels_last else torch.contiguous_format

    model = build_backbone(cfg.model)
    if cfg.init:
        load_weights(model, cfg.init, ignore_head=True)
    model = model.to(ctx.device, memory_format=mf)
    ema = ModelEMA(model, cfg.optim.ema_decay)
    opt = _optimizer(model, cfg)
    sampler = ShardedSampler(len(train_ds), ctx.rank, ctx.world_size, shuffle=True, seed=cfg.seed, drop_last=True)
    steps_per_epoch = sampler.num_samples // per_rank
    if steps_per_epoch == 0:
        raise UserError(
            f"{data_dir / 'train'}: {len(train_ds)} images are fewer than one batch of {cfg.optim.batch_size}"
        )
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(cfg.optim.schedule, s, steps_per_epoch, cfg.optim.epochs)
    )
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and cfg.amp)
    epoch = step = batch_in_epoch = 0
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        epoch, step, batch_in_epoch = state["epoch"], state["step"], state["batch_in_epoch"]
        torch.set_rng_state(state["rng"])
        log.truncate_after(step)
        if ctx.is_main:
            print(f"resumed from {last} at epoch {epoch + 1}, step {step}")
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
                rng=torch.get_rng_state(), classes=train_ds.classes,
            )  # fmt: skip

    val_sampler = ShardedSampler(len(val_ds), ctx.rank, ctx.world_size, shuffle=False)
    val_loader = _loader(val_ds, per_rank, val_sampler, cfg.data.workers, cfg.seed, cuda, drop_last=False)
    result: dict = {}
    with _StopFlag() as stop:
        while epoch < cfg.optim.epochs:
            sampler.set_epoch(epoch, batch_in_epoch, per_rank)
            train_ds.set_epoch(epoch)
            loader = _loader(train_ds, per_rank, sampler, cfg.data.workers, cfg.seed + epoch, cuda, drop_last=True)
            bar = tqdm(
                loader,
                total=steps_per_epoch - batch_in_epoch,
                desc=f"epoch {epoch + 1}/{cfg.optim.epochs}",
                disable=not ctx.is_main,
                leave=False,
                dynamic_ncols=True,
            )
            t0, seen, skipped, loss_sum, loss_n = time.perf_counter(), 0, [], 0.0, 0
            net.train()
            for batch in bar:
                skipped += batch.skipped
                x = batch.images.to(ctx.device, non_blocking=True, memory_format=mf)
                y = batch.labels.to(ctx.device, non_blocking=True)
                loss, flags = train_step(net, model, x, y, opt, sched, scaler, ema, cfg, ctx, stop.set)
                if flags[0] > 0:
                    raise TrainingStopped(
                        f"non-finite loss at step {step + 1} (epoch {epoch + 1}); lower optim.lr or check the data. "
                        f"Last good checkpoint: {last if last.is_file() else 'none yet'}"
                    )
                step += 1
                batch_in_epoch += 1
                seen += len(y) * ctx.world_size
                loss_sum, loss_n = loss_sum + loss.item(), loss_n + 1
                if step % cfg.log_every == 0:
                    ips = seen / (time.perf_counter() - t0)
                    log.write(
                        "train",
                        step=step,
                        epoch=round(step / steps_per_epoch, 4),
                        lr=opt.param_groups[0]["lr"],
                        loss=loss_sum / loss_n,
                        img_per_s=ips,
                    )
                    bar.set_postfix(loss=f"{loss_sum / loss_n:.3f}", ips=f"{ips:.0f}")
                    loss_sum, loss_n = 0.0, 0
                if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                    checkpoint()
                if flags[1] > 0:
                    checkpoint()
                    raise TrainingStopped(
                        f"interrupted at step {step} (epoch {epoch + 1}); state saved in {last}: continue with --resume"
                    )
            bar.close()
            n_skipped = int(dist_.all_reduce_sum(torch.tensor([float(len(skipped))], device=ctx.device), ctx).item())
            epoch, batch_in_epoch = epoch + 1, 0
            secs = time.perf_counter() - t0
            if epoch % cfg.eval_every == 0 or epoch == cfg.optim.epochs:
                result = topk_counts(ema.module, val_loader, ctx, cfg.channels_last)
                log.write(
                    "val",
                    step=step,
                    epoch=epoch,
                    ema_top1=result["top1"],
                    ema_top5=result["top5"],
                    skipped_train=n_skipped,
                )
                if ctx.is_main:
                    print(
                        f"epoch {epoch}/{cfg.optim.epochs}: loss {_mean_loss(log, step, steps_per_epoch):.3f}, "
                        f"val (EMA) top-1 {result['top1']:.2%} top-5 {result['top5']:.2%}, {seen / secs:.0f} img/s, {secs:.0f} s"
                        + (
                            f"; skipped {n_skipped} unreadable images (e.g. {skipped[0]})"
                            if n_skipped and skipped
                            else ""
                        )
                    )
            checkpoint()
            if ctx.is_main:
                plot_metrics(log.path, out_dir / "curves.png", ("ema_top1", "ema_top5"))
    if ctx.is_main:
        save_checkpoint(
            out_dir / "final.pth", ema.module.state_dict(), cfg, classes=train_ds.classes, val=result, step=step
        )
    dist_.barrier(ctx)
    return {**result, "step": step, "classes": train_ds.classes, "config": config_to_dict(cfg)}


def train_step(
    net, model, x, y, opt, sched, scaler, ema: ModelEMA, cfg: ClsTrainConfig, ctx: dist_.DistContext, stop: bool = False
):
    """One optimizer step on a batch ``x [B, 3, S, S]``, ``y [B]``; returns ``(loss, flags)``
    where ``flags`` (summed over processes) are ``[non-finite loss, stop requested]``. Nothing is
    updated when the loss is not finite."""
    with torch.autocast("cuda", enabled=ctx.device.type == "cuda" and cfg.amp):
        loss = aux_loss_weighted(net(x), y, cfg.optim.aux_weight, cfg.optim.label_smoothing)
    flags = dist_.all_reduce_sum(torch.tensor([float(not torch.isfinite(loss)), float(stop)], device=ctx.device), ctx)
    if flags[0] > 0:
        return loss, flags
    opt.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    if cfg.optim.grad_clip:
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
    scaler.step(opt)
    scaler.update()
    sched.step()
    ema.update(model)
    return loss, flags


def _mean_loss(log: MetricsLog, step: int, steps_per_epoch: int) -> float:
    from ..engine.metrics import read_metrics

    recs = [r["loss"] for r in read_metrics(log.path) if r["kind"] == "train" and r["step"] > step - steps_per_epoch]
    return sum(recs) / len(recs) if recs else float("nan")
