"""MultiBox images with their boxes normalized (so resizing does not change them): warped to
``input_size x input_size`` for the global head, resized with the aspect ratio kept (shorter side
``input_size``, longer at most ``max_size``) for the convolutional one and padded to a multiple
of 32 in batches; training adds flips and colour distortion, seeded per sample."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import albumentations as A
import cv2
import numpy as np
import torch

from ..data.augment import flip_and_jitter
from ..data.dataset import RecordDataset
from ..data.images import read_rgb, to_tensor
from ..data.records import ImageRecord
from ..engine.sampler import sample_seed
from .multibox import MultiBoxConfig, MultiBoxDataConfig
from .multibox_conv import STRIDE


def normalized_boxes(r: ImageRecord) -> np.ndarray:
    """``[G, 4]`` float32 normalized xyxy of the record's counted boxes (crowd boxes left out)."""
    b = r.boxes[~r.iscrowd] / np.array([r.width, r.height, r.width, r.height], np.float32)
    return np.clip(b, 0, 1)


@dataclass
class BoxBatch:
    images: torch.Tensor  # [B, 3, H, W] (padded at the bottom and right for the conv head)
    targets: list[torch.Tensor]  # [G_b, 4] normalized xyxy each
    skipped: list[str]
    valid: torch.Tensor | None = None  # [B, 2] each image's unpadded (w, h) in the input


def stack_inputs(images: list[torch.Tensor], multiple: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """``[3, h_i, w_i]`` images -> ``([B, 3, H, W], valid [B, 2] (w_i, h_i))``: zero-padded (the
    mean pixel after normalization) at the bottom and right to the largest size, rounded up to
    ``multiple``."""
    if not images:
        return torch.zeros(0, 3, 1, 1), torch.zeros(0, 2)
    hs, ws = [x.shape[1] for x in images], [x.shape[2] for x in images]
    h, w = -(-max(hs) // multiple) * multiple, -(-max(ws) // multiple) * multiple
    out = images[0].new_zeros(len(images), 3, h, w)
    for i, x in enumerate(images):
        out[i, :, : x.shape[1], : x.shape[2]] = x
    return out, torch.tensor([[wi, hi] for wi, hi in zip(ws, hs, strict=True)], dtype=torch.float32)


def collate_boxes(items: list, multiple: int = 1) -> BoxBatch:
    good = [(x, t) for x, t, _ in items if x is not None]
    skipped = [p for x, _, p in items if x is None]
    images, valid = stack_inputs([x for x, _ in good], multiple)
    return BoxBatch(images, [t for _, t in good], skipped, valid)


def input_size(width: int, height: int, cfg: MultiBoxDataConfig) -> tuple[int, int]:
    """The convolutional head's input ``(w, h)`` for an image: shorter side ``cfg.input_size``,
    longer at most ``cfg.max_size``, aspect ratio kept."""
    scale = min(cfg.input_size / min(width, height), cfg.max_size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_keep_aspect(img: np.ndarray, cfg: MultiBoxDataConfig) -> np.ndarray:
    """``[H, W, 3]`` -> the :func:`input_size` image (area averaging when shrinking)."""
    w, h = input_size(img.shape[1], img.shape[0], cfg)
    if (w, h) == (img.shape[1], img.shape[0]):
        return img
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if w < img.shape[1] else cv2.INTER_LINEAR)


class BoxImageDataset(RecordDataset):
    """Items ``(image [3, S, S] or None if unreadable, boxes [G, 4] normalized, path)``; with
    ``keep_aspect`` (the conv head) the image is ``[3, h, w]`` of :func:`input_size` instead."""

    def __init__(self, records: list[ImageRecord], cfg: MultiBoxDataConfig, train: bool, seed: int = 0,
                 keep_aspect: bool = False):  # fmt: skip
        super().__init__(records)
        self.train, self.seed, self.cfg, self.keep_aspect = train, seed, cfg, keep_aspect
        ops = [] if keep_aspect else [A.Resize(cfg.input_size, cfg.input_size)]
        if train:
            ops += flip_and_jitter(cfg.hflip, cfg.photometric)
        self.transform = A.Compose(
            ops,
            bbox_params=A.BboxParams(
                format="albumentations", label_fields=["ids"], clip=True, min_area=0.0, min_visibility=0.0
            ),
        ) if ops else None  # fmt: skip

    def __getitem__(self, i: int):
        r = self.records[i]
        img = read_rgb(r.file)
        if img is None:
            return None, None, str(r.file)
        if self.keep_aspect:
            img = resize_keep_aspect(img, self.cfg)
        boxes = normalized_boxes(r)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes = boxes[keep]
        if self.transform is None:  # the conv head's evaluation: the resized image as it is
            return to_tensor(img), torch.as_tensor(boxes.reshape(-1, 4)), str(r.file)
        if self.train:
            self.transform.set_random_seed(sample_seed(self.seed, self.epoch, i))
        out = self.transform(image=img, bboxes=boxes, ids=np.arange(len(boxes)))
        return (
            to_tensor(out["image"]),
            torch.as_tensor(np.asarray(out["bboxes"], np.float32).reshape(-1, 4)),
            str(r.file),
        )


def multibox_dataset(records: list[ImageRecord], cfg: MultiBoxConfig, train: bool, seed: int = 0) -> BoxImageDataset:
    """The dataset ``cfg.head`` takes: warped squares (global) or aspect-kept images (conv)."""
    return BoxImageDataset(records, cfg.data, train, seed, keep_aspect=cfg.head == "conv")


def pad_multiple(cfg: MultiBoxConfig) -> int:
    """What ``cfg.head``'s batches are padded to a multiple of: the trunk's stride for the conv
    head (its maps must tile the input); 1 for the global head (its inputs are all one square)."""
    return STRIDE if cfg.head == "conv" else 1


def multibox_collate(cfg: MultiBoxConfig):
    """The collate function of ``cfg.head``'s batches (:func:`collate_boxes`, padded to
    :func:`pad_multiple`)."""
    return functools.partial(collate_boxes, multiple=pad_multiple(cfg))


def multibox_input(image: np.ndarray, cfg: MultiBoxConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """One ``[H, W, 3]`` uint8 RGB image as ``cfg.head``'s input: ``([1, 3, h, w], valid [1, 2])``."""
    if cfg.head == "conv":
        return stack_inputs([to_tensor(resize_keep_aspect(image, cfg.data))], pad_multiple(cfg))
    s = cfg.data.input_size
    x = torch.nn.functional.interpolate(to_tensor(image)[None], size=(s, s), mode="bilinear", antialias=True,
                                        align_corners=False)  # fmt: skip
    return x, torch.tensor([[s, s]], dtype=torch.float32)
