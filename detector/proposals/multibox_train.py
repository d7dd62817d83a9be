"""Training MultiBox on any COCO-JSON or VOC/ILSVRC-XML dataset, with the shared loop.

Images are warped to ``input_size x input_size`` (global head; MultiBox boxes are normalized, so
the warp does not change them) or resized with their aspect ratio kept (conv head); flips and
colour distortion come from albumentations, seeded per sample as in classification. Priors are
k-means over the training boxes (per level for the conv head), kept in the model's state.
Validation reports recall at IoU 0.5 and 0.7 of the top-K proposals after NMS.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torchvision.ops import box_iou

from ..data.images import to_uint8_rgb
from ..data.inspect import describe_splits
from ..data.load import load_train_val
from ..data.records import ImageRecord
from ..engine import distributed as dist_
from ..engine.loop import Task, run_training
from ..errors import UserError
from ..structures import Detections, draw_detections
from .multibox import MultiBoxConfig, MultiBoxNet, build_multibox, decode_multibox
from .multibox_conv import level_priors
from .multibox_data import (
    BoxBatch,
    BoxImageDataset,
    input_size,
    multibox_collate,
    multibox_dataset,
    normalized_boxes,
)
from .multibox_loss import conv_multibox_loss, kmeans_priors, multibox_loss


@torch.inference_mode()
def proposal_recall_batches(model: MultiBoxNet, loader, cfg: MultiBoxConfig, ctx: dist_.DistContext) -> dict:
    """Recall at IoU 0.5/0.7 of the top-K proposals over every process's shard of ``loader``."""
    was = model.training
    model.eval()
    mf = torch.channels_last if cfg.channels_last else torch.contiguous_format
    sums = torch.zeros(4, dtype=torch.float64)  # hits@0.5, hits@0.7, boxes, proposals
    n_img = 0
    for batch in loader:
        if not len(batch.targets):
            continue
        boxes, logits = model(batch.images.to(ctx.device, memory_format=mf), batch.valid)
        sizes = [(1, 1)] * len(batch.targets)
        for (props, _), gt in zip(
            decode_multibox(boxes, logits, sizes, cfg.top_k, cfg.nms_iou, 0.0), batch.targets, strict=True
        ):
            sums[3] += len(props)
            n_img += 1
            if not len(gt):
                continue
            best = box_iou(gt, props).max(1).values if len(props) else torch.zeros(len(gt))
            sums[0] += (best >= 0.5).sum()
            sums[1] += (best >= 0.7).sum()
            sums[2] += len(gt)
    model.train(was)
    sums = dist_.all_reduce_sum(
        torch.cat([sums, torch.tensor([float(n_img)], dtype=torch.float64)]).to(ctx.device), ctx
    ).cpu()
    return {
        "recall50": sums[0].item() / max(sums[2].item(), 1),
        "recall70": sums[1].item() / max(sums[2].item(), 1),
        "mean_count": sums[3].item() / max(sums[4].item(), 1),
    }


@torch.inference_mode()
def draw_proposals(
    model: MultiBoxNet, val_ds: BoxImageDataset, cfg: MultiBoxConfig, device, images: int = 3, top: int = 10
) -> dict:
    """``{"val/proposals/<i>": [S, S, 3] uint8}``: the network's ``top`` proposals on the first
    ``images`` validation images (its input frame), for TensorBoard."""
    was = model.training
    model.eval()
    out = {}
    for i in range(min(images, len(val_ds))):
        x, _, _ = val_ds[i]
        if x is None:
            continue
        boxes, logits = model(x[None].to(device))
        ((props, scores),) = decode_multibox(
            boxes.float().cpu(), logits.float().cpu(), [(x.shape[2], x.shape[1])], top, cfg.nms_iou, 0.0
        )
        dets = Detections(props.float(), scores.float(), torch.ones(len(props), dtype=torch.int64))
        out[f"val/proposals/{i}"] = draw_detections(to_uint8_rgb(x), dets, ["object"])
    model.train(was)
    return out


