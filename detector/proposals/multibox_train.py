"""Training MultiBox on any COCO-JSON or VOC/ILSVRC-XML dataset, with the shared loop.

Images are warped to ``input_size x input_size`` (MultiBox boxes are normalized, so the warp
does not change them); flips and colour distortion come from albumentations, seeded per sample
as in classification. Priors are k-means over the training boxes, kept in the model's state.
Validation reports recall at IoU 0.5 and 0.7 of the top-K proposals after NMS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import albumentations as A
import numpy as np
import torch
from torch.utils.data import Dataset
from torchvision.ops import box_iou

from backbones import load_weights
from backbones.weights import safe_load

from ..backbone import ModelConfig, build_backbone
from ..classify.data import read_rgb, to_tensor
from ..cli import UserError
from ..config import config_from_dict
from ..data.augment import flip_and_jitter
from ..data.load import load_train_val
from ..data.records import ImageRecord
from ..engine import distributed as dist_
from ..engine.loop import RunConfig, Task, fit, resume_state
from ..engine.optim import OptimConfig
from ..engine.sampler import sample_seed
from .multibox import MultiBoxNet, decode, kmeans_priors, multibox_loss


@dataclass
class MultiBoxDataConfig:
    input_size: int = 224
    workers: int = 4
    hflip: float = 0.5
    photometric: float = 0.5


@dataclass
class MultiBoxConfig(RunConfig):
    model: ModelConfig = field(default_factory=lambda: ModelConfig(variant="bn", aux_logits=False))
    num_priors: int = 200  # K slots (the public model used 800)
    alpha: float = 0.3  # weight of the location loss
    top_k: int = 200  # proposals kept per image at inference
    nms_iou: float = 0.7
    data: MultiBoxDataConfig = field(default_factory=MultiBoxDataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    init: str | None = None  # a train_cls checkpoint (classifier layers skipped)


def normalized_boxes(r: ImageRecord) -> np.ndarray:
    """``[G, 4]`` float32 normalized xyxy of the record's counted boxes (crowd boxes left out)."""
    b = r.boxes[~r.iscrowd] / np.array([r.width, r.height, r.width, r.height], np.float32)
    return np.clip(b, 0, 1)


@dataclass
class BoxBatch:
    images: torch.Tensor  # [B, 3, S, S]
    targets: list[torch.Tensor]  # [G_b, 4] normalized xyxy each
    skipped: list[str]


def collate_boxes(items: list) -> BoxBatch:
    good = [(x, t) for x, t, _ in items if x is not None]
    skipped = [p for x, _, p in items if x is None]
    images = torch.stack([x for x, _ in good]) if good else torch.zeros(0, 3, 1, 1)
    return BoxBatch(images, [t for _, t in good], skipped)


class BoxImageDataset(Dataset):
    """Items ``(image [3, S, S] or None if unreadable, boxes [G, 4] normalized, path)``."""

    def __init__(self, records: list[ImageRecord], cfg: MultiBoxDataConfig, train: bool, seed: int = 0):
        self.records, self.train, self.seed, self.epoch = records, train, seed, 0
        ops = [A.Resize(cfg.input_size, cfg.input_size)]
        if train:
            ops += flip_and_jitter(cfg.hflip, cfg.photometric)
        self.transform = A.Compose(
            ops,
            bbox_params=A.BboxParams(
                format="albumentations", label_fields=["ids"], clip=True, min_area=0.0, min_visibility=0.0
            ),
        )

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int):
        r = self.records[i]
        img = read_rgb(r.file)
        if img is None:
            return None, None, str(r.file)
        boxes = normalized_boxes(r)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes = boxes[keep]
        if self.train:
            self.transform.set_random_seed(sample_seed(self.seed, self.epoch, i))
        out = self.transform(image=img, bboxes=boxes, ids=np.arange(len(boxes)))
        return (
            to_tensor(out["image"]),
            torch.as_tensor(np.asarray(out["bboxes"], np.float32).reshape(-1, 4)),
            str(r.file),
        )


def build_multibox(cfg: MultiBoxConfig, priors: np.ndarray | torch.Tensor) -> MultiBoxNet:
    backbone = build_backbone(cfg.model)
    if cfg.init:
        load_weights(backbone, cfg.init, ignore_head=True)
    return MultiBoxNet(backbone, torch.as_tensor(priors))


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
        boxes, logits = model(batch.images.to(ctx.device, memory_format=mf))
        sizes = [(1, 1)] * len(batch.targets)
        for (props, _), gt in zip(
            decode(boxes, logits, sizes, cfg.top_k, cfg.nms_iou, 0.0), batch.targets, strict=True
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


def multibox_task(
    cfg: MultiBoxConfig, train_records: list[ImageRecord], val_records: list[ImageRecord], ctx: dist_.DistContext
) -> Task:
    all_boxes = np.concatenate([normalized_boxes(r) for r in train_records]) if train_records else np.zeros((0, 4))
    try:
        priors = kmeans_priors(all_boxes, cfg.num_priors, cfg.seed)
    except ValueError as e:
        raise UserError(f"num_priors={cfg.num_priors}: {e}") from None
    model = build_multibox(cfg, priors)
    mf = torch.channels_last if cfg.channels_last else torch.contiguous_format

    def loss(net, batch: BoxBatch):
        boxes, logits = net(batch.images.to(ctx.device, non_blocking=True, memory_format=mf))
        total, _ = multibox_loss(boxes, logits, batch.targets, cfg.alpha)
        return total, len(batch.targets)

    return Task(
        model=model,
        train_ds=BoxImageDataset(train_records, cfg.data, train=True, seed=cfg.seed),
        val_ds=BoxImageDataset(val_records, cfg.data, train=False, seed=cfg.seed),
        collate=collate_boxes,
        loss=loss,
        evaluate=lambda m, loader: proposal_recall_batches(m, loader, cfg, ctx),
        describe=lambda r: (
            f"val (EMA) recall@0.5 {r['recall50']:.2%} recall@0.7 {r['recall70']:.2%} ({r['mean_count']:.0f} proposals)"
        ),
        val_keys=("recall50", "recall70"),
        extra={"priors": torch.as_tensor(priors)},
    )


def train_multibox(cfg: MultiBoxConfig, data: str, train_split: str | None, val_split: str | None, out_dir: str | Path,
                   images: str | None = None, resume: bool = False) -> dict:  # fmt: skip
    out_dir = Path(out_dir)
    ctx = dist_.setup(cfg.device)
    try:
        state = resume_state(out_dir, resume, ctx)
        train, val = load_train_val(data, train_split, val_split, images, verbose=ctx.is_main)
        torch.manual_seed(cfg.seed)
        return fit(multibox_task(cfg, train.records, val.records, ctx), cfg, out_dir, ctx, state)
    finally:
        dist_.cleanup()


def load_multibox(path: str | Path, device: torch.device) -> tuple[MultiBoxNet, MultiBoxConfig]:
    """A trained MultiBox network (eval mode) and its config from ``final.pth``/``last.pth``."""
    obj = safe_load(path, "MultiBox checkpoint")
    if not isinstance(obj, dict) or "priors" not in obj or "config" not in obj:
        raise UserError(
            f"{path}: not a MultiBox checkpoint (expected 'priors' and 'config'; train one with tools/train_multibox.py)"
        )
    cfg = config_from_dict(MultiBoxConfig, obj["config"], f"{path} (config)")
    cfg.init = None
    model = build_multibox(cfg, obj["priors"])
    model.load_state_dict(obj["model"])
    return model.to(device).eval(), cfg


__all__ = ["MultiBoxConfig", "load_multibox", "train_multibox"]
