"""Labelling proposals against ground truth and sampling a training minibatch of regions.

R-CNN fine-tuning: a proposal whose best IoU with a ground-truth box reaches ``fg_iou`` is a
positive of that box's class, one whose best IoU lies in ``[bg_iou_low, fg_iou)`` is background,
and regions are sampled per image (:func:`sample_regions`): each image of a step gives its share
of the step's regions, a quarter of them positives at most (R-CNN drew its 32 positives and 96
background windows over all of a step's windows instead). Ground-truth boxes marked
difficult (VOC) or crowd (COCO) are never positives, and a proposal that covers one of them at
``fg_iou`` is not used as background either. Box-regression targets are taken for positives
whose IoU with their box reaches ``reg_iou`` (R-CNN: 0.6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.ops import box_iou

from ..data.records import BACKGROUND
from .boxes import encode_boxes

IGNORE = -1


@dataclass
class SamplingConfig:
    regions_per_batch: int = 128  # regions per optimizer step, over all images of the step
    positive_fraction: float = 0.25  # 32 of 128
    fg_iou: float = 0.5
    bg_iou_low: float = 0.0
    reg_iou: float = 0.6
    include_gt: bool = True  # ground-truth boxes join the proposals as positives


@dataclass
class Regions:
    """A sampled set of regions of one image: ``boxes`` ``[R, 4]`` xyxy (the image's frame),
    ``labels`` ``[R]`` int64 (0 = background, 1..K), ``targets`` ``[R, 4]`` regression targets
    (zero where unused) and ``reg_mask`` ``[R]`` bool (which rows train the regression)."""

    boxes: torch.Tensor
    labels: torch.Tensor
    targets: torch.Tensor
    reg_mask: torch.Tensor


def label_proposals(
    proposals: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor, gt_ignore: torch.Tensor,
    cfg: SamplingConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """``[N, 4]`` proposals, ``[G, 4]`` boxes, ``[G]`` labels and ``[G]`` ignore flags ->
    ``(labels [N] with IGNORE for unusable ones, matched box index [N] (-1 if none), IoU [N])``."""
    n = len(proposals)
    labels = torch.full((n,), BACKGROUND, dtype=torch.int64)
    matched = torch.full((n,), -1, dtype=torch.int64)
    best = torch.zeros(n)
    if len(gt_boxes) == 0 or n == 0:
        return labels, matched, best
    iou = box_iou(proposals, gt_boxes)  # [N, G]
    counted = iou.masked_fill(gt_ignore[None, :], -1.0)
    if (~gt_ignore).any():
        best, matched = counted.max(1)
        best = best.clamp(min=0.0)
    fg = best >= cfg.fg_iou
    labels[fg] = gt_labels[matched[fg]]
    covers_ignored = (iou.masked_fill(~gt_ignore[None, :], -1.0).max(1).values >= cfg.fg_iou) & ~fg
    labels[covers_ignored | (~fg & (best < cfg.bg_iou_low))] = IGNORE
    matched[~fg] = -1
    return labels, matched, best


def sample_regions(
    proposals: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor, gt_ignore: torch.Tensor,
    num: int, cfg: SamplingConfig, rng: np.random.Generator,
) -> Regions:  # fmt: skip
    """Sample ``num`` regions of one image: ``round(num * positive_fraction)`` positives at most,
    background for the rest (fewer only when the image has fewer usable proposals), drawn
    without replacement by ``rng``. An image without objects gives ``num`` background regions."""
    gt_boxes = gt_boxes.reshape(-1, 4).float()
    if cfg.include_gt and len(gt_boxes):
        proposals = torch.cat([gt_boxes[~gt_ignore], proposals.reshape(-1, 4).float()])
    labels, matched, best = label_proposals(proposals, gt_boxes, gt_labels, gt_ignore, cfg)
    pos = np.flatnonzero((labels > BACKGROUND).numpy())
    neg = np.flatnonzero((labels == BACKGROUND).numpy())
    n_pos = min(len(pos), int(round(num * cfg.positive_fraction)))
    n_neg = min(len(neg), num - n_pos)
    idx = torch.from_numpy(
        np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)]).astype(np.int64)
    )
    boxes, lab, m = proposals[idx], labels[idx], matched[idx]
    reg_mask = (lab > BACKGROUND) & (best[idx] >= cfg.reg_iou)
    targets = torch.zeros(len(idx), 4)
    if reg_mask.any():
        targets[reg_mask] = encode_boxes(boxes[reg_mask], gt_boxes[m[reg_mask]])
    return Regions(boxes, lab, targets, reg_mask)
