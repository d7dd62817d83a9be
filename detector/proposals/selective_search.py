"""Selective search (Uijlings et al. 2013) through OpenCV's ``cv2.ximgproc.segmentation``.

Modes: ``fast`` and ``quality`` (base_k = inc_k = 150, sigma 0.8, several strategies) and
``single`` (k = 200). ``k_scale`` multiplies k: 2.0 doubles the superpixel size, the paper's
setting, which roughly halves the number of boxes. Images may be resized to a fixed width
first (R-CNN used 500); boxes come back in original pixels.

Reproducible order: OpenCV ranks regions with a random number generator whose state is global
to the process and advances with every call, so the order of the same image's boxes depends
on what ran before. Each call here runs OpenCV in a freshly forked child of a process that
never runs it itself, so every call starts from the same state and returns OpenCV's rank
order reproducibly. (A process that calls OpenCV's selective search directly changes the state
its later forks inherit: keep to this module.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

BASE_K = {"fast": 150, "quality": 150, "single": 200}


@dataclass
class SelectiveSearchConfig:
    mode: Literal["fast", "quality", "single"] = "fast"
    k_scale: float = 1.0
    sigma: float = 0.8
    resize_width: int | None = 500  # None: segment at the original size
    min_size: float = 2.0  # boxes narrower or lower than this (original pixels) are dropped
    max_boxes: int | None = None


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


def _in_fork(bgr: np.ndarray, cfg: SelectiveSearchConfig) -> np.ndarray:
    """Run OpenCV in a forked child (fresh RNG state each time); rects ``[N, 4]`` int32 xywh."""
    if not hasattr(os, "fork"):  # no fork: same boxes, order not reproducible
        return _run_opencv(bgr, cfg)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: compute, send, leave without running any parent cleanup
        code = 0
        try:
            os.close(r)
            data = _run_opencv(bgr, cfg).tobytes()
            with os.fdopen(w, "wb") as f:
                f.write(data)
        except BaseException:  # noqa: BLE001 - the parent reports the failure
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("selective search failed in its worker process")
    return np.frombuffer(data, np.int32).reshape(-1, 4)


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
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        bgr = cv2.resize(bgr, (cfg.resize_width, max(1, round(h * scale))), interpolation=interp)
    rects = _in_fork(bgr, cfg).astype(np.float32)
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1) / scale
    np.clip(boxes, 0, np.array([w, h, w, h], np.float32), out=boxes)
    keep = ((boxes[:, 2] - boxes[:, 0]) >= cfg.min_size) & ((boxes[:, 3] - boxes[:, 1]) >= cfg.min_size)
    boxes = boxes[keep]
    _, first = np.unique(boxes, axis=0, return_index=True)
    boxes = boxes[np.sort(first)]
    return boxes[: cfg.max_boxes] if cfg.max_boxes else boxes
