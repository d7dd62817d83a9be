"""Labelling proposals against ground truth and sampling a training minibatch of regions.

R-CNN fine-tuning: a proposal whose best IoU with a ground-truth box reaches ``fg_iou`` is a
positive of that box's class, one whose best IoU lies in ``[bg_iou_low, fg_iou)`` is background.
Two ways to sample a step's regions (``per``):

- ``image`` (default): each image of a step gives its share of the step's regions, a quarter of
  them positives at most (:func:`sample_regions`);
- ``step``, R-CNN's: ``regions_per_batch * positive_fraction`` positives (32 of 128) drawn
  uniformly from all the positive windows of the step's images, the rest from all their
  background windows (:func:`sample_step`), so an image with many objects gives more positives.

Positives are drawn uniformly by default (``balance: none``), so a class with many windows per
image (BCCD's red cells: ~15 a photo) fills most positive slots. ``balance: class`` weights each
positive window by 1 / (number of positive windows of its class in the pool), so every class
present has the same chance at each draw (without replacement: a class with fewer windows than
its share gives all of them, and the rest goes to the others).

Ground-truth boxes marked
difficult (VOC) or crowd (COCO) are never positives, and a proposal that covers one of them at
``fg_iou`` is not used as background either. Box-regression targets are taken for positives
whose IoU with their box reaches ``reg_iou`` (R-CNN: 0.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torchvision.ops import box_iou

from ..config import PositiveInt, Probability
from ..data.records import BACKGROUND
from .boxes import encode_boxes

IGNORE = -1


@dataclass
class SamplingConfig:
    regions_per_batch: PositiveInt = 128  # regions per optimizer step, over all images of the step
    positive_fraction: Probability = 0.25  # 32 of 128
    fg_iou: Probability = 0.5
    bg_iou_low: Probability = 0.0
    reg_iou: Probability = 0.6
    include_gt: bool = True  # ground-truth boxes join the proposals as positives
    per: Literal["image", "step"] = "image"  # see the module doc
    balance: Literal["none", "class"] = "none"  # positives drawn uniformly, or each class alike


@dataclass
class Regions:
    """A sampled set of regions of one image: ``boxes`` ``[R, 4]`` xyxy (the image's frame),
    ``labels`` ``[R]`` int64 (0 = background, 1..K), ``targets`` ``[R, 4]`` regression targets
    (zero where unused) and ``reg_mask`` ``[R]`` bool (which rows train the regression)."""

    boxes: torch.Tensor
    labels: torch.Tensor
    targets: torch.Tensor
    reg_mask: torch.Tensor
    seed: int = 0  # what the image's augmentation and sampling were seeded with

    def take(self, idx: torch.Tensor) -> Regions:
        return Regions(self.boxes[idx], self.labels[idx], self.targets[idx], self.reg_mask[idx], self.seed)


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


def label_regions(
    proposals: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor, gt_ignore: torch.Tensor,
    cfg: SamplingConfig,
) -> Regions:  # fmt: skip
    """Every usable region of one image, labelled (ground truth first when ``include_gt``), with
    regression targets where ``reg_mask``; unusable ones (``IGNORE``) left out."""
    gt_boxes, proposals = gt_boxes.reshape(-1, 4).float(), proposals.reshape(-1, 4).float()
    if cfg.include_gt and len(gt_boxes):
        proposals = torch.cat([gt_boxes[~gt_ignore], proposals])
    labels, matched, best = label_proposals(proposals, gt_boxes, gt_labels, gt_ignore, cfg)
    keep = labels != IGNORE
    boxes, labels, matched, best = proposals[keep], labels[keep], matched[keep], best[keep]
    reg_mask = (labels > BACKGROUND) & (best >= cfg.reg_iou)
    targets = torch.zeros(len(boxes), 4)
    if reg_mask.any():
        targets[reg_mask] = encode_boxes(boxes[reg_mask], gt_boxes[matched[reg_mask]])
    return Regions(boxes, labels, targets, reg_mask)


def _draw(labels: np.ndarray, num: int, cfg: SamplingConfig, rng: np.random.Generator) -> torch.Tensor:
    """Indices of ``round(num * positive_fraction)`` positives at most and background for the
    rest, drawn without replacement from ``labels``: background uniformly, positives uniformly
    or, with ``balance: class``, each weighted by 1 / its class's count among the positives."""
    pos, neg = np.flatnonzero(labels > BACKGROUND), np.flatnonzero(labels == BACKGROUND)
    n_pos = min(len(pos), int(round(num * cfg.positive_fraction)))
    n_neg = min(len(neg), num - n_pos)
    weights = None
    if cfg.balance == "class" and 0 < n_pos < len(pos):
        _, inverse, counts = np.unique(labels[pos], return_inverse=True, return_counts=True)
        weights = 1.0 / counts[inverse]
        weights /= weights.sum()
    picked = np.concatenate([rng.choice(pos, n_pos, replace=False, p=weights), rng.choice(neg, n_neg, replace=False)])
    return torch.from_numpy(picked.astype(np.int64))


def sample_regions(
    proposals: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor, gt_ignore: torch.Tensor,
    num: int, cfg: SamplingConfig, rng: np.random.Generator,
) -> Regions:  # fmt: skip
    """Sample ``num`` regions of one image: ``round(num * positive_fraction)`` positives at most,
    background for the rest (fewer only when the image has fewer usable proposals), drawn
    without replacement by ``rng``. An image without objects gives ``num`` background regions."""
    regions = label_regions(proposals, gt_boxes, gt_labels, gt_ignore, cfg)
    return regions.take(_draw(regions.labels.numpy(), num, cfg, rng))


def sample_step(images: list[Regions], num: int, cfg: SamplingConfig, rng: np.random.Generator) -> list[Regions]:
    """R-CNN's sampling over a step: ``num`` regions drawn from the labelled regions of all
    ``images`` together (:func:`_draw` over their union), given back per image."""
    if not images:
        return []
    owner = np.concatenate([np.full(len(r.labels), k) for k, r in enumerate(images)])
    picked = _draw(torch.cat([r.labels for r in images]).numpy(), num, cfg, rng).numpy()
    starts = np.cumsum([0] + [len(r.labels) for r in images])
    return [r.take(torch.from_numpy(np.sort(picked[owner[picked] == k]) - starts[k])) for k, r in enumerate(images)]
