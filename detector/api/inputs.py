"""What the API accepts as an image, brought to one layout: ``[H, W, 3]`` uint8 RGB.

Accepted: a path (``str`` or ``Path``; read by content, whatever its extension says), a numpy
array ``[H, W, 3]`` RGB (``[H, W]`` grey and ``[H, W, 4]`` RGBA too; uint8, or float in
``[0, 1]``), a PIL image (any mode), or a torch tensor ``[3, H, W]`` (uint8, or float in
``[0, 1]``, torchvision's convention). Anything else, an empty image, or one over
:data:`~detector.data.images.MAX_IMAGE_PIXELS` is a one-line :class:`~detector.data.images.ImageError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Union

import numpy as np
import torch
from PIL import Image

from ..data.images import ImageError, check_size, read_image

ImageInput = Union[str, Path, np.ndarray, Image.Image, torch.Tensor]  # noqa: UP007 - a runtime alias


def _from_array(a: np.ndarray, name: str) -> np.ndarray:
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ImageError(name, f"expected an [H, W, 3] RGB array, got shape {list(a.shape)}")
    if a.dtype != np.uint8:
        if not np.issubdtype(a.dtype, np.floating):
            raise ImageError(name, f"expected uint8 or float values in [0, 1], got dtype {a.dtype}")
        a = np.clip(np.nan_to_num(a) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    a = np.ascontiguousarray(a[:, :, :3])
    return a if a.flags.writeable else a.copy()


def as_rgb(image: Any, name: str | None = None) -> tuple[np.ndarray, str | None]:
    """``(image [H, W, 3] uint8 RGB, its file path or None)`` from any accepted input."""
    path = None
    if isinstance(image, (str, Path)):
        path = str(image)
        rgb = read_image(image)
    elif isinstance(image, Image.Image):
        rgb = np.array(image.convert("RGB"))  # a writable copy (PIL's buffer is read-only)
    elif isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.dim() != 3 or t.shape[0] not in (1, 3):
            raise ImageError(name or "tensor", f"expected a [3, H, W] tensor, got shape {list(t.shape)}")
        rgb = _from_array(t.permute(1, 2, 0).numpy(), name or "tensor")
    elif isinstance(image, np.ndarray):
        rgb = _from_array(image, name or "array")
    else:
        kind = type(image).__name__
        raise ImageError(name or "input", f"not an image ({kind}); give a path, array, PIL image or tensor")
    check_size(rgb.shape[1], rgb.shape[0], path or name or "image")
    return rgb, path
