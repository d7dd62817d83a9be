"""``train_det``: fine-tuning the region classifier on any COCO-JSON or VOC/ILSVRC-XML dataset.

The loop and its machinery (resume, ``torchrun`` DDP, progress bar, JSON-lines metrics, plots,
``last.pth``/``final.pth``) are :mod:`detector.engine.loop`'s. This module supplies the data
(:mod:`.data`, proposals from a cache filled on first use), the network (:mod:`.model`), the loss
(cross-entropy over K+1 classes plus smooth-L1 box regression on the positives that train it,
normalized by the number of regions asked for) and a periodic mAP evaluation of the EMA weights on the
validation split. ``optim.batch_size`` counts images per step; each contributes
``sampling.regions_per_batch / batch_size`` regions.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.augment import check_probabilities
from ..data.images import read_rgb
from ..data.inspect import describe_splits
from ..data.load import load_train_val
from ..data.records import DetectionDataset
from ..engine import distributed as dist_
from ..engine.loop import Task, run_training
from ..errors import UserError
from ..eval import evaluate_arrays
from ..proposals.cache import ProposalCache
from ..structures import Detections, draw_detections
from .config import DetTrainConfig
from .data import ProposalImageDataset, RegionBatch, RegionTrainDataset, collate_regions
from .ensemble import Ensemble
from .model import check_head
from .predict import LoadedDetector, build_detector, run_detection
from .proposals import ensure_proposals, val_cache_root
from .views import parse_views


def region_loss(
    logits: torch.Tensor, deltas: torch.Tensor | None, labels: torch.Tensor, targets: torch.Tensor,
    reg_mask: torch.Tensor, reg_weight: float, normalizer: float,
) -> torch.Tensor:  # fmt: skip
    """Cross-entropy of ``[R, K+1]`` logits plus ``reg_weight`` x smooth-L1 (beta 1) of the
    labelled class's ``[R, K+1, 4]`` deltas on ``reg_mask`` rows, both summed and divided by
    ``normalizer``: the number of regions the batch asked for, not the number it got, so that
    every region weighs the same whatever its image and process (an image with few proposals
    gives fewer regions), and DDP's average of gradients equals one process's."""
    loss = F.cross_entropy(logits.float(), labels, reduction="sum") / normalizer
    if deltas is not None:
        rows = torch.nonzero(reg_mask).squeeze(1)
        pred = deltas[rows, labels[rows]].float()
        loss = loss + reg_weight * F.smooth_l1_loss(pred, targets[rows], beta=1.0, reduction="sum") / normalizer
    return loss


def draw_validation(
    val: DetectionDataset, arrays, names: list[str], images: int = 3, score: float = 0.3, top: int = 10
) -> dict[str, np.ndarray]:
    """``{"val/detections/<image id>": [H, W, 3] uint8}``: the first ``images`` validation images
    with their ``top`` detections scoring at least ``score`` drawn (for TensorBoard)."""
    out = {}
    for i, rec in enumerate(val.records[:images]):
        rgb = read_rgb(rec.file)
        if rgb is None:
            continue
        keep = np.flatnonzero((arrays.image_idx == i) & (arrays.scores >= score))
        keep = keep[np.argsort(-arrays.scores[keep], kind="stable")][:top]
        dets = Detections(torch.from_numpy(arrays.boxes[keep]).float(), torch.from_numpy(arrays.scores[keep]).float(),
                          torch.from_numpy(arrays.labels[keep]))  # fmt: skip
        out[f"val/detections/{rec.image_id}"] = draw_detections(rgb, dets, names)
    return out


def regions_per_image(cfg: DetTrainConfig) -> int:
    per_image = cfg.sampling.regions_per_batch // cfg.optim.batch_size
    if per_image < 1:
        raise UserError(
            f"sampling.regions_per_batch={cfg.sampling.regions_per_batch} is fewer than one region per image "
            f"of optim.batch_size={cfg.optim.batch_size}"
        )
    return per_image


def check_config(cfg: DetTrainConfig) -> None:
    """Raise a :class:`UserError` for a sampling, head or augmentation setting no training can run
    with; called before any proposals are computed."""
    regions_per_image(cfg)
    check_head(cfg.head)
    d = cfg.data
    check_probabilities(hflip=d.hflip, photometric=d.photometric, vflip=d.vflip, rotate90=d.rotate90)
    try:  # validation scores in these views: a wrong name fails now, not after an epoch
        parse_views(cfg.test.tta)
    except UserError as e:
        raise UserError(f"test.tta: {e}") from None


def detection_task(
    cfg: DetTrainConfig, train: DetectionDataset, val: DetectionDataset, train_cache: ProposalCache,
    val_cache: ProposalCache, ctx: dist_.DistContext,
) -> Task:  # fmt: skip
    per_image = regions_per_image(cfg)
    names = list(train.class_names)
    display = list(train.display_names or names)
    model = build_detector(cfg, len(names))
    mf = torch.channels_last if cfg.channels_last else torch.contiguous_format

    def loss(net, batch: RegionBatch):
        if not len(batch.rois):  # every image of the batch unreadable: a step that changes nothing
            return sum(p.sum() for p in net.parameters() if p.requires_grad) * 0.0, 0
        dev = ctx.device
        logits, deltas = net(
            batch.images.to(dev, non_blocking=True, memory_format=mf), batch.rois.to(dev, non_blocking=True)
        )
        labels = batch.labels.to(dev, non_blocking=True)
        total = region_loss(
            logits, deltas, labels, batch.targets.to(dev), batch.reg_mask.to(dev), cfg.reg_weight,
            normalizer=per_image * len(batch.images),
        )  # fmt: skip
        return total, len(batch.images)

    drawn: dict = {}  # the last validation's pictures, for TensorBoard

    def evaluate(ema_model, loader) -> dict:
        was = ema_model.training
        ema_model.eval()
        member = LoadedDetector(ema_model, cfg, names, display, "EMA weights")
        arrays, _ = run_detection(Ensemble([member], cfg.test).detect, loader, ctx, progress=True)
        ema_model.train(was)
        if ctx.is_main:
            drawn.clear()
            drawn.update(draw_validation(val, arrays, display))
        return {"mAP": evaluate_arrays(val, arrays, cfg.eval_metric).report["mAP"], "detections": len(arrays)}

    return Task(
        model=model,
        train_ds=RegionTrainDataset(
            train.records, train_cache, cfg.head, cfg.sampling, cfg.data, per_image, cfg.proposals.max_train, cfg.seed
        ),
        val_ds=ProposalImageDataset(val.records, val_cache.boxes_for, cfg.test.max_proposals),
        collate=collate_regions
        if cfg.sampling.per == "image"
        else partial(collate_regions, step=(per_image, cfg.sampling)),
        val_collate=list,
        loss=loss,
        evaluate=evaluate,
        describe=lambda r: f"val (EMA) {cfg.eval_metric} mAP {r['mAP']:.4f} ({r['detections']} detections)",
        val_keys=("mAP",),
        extra={"class_names": names, "display_names": display, "dataset_kind": train.kind},
        snapshot=lambda _: dict(drawn),
    )


def train_detector(
    cfg: DetTrainConfig, data: str, train_split: str | None, val_split: str | None, out_dir: str | Path,
    images: str | None = None, proposals: str | None = None, resume: bool = False, class_map: str | None = None,
    val_images: str | None = None,
) -> dict:  # fmt: skip
    """Train into ``out_dir``; proposals come from (or are computed into) ``proposals``, by
    default ``out_dir/proposals``. Returns the final validation numbers of the EMA weights."""
    out_dir = Path(out_dir)
    check_config(cfg)  # a config error stops the run before any proposals are computed
    if cfg.proposals.multibox_ckpt:  # saved in the checkpoints: infer.py and eval_det.py may run elsewhere
        cfg.proposals.multibox_ckpt = str(Path(cfg.proposals.multibox_ckpt).resolve())

    def make_task(ctx):
        train, val = load_train_val(data, train_split, val_split, images, class_map, val_images, verbose=ctx.is_main)
        if ctx.is_main:
            describe_splits({"train": train} | ({"val": val} if val is not train else {}), out_dir, ("train",))
        root = Path(proposals) if proposals else out_dir / "proposals"
        train_cache = ensure_proposals(train, root, cfg.proposals, ctx)
        val_root = val_cache_root(train, val, root)
        if ctx.is_main and val_root != root:
            print(f"proposals: validation image ids repeat training ids for other files; its cache is {val_root}")
        val_cache = ensure_proposals(val, val_root, cfg.proposals, ctx) if val is not train else train_cache
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        return detection_task(cfg, train, val, train_cache, val_cache, ctx), cfg

    return run_training(make_task, cfg, out_dir, resume)
