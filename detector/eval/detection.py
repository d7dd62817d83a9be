"""Detection evaluation: ``coco``, ``voc07``, ``voc`` and ``ilsvrc`` metrics on any dataset.

``evaluate_detections`` returns a report (plain JSON data) plus per-class precision-recall
curves for plotting. Rules are in the docstrings of :mod:`.matching` and :mod:`.ap`; COCO
numbers come from pycocotools (:mod:`.coco_eval`). Crowd boxes (COCO) and difficult boxes (VOC)
are ignored by every metric.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.records import DatasetError, DetectionDataset
from .ap import ap_11_point, ap_all_point, pr_curve
from .coco_eval import coco_evaluate
from .matching import greedy_match, ilsvrc_thresholds
from .results import DetectionArrays, results_to_arrays

METRICS = ("coco", "voc07", "voc", "ilsvrc")


@dataclass
class EvalResult:
    report: dict  # JSON-ready: metric, mAP, per_class, num_gt, num_det, ...
    curves: dict[str, tuple[np.ndarray, np.ndarray]]  # class name -> (recall, precision)


def read_blacklist(path: str | Path, dataset: DetectionDataset) -> set[tuple[int, int]]:
    """ILSVRC blacklist: ``<image> <class>`` per line, the image as its 1-based index in the
    split list or its id, the class as its id (synset) or 1-based index. Returns
    ``{(image_idx, label)}``."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: blacklist file not found")
    img_of = {str(r.image_id): i for i, r in enumerate(dataset.records)}
    label_of = {str(c): lab for c, lab in dataset.label_of_category().items()}
    pairs = set()
    for n, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise DatasetError(f"{path}: line {n}: expected '<image> <class>', got {line!r}")
        img, cls = parts
        i = img_of.get(img, int(img) - 1 if img.isdigit() else -1)
        lab = label_of.get(cls, int(cls) if cls.isdigit() else -1)
        if not 0 <= i < len(dataset.records) or not 1 <= lab <= dataset.num_classes:
            raise DatasetError(f"{path}: line {n}: unknown image or class in {line!r}")
        pairs.add((i, lab))
    return pairs


def gt_arrays(dataset: DetectionDataset) -> tuple[np.ndarray, ...]:
    """``(image index [T], label [T], boxes [T, 4] xyxy, ignored [T])`` of every ground-truth box."""
    recs = dataset.records
    counts = np.array([len(r.labels) for r in recs], np.int64)
    img = np.repeat(np.arange(len(recs)), counts)
    boxes = np.concatenate([r.boxes for r in recs]).reshape(-1, 4) if recs else np.zeros((0, 4), np.float32)
    labels = np.concatenate([r.labels for r in recs]) if recs else np.zeros(0, np.int64)
    ignore = np.concatenate([r.difficult | r.iscrowd for r in recs]) if recs else np.zeros(0, bool)
    return img, labels, boxes, ignore


def _match_metric(dataset: DetectionDataset, dets: DetectionArrays, metric: str, blacklist: set) -> tuple[dict, dict]:
    k1 = dataset.num_classes + 1
    gt_img, gt_lab, gt_boxes, gt_ign = gt_arrays(dataset)
    det_keep = np.ones(len(dets), bool)
    if blacklist:
        bl = np.array(sorted(i * k1 + lab for i, lab in blacklist), np.int64)
        gt_keep = ~np.isin(gt_img * k1 + gt_lab, bl)
        gt_img, gt_lab, gt_boxes, gt_ign = gt_img[gt_keep], gt_lab[gt_keep], gt_boxes[gt_keep], gt_ign[gt_keep]
        det_keep = ~np.isin(dets.image_idx * k1 + dets.labels, bl)
    rule = "ilsvrc" if metric == "ilsvrc" else "voc"
    thresh = ilsvrc_thresholds(gt_boxes) if rule == "ilsvrc" else np.full(len(gt_boxes), 0.5)
    tp, fp = greedy_match(
        dets.image_idx[det_keep] * k1 + dets.labels[det_keep],
        dets.scores[det_keep],
        dets.boxes[det_keep],
        gt_img * k1 + gt_lab,
        gt_boxes,
        gt_ign,
        thresh,
        rule,
    )
    labels, scores = dets.labels[det_keep], dets.scores[det_keep]
    ap_fn = ap_11_point if metric == "voc07" else ap_all_point
    aps, curves = {}, {}
    for lab in range(1, k1):
        counted = (labels == lab) & (tp | fp)
        num_pos = int(((gt_lab == lab) & ~gt_ign).sum())
        rec, prec = pr_curve(scores[counted], tp[counted], fp[counted], num_pos)
        aps[lab] = ap_fn(rec, prec) if num_pos > 0 else float("nan")
        curves[lab] = (rec, prec)
    return aps, curves


