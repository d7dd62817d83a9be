"""``train_cls``: the paper's classification recipe on an ImageFolder dataset.

The loop and its machinery are :mod:`detector.engine.loop`'s; this module supplies the data,
the network (aux heads, losses weighted ``optim.aux_weight``), the loss and top-k evaluation.
The run folder gets ``config.yaml``, ``metrics.jsonl``, ``curves.png``, ``last.pth`` and
``final.pth`` (EMA weights, loadable by ``googlenet(weights=...)``; ``classes`` inside).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import torch

from backbones import aux_loss_weighted, load_weights

from ..backbone import build_backbone
from ..config import config_to_dict
from ..data.images import to_uint8_rgb
from ..engine import distributed as dist_
from ..engine.loop import Task, TrainingStopped, run_training
from ..errors import UserError
from .config import ClsTrainConfig
from .data import Batch, ImageFolderDataset, check_data, collate
from .evaluate import topk_counts

__all__ = ["TrainingStopped", "classification_task", "train_classifier"]


def classification_task(cfg: ClsTrainConfig, data_dir: Path, ctx: dist_.DistContext) -> tuple[Task, ClsTrainConfig]:
    """Datasets, network and loss for ``data_dir/{train,val}``; the config gets the class count."""
    check_data(cfg.data)
    train_ds = ImageFolderDataset(data_dir / "train", cfg.data, train=True, seed=cfg.seed)
    val_ds = ImageFolderDataset(data_dir / "val", cfg.data, train=False, seed=cfg.seed)
    if val_ds.classes != train_ds.classes:
        raise UserError(f"{data_dir}: train/ and val/ have different class folders")
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, num_classes=len(train_ds.classes)))
    model = build_backbone(cfg.model)
    if cfg.init:
        load_weights(model, cfg.init, ignore_head=True, bvlc_mean=cfg.model.bvlc_mean)
    mf = torch.channels_last if cfg.channels_last else torch.contiguous_format

    def loss(net, batch: Batch):
        x = batch.images.to(ctx.device, non_blocking=True, memory_format=mf)
        y = batch.labels.to(ctx.device, non_blocking=True)
        return aux_loss_weighted(net(x), y, cfg.optim.aux_weight, cfg.optim.label_smoothing), len(y)

    task = Task(
        model=model,
        train_ds=train_ds,
        val_ds=val_ds,
        collate=collate,
        loss=loss,
        evaluate=lambda m, loader: topk_counts(m, loader, ctx, cfg.channels_last),
        describe=lambda r: f"val (EMA) top-1 {r['top1']:.2%} top-5 {r['top5']:.2%}",
        val_keys=("top1", "top5"),
        extra={"classes": train_ds.classes},
        snapshot=lambda m: draw_predictions(m, val_ds, ctx.device),
    )
    return task, cfg


@torch.inference_mode()
def draw_predictions(model, val_ds: ImageFolderDataset, device, images: int = 3) -> dict:
    """``{"val/predictions/<i>": [S, S, 3] uint8}``: the first ``images`` validation crops with
    the network's top-1 class and probability (green when right, red when wrong), for TensorBoard."""
    was = model.training
    model.eval()
    out = {}
    for i in range(0, len(val_ds), max(1, len(val_ds) // images))[:images]:
        x, label, _ = val_ds[i]
        if x is None:
            continue
        p = model(x[None].to(device)).float().softmax(1)[0].cpu()
        k = int(p.argmax())
        img = to_uint8_rgb(x)
        color = (40, 200, 40) if k == label else (230, 40, 40)
        text = f"{val_ds.classes[k]} {float(p[k]):.2f}"
        cv2.rectangle(img, (0, 0), (img.shape[1], 16), (0, 0, 0), -1)
        cv2.putText(img, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1, cv2.LINE_AA)
        out[f"val/predictions/{i}"] = img
    model.train(was)
    return out


def train_classifier(cfg: ClsTrainConfig, data_dir: str | Path, out_dir: str | Path, resume: bool = False) -> dict:
    """Train on ``data_dir/{train,val}`` (ImageFolder) into ``out_dir``; returns the final
    validation numbers of the EMA model."""
    built = {}

    def make_task(ctx):
        torch.manual_seed(cfg.seed)
        built["task"], built["cfg"] = classification_task(cfg, Path(data_dir), ctx)
        return built["task"], built["cfg"]

    result = run_training(make_task, cfg, out_dir, resume)
    return {**result, "classes": built["task"].extra["classes"], "config": config_to_dict(built["cfg"])}
