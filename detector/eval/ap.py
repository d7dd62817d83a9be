"""Precision-recall curves and average precision, as the VOC devkit computes them."""

from __future__ import annotations

import numpy as np


def pr_curve(scores: np.ndarray, tp: np.ndarray, fp: np.ndarray, num_pos: int) -> tuple[np.ndarray, np.ndarray]:
    """Recall and precision after each detection, in descending score (ties: input order).

    ``tp``/``fp``: ``[D]`` bool of the class's detections (ignored ones excluded beforehand);
    ``num_pos``: ground truths that count (not difficult). Returns ``(recall, precision)``,
    ``[D]`` float64 each; recall is NaN when ``num_pos`` is 0."""
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    ctp = np.cumsum(tp[order], dtype=np.float64)
    cfp = np.cumsum(fp[order], dtype=np.float64)
    recall = ctp / num_pos if num_pos > 0 else np.full(len(ctp), np.nan)
    precision = ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)
    return recall, precision


def ap_all_point(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC2010+ (and ILSVRC) AP: area under the precision envelope, at every recall change."""
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def ap_11_point(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC2007 AP: mean over recall thresholds 0, 0.1, ..., 1 of the best precision at or beyond."""
    best = [precision[recall >= t].max() if (recall >= t).any() else 0.0 for t in np.linspace(0, 1, 11)]
    return float(np.mean(best))