def evaluate_detections(
    dataset: DetectionDataset,
    results: list[dict],
    metric: str,
    blacklist: set[tuple[int, int]] | None = None,
    lenient: bool = False,
    source: str = "detections",
) -> EvalResult:
    """Score COCO-format ``results`` (see :mod:`.results`) on ``dataset`` with ``metric``: read
    into arrays (:func:`.results_to_arrays`; ``lenient`` drops and counts entries naming an
    unknown image or class, reported under ``dropped``), then :func:`evaluate_arrays`.

    Classes without ground truth get AP ``None`` in the report and are left out of the mean;
    with no ground truth at all, mAP is NaN (for every metric, COCO's -1 included).
    """
    _check_metric(metric, blacklist)
    dets, dropped = results_to_arrays(results, dataset, lenient, source)
    ev = evaluate_arrays(dataset, dets, metric, blacklist, results)
    if dropped:
        ev.report["dropped"] = dict(dropped)
    return ev


def _check_metric(metric: str, blacklist) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    if blacklist and metric != "ilsvrc":
        raise DatasetError("a blacklist applies to the ilsvrc metric only")


def evaluate_arrays(
    dataset: DetectionDataset,
    arrays: DetectionArrays,
    metric: str,
    blacklist: set[tuple[int, int]] | None = None,
    results: list[dict] | None = None,
) -> EvalResult:
    """Score detections held as arrays (``image_idx`` ``[D]`` indexes ``dataset.records``,
    labels in the dataset's ``1..K``, boxes ``[D, 4]`` continuous xyxy in the image's frame), as
    the detectors produce them, with ``metric``; the report is :func:`evaluate_detections`'.

    ``results``: the results list the arrays were read from (:func:`.results_to_arrays`, whose
    ``arrays.source`` indexes it). Only the ``coco`` metric on a COCO dataset read from its file
    uses it, passing the read entries to pycocotools unchanged; by default they are rebuilt from
    the arrays (:func:`.arrays_to_results`) where needed.
    """
    _check_metric(metric, blacklist)
    arrays = DetectionArrays(  # float64, as read from a results file: the same IoUs either way
        np.asarray(arrays.image_idx, np.int64),
        np.asarray(arrays.labels, np.int64),
        np.asarray(arrays.scores, np.float64),
        np.asarray(arrays.boxes, np.float64).reshape(-1, 4),
        arrays.source,
    )
    names = dataset.names_for_report()
    extra: dict = {}
    if metric == "coco":
        read = None if results is None else [results[i] for i in arrays.source]
        res = coco_evaluate(dataset, read, arrays)
        aps = dict(enumerate(res["per_class"], 1))
        curves = dict(enumerate(res["curves"], 1))
        extra = {"stats": res["stats"]}
    else:
        aps, curves = _match_metric(dataset, arrays, metric, blacklist or set())
    gt_counts = Counter()
    for r in dataset.records:
        gt_counts.update(r.labels[~(r.difficult | r.iscrowd)].tolist())
    det_counts = Counter(arrays.labels.tolist())
    valid = [ap for ap in aps.values() if not math.isnan(ap)]
    mean_ap = extra["stats"]["AP"] if metric == "coco" else (float(np.mean(valid)) if valid else float("nan"))
    if mean_ap < 0:  # pycocotools' -1: no ground truth at all
        mean_ap = float("nan")
    report = {
        "metric": metric,
        "mAP": mean_ap,
        "per_class": {names[lab - 1]: (None if math.isnan(ap) else ap) for lab, ap in aps.items()},
        "num_gt": {names[lab - 1]: gt_counts.get(lab, 0) for lab in aps},
        "num_det": {names[lab - 1]: det_counts.get(lab, 0) for lab in aps},
        "dataset": dataset.name,
        "num_images": len(dataset.records),
        "num_detections": len(arrays),
        "classes_without_gt": sum(math.isnan(ap) for ap in aps.values()),
        **extra,
    }
    if blacklist:
        report["blacklisted_pairs"] = len(blacklist)
    return EvalResult(report, {names[lab - 1]: curves[lab] for lab in curves})
