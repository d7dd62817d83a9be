"""COCO's ``analyze()`` precision-recall breakdown, computed with pycocotools' COCOeval.

Seven PR curves per class (all object sizes, 100 detections per image), each removing one more
kind of error than the one before:

- ``C75``, ``C50``: PR at IoU 0.75 and 0.5 (pycocotools' AP75 and AP50);
- ``Loc``: at IoU 0.1: localization errors forgiven (duplicates are not);
- ``Sim``: also forgiven, detections on objects of a similar class (same group, :mod:`.groups`):
  those objects are added to the class's ground truth as ignored boxes;
- ``Oth``: likewise with objects of every other class;
- ``BG``: all remaining false positives (background) removed: precision 1 up to the recall
  ``Oth`` reaches;
- ``FN``: every error removed: precision 1 at every recall.

The area under each is its AP; "overall" averages the classes that have ground truth, as COCO's
mAP does. The matching is pycocotools' own (crowd and difficult boxes are its ``iscrowd``).
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from pycocotools.cocoeval import COCOeval

from ..data.records import DetectionDataset
from ..eval.coco_eval import coco_entries, coco_from_dataset
from ..eval.detection import gt_arrays
from ..eval.results import DetectionArrays

KINDS = ("C75", "C50", "Loc", "Sim", "Oth", "BG", "FN")


class _EvalWithIgnored(COCOeval):
    """COCOeval whose ground truth of each ``(image, category)`` also holds ``extra`` boxes
    marked ignored (not crowd: plain IoU), so that detections on them are neither right nor wrong."""

    def __init__(self, gt, dt, extra: dict[tuple[int, int], list[list[float]]]):
        super().__init__(gt, dt, "bbox")
        self.extra = extra

    def _prepare(self):
        super()._prepare()
        next_id = -1
        for (img, cat), boxes in self.extra.items():
            for b in boxes:
                self._gts[img, cat].append(
                    {
                        "id": next_id,
                        "image_id": img,
                        "category_id": cat,
                        "bbox": b,
                        "area": b[2] * b[3],
                        "iscrowd": 0,
                        "ignore": 1,
                    }
                )
                next_id -= 1


def _precision(gt, dt, ious: list[float], extra=None) -> np.ndarray:
    """``[T, R, K]`` precision (pycocotools' accumulate; -1 where a class has no ground truth)."""
    ev = _EvalWithIgnored(gt, dt, extra or {})
    ev.params.iouThrs = np.array(ious)
    ev.params.areaRng, ev.params.areaRngLbl, ev.params.maxDets = [[0, 1e10]], ["all"], [100]
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
    return ev.eval["precision"][:, :, :, 0, 0]


def _confusable(dataset: DetectionDataset, groups: np.ndarray, similar_only: bool) -> dict:
    """``{(image id, category): [xywh boxes]}``: each image's objects of the other classes (of
    the same group when ``similar_only``), to be ignored for that category."""
    extra: dict[tuple[int, int], list[list[float]]] = {}
    for i, r in enumerate(dataset.records):
        keep = ~(r.difficult | r.iscrowd)
        labels, boxes = r.labels[keep], r.boxes[keep]
        if not len(labels):
            continue
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], 1).tolist()
        for k in range(1, dataset.num_classes + 1):
            other = labels != k
            if similar_only:
                other &= groups[labels] == groups[k]
            if other.any():
                extra[i + 1, k] = [xywh[j] for j in np.flatnonzero(other)]
    return extra


def coco_breakdown(dataset: DetectionDataset, dets: DetectionArrays, groups: np.ndarray) -> dict:
    """The breakdown (module doc): ``{"kinds", "recall" [R], "overall": {kind: AP},
    "per_class": {name: {kind: AP} or None}, "curves": {"overall" or name: {kind: [R]}}}``."""
    gt = coco_from_dataset(dataset)
    entries = coco_entries(dets)
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(entries) if entries else None
    k = dataset.num_classes
    recall = np.linspace(0, 1, 101)
    if dt is None:  # no detections: every curve but FN is 0
        base = np.zeros((3, len(recall), k))
        sim = oth = np.zeros((1, len(recall), k))
    else:
        base = _precision(gt, dt, [0.75, 0.5, 0.1])
        sim = _precision(gt, dt, [0.1], _confusable(dataset, groups, True))
        oth = _precision(gt, dt, [0.1], _confusable(dataset, groups, False))
    _, gt_lab, _, gt_ign = gt_arrays(dataset)
    has_gt = np.bincount(gt_lab[~gt_ign], minlength=k + 1)[1:] > 0
    curves_k = np.stack([base[0], base[1], base[2], sim[0], oth[0], (oth[0] > 0).astype(float), np.ones_like(oth[0])])
    curves_k = np.clip(curves_k, 0, None)  # [7, R, K]; pycocotools' -1 (no ground truth) masked below
    names = dataset.names_for_report()
    out = {"kinds": list(KINDS), "recall": recall.tolist(), "per_class": {}, "curves": {}}
    for c in range(k):
        if not has_gt[c]:
            out["per_class"][names[c]] = None
            continue
        out["per_class"][names[c]] = {kind: float(curves_k[j, :, c].mean()) for j, kind in enumerate(KINDS)}
        out["curves"][names[c]] = {kind: curves_k[j, :, c].tolist() for j, kind in enumerate(KINDS)}
    if has_gt.any():
        mean = curves_k[:, :, has_gt].mean(2)
        out["overall"] = {kind: float(mean[j].mean()) for j, kind in enumerate(KINDS)}
        out["curves"]["overall"] = {kind: mean[j].tolist() for j, kind in enumerate(KINDS)}
    else:
        out["overall"] = dict.fromkeys(KINDS, float("nan"))
    return out
