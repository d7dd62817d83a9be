"""Selective search (Uijlings et al. 2013) through OpenCV's ``cv2.ximgproc.segmentation``.

Modes: ``fast`` and ``quality`` (base_k = inc_k = 150, sigma 0.8, several strategies) and
``single`` (k = 200). ``k_scale`` multiplies k: 2.0 doubles the superpixel size, the paper's
setting, which roughly halves the number of boxes. Images may be resized to a fixed width
first (R-CNN used 500); boxes come back in original pixels.

Reproducible order: OpenCV ranks regions with C's ``rand()``, whose state is global to the
process and advances with every call, so the order of one image's boxes would depend on what
ran before. Each call here first seeds ``rand()`` with ``srand(1)``, the state every process
starts in (C standard), under a lock: so every call, in any process, thread or worker, returns
the order a freshly started process gets, without forking (forking a process that runs threads
can deadlock). Where the C library cannot be reached (no ``srand``) the boxes are the same but
their order is not reproducible; a warning says so once. The lock orders only the callers of
this module: another thread of the same process that calls ``rand()`` while a search runs
(no library of this package does) shifts that one search's order. Proposal extraction with
two or more workers runs the searches in spawned processes, where nothing else runs; with one
worker (or one image) they run in the calling process.

Images whose longer side exceeds ``MAX_SEGMENT_SIDE`` are segmented at that size even with
``resize_width: null`` (a 8000 px photo would take minutes and gigabytes otherwise).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import warnings
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from ..config import NonNegFloat, NonNegInt, PositiveFloat, PositiveInt

BASE_K = {"fast": 150, "quality": 150, "single": 200}
MAX_SEGMENT_SIDE = 2000
RAND_SEED = 1  # srand(1): the state of rand() at a process's start
_LOCK = threading.Lock()
_SRAND = None  # libc's srand once found; False where there is none


@dataclass
class SelectiveSearchConfig:
    mode: Literal["fast", "quality", "single"] = "fast"
    k_scale: PositiveFloat = 1.0
    sigma: NonNegFloat = 0.8
    resize_width: NonNegInt | None = 500  # None or 0: segment at the original size
    min_size: NonNegFloat = 2.0  # boxes narrower or lower than this (original pixels) are dropped
    max_boxes: PositiveInt | None = None


def _run_opencv(bgr: np.ndarray, cfg: SelectiveSearchConfig) -> np.ndarray:
    ss = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    ss.setBaseImage(bgr)
    k = max(1, int(round(BASE_K[cfg.mode] * cfg.k_scale)))
    if cfg.mode == "fast":
        ss.switchToSelectiveSearchFast(k, k, cfg.sigma)
    elif cfg.mode == "quality":
        ss.switchToSelectiveSearchQuality(k, k, cfg.sigma)
    else:
        ss.switchToSingleStrategy(k, cfg.sigma)
    rects = ss.process()
    return np.asarray(rects, np.int32).reshape(-1, 4)


def _seed_opencv() -> None:
    """Put C's ``rand()`` (OpenCV's ranking) in the state of a fresh process."""
    global _SRAND
    if _SRAND is None:
        try:
            _SRAND = ctypes.CDLL(ctypes.util.find_library("c") or None).srand
        except (OSError, AttributeError):
            _SRAND = False
            warnings.warn(
                "C's srand() not found: selective search boxes come in a non-reproducible order", stacklevel=3
            )
    if _SRAND:
        _SRAND(RAND_SEED)


def opencv_rects(bgr: np.ndarray, cfg: SelectiveSearchConfig) -> np.ndarray:
    """OpenCV's selective search on ``[H, W, 3]`` uint8 BGR, rank order reproducible (module doc);
    ``[N, 4]`` int32 ``x, y, w, h``."""
    with _LOCK:
        _seed_opencv()
        return _run_opencv(bgr, cfg)


def selective_search(image: np.ndarray, cfg: SelectiveSearchConfig | None = None) -> np.ndarray:
    """Proposals for one image.

    Args:
        image: ``[H, W, 3]`` uint8 RGB.
    Returns:
        ``[N, 4]`` float32 xyxy boxes in the image's continuous pixel frame, in OpenCV's rank
        order, clipped to the image, at least ``min_size`` wide and high, duplicates removed
        (first occurrence kept).
    """
    cfg = cfg or SelectiveSearchConfig()
    h, w = image.shape[:2]
    scale = 1.0
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if cfg.resize_width and w != cfg.resize_width:
        scale = cfg.resize_width / w
    scale = min(scale, MAX_SEGMENT_SIDE / max(w, h))
    if scale != 1.0:
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        bgr = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)
    rects = opencv_rects(bgr, cfg).astype(np.float32)
    sx, sy = bgr.shape[1] / w, bgr.shape[0] / h  # the segmented image's scale, per axis after rounding
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1) / np.array([sx, sy, sx, sy], np.float32)
    np.clip(boxes, 0, np.array([w, h, w, h], np.float32), out=boxes)
    keep = ((boxes[:, 2] - boxes[:, 0]) >= cfg.min_size) & ((boxes[:, 3] - boxes[:, 1]) >= cfg.min_size)
    boxes = boxes[keep]
    _, first = np.unique(boxes, axis=0, return_index=True)
    boxes = boxes[np.sort(first)]
    return boxes[: cfg.max_boxes] if cfg.max_boxes else boxes
