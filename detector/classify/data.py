"""ImageFolder data for classification: ``<split>/<class>/<image>``, as ILSVRC's synset folders.

Images are decoded with OpenCV into RGB uint8 (grayscale, RGBA, palette and 16-bit files
included). A file that cannot be decoded is skipped, not fatal: the dataset returns ``None`` for
it and :func:`collate` drops it and counts it. Augmentation of sample ``i`` in epoch ``e`` is
seeded by ``(seed, e, i)``, so it does not depend on worker or process layout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..data.augment import check_probabilities
from ..data.images import IMAGE_EXTENSIONS, read_rgb, to_tensor
from ..data.records import DatasetError
from ..engine.sampler import sample_seed
from ..errors import UserError
from .config import AugmentConfig, DataConfig

INTERPOLATIONS = (cv2.INTER_LINEAR, cv2.INTER_AREA, cv2.INTER_NEAREST, cv2.INTER_CUBIC)


def scan_image_folder(root: str | Path) -> tuple[list[tuple[str, int]], list[str]]:
    """``(samples [(path, label)], class names)``, classes in sorted folder order."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: image folder not found")
    classes = sorted(e.name for e in os.scandir(root) if e.is_dir())
    if not classes:
        raise DatasetError(f"{root}: no class folders (expected {root}/<class>/<image>, the ImageFolder layout)")
    samples = []
    for label, name in enumerate(classes):
        files = sorted(
            e.path for e in os.scandir(root / name) if e.is_file() and Path(e.name).suffix.lower() in IMAGE_EXTENSIONS
        )
        samples += [(f, label) for f in files]
    if not samples:
        raise DatasetError(f"{root}: the class folders hold no images")
    return samples, classes


def check_data(cfg: DataConfig) -> None:
    """Raise a :class:`UserError` naming the first ``data.*`` key no transform can be built from
    (albumentations would raise a multi-line validation error instead); called before any work."""
    a = cfg.augment
    check_probabilities("data.augment", hflip=a.hflip, photometric=a.photometric)
    if cfg.input_size < 1 or cfg.resize < cfg.input_size:
        raise UserError(
            f"data.input_size must be positive and data.resize at least as large (the evaluation crop is "
            f"input_size out of a resize-pixel shorter side), got input_size={cfg.input_size}, resize={cfg.resize}"
        )
    lo, hi = a.area
    if not 0.0 < lo <= hi <= 1.0:
        raise UserError(f"data.augment.area must be [min, max] fractions with 0 < min <= max <= 1, got {list(a.area)}")
    lo, hi = a.aspect
    if not 0.0 < lo <= hi:
        raise UserError(f"data.augment.aspect must be [min, max] ratios with 0 < min <= max, got {list(a.aspect)}")
    for name in ("brightness", "contrast", "saturation"):
        if getattr(a, name) < 0:
            raise UserError(f"data.augment.{name} must be a non-negative jitter strength, got {getattr(a, name)}")
    if not 0.0 <= a.hue <= 0.5:
        raise UserError(f"data.augment.hue must be in [0, 0.5] (a fraction of the hue circle), got {a.hue}")


def train_transform(size: int, aug: AugmentConfig) -> A.Compose:
    """Random-area, random-aspect crops at a random interpolation, flips, colour distortion."""
    interps = INTERPOLATIONS if aug.random_interpolation else INTERPOLATIONS[:1]
    crop = A.OneOf(
        [A.RandomResizedCrop((size, size), scale=aug.area, ratio=aug.aspect, interpolation=i) for i in interps], p=1.0
    )
    return A.Compose(
        [
            crop,
            A.HorizontalFlip(p=aug.hflip),
            A.ColorJitter(aug.brightness, aug.contrast, aug.saturation, aug.hue, p=aug.photometric),
        ]
    )


def eval_transform(size: int, resize: int) -> A.Compose:
    """Shorter side to ``resize``, then a centered ``size x size`` crop."""
    return A.Compose([A.SmallestMaxSize(max_size=resize, interpolation=cv2.INTER_LINEAR), A.CenterCrop(size, size)])


class ImageFolderDataset(Dataset):
    """Items: ``(image [3, S, S] float32 or None, label int, path str)``."""

    def __init__(self, root: str | Path, cfg: DataConfig, train: bool, seed: int = 0):
        self.samples, self.classes = scan_image_folder(root)
        self.root = Path(root)
        self.train = train and cfg.augment.enabled
        self.transform = (
            train_transform(cfg.input_size, cfg.augment) if self.train else eval_transform(cfg.input_size, cfg.resize)
        )
        self.seed = seed
        self.epoch = 0
        self.cache: list[np.ndarray | None] | None = [read_rgb(p) for p, _ in self.samples] if cfg.cache else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        img = self.cache[i] if self.cache is not None else read_rgb(path)
        if img is None:
            return None, label, path
        if self.train:
            self.transform.set_random_seed(sample_seed(self.seed, self.epoch, i))
        return to_tensor(self.transform(image=img)["image"]), label, path


@dataclass
class Batch:
    images: torch.Tensor  # [B, 3, S, S]
    labels: torch.Tensor  # [B] int64
    skipped: list[str]  # files that could not be decoded


def collate(items: list) -> Batch:
    good = [(x, y) for x, y, _ in items if x is not None]
    skipped = [p for x, _, p in items if x is None]
    if not good:
        return Batch(torch.zeros(0, 3, 1, 1), torch.zeros(0, dtype=torch.int64), skipped)
    return Batch(torch.stack([x for x, _ in good]), torch.tensor([y for _, y in good]), skipped)
