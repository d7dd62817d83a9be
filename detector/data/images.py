"""Reading images: any file OpenCV decodes, by its content rather than its extension, into one
array layout for the whole code base.

``read_image`` gives ``[H, W, 3]`` uint8 RGB (grayscale, RGBA, palette and 16-bit files
included) or raises :class:`ImageError` with a one-line reason that names the file;
``read_rgb`` is its lenient twin for datasets, which skip and count such files. Images over
``MAX_IMAGE_PIXELS`` are refused from their header, before any pixel is decoded, so memory stays
bounded. ``to_tensor`` turns an array into the networks' input: ``[3, H, W]`` float32, RGB in
[0, 1] normalized with the ImageNet mean and std.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFile

from ..errors import UserError

LOG = logging.getLogger("detector.data")
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
MAX_IMAGE_PIXELS = 100_000_000  # 10,000 x 10,000; an 8000 x 6000 photo (48 MP) is read
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # also backbones.IMAGENET_MEAN; here without importing torch
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageError(UserError):
    """An image that cannot be used (missing, empty, not an image, too large): the message is
    ``"<name>: <reason>"``; ``reason`` alone is kept for reports that name the file themselves."""

    def __init__(self, name: str | Path, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name, self.reason = str(name), reason

    def __reduce__(self):
        return type(self), (self.name, self.reason)


def check_size(width: int, height: int, name: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    """:class:`ImageError` for an empty image, or one of more than ``max_pixels`` pixels."""
    if width <= 0 or height <= 0:
        raise ImageError(name, f"empty image ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(
            name, f"{width}x{height} is {width * height / 1e6:.0f} MP, over the {max_pixels / 1e6:.0f} MP limit; "
            "resize it first",
        )  # fmt: skip


def _header_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` from the file's header without decoding it, or None if PIL cannot tell."""
    try:
        with Image.open(path) as im:
            return im.size
    except Exception:  # noqa: BLE001 - OpenCV may still decode what PIL cannot identify
        return None


def _decode_truncated(data: np.ndarray) -> np.ndarray | None:
    """``[H, W, 3]`` uint8 RGB of a file whose last bytes are missing (a cut download), as far as
    its data goes (PIL with ``LOAD_TRUNCATED_IMAGES``: the rest is grey), or None."""
    old = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        with Image.open(io.BytesIO(data.tobytes())) as im:
            return np.asarray(im.convert("RGB"))
    except Exception:  # noqa: BLE001 - not an image PIL knows either: the caller's one-line error
        return None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = old


def decode_rgb(data: np.ndarray, name: str = "image") -> np.ndarray:
    """Encoded bytes (``[B]`` uint8) -> ``[H, W, 3]`` uint8 RGB; :class:`ImageError` if undecodable.
    A truncated file (``cv2.imdecode`` refuses it) is decoded as far as it goes, with a one-line
    warning naming it."""
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if len(data) else None
    if img is not None and img.size:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    rgb = _decode_truncated(data) if len(data) else None
    if rgb is None or rgb.size == 0:
        raise ImageError(name, "cannot decode (corrupt or not an image)")
    LOG.warning("%s: truncated or damaged image file, decoded what it holds", name)
    return np.ascontiguousarray(rgb)


def read_image(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """``[H, W, 3]`` uint8 RGB of the file at ``path``; :class:`ImageError` naming the file when
    it is missing, empty, not a decodable image, or larger than ``max_pixels``."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(path, "not found")
    size = _header_size(path)
    if size is not None:
        check_size(*size, path, max_pixels)
    data = np.fromfile(str(path), np.uint8)
    if not len(data):
        raise ImageError(path, "empty file")
    return decode_rgb(data, str(path))


def read_rgb(path: str | Path) -> np.ndarray | None:
    """``[H, W, 3]`` uint8 RGB, or ``None`` when :func:`read_image` refuses the file."""
    try:
        return read_image(path)
    except ImageError:
        return None


def to_tensor(img: np.ndarray):
    """``[H, W, 3]`` uint8 RGB -> ``[3, H, W]`` float32 torch tensor normalized with the ImageNet
    mean/std (torch is imported here, so that image reading alone never loads it)."""
    import torch  # start-up cost: image reading alone (data tools, workers) never loads torch

    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div_(255)
    return x.sub_(torch.tensor(IMAGENET_MEAN).view(3, 1, 1)).div_(torch.tensor(IMAGENET_STD).view(3, 1, 1))


def to_uint8_rgb(x) -> np.ndarray:
    """The inverse of :func:`to_tensor`: ``[3, H, W]`` normalized float tensor -> ``[H, W, 3]``
    uint8 RGB array (contiguous, for drawing on), e.g. a network's input shown in TensorBoard."""
    x = x.detach().cpu()
    rgb = x.permute(1, 2, 0) * x.new_tensor(IMAGENET_STD) + x.new_tensor(IMAGENET_MEAN)
    return np.ascontiguousarray((rgb.clamp(0, 1) * 255).round().byte().numpy())