def _priors(cfg: MultiBoxConfig, records: list[ImageRecord], strides: list[int]) -> np.ndarray:
    """k-means priors over the training boxes: ``[K, 4]`` normalized boxes (global head), or
    ``[L, k, 2]`` sizes per level in the conv head's input pixels (:func:`.multibox_conv.level_priors`)."""
    try:
        if cfg.head == "conv":
            wh = [
                (r.boxes[~r.iscrowd, 2:] - r.boxes[~r.iscrowd, :2])
                * (input_size(r.width, r.height, cfg.data)[0] / r.width)
                for r in records
            ]
            wh = np.concatenate(wh) if wh else np.zeros((0, 2))
            return level_priors(wh, strides, cfg.priors_per_level, cfg.seed)
        all_boxes = np.concatenate([normalized_boxes(r) for r in records]) if records else np.zeros((0, 4))
        return kmeans_priors(all_boxes, cfg.num_priors, cfg.seed)
    except ValueError as e:
        raise UserError(f"num_priors={cfg.num_priors}: {e}") from None


def _loss_fn(cfg: MultiBoxConfig, ctx: dist_.DistContext):
    mf = torch.channels_last if cfg.channels_last else torch.contiguous_format

    def loss(net, batch: BoxBatch):
        x = batch.images.to(ctx.device, non_blocking=True, memory_format=mf)
        if cfg.head == "conv":
            offsets, logits, priors = net(x, batch.valid, raw=True)
            total, _ = conv_multibox_loss(offsets, logits, priors, batch.targets, batch.valid, cfg.alpha,
                                          cfg.match_iou, cfg.neg_ratio)  # fmt: skip
        else:
            boxes, logits = net(x)
            total, _ = multibox_loss(boxes, logits, batch.targets, cfg.alpha)
        return total, len(batch.targets)

    return loss


def multibox_task(
    cfg: MultiBoxConfig, train_records: list[ImageRecord], val_records: list[ImageRecord], ctx: dist_.DistContext
) -> Task:
    model = build_multibox(cfg, torch.zeros(len(cfg.levels), cfg.priors_per_level, 2) if cfg.head == "conv" else
                           torch.zeros(cfg.num_priors, 4))  # fmt: skip
    priors = _priors(cfg, train_records, getattr(model, "strides", []))
    model.priors.copy_(torch.as_tensor(priors))
    val_ds = multibox_dataset(val_records, cfg, train=False, seed=cfg.seed)
    return Task(
        model=model,
        train_ds=multibox_dataset(train_records, cfg, train=True, seed=cfg.seed),
        val_ds=val_ds,
        collate=multibox_collate(cfg),
        loss=_loss_fn(cfg, ctx),
        evaluate=lambda m, loader: proposal_recall_batches(m, loader, cfg, ctx),
        describe=lambda r: (
            f"val (EMA) recall@0.5 {r['recall50']:.2%} recall@0.7 {r['recall70']:.2%} ({r['mean_count']:.0f} proposals)"
        ),
        val_keys=("recall50", "recall70"),
        extra={"priors": torch.as_tensor(priors)},
        snapshot=lambda m: draw_proposals(m, val_ds, cfg, ctx.device),
    )


def train_multibox(cfg: MultiBoxConfig, data: str, train_split: str | None, val_split: str | None, out_dir: str | Path,
                   images: str | None = None, resume: bool = False) -> dict:  # fmt: skip

    def make_task(ctx):
        train, val = load_train_val(data, train_split, val_split, images, verbose=ctx.is_main)
        if ctx.is_main:
            describe_splits({"train": train} | ({"val": val} if val is not train else {}), out_dir, ("train",))
        torch.manual_seed(cfg.seed)
        return multibox_task(cfg, train.records, val.records, ctx), cfg

    return run_training(make_task, cfg, out_dir, resume)


__all__ = ["multibox_task", "train_multibox"]
