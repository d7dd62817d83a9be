"""The demo classes: filled shapes that differ in outline, drawn as anti-aliased masks.

Each class is a polygon (or two, for shapes with holes) in unit coordinates; an instance is
that outline scaled, stretched (aspect), rotated and placed. Masks are ``[H, W]`` float32 in
``[0, 1]`` (the alpha of the shape at each pixel).
"""

from __future__ import annotations

import cv2
import numpy as np


def _regular(n: int, phase: float = 0.0) -> np.ndarray:
    t = phase + np.arange(n) * 2 * np.pi / n
    return np.stack([np.cos(t), np.sin(t)], 1)


def _star() -> np.ndarray:
    t = -np.pi / 2 + np.arange(10) * np.pi / 5
    r = np.where(np.arange(10) % 2 == 0, 1.0, 0.42)
    return np.stack([r * np.cos(t), r * np.sin(t)], 1)


def _cross(w: float = 0.34) -> np.ndarray:
    return np.array(
        [[-w, -1], [w, -1], [w, -w], [1, -w], [1, w], [w, w], [w, 1], [-w, 1], [-w, w], [-1, w], [-1, -w], [-w, -w]]
    )


def _arrow() -> np.ndarray:
    return np.array([[-1, -0.3], [0.2, -0.3], [0.2, -0.8], [1, 0], [0.2, 0.8], [0.2, 0.3], [-1, 0.3]])


def _heart() -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 60, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    pts = np.stack([x, y], 1)
    return (pts - pts.mean(0)) / np.abs(pts).max()


# class -> (outline, hole or None, hole offset); holes are cut out of the outline.
SHAPES: dict[str, tuple[np.ndarray, np.ndarray | None, tuple[float, float]]] = {
    "circle": (_regular(48), None, (0, 0)),
    "triangle": (_regular(3, -np.pi / 2), None, (0, 0)),
    "square": (_regular(4, np.pi / 4) * np.sqrt(2) * 0.8, None, (0, 0)),
    "hexagon": (_regular(6), None, (0, 0)),
    "star": (_star(), None, (0, 0)),
    "cross": (_cross(), None, (0, 0)),
    "ring": (_regular(48), _regular(48) * 0.55, (0, 0)),
    "crescent": (_regular(48), _regular(48) * 0.85, (0.45, -0.1)),
    "arrow": (_arrow(), None, (0, 0)),
    "heart": (_heart(), None, (0, 0)),
}
CLASSES: list[str] = list(SHAPES)

_SHIFT = 4  # sub-pixel bits for cv2 drawing


def _transform(pts: np.ndarray, cx: float, cy: float, radius: float, aspect: float, angle: float) -> np.ndarray:
    sx, sy = radius * np.sqrt(aspect), radius / np.sqrt(aspect)
    c, s = np.cos(angle), np.sin(angle)
    x, y = pts[:, 0] * sx, pts[:, 1] * sy
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], 1)


def shape_mask(
    name: str, size: tuple[int, int], cx: float, cy: float, radius: float, aspect: float, angle: float
) -> np.ndarray:
    """``[H, W]`` float32 alpha of class ``name`` centered at ``(cx, cy)`` (pixels)."""
    h, w = size
    outline, hole, (ox, oy) = SHAPES[name]
    mask = np.zeros((h, w), np.uint8)
    pts = np.round(_transform(outline, cx, cy, radius, aspect, angle) * (1 << _SHIFT)).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, cv2.LINE_AA, _SHIFT)
    if hole is not None:
        hole_pts = hole + np.array([ox, oy])
        hp = np.round(_transform(hole_pts, cx, cy, radius, aspect, angle) * (1 << _SHIFT)).astype(np.int32)
        cut = np.zeros_like(mask)
        cv2.fillPoly(cut, [hp], 255, cv2.LINE_AA, _SHIFT)
        mask = cv2.subtract(mask, cut)
    return mask.astype(np.float32) / 255.0
