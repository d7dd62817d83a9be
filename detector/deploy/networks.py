"""The networks a detector exports, each a module with tensor inputs and outputs only.

Boxes never enter a graph: the warp (``rcnn``), RoIAlign (``fast``) and NMS stay in PyTorch, so
the files hold plain convolutional networks that any ONNX runtime runs.

- ``rcnn``: :class:`RegionNet`, warped crops ``[N, 3, S, S]`` (normalized RGB, as
  :func:`~detector.rcnn.warp.warp_regions` makes them) -> ``probs [N, K+1]`` (softmax, background
  first) and ``deltas [N, K+1, 4]`` (:mod:`detector.rcnn.boxes`).
- ``fast``: :class:`Trunk`, images ``[B, 3, H, W]`` in the head's frame -> the ``roi_tap`` map
  ``[B, C, H/16, W/16]``; :class:`Head`, RoIAlign-pooled regions ``[R, C, s, s]`` -> ``probs``
  and ``deltas`` as above.

A detector without box regression exports ``probs`` alone.
"""

from __future__ import annotations

import torch
from torch import nn

from ..rcnn.model import RegionDetector


def _outputs(det: RegionDetector, feats: torch.Tensor) -> tuple[torch.Tensor, ...]:
    logits, deltas = det.heads(feats)
    probs = logits.softmax(1)
    return (probs,) if deltas is None else (probs, deltas)


def output_names(det: RegionDetector) -> list[str]:
    return ["probs"] if det.bbox_pred is None else ["probs", "deltas"]


class RegionNet(nn.Module):
    """``rcnn``: warped crops ``[N, 3, S, S]`` -> ``(probs [N, K+1], deltas [N, K+1, 4])``."""

    def __init__(self, det: RegionDetector):
        super().__init__()
        self.det = det

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, ...]:
        b = self.det.backbone
        return _outputs(self.det, b.forward_head(b.forward_features(crops)["inception_5b"]))


class Trunk(nn.Module):
    """``fast``: images ``[B, 3, H, W]`` -> the ``roi_tap`` feature map."""

    def __init__(self, det: RegionDetector):
        super().__init__()
        self.det = det

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.det.trunk(images)


class Head(nn.Module):
    """``fast``: pooled regions ``[R, C, s, s]`` -> ``(probs [R, K+1], deltas [R, K+1, 4])``."""

    def __init__(self, det: RegionDetector):
        super().__init__()
        self.det = det

    def forward(self, pooled: torch.Tensor) -> tuple[torch.Tensor, ...]:
        det, c = self.det, self.det.cfg
        x = pooled if c.roi_tap == "inception_5b" else det.backbone.forward_from(pooled, c.roi_tap)
        return _outputs(det, det.backbone.forward_head(x))
