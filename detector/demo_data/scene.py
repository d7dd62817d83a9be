"""Composing demo images: textured backgrounds, distractors, and shapes that may overlap.

All randomness comes from the ``numpy.random.Generator`` passed in, so an image is a pure
function of its seed. Images are ``[H, W, 3]`` uint8 RGB.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .shapes import CLASSES, shape_mask

MAX_OCCLUDED = 0.35  # an object keeps at least 65% of its pixels visible


@dataclass
class PlacedObject:
    label: int  # index into CLASSES
    box: tuple[int, int, int, int]  # visible extent, continuous xyxy pixels
    area: int  # visible pixels


def _color(rng: np.random.Generator) -> np.ndarray:
    hsv = np.array([[[rng.integers(0, 180), rng.integers(60, 256), rng.integers(60, 256)]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    small = rng.random((cells, cells, 3)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def texture(
    rng: np.random.Generator, h: int, w: int, kinds: tuple[float, ...] = (0.2, 0.2, 0.2, 0.2, 0.2)
) -> np.ndarray:
    """``[h, w, 3]`` float32 fill: solid, stripes, checker, gradient or mottled, drawn with the
    probabilities ``kinds`` in that order."""
    a, b = _color(rng), _color(rng)
    kind = rng.choice(5, p=np.asarray(kinds) / sum(kinds))
    if kind == 0:
        t = np.zeros((h, w, 1), np.float32)
    elif kind in (1, 2):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ang, period = rng.uniform(0, np.pi), rng.uniform(3, 9)
        phase = (xx * np.cos(ang) + yy * np.sin(ang)) / period
        t = (np.sin(phase * 2 * np.pi) > 0).astype(np.float32)
        if kind == 2:  # checker
            phase2 = (-xx * np.sin(ang) + yy * np.cos(ang)) / period
            t = np.abs(t - (np.sin(phase2 * 2 * np.pi) > 0)).astype(np.float32)
        t = t[..., None]
    elif kind == 3:
        t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None].repeat(h, 0)
    else:
        t = _smooth_noise(rng, h, w, int(rng.integers(3, 7)))[..., :1]
    return a * (1 - t) + b * t


def background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Cluttered ``[h, w, 3]`` float32 background: low-frequency colour noise, a faint texture
    layer, speckle, and half-transparent distractor strokes (lines and short arcs, never closed
    class shapes)."""
    base = _color(rng) * 0.6 + 0.4 * 255 * _smooth_noise(rng, h, w, int(rng.integers(2, 6)))
    tex = texture(rng, h, w)
    weight = rng.uniform(0.05, 0.2)
    img = base * (1 - weight) + tex * weight
    img += rng.normal(0, rng.uniform(2, 8), (h, w, 1)).astype(np.float32)
    strokes = img.copy()
    for _ in range(int(rng.integers(1, 5))):
        col = tuple(float(c) for c in _color(rng))
        thick = 1
        if rng.random() < 0.5:
            p1, p2 = rng.integers(0, [w, h], 2), rng.integers(0, [w, h], 2)
            cv2.line(strokes, (int(p1[0]), int(p1[1])), (int(p2[0]), int(p2[1])), col, thick, cv2.LINE_AA)
        else:
            c = rng.integers(0, [w, h], 2)
            axes = rng.integers(4, max(5, min(h, w) // 2), 2)
            start = float(rng.uniform(0, 360))
            cv2.ellipse(
                strokes,
                (int(c[0]), int(c[1])),
                (int(axes[0]), int(axes[1])),
                float(rng.uniform(0, 180)),
                start,
                start + float(rng.uniform(30, 120)),
                col,
                thick,
                cv2.LINE_AA,
            )
    return img * 0.4 + strokes * 0.6  # distractor strokes at reduced opacity


OBJECT_FILLS = (0.35, 0.1, 0.1, 0.2, 0.25)  # solid, stripes, checker, gradient, mottled
MIN_CONTRAST = 60.0  # RGB distance between an object's mean fill and the background under it


def paste(img: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> None:
    """Blend a textured, slightly shaded fill into ``img`` (in place) through ``alpha``.

    The fill's mean colour is pushed away from the mean of what it covers until they differ by
    ``MIN_CONTRAST`` (objects stand out from their surroundings, as real ones mostly do), and a
    thin darker or lighter rim marks the outline half of the time."""
    ys, xs = np.nonzero(alpha > 0)
    if not len(ys):  # e.g. a border object that fell entirely outside
        return
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    a = alpha[y0:y1, x0:x1, None]
    under = (img[y0:y1, x0:x1] * a).sum((0, 1)) / max(float(a.sum()), 1e-6)
    fill = texture(rng, y1 - y0, x1 - x0, OBJECT_FILLS)
    shade = np.linspace(rng.uniform(0.8, 1.0), rng.uniform(1.0, 1.15), y1 - y0, dtype=np.float32)[:, None, None]
    fill = fill * shade
    mean = (fill * a).sum((0, 1)) / max(float(a.sum()), 1e-6)
    gap = mean - under
    dist = float(np.linalg.norm(gap))
    if dist < MIN_CONTRAST:
        direction = gap / dist if dist > 1e-3 else np.where(under > 127, -1.0, 1.0) / np.sqrt(3)
        fill = fill + (MIN_CONTRAST - dist) * direction.astype(np.float32)
    if rng.random() < 0.5:
        rim = cv2.morphologyEx(a[..., 0], cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))[..., None]
        fill = (
            fill * (1 - 0.5 * rim) + (rng.uniform(0, 60) if rng.random() < 0.7 else rng.uniform(200, 255)) * 0.5 * rim
        )
    img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - a) + np.clip(fill, 0, 255) * a


def _draw_params(
    rng: np.random.Generator, size: tuple[int, int], radius: float, center: tuple[float, float] | None = None
):
    h, w = size
    aspect = float(np.exp(rng.uniform(np.log(0.72), np.log(1.38))))
    angle = float(rng.uniform(0, 2 * np.pi))
    if center is None:
        m = radius * 1.05
        center = (float(rng.uniform(m, w - m)), float(rng.uniform(m, h - m)))
    return center[0], center[1], radius, aspect, angle


def detection_scene(
    rng: np.random.Generator, size: tuple[int, int], max_objects: int, radius_range: tuple[float, float]
):
    """An image with 0..``max_objects`` objects; returns ``(image uint8, [PlacedObject])``.

    Later objects may occlude earlier ones by at most ``MAX_OCCLUDED`` of their pixels; each box
    is the visible extent."""
    h, w = size
    img = background(rng, h, w)
    n = int(rng.integers(0, max_objects + 1))
    labels, alphas = [], []
    for _ in range(n):
        label = int(rng.integers(0, len(CLASSES)))
        for _attempt in range(20):
            radius = float(np.exp(rng.uniform(*np.log(radius_range))))
            alpha = shape_mask(CLASSES[label], size, *_draw_params(rng, size, min(radius, min(h, w) / 2.2)))
            solid = alpha > 0.5
            if solid.any() and all(((a > 0.5) & ~solid).sum() >= (1 - MAX_OCCLUDED) * (a > 0.5).sum() for a in alphas):
                break
        else:
            continue
        alphas = [np.minimum(a, 1 - alpha) for a in alphas]  # what the new object hides
        alphas.append(alpha)
        labels.append(label)
        paste(img, alpha, rng)
    objects = []
    for label, alpha in zip(labels, alphas, strict=True):
        ys, xs = np.nonzero(alpha > 0.5)
        objects.append(
            PlacedObject(label, (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1), int(len(xs)))
        )
    return np.clip(img, 0, 255).astype(np.uint8), objects


def classification_scene(rng: np.random.Generator, size: int, label: int) -> np.ndarray:
    """A ``size x size`` image of one object of class ``label`` with context: clutter, and
    sometimes a smaller object of another class cut by the border."""
    img = background(rng, size, size)
    if rng.random() < 0.3:
        other = int((label + rng.integers(1, len(CLASSES))) % len(CLASSES))
        r = size * rng.uniform(0.12, 0.2)
        edge = rng.integers(0, 4)
        t = rng.uniform(0, size)
        cx, cy = [(t, -0.3 * r), (t, size + 0.3 * r), (-0.3 * r, t), (size + 0.3 * r, t)][edge]
        paste(img, shape_mask(CLASSES[other], (size, size), *_draw_params(rng, (size, size), r, (cx, cy))), rng)
    radius = size * rng.uniform(0.18, 0.42)
    jitter = size * 0.12
    center = (size / 2 + rng.uniform(-jitter, jitter), size / 2 + rng.uniform(-jitter, jitter))
    paste(img, shape_mask(CLASSES[label], (size, size), *_draw_params(rng, (size, size), radius, center)), rng)
    return np.clip(img, 0, 255).astype(np.uint8)
