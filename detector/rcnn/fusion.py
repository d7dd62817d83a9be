"""Fusing members whose proposals differ: the union of their proposals, or their detections
fused box by box with the ``ensemble-boxes`` package.

- ``union``: every member scores the union of all members' proposals (exact duplicates removed,
  first occurrence kept), and the shared-proposal average follows, as the paper averaged its 6
  networks over one set of regions. With identical proposals it is the shared path exactly.
- ``wbf``, ``nmw``, ``soft_nms``: each member detects on its own proposals (NMS and all), then
  ``ensemble_boxes``' weighted boxes fusion (Solovyev et al. 2019), non-maximum weighted, or
  soft-NMS (Bodla et al. 2017) merges the members' lists, per class, with optional member
  weights (val mAP, say). Boxes go to ``ensemble-boxes`` normalized to ``[0, 1]`` and come back
  in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..config import Probability
from ..errors import UserError
from ..structures import Detections

FUSIONS = ("average", "union", "wbf", "nmw", "soft_nms")  # "average": all members share one proposal set
DETECTION_FUSIONS = ("wbf", "nmw", "soft_nms")  # those that fuse each member's own detections


@dataclass
class FusionConfig:
    """How ``wbf``/``nmw``/``soft_nms`` merge the members' detections."""

    iou: Probability = 0.55  # boxes of one class at least this IoU are one object (ensemble-boxes' default)
    skip_score: Probability = 0.0  # wbf, nmw: boxes scoring under this are left out
    sigma: float = 0.5  # soft_nms: the Gaussian's width
    conf_type: str = "avg"  # wbf: how a cluster's score is formed (ensemble-boxes' conf_type)


def check_fusion(fusion: str) -> None:
    if fusion not in FUSIONS:
        raise UserError(f"fusion {fusion!r} is not available; choose one of {list(FUSIONS)}")


def union_proposals(sets: list[torch.Tensor]) -> torch.Tensor:
    """``[N_i, 4]`` proposal sets -> ``[U, 4]``: their concatenation without exact repeats, each
    box where it first occurs (so one set, or a set repeated, comes back unchanged)."""
    cat = torch.cat([s.reshape(-1, 4) for s in sets])
    if not len(cat):
        return cat
    _, inverse = torch.unique(cat, dim=0, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), len(cat), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(len(cat)), "amin")
    return cat[first.sort().values]


def fuse_detections(
    dets: list[Detections], height: int, width: int, method: str, weights: list[float] | None = None,
    cfg: FusionConfig | None = None, max_dets: int = 100,
) -> Detections:  # fmt: skip
    """The members' detections of one ``height x width`` image (pixels) fused by ``method``
    (``wbf``, ``nmw``, ``soft_nms``) -> the top ``max_dets`` fused detections, in pixels."""
    from ensemble_boxes import non_maximum_weighted, soft_nms, weighted_boxes_fusion  # here: it loads numba (0.3 s)

    cfg = cfg or FusionConfig()
    scale = np.array([width, height, width, height], np.float64)
    boxes = [np.clip(d.boxes.double().numpy().reshape(-1, 4) / scale, 0.0, 1.0) for d in dets]
    scores = [d.scores.double().numpy() for d in dets]
    labels = [d.labels.numpy() for d in dets]
    if not sum(len(s) for s in scores):
        return Detections(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long))
    if method == "wbf":
        b, s, lab = weighted_boxes_fusion(boxes, scores, labels, weights, cfg.iou, cfg.skip_score, cfg.conf_type)
    elif method == "nmw":
        b, s, lab = non_maximum_weighted(boxes, scores, labels, weights, cfg.iou, cfg.skip_score)
    elif method == "soft_nms":
        b, s, lab = soft_nms(boxes, scores, labels, 2, cfg.iou, cfg.sigma, 0.001, weights)
    else:
        raise UserError(f"fusion {method!r} does not merge detections; choose wbf, nmw or soft_nms")
    order = np.argsort(-np.asarray(s), kind="stable")[:max_dets]
    return Detections(
        torch.from_numpy(np.asarray(b)[order] * scale).float().reshape(-1, 4),
        torch.from_numpy(np.asarray(s)[order]).float(),
        torch.from_numpy(np.asarray(lab)[order]).long(),
    )
