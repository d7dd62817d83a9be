"""MultiBox images: warped to ``input_size x input_size`` with their boxes normalized (so the warp
does not change them); training adds flips and colour distortion, seeded per sample."""

from __future__ import annotations

from dataclasses import dataclass

import albumentations as A
import numpy as np
import torch

from ..data.augment import flip_and_jitter
from ..data.dataset import RecordDataset
from ..data.images import read_rgb, to_tensor
from ..data.records import ImageRecord
from ..engine.sampler import sample_seed
from .multibox import MultiBoxDataConfig


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


class BoxImageDataset(RecordDataset):
    """Items ``(image [3, S, S] or None if unreadable, boxes [G, 4] normalized, path)``."""

    def __init__(self, records: list[ImageRecord], cfg: MultiBoxDataConfig, train: bool, seed: int = 0):
        super().__init__(records)
        self.train, self.seed = train, seed
        ops = [A.Resize(cfg.input_size, cfg.input_size)]
        if train:
            ops += flip_and_jitter(cfg.hflip, cfg.photometric)
        self.transform = A.Compose(
            ops,
            bbox_params=A.BboxParams(
                format="albumentations", label_fields=["ids"], clip=True, min_area=0.0, min_visibility=0.0
            ),
        )

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
