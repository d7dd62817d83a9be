"""Box-aware augmentation shared by the MultiBox and detector training sets."""

from __future__ import annotations

import albumentations as A

from ..errors import UserError

JITTER = (0.3, 0.3, 0.3, 0.05)  # colour jitter: brightness, contrast, saturation, hue


def check_probabilities(section: str = "data", **named: float) -> None:
    """Raise :class:`~detector.errors.UserError` naming the first ``<section>.<name>`` outside
    [0, 1] (the config key, e.g. ``data.hflip`` or ``data.augment.hflip``)."""
    for name, p in named.items():
        if not 0.0 <= p <= 1.0:
            raise UserError(f"{section}.{name} must be a probability in [0, 1], got {p}")


def flip_and_jitter(
    hflip: float, photometric: float, vflip: float = 0.0, rotate90: float = 0.0
) -> list[A.BasicTransform]:
    """A horizontal flip with probability ``hflip`` (boxes follow it inside an ``A.Compose`` with
    ``bbox_params``), a vertical flip with probability ``vflip`` and a rotation by a random multiple
    of 90 degrees with probability ``rotate90`` (for views without an up, such as microscopy or
    aerial photos; a rotation by 90 or 270 swaps the image's height and width), then colour
    jitter with probability ``photometric``. Transforms at probability 0 are left out, so the
    random draws of a config without them are unchanged. Probabilities are checked by
    :func:`check_probabilities`."""
    check_probabilities(hflip=hflip, photometric=photometric, vflip=vflip, rotate90=rotate90)
    ops: list[A.BasicTransform] = [A.HorizontalFlip(p=hflip)]
    if vflip > 0:
        ops.append(A.VerticalFlip(p=vflip))
    if rotate90 > 0:
        ops.append(A.RandomRotate90(p=rotate90))
    return ops + [A.ColorJitter(*JITTER, p=photometric)]
