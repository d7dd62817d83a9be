"""One image's detections, the structure that postprocessing, drawing, the API and the training
snapshots share (below ``rcnn``, ``proposals`` and ``analysis``, as detectron2's ``structures/``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Detections:
    """One image's detections: ``boxes`` ``[D, 4]`` xyxy in the image's continuous pixel frame,
    ``scores`` ``[D]``, ``labels`` ``[D]`` int64 in ``1..K``, by descending score."""

    boxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.scores)


__all__ = ["Detections"]
