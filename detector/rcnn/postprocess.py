"""From region scores to detections: decode, clip, threshold, per-class NMS, top N, and
optionally box voting (Gidaris and Komodakis 2015): each box NMS keeps moves to the score-weighted
mean of the boxes of its class that overlap it by at least ``vote_iou`` before NMS, itself included."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torchvision.ops import batched_nms, box_iou, clip_boxes_to_image, remove_small_boxes

from ..config import NonNegFloat, PositiveInt, Probability
from ..data.records import BACKGROUND
from ..structures import Detections
from .boxes import decode_boxes


@dataclass
class PostprocessConfig:
    score_thresh: Probability = 0.01  # for evaluation; tools/infer.py shows 0.5 by default
    nms_iou: Probability = 0.3  # R-CNN's per-class NMS
    max_dets: PositiveInt = 100  # per image
    max_proposals: PositiveInt = 2000  # proposals scored per image (rank order)
    min_size: NonNegFloat = 1.0  # decoded boxes narrower or lower than this (pixels) are dropped
    tta: tuple[str, ...] = ()  # test-time views besides the image: hflip, vflip, rot90 (rcnn/views.py)
    box_voting: bool = False  # move each kept box to the score-weighted mean of its class's overlapping boxes
    vote_iou: Probability = 0.5  # box_voting: the overlap that counts a box in


def postprocess(
    probs: torch.Tensor, deltas: torch.Tensor | None, proposals: torch.Tensor, height: int, width: int,
    cfg: PostprocessConfig,
) -> Detections:  # fmt: skip
    """Args:
    probs: ``[N, K+1]`` class probabilities (column 0 background).
    deltas: ``[N, K+1, 4]`` class-specific regressions, or None to keep the proposals.
    proposals: ``[N, 4]`` xyxy in the ``height x width`` image's frame.
    """
    n, k1 = probs.shape
    if deltas is None:
        boxes = proposals[:, None, :].expand(n, k1, 4)
    else:
        boxes = decode_boxes(proposals, deltas)
    fg = slice(BACKGROUND + 1, k1)  # the object classes' columns
    boxes = clip_boxes_to_image(boxes[:, fg].reshape(-1, 4), (height, width))
    scores = probs[:, fg].reshape(-1)
    labels = torch.arange(BACKGROUND + 1, k1, device=probs.device).repeat(n)
    keep = torch.nonzero(scores > cfg.score_thresh).squeeze(1)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    keep = remove_small_boxes(boxes, cfg.min_size)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    keep = batched_nms(boxes, scores, labels, cfg.nms_iou)[: cfg.max_dets]
    kept = vote_boxes(boxes[keep], labels[keep], boxes, scores, labels, cfg.vote_iou) if cfg.box_voting else boxes[keep]
    return Detections(kept, scores[keep], labels[keep])


def vote_boxes(
    kept: torch.Tensor, kept_labels: torch.Tensor, boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
    iou: float,
) -> torch.Tensor:  # fmt: skip
    """Box voting: ``[M, 4]`` boxes NMS kept (labels ``[M]``) -> each the mean of the ``[C, 4]``
    candidates (``scores``, ``labels`` ``[C]``) of its class overlapping it by ``iou`` or more,
    weighted by score; every kept box is among the candidates, so it votes for itself."""
    if not len(kept):
        return kept
    w = ((box_iou(kept, boxes) >= iou) & (kept_labels[:, None] == labels[None])) * scores[None]
    return (w @ boxes) / w.sum(1, keepdim=True)
