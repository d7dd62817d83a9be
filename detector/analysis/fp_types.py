"""Hoiem et al.'s detection types, as R-CNN (Section 3.4, Figure 4) used them.

Every detection of class ``c`` gets exactly one type, in this order of precedence:

- ``Cor``: a true positive of the metric's matching (VOC: IoU >= 0.5 with an unmatched box of
  ``c``, highest scores first; ILSVRC: its size-dependent threshold);
- ``Loc``: poorly localized: IoU >= 0.1 with a box of ``c`` (a duplicate, IoU >= 0.5 with a box
  already taken, is Loc too);
- ``Sim``: IoU >= 0.1 with a box of another class of ``c``'s group (:mod:`.groups`);
- ``Oth``: IoU >= 0.1 with a box of a class of another group;
- ``BG``: none of these: it fired on background.

A detection the metric ignores (it matched a difficult or crowd box) gets ``IGNORED`` and is
left out of every share. Ground truth of any kind (difficult included) counts for Loc/Sim/Oth:
a detection on a real object did not fire on background.
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.ops import box_iou

from ..data.records import DetectionDataset
from ..eval.detection import gt_arrays
from ..eval.matching import greedy_match, ilsvrc_thresholds
from ..eval.results import DetectionArrays

TYPES = ("Cor", "Loc", "Sim", "Oth", "BG")
COR, LOC, SIM, OTH, BG = range(5)
IGNORED = -1
CONFUSION_IOU = 0.1  # the overlap that makes a false positive Loc/Sim/Oth rather than BG


def box_iou_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``torchvision.ops.box_iou`` of ``[N, 4]`` and ``[M, 4]`` xyxy arrays -> ``[N, M]`` float64."""
    return box_iou(torch.from_numpy(np.asarray(a, np.float64)), torch.from_numpy(np.asarray(b, np.float64))).numpy()


def detection_types(
    dataset: DetectionDataset, dets: DetectionArrays, groups: np.ndarray, metric: str = "voc"
) -> np.ndarray:
    """``[D]`` int64 type of each detection (``COR`` .. ``BG``, or ``IGNORED``), in input order.

    ``groups`` is ``[K+1]`` group ids of the labels (:func:`~.groups.class_groups`); ``metric``
    (``voc``/``voc07``/``coco`` match at IoU 0.5, ``ilsvrc`` with its thresholds) decides Cor.
    """
    k1 = dataset.num_classes + 1
    gt_img, gt_lab, gt_boxes, gt_ign = gt_arrays(dataset)
    rule = "ilsvrc" if metric == "ilsvrc" else "voc"
    thresh = ilsvrc_thresholds(gt_boxes) if rule == "ilsvrc" else np.full(len(gt_boxes), 0.5)
    tp, fp = greedy_match(
        dets.image_idx * k1 + dets.labels, dets.scores, dets.boxes, gt_img * k1 + gt_lab, gt_boxes, gt_ign, thresh, rule
    )
    types = np.full(len(dets), IGNORED, np.int64)
    types[tp] = COR
    wrong = np.flatnonzero(fp)
    if not len(wrong):
        return types
    types[wrong] = BG
    t_order = np.argsort(gt_img, kind="stable")
    starts = np.searchsorted(gt_img[t_order], np.arange(len(dataset.records) + 1))
    w_order = wrong[np.argsort(dets.image_idx[wrong], kind="stable")]
    images, first = np.unique(dets.image_idx[w_order], return_index=True)
    for img, f in zip(images, np.split(w_order, first[1:]), strict=True):  # one IoU block per image
        g = t_order[starts[img] : starts[img + 1]]
        if not len(g):
            continue
        iou = box_iou_np(dets.boxes[f], gt_boxes[g])
        lab_d, lab_g = dets.labels[f][:, None], gt_lab[g][None, :]
        same = lab_g == lab_d
        similar = (groups[lab_g] == groups[lab_d]) & ~same
        near = iou >= CONFUSION_IOU
        t = np.where((near & ~same & ~similar).any(1), OTH, BG)
        t = np.where((near & similar).any(1), SIM, t)
        types[f] = np.where((near & same).any(1), LOC, t)
    return types


def top_shares(types: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """``[M, 5]`` shares of Cor/Loc/Sim/Oth/BG among the top ``n = 1..M`` detections by score
    (ignored ones left out; ties in input order); each row sums to 1."""
    keep = types != IGNORED
    order = np.argsort(-scores[keep], kind="stable")
    onehot = np.eye(len(TYPES))[types[keep][order]]
    return np.cumsum(onehot, 0) / np.arange(1, len(order) + 1)[:, None]


def shares_at(types: np.ndarray, scores: np.ndarray, n: int) -> dict[str, float]:
    """``{type: share}`` among the top ``n`` detections (all of them when there are fewer)."""
    shares = top_shares(types, scores)
    if not len(shares):
        return dict.fromkeys(TYPES, 0.0)
    return dict(zip(TYPES, shares[min(n, len(shares)) - 1].tolist(), strict=True))
