"""R-CNN's region warping, batched: every region of every image in one ``roi_align`` call.

A proposal is dilated so that, once warped anisotropically to ``size x size``, ``context``
pixels of the image surround it on each side (R-CNN: 16 at 227): the box fills the inner
``size - 2 * context`` pixels, so each half-side grows by the factor ``size / (size - 2 *
context)``. The dilated box is then sampled by ``torchvision.ops.roi_align`` (bilinear, with
adaptive sampling that averages over each output pixel's footprint when shrinking). Images are
normalized (mean subtracted), so ``roi_align``'s zero outside the image is the mean pixel, as in
R-CNN; within one pixel of the border it repeats the edge.
"""

from __future__ import annotations

import torch
from torchvision.ops import roi_align


def context_boxes(boxes: torch.Tensor, size: int, context: float) -> torch.Tensor:
    """``[N, 4]`` xyxy boxes -> ``[N, 4]`` boxes dilated for ``context`` pixels at ``size``. A box
    given with its corners swapped (``x2 < x1``) is taken as the box they span."""
    if not 0 <= 2 * context < size:
        raise ValueError(f"context {context} must be in [0, size/2) for size {size}")
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]).abs() / 2 * (size / (size - 2 * context))
    return torch.cat([c - half, c + half], 1)


def warp_regions(
    images: torch.Tensor, rois: torch.Tensor, size: int, context: float, antialias: bool = False
) -> torch.Tensor:
    """Warp regions with context.

    Args:
        images: ``[B, 3, H, W]`` normalized images (zero = the mean pixel; padding allowed).
        rois: ``[R, 5]`` rows ``(batch index, x1, y1, x2, y2)``, continuous pixel frame.
    Returns:
        ``[R, 3, size, size]`` warped regions, in ``images``' memory format.
    """
    boxes = context_boxes(rois[:, 1:], size, context)
    ratio = -1 if antialias else 1
    return roi_align(images, torch.cat([rois[:, :1], boxes], 1), (size, size), 1.0, sampling_ratio=ratio, aligned=True)
