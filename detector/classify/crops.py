"""The paper's test-time crops (Section 7), as boxes in the original image.

- ``1``: the center ``S x S`` crop after resizing the shorter side to ``resize``.
- ``10``: the 4 corner and the center crops at that scale, and their mirrors.
- ``144``: shorter side resized to 4 scales (256, 288, 320, 352 for 224 crops; proportionally
  for other input sizes); at each, the left/center/right (top/center/bottom for portrait)
  squares; in each square the 4 corner and the center ``S x S`` crops plus the whole square
  resized to ``S``; and the mirrors of all: 4 x 3 x 6 x 2.

A corner or center crop taken after resizing is a box in the original image, so all of an
image's such crops come out of one ``torchvision.ops.roi_align`` call (adaptive sampling
averages over each output pixel's footprint, i.e. area-style downscaling). The 12 whole squares
cover only 3 regions (a square is the same region at every scale); as in the paper, each is
first sampled at its scale (``S x S``) and then resized to the input size, so the 4 scales give 4
different resamplings. Mirrors are a flip of the batch.
"""

from __future__ import annotations

import torch
from torchvision.ops import roi_align

PAPER_SCALES = (256, 288, 320, 352)
PAPER_INPUT = 224


def _five(x0: float, y0: float, w: float, h: float, c: float) -> list[list[float]]:
    """4 corners then center of a ``c``-sized crop inside the box ``(x0, y0, w, h)``."""
    xs, ys = (x0, x0 + w - c), (y0, y0 + h - c)
    corners = [[x, y, x + c, y + c] for y in ys for x in xs]
    cx, cy = x0 + (w - c) / 2, y0 + (h - c) / 2
    return corners + [[cx, cy, cx + c, cy + c]]


def crop_boxes(height: int, width: int, scheme: int, input_size: int, resize: int) -> torch.Tensor:
    """``[K, 4]`` float32 xyxy boxes in the original image's continuous pixel frame, before
    mirroring (``K`` = 1, 5 or 72; :func:`crops` adds the mirrors for 10 and 144)."""
    short = min(height, width)
    if scheme == 1:
        c = input_size * short / resize
        return torch.tensor(_five(0, 0, width, height, c)[4:], dtype=torch.float32)
    if scheme == 10:
        return torch.tensor(_five(0, 0, width, height, input_size * short / resize), dtype=torch.float32)
    if scheme != 144:
        raise ValueError(f"crop scheme must be 1, 10 or 144, got {scheme}")
    boxes = []
    offsets = [0.0, (max(height, width) - short) / 2, float(max(height, width) - short)]
    for scale in (round(s * input_size / PAPER_INPUT) for s in PAPER_SCALES):
        c = input_size * short / scale
        for off in offsets:
            x0, y0 = (off, 0.0) if width >= height else (0.0, off)
            boxes += _five(x0, y0, short, short, c)
            boxes.append([x0, y0, x0 + short, y0 + short])
    return torch.tensor(boxes, dtype=torch.float32)


def crops(image: torch.Tensor, scheme: int, input_size: int, resize: int) -> torch.Tensor:
    """All test crops of one image.

    Args:
        image: ``[3, H, W]`` float (any normalization; it is interpolated linearly).
    Returns:
        ``[K, 3, input_size, input_size]`` with ``K`` = 1, 10 or 144, in the order of
        :func:`crop_boxes`, mirrors last.
    """
    _, h, w = image.shape
    boxes = crop_boxes(h, w, scheme, input_size, resize).to(image.device)
    out = _roi(image, boxes, input_size)
    if scheme == 144:  # whole squares (every 6th box): resample at the scale, then to the input size
        squares = boxes[5::6].view(4, 3, 4)
        for si, scale in enumerate(round(s * input_size / PAPER_INPUT) for s in PAPER_SCALES):
            at_scale = _roi(image, squares[si], scale)
            out[5 + 18 * si :: 6][:3] = torch.nn.functional.interpolate(
                at_scale, size=(input_size, input_size), mode="bilinear", antialias=True, align_corners=False
            )
    return out if scheme == 1 else torch.cat([out, out.flip(-1)])


def _roi(image: torch.Tensor, boxes: torch.Tensor, size: int) -> torch.Tensor:
    rois = torch.cat([boxes.new_zeros(len(boxes), 1), boxes], 1)
    return roi_align(image[None], rois, (size, size), spatial_scale=1.0, sampling_ratio=-1, aligned=True)
