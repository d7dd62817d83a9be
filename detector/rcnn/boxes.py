"""Box regression targets (R-CNN, Appendix C), in the continuous pixel frame.

For a proposal ``P`` (center ``Px, Py``, size ``Pw, Ph``) and its ground truth ``G``:
``tx = (Gx - Px) / Pw``, ``ty = (Gy - Py) / Ph``, ``tw = log(Gw / Pw)``, ``th = log(Gh / Ph)``,
each multiplied by a weight (Fast R-CNN's ``(10, 10, 5, 5)``) so the four have unit-ish scale
and one smooth-L1 loss suits them all. Widths are ``x2 - x1`` (continuous frame, no +1).
"""

from __future__ import annotations

import math

import torch

BOX_WEIGHTS = (10.0, 10.0, 5.0, 5.0)
_MAX_LOG = math.log(1000.0 / 16)  # largest log-scale a decoded box may grow by


def _center_size(b: torch.Tensor) -> tuple[torch.Tensor, ...]:
    w, h = b[..., 2] - b[..., 0], b[..., 3] - b[..., 1]
    return b[..., 0] + 0.5 * w, b[..., 1] + 0.5 * h, w, h


def encode_boxes(proposals: torch.Tensor, gt: torch.Tensor, weights: tuple[float, ...] = BOX_WEIGHTS) -> torch.Tensor:
    """``[N, 4]`` xyxy proposals and their ``[N, 4]`` matched ground truth -> ``[N, 4]`` targets."""
    px, py, pw, ph = _center_size(proposals)
    gx, gy, gw, gh = _center_size(gt)
    wx, wy, ww, wh = weights
    return torch.stack([wx * (gx - px) / pw, wy * (gy - py) / ph, ww * torch.log(gw / pw), wh * torch.log(gh / ph)], -1)


def decode_boxes(
    proposals: torch.Tensor, deltas: torch.Tensor, weights: tuple[float, ...] = BOX_WEIGHTS
) -> torch.Tensor:
    """Inverse of :func:`encode_boxes`: ``[N, 4]`` proposals and ``[N, ..., 4]`` deltas (e.g. one per
    class, ``[N, C, 4]``) -> boxes of the deltas' shape, xyxy."""
    px, py, pw, ph = (v.view(-1, *([1] * (deltas.dim() - 2))) for v in _center_size(proposals))
    wx, wy, ww, wh = weights
    cx = px + deltas[..., 0] / wx * pw
    cy = py + deltas[..., 1] / wy * ph
    w = pw * torch.exp((deltas[..., 2] / ww).clamp(max=_MAX_LOG))
    h = ph * torch.exp((deltas[..., 3] / wh).clamp(max=_MAX_LOG))
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], -1)
