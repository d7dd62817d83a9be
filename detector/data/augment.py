"""Box-aware augmentation shared by the MultiBox and detector training sets."""

from __future__ import annotations

import albumentations as A

JITTER = (0.3, 0.3, 0.3, 0.05)  # colour jitter: brightness, contrast, saturation, hue


def flip_and_jitter(hflip: float, photometric: float) -> list[A.BasicTransform]:
    """A horizontal flip with probability ``hflip`` (boxes follow it inside an ``A.Compose`` with
    ``bbox_params``) and colour jitter with probability ``photometric``."""
    return [A.HorizontalFlip(p=hflip), A.ColorJitter(*JITTER, p=photometric)]
