"""The confusion matrix of classes plus background, at one IoU and one score threshold.

Detections scoring at least ``score_thresh`` are matched to ground truth regardless of class,
per image and highest scores first, by VOC's greedy rule without the class: a detection looks
at the box of highest IoU; if that IoU reaches ``iou`` and the box is free, it takes it; if the
box is taken already, the detection is a duplicate. Then, in ``M[true, predicted]`` (labels
``1..K``, 0 = background):

- a detection that took a box of class ``t`` counts in ``M[t, predicted class]`` (the diagonal:
  right; off it: confused);
- a detection that took no box (a duplicate included) counts in ``M[0, predicted class]``;
- a box no detection took counts in ``M[t, 0]`` (missed).

Difficult and crowd boxes are left out: a detection that took one is not counted, and one left
untaken is not a miss.
"""

from __future__ import annotations

import numpy as np

from ..data.records import DetectionDataset
from ..eval.detection import gt_arrays
from ..eval.matching import greedy_match
from ..eval.results import DetectionArrays


def confusion_matrix(
    dataset: DetectionDataset, dets: DetectionArrays, score_thresh: float = 0.5, iou: float = 0.5
) -> np.ndarray:
    """``[K+1, K+1]`` int64 counts ``M[true, predicted]``; see the module doc."""
    k1 = dataset.num_classes + 1
    gt_img, gt_lab, gt_boxes, gt_ign = gt_arrays(dataset)
    keep = dets.scores >= score_thresh
    labels = dets.labels[keep]
    tp, fp, match = greedy_match(
        dets.image_idx[keep], dets.scores[keep], dets.boxes[keep], gt_img, gt_boxes, gt_ign,
        np.full(len(gt_boxes), iou), "voc", return_match=True,
    )  # fmt: skip
    m = np.zeros((k1, k1), np.int64)
    np.add.at(m, (gt_lab[match[tp]], labels[tp]), 1)
    np.add.at(m, (np.zeros(int(fp.sum()), np.int64), labels[fp]), 1)
    taken = np.zeros(len(gt_boxes), bool)
    taken[match[tp]] = True
    missed = ~taken & ~gt_ign
    np.add.at(m, (gt_lab[missed], np.zeros(int(missed.sum()), np.int64)), 1)
    return m
