"""Drawing detections on an image (OpenCV), one stable colour per class (shared by the API, the
trainers' TensorBoard snapshots and MultiBox's)."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from .detections import Detections


def class_color(label: int) -> tuple[int, int, int]:
    """A saturated RGB colour for ``label``, spread around the hue circle (golden ratio)."""
    r, g, b = colorsys.hsv_to_rgb((label * 0.618033988749895) % 1.0, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def draw_detections(image: np.ndarray, dets: Detections, names: list[str]) -> np.ndarray:
    """A copy of ``[H, W, 3]`` uint8 RGB ``image`` with each detection's box and ``name score``
    label drawn (highest score on top); line width and font scale follow the image size."""
    out = np.ascontiguousarray(image.copy())
    h, w = out.shape[:2]
    thick = max(1, round(min(h, w) / 300))
    font = max(0.3, min(h, w) / 900)
    order = np.argsort(dets.scores.numpy(), kind="stable")  # ascending: the best drawn last
    for i in order.tolist():
        x1, y1, x2, y2 = (int(round(v)) for v in dets.boxes[i].tolist())
        label = int(dets.labels[i])
        color = class_color(label)
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thick, cv2.LINE_AA)
        text = f"{names[label - 1]} {float(dets.scores[i]):.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, 1)
        ty = y1 - 2 if y1 - th - base - 2 >= 0 else min(h - 1, y1 + th + 2)
        cv2.rectangle(out, (x1, ty - th - base + 1), (x1 + tw + 2, ty + 1), color, -1)
        cv2.putText(out, text, (x1 + 1, ty - base + 1), cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), 1, cv2.LINE_AA)
    return out
