"""Sensitivity of AP to object size and aspect ratio (Hoiem et al.; R-CNN's Figure 5).

Objects are binned by area and by aspect ratio (width / height) at the 10th, 30th, 70th and
90th percentiles of the dataset's (not ignored) boxes: XS, S, M, L, XL for size and XT (extra
tall), T, M, W, XW (extra wide) for aspect. AP in a bin is measured as COCO measures its area
ranges: objects outside the bin are ignored (a detection on one is neither right nor wrong),
and so is a false positive whose own box falls outside the bin. Matching is the metric's (VOC at
IoU 0.5, or ILSVRC's thresholds), AP the all-point VOC AP, averaged over the classes with
objects in the bin.
"""

from __future__ import annotations

import numpy as np

from ..data.records import DetectionDataset
from ..eval.ap import ap_all_point, pr_curve
from ..eval.detection import gt_arrays
from ..eval.matching import greedy_match, ilsvrc_thresholds
from ..eval.results import DetectionArrays

PERCENTILES = (10, 30, 70, 90)
BINS = {"size": ("XS", "S", "M", "L", "XL"), "aspect": ("XT", "T", "M", "W", "XW")}


def _measure(boxes: np.ndarray, what: str) -> np.ndarray:
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return w * h if what == "size" else w / np.maximum(h, 1e-9)


def sensitivity(dataset: DetectionDataset, dets: DetectionArrays, metric: str = "voc") -> dict:
    """``{"size" | "aspect": {"bins", "edges" [4], "AP" [5] (None: no objects), "per_class":
    {name: [5]}}}``; see the module doc."""
    k1 = dataset.num_classes + 1
    gt_img, gt_lab, gt_boxes, gt_ign = gt_arrays(dataset)
    rule = "ilsvrc" if metric == "ilsvrc" else "voc"
    thresh = ilsvrc_thresholds(gt_boxes) if rule == "ilsvrc" else np.full(len(gt_boxes), 0.5)
    names = dataset.names_for_report()
    out = {}
    for what, labels in BINS.items():
        value_gt, value_det = _measure(gt_boxes, what), _measure(dets.boxes, what)
        counted = value_gt[~gt_ign]
        edges = np.percentile(counted, PERCENTILES) if len(counted) else np.zeros(len(PERCENTILES))
        bin_gt, bin_det = np.searchsorted(edges, value_gt, "right"), np.searchsorted(edges, value_det, "right")
        aps = np.full((len(labels), k1 - 1), np.nan)
        for b in range(len(labels)):
            ignore = gt_ign | (bin_gt != b)
            tp, fp = greedy_match(
                dets.image_idx * k1 + dets.labels,
                dets.scores,
                dets.boxes,
                gt_img * k1 + gt_lab,
                gt_boxes,
                ignore,
                thresh,
                rule,
            )
            fp &= bin_det == b  # a false positive outside the bin is not this bin's error
            for lab in range(1, k1):
                num_pos = int(((gt_lab == lab) & ~ignore).sum())
                if num_pos:
                    keep = (dets.labels == lab) & (tp | fp)
                    aps[b, lab - 1] = ap_all_point(*pr_curve(dets.scores[keep], tp[keep], fp[keep], num_pos))
        mean = [None if np.isnan(row).all() else float(np.nanmean(row)) for row in aps]
        out[what] = {
            "bins": list(labels),
            "edges": edges.tolist(),
            "AP": mean,
            "per_class": {names[c]: [None if np.isnan(v) else float(v) for v in aps[:, c]] for c in range(k1 - 1)},
        }
    return out
